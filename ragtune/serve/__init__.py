"""`ragtune serve`: an HTTP API (ragtune's own and OpenAI-compatible), Prometheus metrics and a web page over
one index, its models shared by every request (generation dynamically batched: generate/batching.py)."""

from ragtune.serve.app import create_app

__all__ = ["create_app"]
