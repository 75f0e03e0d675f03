"""`aiwo-bench scale`: thousands of simulated agents on the real protocol against a real
controller and etcd (docs in bench/scale/cli.py)."""
