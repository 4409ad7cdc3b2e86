"""The manifest of built-in jobs: it must say what the modules declare, and it lets a process run
a job whose module it has not imported (the worker loads no domain, and never the API, at start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interlink.app import import_job_modules
from interlink.config import Settings
from interlink.events import subscribers
from interlink.jobs import manifest, registry


def test_manifest_names_the_module_of_every_built_in_job(settings: Settings) -> None:
    import_job_modules(settings)
    declared = {
        name: spec.fn.__module__
        for name, spec in registry._jobs.items()
        if spec.fn.__module__.startswith("interlink.")
    }
    assert declared == manifest.JOBS


def test_manifest_lists_every_built_in_schedule_and_subscription(settings: Settings) -> None:
    import_job_modules(settings)
    declared = {
        (s.name, s.cron, s.job_name)
        for s in registry._schedules.values()
        if s.job_name in manifest.JOBS
    }
    assert declared == set(manifest.SCHEDULES)
    subscribed = {
        event_type: tuple(j for j in jobs if j in manifest.JOBS)
        for event_type, jobs in subscribers._subscribers.items()
    }
    assert {k: v for k, v in subscribed.items() if v} == manifest.SUBSCRIPTIONS


def test_a_job_whose_module_is_not_imported_is_found_by_importing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "tests.fixtures.lazy_jobs" not in sys.modules
    assert registry.get("lazy.probe") is None
    monkeypatch.setitem(manifest.JOBS, "lazy.probe", "tests.fixtures.lazy_jobs")
    assert registry.known("lazy.probe")

    spec = registry.get("lazy.probe")

    assert spec is not None
    assert spec.max_attempts == 2
    assert "tests.fixtures.lazy_jobs" in sys.modules


def test_every_built_in_schedule_is_known_before_any_job_module_is_imported() -> None:
    names = {s.name for s in registry.schedules()}
    assert {name for name, _cron, _job in manifest.SCHEDULES} <= names


WORKER_IMPORTS = """
import sys
from interlink.cli import build_worker
from interlink.config import Settings
from interlink.jobs import registry

build_worker(Settings(database_url="sqlite+aiosqlite:///unused.db"), None)
at_start = sorted(m for m in sys.modules if m.split(".")[0] in {"fastapi", "stripe", "jsonschema"}
                  or m in {"interlink.api", "interlink.app", "redis"}
                  or m.startswith(("interlink.payments", "interlink.fulfillment",
                                   "interlink.integrations", "interlink.webhooks_in")))
# the dispatcher is there from the start; a rate limiter's library only when a limit is hit
ready = ["interlink.webhooks_out.dispatch" in sys.modules, "limits" in sys.modules]
assert registry.get("webhooks.dispatch") is not None
with_webhooks = sorted(m for m in sys.modules if m.split(".")[0] in {"fastapi", "stripe"}
                       or m in {"interlink.api", "interlink.app"})
print(at_start, with_webhooks, ready)
"""


def test_a_worker_process_starts_with_the_dispatcher_and_no_api_layer_nor_domain_it_has_not_run(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS],
        env=subprocess_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.split() == ["[]", "[]", "[True,", "False]"]
