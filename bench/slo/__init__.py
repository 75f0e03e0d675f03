"""aiwo-bench slo: noisy neighbours, power caps and the runtime core on an LLM inference trace."""
