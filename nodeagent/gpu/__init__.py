"""The GPU boundary of the node agent."""
