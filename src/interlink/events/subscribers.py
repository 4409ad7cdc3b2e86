"""Internal subscribers: domains that react to platform events through a job.

``@subscribe("order.created", "order.paid")`` above an ``@job("…")`` function makes ``publish``
enqueue that job (argument ``event_id``) in the publishing transaction, once per event: the
dedupe key is ``f"{job}:{event.id}"``, and publishing the same external id twice returns the
first event without enqueueing again.
"""

from __future__ import annotations

from collections.abc import Callable

from interlink.jobs import manifest, registry
from interlink.jobs.registry import JobFn

_subscribers: dict[str, list[str]] = {}


def subscribe(*event_types: str) -> Callable[[JobFn], JobFn]:
    def register(fn: JobFn) -> JobFn:
        name = next((n for n in registry.names() if registry.get(n).fn is fn), None)  # type: ignore[union-attr]
        if name is None:
            raise ValueError("@subscribe goes above @job: the function is not a registered job")
        for event_type in event_types:
            jobs = _subscribers.setdefault(event_type, [])
            if name not in jobs:
                jobs.append(name)
        return fn

    return register


def jobs_for(event_type: str) -> tuple[str, ...]:
    """The subscribers of ``event_type``: built-in ones (``manifest``, imported or not) and
    those registered by imported modules."""
    builtin = manifest.SUBSCRIPTIONS.get(event_type, ())
    registered = _subscribers.get(event_type)
    if not registered:
        return builtin
    return tuple(dict.fromkeys((*builtin, *registered)))
