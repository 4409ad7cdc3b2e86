"""Where every built-in job lives, which schedules run them and which events they subscribe to,
as plain data: a process learns all of it without importing the domains.

The worker imports a job's module the first time it runs (or enqueues) that job, so a worker
that only delivers webhooks never loads the payment providers, the integrations' JSON Schema
validators or the API layer. Schedules and subscriptions are listed here too because the worker
must write every schedule row at start, and ``publish`` must enqueue a subscriber whose module
this process has not imported. ``tests/jobs/test_manifest.py`` checks that this table says what
the modules' own ``@job`` / ``schedule`` / ``@subscribe`` declarations say.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

# job name -> the module whose import registers it
JOBS: dict[str, str] = {
    "jobs.prune": "interlink.jobs.tasks",
    "idempotency.prune": "interlink.idempotency.tasks",
    "integrations.health_check": "interlink.integrations.tasks",
    "integrations.prune_logs": "interlink.integrations.tasks",
    "inbound.process": "interlink.webhooks_in.tasks",
    "inbound.prune": "interlink.webhooks_in.tasks",
    "webhooks.dispatch": "interlink.webhooks_out.tasks",
    "webhooks.deliver": "interlink.webhooks_out.tasks",
    "webhooks.retention": "interlink.webhooks_out.tasks",
    "payments.sync_operation": "interlink.payments.sync",
    "payments.reconcile": "interlink.payments.reconciliation",
    "fulfillment.order_event": "interlink.fulfillment.tasks",
    "fulfillment.submit": "interlink.fulfillment.tasks",
    "fulfillment.poll": "interlink.fulfillment.tasks",
    "fulfillment.cancel": "interlink.fulfillment.tasks",
    "fulfillment.verify_callback": "interlink.fulfillment.tasks",
}

# (schedule name, cron in UTC, job name)
SCHEDULES: tuple[tuple[str, str, str], ...] = (
    ("jobs.prune", "17 * * * *", "jobs.prune"),
    ("idempotency.prune", "*/30 * * * *", "idempotency.prune"),
    ("integrations.health_check", "*/5 * * * *", "integrations.health_check"),
    ("integrations.prune_logs", "41 3 * * *", "integrations.prune_logs"),
    ("inbound.prune", "17 3 * * *", "inbound.prune"),
    ("webhooks.dispatch", "*/5 * * * *", "webhooks.dispatch"),
    ("webhooks.retention", "41 3 * * *", "webhooks.retention"),
    ("payments.reconcile", "17 * * * *", "payments.reconcile"),
)

# event type -> jobs that ``publish`` enqueues for it (``@subscribe``)
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "order.created": ("fulfillment.order_event",),
    "order.paid": ("fulfillment.order_event",),
}

# imported when a worker starts, not on first use: delivering webhooks is every worker's work
# (a schedule runs it within minutes of the start anyway), and the first delivery after a start
# should not wait ~0.3 s for the import of its HTTP client
AT_START: tuple[str, ...] = ("interlink.webhooks_out.tasks",)

# every module that declares built-in jobs, in a stable order
JOB_MODULES: tuple[str, ...] = tuple(dict.fromkeys(JOBS.values()))


def import_modules(modules: Iterable[str]) -> None:
    for module in modules:
        importlib.import_module(module)
