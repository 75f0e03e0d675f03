"""The GPU performance/power model and the spec table (numpy only).

A neutral package: the agent's simulated backend, the optimizer and the benchmarks all
depend on it, and it depends on none of them (tests/test_layering.py).
"""
