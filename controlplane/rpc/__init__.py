"""The RPC edge: the gRPC service handlers, validation, rate limits, forwarding, metrics."""
