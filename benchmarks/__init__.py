"""newsdesk against LlamaIndex's default pipeline: `python -m benchmarks.run`."""
