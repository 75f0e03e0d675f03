"""Runnable examples: `python -m sdk.examples.inference_service --controller HOST:PORT`."""
