"""The ``interlink`` command."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from interlink.config import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    from interlink.jobs.worker import Worker

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    values = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=values) if values else settings


def _configure_logs(settings: Settings) -> None:
    from interlink.observability.logging import configure

    configure(settings.log_level, settings.log_format)


def _fail_cleanly(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn a configuration or database failure into one readable line and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        except DBAPIError as exc:
            click.echo(f"database error: {exc.orig}", err=True)
            sys.exit(1)
        except (OSError, ConnectionError) as exc:
            click.echo(f"cannot reach the database: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@click.group()
@click.version_option(package_name="interlink")
def main() -> None:
    """Interlink, the integrations service."""


async def _migrate(settings: Settings) -> None:
    from interlink.db.migrations import upgrade

    await upgrade(settings.database_url)


@main.command()
@_fail_cleanly
def migrate() -> None:
    """Apply the database migrations."""
    settings = _settings()
    _configure_logs(settings)
    _run(_migrate(settings))
    click.echo("database is at the latest migration")


def _serve(settings: Settings, *, embedded_worker: bool) -> None:
    import uvicorn

    from interlink.app import create_app

    app = create_app(settings, embedded_worker=embedded_worker)
    # what imports and the app's construction made lives as long as the process: keep it out of
    # the cyclic collector's scans (a full collection walked ~230k such objects, ~10% of the CPU
    # of a busy inbound webhook receiver)
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    uvicorn.Server(config).run()


async def _prepare_embedded(settings: Settings) -> str | None:
    from interlink.db.engine import Database
    from interlink.tenants.service import bootstrap

    await _migrate(settings)
    db = Database(settings)
    try:
        return await bootstrap(db)
    finally:
        await db.dispose()


@main.command()
@click.option("--host", default=None, help="Bind address (INTERLINK_HOST).")
@click.option("--port", type=int, default=None, help="Port (INTERLINK_PORT).")
@_fail_cleanly
def serve(host: str | None, port: int | None) -> None:
    """Migrate, then run the API and a worker in one process (the embedded default)."""
    settings = _settings(host=host, port=port)
    _configure_logs(settings)
    key = _run(_prepare_embedded(settings))
    if key is not None:
        click.echo(f"Bootstrap admin key: {key}", err=False)
        sys.stdout.flush()
    click.echo(f"Interlink on http://{settings.host}:{settings.port} (docs at /docs)")
    _serve(settings, embedded_worker=True)


@main.command()
@click.option("--host", default=None, help="Bind address (INTERLINK_HOST).")
@click.option("--port", type=int, default=None, help="Port (INTERLINK_PORT).")
@_fail_cleanly
def api(host: str | None, port: int | None) -> None:
    """Run the API only (scale-out: run workers separately)."""
    settings = _settings(host=host, port=port)
    _configure_logs(settings)
    _serve(settings, embedded_worker=False)


def build_worker(settings: Settings, concurrency: int | None) -> Worker:
    """A worker process loads only what running jobs needs: the webhook dispatcher and the
    configured job modules now, and every other built-in job's module on its first run
    (``jobs/manifest.py``). Never the API."""
    from interlink.db.engine import Database
    from interlink.jobs import manifest
    from interlink.jobs.worker import Worker

    manifest.import_modules((*manifest.AT_START, *settings.job_modules))
    return Worker(Database(settings), settings, concurrency=concurrency)


async def _run_worker(settings: Settings, concurrency: int | None) -> None:
    worker = build_worker(settings, concurrency)
    db = worker.db
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
    try:
        await worker.run_until_stopped()
    finally:
        # only what the jobs that ran have loaded: shutting down imports nothing new
        runtime = sys.modules.get("interlink.integrations.runtime")
        if runtime is not None:
            await runtime.close_runtime(db)
        client = sys.modules.get("interlink.webhooks_out.client")
        if client is not None:
            await client.close_shared_clients()
        await db.dispose()


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=None,
    help="Jobs run at once (INTERLINK_WORKER_CONCURRENCY).",
)
@_fail_cleanly
def worker(concurrency: int | None) -> None:
    """Run background workers only; SIGTERM drains them gracefully."""
    settings = _settings()
    _configure_logs(settings)
    _run(_run_worker(settings, concurrency))


@main.group()
def tenants() -> None:
    """Create and list tenants."""


async def _with_session(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from interlink.db.engine import Database

    db = Database(settings)
    try:
        async with db.session() as session:
            result = await fn(session)
            await session.commit()
            return result
    finally:
        await db.dispose()


@tenants.command("create")
@click.option("--name", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_fail_cleanly
def tenants_create(name: str, as_json: bool) -> None:
    from interlink.tenants import service
    from interlink.tenants.schemas import TenantCreate

    settings = _settings()

    async def create(session: Any) -> Any:
        return service.to_read(await service.create(session, TenantCreate(name=name)))

    tenant = _run(_with_session(settings, create))
    click.echo(tenant.model_dump_json() if as_json else tenant.id)


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_fail_cleanly
def tenants_list(as_json: bool) -> None:
    from sqlalchemy import select

    from interlink.models import Tenant
    from interlink.tenants import service

    settings = _settings()

    async def fetch(session: Any) -> list[Any]:
        rows = (await session.scalars(select(Tenant).order_by(Tenant.id))).all()
        return [service.to_read(r) for r in rows]

    for tenant in _run(_with_session(settings, fetch)):
        click.echo(tenant.model_dump_json() if as_json else f"{tenant.id}\t{tenant.name}")


@main.group()
def keys() -> None:
    """Issue, list and revoke API keys."""


@keys.command("create")
@click.option("--tenant", "tenant_id", required=True, help="Tenant id (ten_…).")
@click.option(
    "--scopes",
    required=True,
    multiple=True,
    help="Scopes, repeated or comma-separated: admin, payments:write, …",
)
@click.option("--mode", type=click.Choice(["test", "live"]), default="test", show_default=True)
@click.option("--name", default="", help="A label for the key.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
@click.option("--rate-limit", default=None, help="For example 50/second.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": …, "key": …}.')
@_fail_cleanly
def keys_create(
    tenant_id: str,
    scopes: tuple[str, ...],
    mode: str,
    name: str,
    expires_in_days: int | None,
    rate_limit: str | None,
    as_json: bool,
) -> None:
    from interlink.auth import service
    from interlink.auth.repository import tenant_exists
    from interlink.errors import AppError

    settings = _settings()
    scope_list = [s.strip() for raw in scopes for s in raw.split(",") if s.strip()]
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def create(session: Any) -> Any:
        if not await tenant_exists(session, tenant_id):
            raise click.ClickException(f"no tenant {tenant_id!r}")
        return await service.issue(
            session,
            tenant_id=tenant_id,
            scopes=scope_list,
            mode=mode,
            name=name,
            expires_at=expires,
            rate_limit=rate_limit,
        )

    try:
        created = _run(_with_session(settings, create))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": created.id,
                    "key": created.key,
                    "tenant": created.tenant,
                    "scopes": created.scopes,
                    "mode": created.mode,
                }
            )
        )
    else:
        click.echo(f"{created.id}\t{created.key}")


@keys.command("list")
@click.option("--tenant", "tenant_id", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_fail_cleanly
def keys_list(tenant_id: str | None, as_json: bool) -> None:
    from sqlalchemy import select

    from interlink.auth import service
    from interlink.models import ApiKey

    settings = _settings()

    async def fetch(session: Any) -> list[Any]:
        stmt = select(ApiKey).order_by(ApiKey.id)
        if tenant_id:
            stmt = stmt.where(ApiKey.tenant_id == tenant_id)
        return [service.to_read(r) for r in (await session.scalars(stmt)).all()]

    for key in _run(_with_session(settings, fetch)):
        if as_json:
            click.echo(key.model_dump_json())
        else:
            state = "revoked" if key.revoked_at else "active"
            click.echo(f"{key.id}\t{key.tenant}\t{key.masked_key}\t{','.join(key.scopes)}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
@_fail_cleanly
def keys_revoke(key_id: str) -> None:
    from interlink.kit.clock import now
    from interlink.models import ApiKey

    settings = _settings()

    async def revoke(session: Any) -> bool:
        row = await session.get(ApiKey, key_id)
        if row is None:
            return False
        if row.revoked_at is None:
            row.revoked_at = now()
        return True

    if not _run(_with_session(settings, revoke)):
        raise click.ClickException(f"no API key {key_id!r}")
    click.echo(f"revoked {key_id}")


@main.group()
def crypto() -> None:
    """Secrets at rest: which keys protect how much, and re-encryption under the active key."""


@crypto.command("status")
@_fail_cleanly
def crypto_status() -> None:
    """Show how many stored secrets each key still protects."""
    from interlink.db.engine import Database
    from interlink.keyring import load_keyring
    from interlink.sealing import columns as _registered  # noqa: F401
    from interlink.sealing.registry import columns
    from interlink.sealing.rotate import key_usage

    settings = _settings()
    keyring = load_keyring(settings)

    async def count() -> list[tuple[str, dict[str, int]]]:
        db = Database(settings)
        try:
            return [(c.name, dict(await key_usage(db, c))) for c in columns()]
        finally:
            await db.dispose()

    click.echo(f"active key: {keyring.active_kid}   keys: {', '.join(keyring.kids)}")
    totals: dict[str, int] = {}
    for name, usage in _run(count()):
        described = ", ".join(f"{kid}={n}" for kid, n in sorted(usage.items())) or "empty"
        click.echo(f"{name}: {described}")
        for kid, n in usage.items():
            totals[kid] = totals.get(kid, 0) + n
    stale = sum(n for kid, n in totals.items() if kid != keyring.active_kid)
    unused = [kid for kid in keyring.kids if kid != keyring.active_kid and kid not in totals]
    click.echo(f"rows sealed under other keys than the active one: {stale}")
    if unused:
        click.echo(f"keys protecting nothing (safe to remove): {', '.join(unused)}")


@crypto.command("add-key")
def crypto_add_key() -> None:
    """Add a fresh key and make it active: in the keyring file (embedded default), or print the
    new INTERLINK_ENCRYPTION_KEYS value to set when keys come from the environment."""
    from interlink.keyring import load_keyring

    settings = _settings()
    keyring = load_keyring(settings).add_key()
    if settings.encryption_keys is None:
        keyring.save_file(settings.encryption_key_file)
        click.echo(f"added key {keyring.active_kid} to {settings.encryption_key_file} (active)")
        click.echo("restart Interlink, then run: interlink crypto rotate")
        return
    click.echo("set, restart Interlink, then run: interlink crypto rotate", err=True)
    click.echo(f"INTERLINK_ENCRYPTION_KEYS={keyring.to_spec()}")
    if settings.encryption_active_key:
        click.echo(f"INTERLINK_ENCRYPTION_ACTIVE_KEY={keyring.active_kid}")


@crypto.command("remove-key")
@click.argument("kid")
@_fail_cleanly
def crypto_remove_key(kid: str) -> None:
    """Retire a key once no stored secret is sealed under it (refused otherwise)."""
    from interlink.db.engine import Database
    from interlink.keyring import load_keyring
    from interlink.sealing import columns as _registered  # noqa: F401
    from interlink.sealing.registry import columns
    from interlink.sealing.rotate import key_usage

    settings = _settings()
    keyring = load_keyring(settings)

    async def still_used() -> int:
        db = Database(settings)
        try:
            return sum([(await key_usage(db, c)).get(kid, 0) for c in columns()])
        finally:
            await db.dispose()

    try:
        smaller = keyring.without_key(kid)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    used = _run(still_used())
    if used:
        raise click.ClickException(
            f"{used} stored secret(s) are still sealed under {kid}; run 'interlink crypto rotate'"
        )
    if settings.encryption_keys is None:
        smaller.save_file(settings.encryption_key_file)
        click.echo(f"removed key {kid} from {settings.encryption_key_file}")
        return
    click.echo(f"INTERLINK_ENCRYPTION_KEYS={smaller.to_spec()}")


@crypto.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@_fail_cleanly
def crypto_rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret under the active key. Safe beside live traffic; can be
    interrupted and run again."""
    from interlink.db.engine import Database
    from interlink.keyring import load_keyring
    from interlink.sealing import columns as _registered  # noqa: F401
    from interlink.sealing.registry import columns
    from interlink.sealing.rotate import key_usage, rotate_column

    settings = _settings()
    keyring = load_keyring(settings)

    async def rotate() -> int:
        db = Database(settings)
        problems = 0
        try:
            for column in columns():
                total = sum((await key_usage(db, column)).values())
                with click.progressbar(length=total, label=column.name) as bar:
                    report = await rotate_column(
                        db, keyring, column, batch_size=batch_size, on_batch=bar.update
                    )
                click.echo(
                    f"{column.name}: re-sealed {report.resealed}, changed meanwhile "
                    f"{report.changed_meanwhile}, unreadable {len(report.unreadable)}"
                )
                for key in report.unreadable[:20]:
                    click.echo(f"  cannot open {column.name} row {key} with this keyring", err=True)
                problems += len(report.unreadable)
        finally:
            await db.dispose()
        return problems

    click.echo(f"re-sealing under key {keyring.active_kid}")
    if _run(rotate()):
        sys.exit(1)
