"""Prometheus metrics. Request metrics are recorded by the pipeline; job and queue gauges are read
from the database when ``/metrics`` is scraped, so every replica reports the shared truth."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

M = TypeVar("M", Counter, Histogram)


@lru_cache(maxsize=4096)
def child(metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, looked up once per process: ``labels()`` validates and locks on
    every call (~0.8 µs, three times per request on the receiving path). For counters and
    histograms, whose children are never removed; label values must be few (route templates,
    statuses, connection codes), as they must be for Prometheus anyway."""
    return metric.labels(*labels)


HTTP_REQUESTS = Counter(
    "interlink_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "interlink_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
JOBS_BY_STATE = Gauge(
    "interlink_jobs", "Jobs in the queue by name and state.", ["name", "state"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "interlink_queue_ready_jobs", "Jobs ready to run now (queued and due).", registry=REGISTRY
)
OLDEST_READY_AGE = Gauge(
    "interlink_queue_oldest_ready_age_seconds",
    "Age of the oldest job that is due and not yet started.",
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "interlink_job_runs_total",
    "Job executions by name and outcome (done, retry, failed, dead, lost_lease; coalesced: an "
    "interchangeable job marked done unrun beside one claimed with it).",
    ["name", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "interlink_job_duration_seconds",
    "Job execution time by name.",
    ["name"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
    registry=REGISTRY,
)
PROVIDER_CALLS = Counter(
    "interlink_provider_calls_total",
    "Outbound provider call attempts by connection and outcome.",
    ["connection", "outcome"],
    registry=REGISTRY,
)
PROVIDER_LATENCY = Histogram(
    "interlink_provider_call_duration_seconds",
    "Outbound provider call latency by connection.",
    ["connection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
    registry=REGISTRY,
)
PROVIDER_RETRIES = Counter(
    "interlink_provider_retries_total",
    "Outbound provider call attempts after the first, by connection.",
    ["connection"],
    registry=REGISTRY,
)
INBOUND_RECEIVED = Counter(
    "interlink_inbound_webhooks_total",
    "Inbound provider webhooks by connection and outcome (stored, duplicate, rejected).",
    ["connection", "outcome"],
    registry=REGISTRY,
)
INBOUND_REJECTED = Counter(
    "interlink_inbound_webhooks_rejected_total",
    "Inbound provider webhooks refused by the signature check, by connection and reason.",
    ["connection", "reason"],
    registry=REGISTRY,
)
INBOUND_PROCESSED = Counter(
    "interlink_inbound_processing_total",
    "Processing runs of inbound events by connection and outcome "
    "(processed, ignored, retry, dead).",
    ["connection", "outcome"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "interlink_webhook_deliveries_total",
    "Outbound webhook attempts by outcome (succeeded, retrying, failed, disabled).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPT_LATENCY = Histogram(
    "interlink_webhook_attempt_duration_seconds",
    "Outbound webhook attempt latency, request sent to answer read.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES_BY_STATE = Gauge(
    "interlink_webhook_queue_deliveries",
    "Outbound webhook deliveries by state (pending, succeeded, failed).",
    ["state"],
    registry=REGISTRY,
)
WEBHOOK_OLDEST_PENDING_AGE = Gauge(
    "interlink_webhook_oldest_pending_age_seconds",
    "Age of the oldest delivery still pending.",
    registry=REGISTRY,
)
PAYMENT_OPERATIONS = Counter(
    "interlink_payment_operations_total",
    "Payment operations settled (or left pending) by connection, operation and status.",
    ["connection", "operation", "status"],
    registry=REGISTRY,
)
FULFILLMENT_SUBMISSIONS = Counter(
    "interlink_fulfillment_submissions_total",
    "Print orders submitted to labs by connection and outcome (submitted, needs_attention).",
    ["connection", "outcome"],
    registry=REGISTRY,
)
