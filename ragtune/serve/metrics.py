"""Prometheus metrics (prometheus-client) at GET /metrics: requests, latencies, queue depth, tokens."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """One registry per app (tests build several apps in one process)."""

    def __init__(self, queue_depth, ingestion_waiting):
        self.registry = CollectorRegistry()
        self.requests = Counter("ragtune_requests_total", "HTTP requests", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("ragtune_request_seconds", "Time to the response's first byte", ["route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.tokens = Counter("ragtune_generated_pieces_total", "Answer pieces (about a token each) streamed",
                              registry=self.registry)
        self.answers = Counter("ragtune_answers_total", "Answers generated", registry=self.registry)
        self.first_token = Histogram("ragtune_first_token_seconds", "Request start to first answer piece",
                                     registry=self.registry, buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32))
        queue = Gauge("ragtune_generation_queue", "Prompts waiting for or in the generator's batch",
                      registry=self.registry)
        queue.set_function(queue_depth)
        ingest = Gauge("ragtune_ingestion_queue", "Upload jobs waiting to be read", registry=self.registry)
        ingest.set_function(ingestion_waiting)

    def middleware(self, app):
        """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task and a stream per request): counts
        each request by route and status, and times it to the response's first byte."""

        async def record(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start = time.perf_counter()
            status, started = 500, False

            async def sent(message):
                nonlocal status, started
                if message["type"] == "http.response.start":
                    status, started = message["status"], True
                    self.latency.labels(_route(scope)).observe(time.perf_counter() - start)
                await send(message)

            try:
                await app(scope, receive, sent)
            finally:
                if not started:  # an exception: the server's error handler answers after us
                    self.latency.labels(_route(scope)).observe(time.perf_counter() - start)
                self.requests.labels(_route(scope), str(status)).inc()

        return record

    def export(self) -> bytes:
        return generate_latest(self.registry)


def _route(scope) -> str:
    """The route's path template (so /v1/jobs/{job_id} is one label), set on the scope by the router."""
    return getattr(scope.get("route"), "path", "other")
