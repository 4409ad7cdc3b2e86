"""Durable jobs: the transactional outbox, the worker that runs it, and periodic schedules."""

from interlink.jobs.enqueue import enqueue
from interlink.jobs.registry import JobContext, Retry, job, schedule

__all__ = ["JobContext", "Retry", "enqueue", "job", "schedule"]
