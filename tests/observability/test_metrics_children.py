"""Labelled metric children looked up once per process still count in the registry."""

from __future__ import annotations

from interlink.observability import metrics


def test_a_cached_child_is_the_metric_s_own_child_and_its_counts_are_exported() -> None:
    labels = ("test_conn", "stored")
    before = metrics.REGISTRY.get_sample_value(
        "interlink_inbound_webhooks_total", {"connection": labels[0], "outcome": labels[1]}
    )

    metrics.child(metrics.INBOUND_RECEIVED, *labels).inc()
    metrics.child(metrics.INBOUND_RECEIVED, *labels).inc()

    assert metrics.child(metrics.INBOUND_RECEIVED, *labels) is metrics.INBOUND_RECEIVED.labels(
        *labels
    )
    after = metrics.REGISTRY.get_sample_value(
        "interlink_inbound_webhooks_total", {"connection": labels[0], "outcome": labels[1]}
    )
    assert after == (before or 0) + 2


def test_children_of_different_metrics_with_the_same_labels_are_kept_apart() -> None:
    requests = metrics.child(metrics.INBOUND_RECEIVED, "test_conn", "duplicate")
    rejected = metrics.child(metrics.INBOUND_REJECTED, "test_conn", "duplicate")

    assert requests is not rejected
