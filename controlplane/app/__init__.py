"""The controller process: its entry point, gRPC server assembly, config and heap policy."""
