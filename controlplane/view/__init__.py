"""The read model: what the controller knows now, and the snapshot handed to the optimizer.

The cluster (nodes, workloads, placements), telemetry, latency, sessions.
"""
