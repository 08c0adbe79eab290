"""Prometheus metrics: encoder batching (process-wide), HTTP requests and service state (per app).

The encoder metrics live in the process-wide registry because one encoder may serve several
apps in one process; the request metrics and the scrape-time state of collections and models
live in a registry per app, so that building several apps in one process never registers a
name twice. `/metrics` exposes both.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.services import Services

CONTENT_TYPE = CONTENT_TYPE_LATEST

# `_created` timestamps double the series and few dashboards read them.
disable_created_metrics()

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip
MODEL_STATES = ("not_loaded", "loading", "loaded", "failed")

ENCODER_BATCH_SIZE = Histogram(
    "semsearch_encoder_batch_size",
    "Texts per encoder call.",
    buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)
ENCODER_QUEUE_DEPTH = Gauge(
    "semsearch_encoder_queue_depth",
    "Texts waiting for the encoder.",
    registry=REGISTRY,
)


class ServiceCollector(Collector):
    """Reads the state of collections and models when Prometheus scrapes."""

    def __init__(self, services: "Services") -> None:
        self.services = services

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        services = self.services
        ready = GaugeMetricFamily(
            "semsearch_ready", "1 once the encoder is loaded and every collection is open."
        )
        ready.add_metric([], 1.0 if services.ready else 0.0)
        yield ready

        models = GaugeMetricFamily(
            "semsearch_model_state",
            "1 for the model's current load state (not_loaded, loading, loaded, failed).",
            labels=["model", "task", "state"],
        )
        encoder_state = "loaded" if services.ready else "loading"
        if services.load_error:
            encoder_state = "failed"
        for state in MODEL_STATES:
            value = 1.0 if state == encoder_state else 0.0
            models.add_metric([services.settings.encoder, "embedding", state], value)
        for model in services.registry.models():
            current = model.state
            for state in MODEL_STATES:
                models.add_metric([model.name, model.task, state], 1.0 if state == current else 0.0)
        yield models

        if not services.ready:
            return
        documents = GaugeMetricFamily(
            "semsearch_collection_documents", "Documents per collection.", labels=["collection"]
        )
        chunks = GaugeMetricFamily(
            "semsearch_collection_chunks", "Chunks per collection.", labels=["collection"]
        )
        catalog = services.catalog
        for name in catalog.names():
            try:
                counts = catalog.get(name).counts()
            except Exception:  # deleted or closed between names() and get()
                continue
            documents.add_metric([name], float(counts["documents"]))
            chunks.add_metric([name], float(counts["chunks"]))
        yield documents
        yield chunks


class AppMetrics:
    """The metrics of one app: request counts and latencies, and the scrape-time state."""

    def __init__(self, services: "Services") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "semsearch_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "semsearch_http_request_duration_seconds",
            "Time from request to the last byte of the response, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "semsearch_http_requests_in_flight",
            "Requests being served now.",
            registry=self.registry,
        )
        self.registry.register(ServiceCollector(services))
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:  # labels() is slow; route templates keep this small
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format: process-wide metrics, then this app's."""
        return generate_latest(REGISTRY) + generate_latest(self.registry)
