"""S0 raw commit rate and J1 the job queue end to end, per backend, for the same run's report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import calibration, databases, jobs_throughput
from interlink.config import Settings
from interlink.db.migrations import upgrade


async def run_backend(name: str, url: str, quick: bool) -> dict[str, float]:
    n_commits = 500 if quick else 3000
    n_jobs = 500 if quick else 5000
    settings = Settings(
        database_url=url,
        encryption_keys="bench:" + "A" * 43 + "=",
        log_level="warning",
        jobs_poll_interval=0.05,
    )
    await upgrade(settings.database_url)
    if name == "sqlite":
        path = Path(url.split(":///", 1)[1])
        raw = calibration.sqlite_commits_per_second(path.with_name("calibration.db"), n_commits)
    else:
        raw = await calibration.pg_commits_per_second(url, n_commits)
    jobs = await jobs_throughput.jobs_per_second(settings, n_jobs)
    return {
        "S0_raw_commits_per_s": round(raw, 1),
        "J1_jobs_enqueued_per_s": round(jobs["enqueued_per_s"], 1),
        "J1_jobs_run_per_s": round(jobs["run_per_s"], 1),
        "J1_run_ratio_to_raw_commits": round(jobs["run_per_s"] / raw, 4),
    }


async def run(quick: bool, backends: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "sqlite" in backends:
        results["sqlite"] = await run_backend(
            "sqlite", f"sqlite:///{databases.sqlite_file()}", quick
        )
    if "postgresql" in backends:
        if await databases.pg_reachable():
            url = await databases.create_pg()
            try:
                results["postgresql"] = await run_backend("postgresql", url, quick)
            finally:
                await databases.drop_pg(url)
        else:
            results["postgresql"] = {"skipped": "PostgreSQL unreachable"}
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"{'backend':<12}{'figure':<34}{'value':>14}")
    for backend, figures in results.items():
        for figure, value in figures.items():
            print(f"{backend:<12}{figure:<34}{value!s:>14}")
