"""The RPC edge: the gRPC service handlers, validation, rate limits, forwarding to the leader, metrics."""
