"""The read model: what the controller knows now (cluster, telemetry, latency, sessions), and the snapshot handed to the optimizer."""
