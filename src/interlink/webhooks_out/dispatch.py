"""The delivery dispatcher: due delivery rows are claimed in batches, sent concurrently on the
shared aiohttp session, and their outcomes recorded in group commits.

The delivery row is its own queue entry (``status = 'pending'`` and ``next_attempt_at`` due). A
claim, in one short transaction, takes up to ``BATCH`` due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the database write lock on SQLite) and moves their ``next_attempt_at`` to the end of a
lease (the endpoint's timeout plus ``jobs_lease_seconds``): if this process dies, the rows become
due again when the lease ends and another dispatcher sends them again, with the same
``webhook-id``. No transaction is open while requests are in flight. Each outcome goes to a
recorder that writes whatever outcomes are ready in one transaction (attempt rows in one
multi-row insert, successes in one executemany update; failures through ``delivery.record``, which
applies the retry schedule, ``Retry-After``, 410 and the disable rule), so a slow endpoint never
holds back the recording of fast ones. A recorded outcome is a compare-and-set on
``(status, attempts)`` as claimed: a late duplicate changes nothing but its attempt row.

The jobs table only wakes and drives dispatchers: ``webhooks.dispatch`` jobs are queued by the
fan-out, by failed attempts (at their retry time) and by a minute schedule; a run drains every due
row and stays while anything is due or in flight. Wake-ups queued meanwhile are absorbed by its
claims, or, when the worker runs one, just poke the run in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
import structlog
from sqlalchemy import (
    Float,
    Integer,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import notify, queue
from interlink.kit import signing
from interlink.kit.clock import now, rfc3339
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from interlink.observability import metrics
from interlink.webhooks_out.client import AttemptResult, shared_client
from interlink.webhooks_out.delivery import THROTTLING, Gates, record
from interlink.webhooks_out.schedule import parse_retry_after
from interlink.webhooks_out.secrets import signing_secrets
from interlink.webhooks_out.wakeup import DISPATCH_JOB, wake_at_most_once

log = structlog.get_logger(__name__)

BATCH = 64
RECORD_BATCH = 256
RECORD_RETRIES = 5
# with sends in flight, the recorder waits this long for more outcomes before it writes: fewer,
# larger record transactions (a delivery's receiver has its answer already; only the row waits)
RECORD_GATHER = 0.01
# when due rows exist that this run could not take (locked by another dispatcher, or deferred by
# a rate limit), the next run is queued this far ahead instead of spinning
RECHECK = timedelta(seconds=1)
SECRET_CACHE = 4096
ABSORB_EVERY = 0.05
CLAIM_GAP = 0.005

_deliveries = cast(Table, WebhookDelivery.__table__)
_attempts = cast(Table, WebhookAttempt.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)
_events = cast(Table, Event.__table__)


# The statements a claim and a record run, built once: a busy dispatcher runs them many times a
# second, and building one (and walking it for its cache key) cost as much as running it.
_DUE_COLUMNS = (
    _deliveries.c.id,
    _deliveries.c.tenant_id,
    _deliveries.c.endpoint_id,
    _deliveries.c.event_id,
    _deliveries.c.attempts,
    _endpoints.c.enabled,
    _endpoints.c.paused_until,
    _endpoints.c.rate_limit,
    _endpoints.c.timeout_seconds,
    _endpoints.c.updated_at,
)


def _due_statement(is_sqlite: bool, excluding: bool) -> Any:
    if is_sqlite:
        return _due_sqlite(excluding)
    d, e = _deliveries.c, _endpoints.c
    stmt = (
        select(*_DUE_COLUMNS)
        .select_from(_deliveries.join(_endpoints, e.id == d.endpoint_id))
        .where(d.status == "pending", d.next_attempt_at <= bindparam("b_at"))
    )
    if excluding:
        stmt = stmt.where(d.endpoint_id.not_in(bindparam("b_excluded", expanding=True)))
    return (
        stmt.order_by(d.next_attempt_at)
        .limit(bindparam("b_limit", type_=Integer))
        .with_for_update(skip_locked=True, of=_deliveries)
    )


def _due_sqlite(excluding: bool) -> Any:
    """The claim on SQLite names its index. Left to choose, SQLite reads the pending rows through
    ``(status, created_at)`` (an equality, which it prefers to a range) and sorts all of them for
    the first 64: 14 ms a claim with 100k pending, under the database's one write lock. The
    partial index of pending rows, read in order, stops after 64 entries. Its condition is written
    as a literal: SQLite uses a partial index only for a query that repeats its condition."""
    excluded = "AND d.endpoint_id NOT IN :b_excluded " if excluding else ""
    binds = [
        bindparam("b_at", type_=_deliveries.c.next_attempt_at.type),
        bindparam("b_limit", type_=Integer),
    ]
    if excluding:
        binds.append(bindparam("b_excluded", expanding=True))
    return (
        text(
            # the one fragment added is a constant of this function
            "SELECT d.id, d.tenant_id, d.endpoint_id, d.event_id, d.attempts, e.enabled, "  # noqa: S608
            "e.paused_until, e.rate_limit, e.timeout_seconds, e.updated_at "
            "FROM webhook_deliveries AS d INDEXED BY ix_webhook_deliveries_pending "
            "JOIN webhook_endpoints AS e ON e.id = d.endpoint_id "
            f"WHERE d.status = 'pending' AND d.next_attempt_at <= :b_at {excluded}"
            "ORDER BY d.next_attempt_at LIMIT :b_limit"
        )
        .bindparams(*binds)
        .columns(*_DUE_COLUMNS)
    )


# by (SQLite, some endpoints excluded)
_DUE = {(s, x): _due_statement(s, x) for s in (False, True) for x in (False, True)}


def _lease_statement(excluding: bool, absorbing: bool) -> Any:
    """PostgreSQL's claim in one statement, run outside a transaction: lock the due rows, keep
    each endpoint's free share of them, lease those of plain endpoints (enabled, not paused, no
    rate limit) until their endpoint's timeout plus the margin, and return them with their
    events. A last row sums up: how many of the rows were of other endpoints (disabled, paused,
    rate limited; the claim with decisions handles them), and how many due rows were locked.
    Rows locked and not leased stay due. With ``absorbing``, the queued dispatch wake-ups are
    marked done by the same statement, so what they announce is visible to its read (one
    snapshot)."""
    absorb = (
        "absorbed AS (UPDATE jobs SET state = 'done', finished_at = :b_at, updated_at = :b_at "
        "WHERE id IN (SELECT id FROM jobs WHERE name = :b_name AND state = 'queued' "
        "AND run_at <= :b_at FOR UPDATE SKIP LOCKED)), "
        if absorbing
        else ""
    )
    excluded = "AND NOT (d.endpoint_id = ANY(CAST(:b_excluded AS text[]))) " if excluding else ""
    # the fragments added are constants of this function
    sql = (
        f"WITH {absorb}"  # noqa: S608
        "due AS (SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries AS d "
        f"WHERE d.status = 'pending' AND d.next_attempt_at <= :b_at {excluded}"
        "ORDER BY d.next_attempt_at LIMIT :b_limit FOR UPDATE OF d SKIP LOCKED), "
        "ranked AS (SELECT due.id, due.endpoint_id, row_number() OVER "
        "(PARTITION BY due.endpoint_id ORDER BY due.next_attempt_at, due.id) AS place FROM due), "
        "fit AS (SELECT r.id, e.timeout_seconds, e.updated_at, "
        "(e.enabled AND e.rate_limit IS NULL "
        "AND (e.paused_until IS NULL OR e.paused_until <= :b_at)) AS plain "
        "FROM ranked AS r JOIN webhook_endpoints AS e ON e.id = r.endpoint_id "
        "LEFT JOIN unnest(CAST(:b_busy AS text[]), CAST(:b_free AS integer[])) "
        "AS b(endpoint_id, free) ON b.endpoint_id = r.endpoint_id "
        "WHERE r.place <= coalesce(b.free, :b_share)), "
        "leased AS (UPDATE webhook_deliveries AS d SET next_attempt_at = "
        ":b_at + make_interval(secs => fit.timeout_seconds + CAST(:b_margin AS float8)) "
        "FROM fit WHERE d.id = fit.id AND fit.plain "
        "RETURNING d.id, d.tenant_id, d.endpoint_id, d.event_id, d.attempts, fit.updated_at) "
        "SELECT l.id, l.tenant_id, l.endpoint_id, l.event_id, l.attempts, l.updated_at, "
        "ev.type, ev.created_at, ev.tenant_id, "
        "CASE WHEN row_number() OVER (PARTITION BY l.event_id ORDER BY l.id) = 1 "
        "THEN ev.data END, NULL, NULL "
        "FROM leased AS l JOIN events AS ev ON ev.id = l.event_id "
        "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "(SELECT count(*) FROM fit WHERE NOT fit.plain), (SELECT count(*) FROM due)"
    )
    at_type = _deliveries.c.next_attempt_at.type
    binds = [
        bindparam("b_at", type_=at_type),
        bindparam("b_limit", type_=Integer),
        bindparam("b_share", type_=Integer),
        bindparam("b_margin", type_=Float),
    ]
    return (
        text(sql)
        .bindparams(*binds)
        .columns(
            column("id", String),
            column("tenant_id", String),
            column("endpoint_id", String),
            column("event_id", String),
            column("attempts", Integer),
            column("endpoint_version", at_type),
            column("event_type", String),
            column("event_created_at", at_type),
            column("event_tenant_id", String),
            column("event_data", _events.c.data.type),
            column("others", Integer),
            column("due", Integer),
        )
    )


# by (some endpoints excluded, absorbing wake-ups)
_LEASED = {(x, a): _lease_statement(x, a) for x in (False, True) for a in (False, True)}


# PostgreSQL: a batch of successful attempts recorded in one statement outside a transaction.
# The batch arrives as arrays (one per column); the rows still pending at the attempt count their
# claim saw are marked succeeded (the compare-and-set), every attempt of a row that still exists
# is inserted (its id drawn once per attempt, so a retried record inserts nothing twice), and the
# endpoints of those successes that were in a run of failures are cleared, locked first in id
# order (as the record transaction does) so that two batches never wait on each other in turn.
_RECORD_SUCCESSES = text(
    "WITH given AS (SELECT * FROM unnest(CAST(:b_ids AS text[]), CAST(:b_attempts AS integer[]), "
    "CAST(:b_at AS timestamptz[]), CAST(:b_codes AS integer[]), CAST(:b_durations AS integer[]), "
    "CAST(:b_bodies AS text[]), CAST(:b_attempt_ids AS text[]), CAST(:b_tenants AS text[]), "
    "CAST(:b_endpoints AS text[])) AS g(delivery_id, attempts, attempted_at, status_code, "
    "duration_ms, response_body, attempt_id, tenant_id, endpoint_id)), "
    "present AS (SELECT d.id, d.status, d.attempts FROM webhook_deliveries AS d "
    "WHERE d.id IN (SELECT delivery_id FROM given) ORDER BY d.id FOR UPDATE), "
    "inserted AS (INSERT INTO webhook_attempts (id, tenant_id, delivery_id, endpoint_id, "
    "attempted_at, succeeded, status_code, duration_ms, response_body, error_class, "
    "error_message, trigger) SELECT g.attempt_id, g.tenant_id, g.delivery_id, g.endpoint_id, "
    "g.attempted_at, true, g.status_code, g.duration_ms, g.response_body, NULL, NULL, "
    "'scheduled' FROM given AS g JOIN present AS p ON p.id = g.delivery_id "
    "ON CONFLICT (id) DO NOTHING), "
    "done AS (UPDATE webhook_deliveries AS d SET status = 'succeeded', attempts = g.attempts + 1, "
    "next_attempt_at = NULL, last_attempt_at = g.attempted_at, last_status_code = g.status_code, "
    "last_error = NULL, updated_at = CAST(:b_now AS timestamptz) "
    "FROM given AS g JOIN present AS p ON p.id = g.delivery_id "
    "AND p.status = 'pending' AND p.attempts = g.attempts "
    "WHERE d.id = g.delivery_id RETURNING d.endpoint_id), "
    "failing AS (SELECT e.id FROM webhook_endpoints AS e "
    "WHERE e.id IN (SELECT endpoint_id FROM done) AND e.failing_since IS NOT NULL "
    "ORDER BY e.id FOR NO KEY UPDATE), "
    "cleared AS (UPDATE webhook_endpoints SET failing_since = NULL "
    "WHERE id IN (SELECT id FROM failing)) "
    "SELECT count(*) FROM done"
)


def _successes(outcomes: list[Outcome]) -> dict[str, Any]:
    """``_RECORD_SUCCESSES``'s arrays; each attempt's id drawn here, once."""
    return {
        "b_ids": [o.row.id for o in outcomes],
        "b_attempts": [o.row.attempts for o in outcomes],
        "b_at": [o.attempted_at for o in outcomes],
        "b_codes": [o.result.status_code for o in outcomes],
        "b_durations": [o.result.duration_ms for o in outcomes],
        "b_bodies": [o.result.response_body for o in outcomes],
        "b_attempt_ids": [new_id("atm") for _ in outcomes],
        "b_tenants": [o.row.tenant_id for o in outcomes],
        "b_endpoints": [o.row.endpoint_id for o in outcomes],
    }


def _body(event_id: str, event_type: str, created_at: datetime, tenant_id: str, data: Any) -> bytes:
    """The envelope every endpoint's delivery of an event sends: serialised once per claim."""
    return orjson.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created": rfc3339(created_at),
            "tenant": tenant_id,
            "data": data,
        }
    )


_LEASE = (
    update(_deliveries)
    .where(_deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(next_attempt_at=bindparam("b_lease"))
)
_EVENT_BODIES = select(
    _events.c.id, _events.c.type, _events.c.created_at, _events.c.tenant_id, _events.c.data
).where(_events.c.id.in_(bindparam("b_ids", expanding=True)))
_CURRENT_SQLITE = select(_deliveries.c.id, _deliveries.c.status, _deliveries.c.attempts).where(
    _deliveries.c.id.in_(bindparam("b_ids", expanding=True))
)
_CURRENT_LOCKED = _CURRENT_SQLITE.order_by(_deliveries.c.id).with_for_update()
_INSERT_ATTEMPTS = insert(_attempts)
_SUCCEEDED = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("b_id"))
    .values(
        status="succeeded",
        attempts=bindparam("b_attempts"),
        next_attempt_at=None,
        last_attempt_at=bindparam("b_at"),
        last_status_code=bindparam("b_code"),
        last_error=None,
        updated_at=bindparam("b_now"),
    )
)


@dataclass(slots=True)
class Target:
    """What a send needs from the endpoint, read in the claim transaction."""

    id: str
    url: str
    headers: dict[str, str]
    timeout: float
    secrets: list[str]


@dataclass(slots=True)
class Claimed:
    id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    attempts: int


@dataclass(slots=True)
class Outcome:
    row: Claimed
    result: AttemptResult
    attempted_at: datetime


class SecretCache:
    """Opened signing secrets by sealed value: the keyring's AES-GCM open runs once per secret
    version, not once per attempt. Only process memory; nothing is written anywhere."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._cache: dict[tuple[str, str, str | None, datetime | None, bool], list[str]] = {}

    def secrets_of(self, endpoint: WebhookEndpoint, at: datetime) -> list[str]:
        window_open = (
            endpoint.previous_secret_expires_at is not None
            and at < endpoint.previous_secret_expires_at
        )
        key = (
            endpoint.id,
            endpoint.secret_sealed,
            endpoint.previous_secret_sealed,
            endpoint.previous_secret_expires_at,
            window_open,
        )
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= SECRET_CACHE:
                self._cache.clear()
            found = self._cache[key] = signing_secrets(self.keyring, endpoint, at)
        return found


@dataclass(slots=True)
class CachedTarget:
    """An endpoint's target as of its ``updated_at``; every change through the API (and any
    Core update, by the column's ``onupdate``) moves it. ``until``: the end of a previous
    secret's overlap window, after which the secrets are opened again."""

    updated_at: datetime
    until: datetime | None
    target: Target


class Dispatcher:
    """One per process and event loop; at most one run at a time drives it."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        gates: Gates,
        keyring: Keyring,
        limiter: Any,
    ) -> None:
        self.db = db
        self.settings = settings
        self.gates = gates
        self.secrets = SecretCache(keyring)
        # PostgreSQL's one-statement claim runs outside a transaction (the pool is shared)
        self._autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        # endpoint id -> its target: a claim reads only endpoints that changed since
        self._targets: dict[str, CachedTarget] = {}
        self._versions: dict[str, datetime] = {}  # endpoint id -> updated_at, in this claim
        self.limiter = limiter
        self.lease_margin = timedelta(seconds=settings.jobs_lease_seconds)
        self.disable_after = timedelta(days=settings.webhook_disable_after_days)
        # a drained run stays this long, claiming at once when this process sees a new job (a
        # local commit, or a PostgreSQL notification), so a steady stream of events is claimed
        # by the run in progress instead of through a wake-up job each
        self.linger = settings.webhook_dispatch_linger_seconds
        self.active = False
        self._poked = asyncio.Event()
        self._claimable = asyncio.Event()  # a wake-up, or a send finished (capacity is free)
        self._recordable = asyncio.Event()  # an outcome is ready, or the run ended
        self._outcomes: list[Outcome] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._blocked: dict[str, float] = {}  # endpoint id -> monotonic time its rate window ends
        # endpoint id -> end of the pause its last throttling answer asked for (on the clock the
        # stored pause uses): claims leave it out at once, before the answer is recorded (the
        # record stores the pause for every process); unlike a rate window it does not keep a
        # drained run alive
        self._paused: dict[str, datetime] = {}
        # claim again once this many or fewer sends are left (half of those after the last
        # claim), so a claim takes a batch instead of one row per finished send
        self._low_water = 0
        # whether the last claim found as many due rows as it asked for: more may be due even
        # when it took fewer (the rest of an endpoint's rows beyond its share)
        self.batch_was_full = False
        self._absorb_after = 0.0
        self.claim_gap = CLAIM_GAP

    def poke(self, job_name: str | None = None) -> bool:
        """A wake-up arrived while a run is in progress: claim again, absorbing the wake-up
        jobs now queued (before the worker spends a claim and a job run on each). Whether the
        wake-up was only for this run (a dispatch job, which its next claim absorbs)."""
        self._absorb_after = 0.0
        self._poked.set()
        self._claimable.set()
        return self.active and job_name == DISPATCH_JOB

    @property
    def in_flight(self) -> int:
        return len(self._sending)

    async def run(self, stopping: asyncio.Event | None = None) -> int:
        """Drain: claim, send and record until nothing is due or in flight (or the worker
        stops); then queue the run that the earliest pending row will need. The number sent."""
        self.active = True
        # the run's first claim absorbs the wake-ups queued so far (the dispatcher outlives runs:
        # a claim of the previous run may have absorbed a moment ago)
        self._absorb_after = 0.0
        sent = 0
        idle_since: float | None = None
        drained_at = float("-inf")  # when a claim last took rows and left none due
        recorder = asyncio.create_task(self._record_loop(), name="webhooks-recorder")
        notify.add_callback(self.poke)
        try:
            while True:
                # cleared before the claim: a send finishing during it is not missed
                self._poked.clear()
                self._claimable.clear()
                if stopping is not None and stopping.is_set():
                    break
                # a wake-up soon after a claim that took the last due rows waits out CLAIM_GAP:
                # under a stream of publishes (a notification each) a claim takes what arrived
                # meanwhile instead of one row per commit; a quiet moment's wake-up, or one after
                # a claim that found nothing, claims at once
                gap = drained_at + self.claim_gap - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
                    self._poked.clear()
                    self._claimable.clear()
                free = min(BATCH, self.gates.overall - self.gates.total)
                # sends in flight when the claim began may have kept their endpoints out of it
                busy = bool(self._sending)
                claimed = await self._claim(free) if free > 0 else 0
                sent += claimed
                self._low_water = len(self._sending) // 2
                if claimed and (claimed == free or self.batch_was_full):
                    continue  # more may be due: claim again at once
                if claimed:
                    drained_at = time.monotonic()
                wait = self.settings.jobs_poll_interval
                if self._blocked:  # rate-limited rows wait for their window, not for a timer
                    idle_since = None
                    wait = min(wait, max(0.001, min(self._blocked.values()) - time.monotonic()))
                elif not (claimed or busy or self._sending or self._poked.is_set()):
                    # drained: linger for a poke (without polling the database), then end
                    idle_since = time.monotonic() if idle_since is None else idle_since
                    if not await self._linger(idle_since, stopping):
                        break
                    continue
                else:
                    idle_since = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._claimable.wait(), timeout=wait)
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
        finally:
            notify.remove_callback(self.poke)
            self.active = False
            # wake-ups this run took on itself and did not absorb are claimed by the job loop
            notify.wake_workers()
            self._recordable.set()
            # the recorder ends once every outcome is written
            with contextlib.suppress(Exception):
                await recorder
        await self._queue_next_run()
        return sent

    async def _linger(self, idle_since: float, stopping: asyncio.Event | None) -> bool:
        """Wait for a poke until ``linger`` after ``idle_since``; whether one came."""
        while not self._claimable.is_set():
            left = self.linger - (time.monotonic() - idle_since)
            if left <= 0 or (stopping is not None and stopping.is_set()):
                return False
            # short slices: a stopping worker is not held up by the linger
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._claimable.wait(), timeout=min(0.1, left))
        return True

    # -- claim -----------------------------------------------------------------------------

    def _excluded(self) -> list[str]:
        mono = time.monotonic()
        for endpoint_id, until in list(self._blocked.items()):
            if until <= mono:
                del self._blocked[endpoint_id]
        at = now()
        for endpoint_id, paused_until in list(self._paused.items()):
            if paused_until <= at:
                del self._paused[endpoint_id]
        return [*self.gates.full_endpoints(), *self._blocked, *self._paused]

    async def _claim(self, limit: int) -> int:
        """Claim up to ``limit`` due rows and start their sends; the number started."""
        at = now()
        taken = await self.claim(limit, at)
        for claimed, target, body in taken:
            task = asyncio.create_task(self._send(claimed, target, body, at))
            self._sending.add(task)
        return len(taken)

    async def claim(self, limit: int, at: datetime) -> list[tuple[Claimed, Target, bytes]]:
        """The rows leased to this dispatcher, each with its endpoint's target and its event's
        body. Their endpoints' gates are entered.

        On PostgreSQL one statement outside a transaction leases the rows of plain endpoints (a
        claim had been five round trips: begin, due rows, lease, event bodies, commit); when
        the due rows include some of other endpoints (disabled, paused, rate limited), the
        claim with decisions follows it. SQLite always takes the claim with decisions, under
        its write lock."""
        self.batch_was_full = False
        if self.db.is_sqlite:
            return await self._claim_deciding(limit, at)
        taken, others = await self._claim_leasing(limit, at)
        if others and len(taken) < limit:
            full = self.batch_was_full
            taken += await self._claim_deciding(limit - len(taken), at)
            self.batch_was_full = full or self.batch_was_full
        return taken

    async def _claim_leasing(
        self, limit: int, at: datetime
    ) -> tuple[list[tuple[Claimed, Target, bytes]], int]:
        """PostgreSQL's claim in one statement (``_lease_statement``): the rows leased, and how
        many due rows of other endpoints it left to the claim with decisions."""
        excluded = self._excluded()
        mono = time.monotonic()
        absorbing = mono >= self._absorb_after
        if absorbing:
            self._absorb_after = mono + ABSORB_EVERY
        busy, free = self.gates.free_shares()
        params: dict[str, Any] = {
            "b_at": at,
            "b_limit": limit,
            "b_share": self.gates.per_endpoint,
            "b_margin": self.lease_margin.total_seconds(),
            "b_busy": busy,
            "b_free": free,
        }
        if excluded:
            params["b_excluded"] = excluded
        if absorbing:
            params["b_name"] = DISPATCH_JOB
        async with self._autocommit.connect() as conn:
            rows = (await conn.execute(_LEASED[(bool(excluded), absorbing)], params)).all()
        others = 0
        take: list[Claimed] = []
        bodies: dict[str, bytes] = {}
        self._versions.clear()
        for row in rows:
            (delivery_id, tenant_id, endpoint_id, event_id, attempts, version) = row[:6]
            if delivery_id is None:  # the summary row
                others = int(row[10] or 0)
                self.batch_was_full = int(row[11] or 0) >= limit
                continue
            # the statement kept each endpoint within its free share
            self.gates.enter(endpoint_id)
            self._versions[endpoint_id] = version
            take.append(Claimed(delivery_id, tenant_id, endpoint_id, event_id, int(attempts)))
            event_type, created_at, event_tenant_id, data = row[6:10]
            if data is not None:  # on the first row of each event
                bodies[event_id] = _body(event_id, event_type, created_at, event_tenant_id, data)
        if not take:
            return [], others
        entered = [c.endpoint_id for c in take]
        try:
            stale = self._stale_targets(entered, at)
            if stale:
                async with self.db.read_session() as session:
                    await self._read_targets(session, stale, at)
            return self._assemble(take, bodies, at, entered), others
        except BaseException:
            for endpoint_id in entered:
                self.gates.leave(endpoint_id)
            raise

    async def _claim_deciding(
        self, limit: int, at: datetime
    ) -> list[tuple[Claimed, Target, bytes]]:
        """One claim transaction that reads the due rows with their endpoints and decides,
        row by row, which are sent now (``_decide``)."""
        taken: list[tuple[Claimed, Target, bytes]] = []
        entered: list[str] = []
        try:
            async with self.db.session() as session:
                mono = time.monotonic()
                if mono >= self._absorb_after:
                    # at most every ABSORB_EVERY: enough to keep the worker from running a
                    # wake-up per published event while this run is going
                    self._absorb_after = mono + ABSORB_EVERY
                    await queue.absorb(session, DISPATCH_JOB, at)
                rows = await self._due(session, at, limit)
                self.batch_was_full = len(rows) >= limit
                if not rows:
                    await session.commit()
                    return []
                self._versions.clear()
                take, lease = await self._decide(session, rows, at, entered)
                if take:
                    await session.execute(
                        _LEASE, {"b_ids": [c.id for c in take], "b_lease": at + lease}
                    )
                    taken = await self._load(session, take, at, entered)
                await session.commit()
        except BaseException:
            for endpoint_id in entered:
                self.gates.leave(endpoint_id)
            raise
        return taken

    async def _due(self, session: AsyncSession, at: datetime, limit: int) -> list[Any]:
        excluded = self._excluded()
        stmt = _DUE[(self.db.is_sqlite, bool(excluded))]
        params: dict[str, Any] = {"b_at": at, "b_limit": limit}
        if excluded:
            params["b_excluded"] = excluded
        return list((await session.execute(stmt, params)).all())

    async def _decide(
        self, session: AsyncSession, rows: list[Any], at: datetime, entered: list[str]
    ) -> tuple[list[Claimed], timedelta]:
        """Which rows are sent now. Rows of a disabled endpoint fail, rows of a paused endpoint
        wait for its pause, rows beyond a rate limit wait a slot, and rows beyond the endpoint's
        concurrency share are left untouched for a later claim. Returns the rows and the lease."""
        take: list[Claimed] = []
        timeout = 0.0
        handled: set[str] = set()
        deferred: list[dict[str, Any]] = []
        denied: dict[str, datetime] = {}
        for row in rows:
            (delivery_id, tenant_id, endpoint_id, event_id, attempts) = row[:5]
            enabled, paused_until, rate_limit, endpoint_timeout, version = row[5:]
            if not enabled:
                if endpoint_id not in handled:
                    handled.add(endpoint_id)
                    from interlink.webhooks_out.repository import fail_pending_of

                    await fail_pending_of(session, endpoint_id, "endpoint disabled")
                continue
            if paused_until is not None and paused_until > at:
                if endpoint_id not in handled:
                    handled.add(endpoint_id)
                    # every due row of the endpoint waits for the pause, in one statement
                    await session.execute(
                        update(WebhookDelivery)
                        .where(
                            WebhookDelivery.endpoint_id == endpoint_id,
                            WebhookDelivery.status == "pending",
                            WebhookDelivery.next_attempt_at < paused_until,
                        )
                        .values(next_attempt_at=paused_until)
                        .execution_options(synchronize_session=False)
                    )
                continue
            if endpoint_id in handled:
                continue
            if endpoint_id in denied:
                deferred.append({"b_id": delivery_id, "b_at": denied[endpoint_id]})
                continue
            if rate_limit is not None:
                decision = await self.limiter.hit(f"whep:{endpoint_id}", f"{rate_limit}/second")
                if not decision.allowed:
                    # beyond the limit: the row waits a slot without using an attempt, and the
                    # endpoint's other rows are left out of claims until then
                    wait = timedelta(seconds=1 / rate_limit)
                    denied[endpoint_id] = at + wait
                    deferred.append({"b_id": delivery_id, "b_at": at + wait})
                    self._blocked[endpoint_id] = time.monotonic() + wait.total_seconds()
                    continue
            if not self.gates.try_enter(endpoint_id):
                continue  # its share is in flight: the row stays due for a later claim
            entered.append(endpoint_id)
            timeout = max(timeout, float(endpoint_timeout))
            self._versions[endpoint_id] = version
            take.append(Claimed(delivery_id, tenant_id, endpoint_id, event_id, int(attempts)))
        if deferred:
            await session.execute(
                update(_deliveries)
                .where(_deliveries.c.id == bindparam("b_id"))
                .values(next_attempt_at=bindparam("b_at")),
                deferred,
            )
        return take, timedelta(seconds=timeout) + self.lease_margin

    async def _load(
        self, session: AsyncSession, take: list[Claimed], at: datetime, entered: list[str]
    ) -> list[tuple[Claimed, Target, bytes]]:
        stale = self._stale_targets({c.endpoint_id for c in take}, at)
        if stale:
            await self._read_targets(session, stale, at)
        event_ids = {c.event_id for c in take}
        bodies: dict[str, bytes] = {}
        event_rows = await session.execute(_EVENT_BODIES, {"b_ids": list(event_ids)})
        for event_id, event_type, created_at, tenant_id, data in event_rows.all():
            # the body of every endpoint's delivery of this event: serialised once
            bodies[event_id] = _body(event_id, event_type, created_at, tenant_id, data)
        return self._assemble(take, bodies, at, entered)

    def _assemble(
        self, take: list[Claimed], bodies: dict[str, bytes], at: datetime, entered: list[str]
    ) -> list[tuple[Claimed, Target, bytes]]:
        """Each claimed row with its target (cached by now) and its event's body."""
        out: list[tuple[Claimed, Target, bytes]] = []
        for claimed in take:
            target = self._fresh_target(claimed.endpoint_id, at)
            body = bodies.get(claimed.event_id)
            if target is None or body is None:  # deleted meanwhile (cascades take the row too)
                entered.remove(claimed.endpoint_id)
                self.gates.leave(claimed.endpoint_id)
                continue
            out.append((claimed, target, body))
        return out

    def _fresh_target(self, endpoint_id: str, at: datetime) -> Target | None:
        """The cached target of the endpoint if it is the version the claim read."""
        cached = self._targets.get(endpoint_id)
        if (
            cached is not None
            and cached.updated_at == self._versions.get(endpoint_id)
            and (cached.until is None or at < cached.until)
        ):
            return cached.target
        return None

    def _stale_targets(self, endpoint_ids: Iterable[str], at: datetime) -> set[str]:
        """The endpoints whose cached target is missing or older than the version the claim
        read (``updated_at``: every change through the API, and any Core update, moves it)."""
        return {e for e in endpoint_ids if self._fresh_target(e, at) is None}

    async def _read_targets(self, session: AsyncSession, stale: set[str], at: datetime) -> None:
        """Read the endpoints' targets into the cache."""
        if len(self._targets) + len(stale) > SECRET_CACHE:
            self._targets.clear()
        endpoints = (
            await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(stale)))
        ).all()
        for endpoint in endpoints:
            headers = dict(endpoint.headers)
            headers["Content-Type"] = "application/json"
            target = Target(
                endpoint.id,
                endpoint.url,
                headers,
                float(endpoint.timeout_seconds),
                self.secrets.secrets_of(endpoint, at),
            )
            window = endpoint.previous_secret_expires_at
            self._targets[endpoint.id] = CachedTarget(
                endpoint.updated_at, window if window is not None and at < window else None, target
            )
            # the version read now is the one sends use
            self._versions[endpoint.id] = endpoint.updated_at
        session.expunge_all()

    # -- send ------------------------------------------------------------------------------

    async def _send(self, claimed: Claimed, target: Target, body: bytes, at: datetime) -> None:
        try:
            timestamp = int(time.time())  # receivers compare it with their wall clock
            headers = dict(target.headers)
            headers.update(signing.headers(target.secrets, claimed.id, timestamp, body))
            # the process's shared session (created on the first send, not by an idle run)
            client = shared_client(self.settings.webhook_allowed_networks)
            result = await client.send(target.url, body, headers, target.timeout)
            if result.status_code in THROTTLING:
                answered = now()
                pause = parse_retry_after(result.retry_after, answered)
                if pause is not None:
                    self._paused[claimed.endpoint_id] = answered + pause
        except Exception as exc:  # never lose an outcome: an unexpected error is a failed attempt
            result = AttemptResult(None, 0, None, "connection_error", str(exc)[:500])
        finally:
            self.gates.leave(claimed.endpoint_id)
            self._sending.discard(asyncio.current_task())
            if len(self._sending) <= self._low_water:
                self._claimable.set()
        self._outcomes.append(Outcome(claimed, result, at))
        self._recordable.set()

    # -- record ----------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            if not self._outcomes:
                if not self.active and not self._sending:
                    return
                self._recordable.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._recordable.wait(), timeout=0.5)
                continue
            if len(self._outcomes) < RECORD_BATCH and self._sending:
                await asyncio.sleep(RECORD_GATHER)
            batch = self._outcomes[:RECORD_BATCH]
            del self._outcomes[: len(batch)]
            parts = self._record_parts(batch)
            for part in parts:
                for attempt in range(RECORD_RETRIES):
                    try:
                        await part()
                        break
                    except Exception as exc:
                        # the rows stay leased: if this never succeeds they are sent again when
                        # the lease ends, with the same webhook-id
                        log.warning("webhook_record_failed", error=str(exc), attempt=attempt + 1)
                        await asyncio.sleep(0.1 * 2**attempt)

    def _record_parts(self, batch: list[Outcome]) -> list[Callable[[], Awaitable[None]]]:
        """The writes that record a batch, each retried on its own: on PostgreSQL the successes
        in one statement and the failures (schedule, pause, disable, dead letter) in the record
        transaction; on SQLite the whole batch in the record transaction."""
        if self.db.is_sqlite:
            return [functools.partial(self._record, batch)]
        for outcome in batch:
            metrics.WEBHOOK_ATTEMPT_LATENCY.observe(outcome.result.duration_ms / 1000)
        parts: list[Callable[[], Awaitable[None]]] = []
        succeeded = [o for o in batch if o.result.succeeded]
        failed = [o for o in batch if not o.result.succeeded]
        if succeeded:
            parts.append(functools.partial(self._record_successes, _successes(succeeded)))
        if failed:
            parts.append(functools.partial(self._record, failed, observed=True))
        return parts

    async def record_batch(self, batch: list[Outcome]) -> None:
        """Record a batch of outcomes once (the recorder retries each part)."""
        for part in self._record_parts(batch):
            await part()

    async def _record_successes(self, params: dict[str, Any]) -> None:
        async with self._autocommit.connect() as conn:
            params["b_now"] = now()
            done = int((await conn.execute(_RECORD_SUCCESSES, params)).scalar_one())
        metrics.WEBHOOK_DELIVERIES.labels("succeeded").inc(done)

    async def _record(self, batch: list[Outcome], *, observed: bool = False) -> None:
        """Record a batch of outcomes in one transaction (``observed``: their attempt latency
        is already in the metrics)."""
        at = now()
        ids = sorted({o.row.id for o in batch})
        async with self.db.session() as session:
            stmt = _CURRENT_SQLITE if self.db.is_sqlite else _CURRENT_LOCKED
            rows = (await session.execute(stmt, {"b_ids": ids})).all()
            current = {r[0]: (r[1], r[2]) for r in rows}
            attempt_rows: list[dict[str, Any]] = []
            succeeded: list[dict[str, Any]] = []
            failed: list[Outcome] = []
            cleared: set[str] = set()
            seen: set[str] = set()
            for outcome in batch:
                row, result = outcome.row, outcome.result
                state = current.get(row.id)
                if state is None:
                    continue  # deleted with its endpoint
                if not observed:
                    metrics.WEBHOOK_ATTEMPT_LATENCY.observe(result.duration_ms / 1000)
                if not result.succeeded:
                    failed.append(outcome)
                    continue
                attempt_rows.append(
                    {
                        "id": new_id("atm"),
                        "tenant_id": row.tenant_id,
                        "delivery_id": row.id,
                        "endpoint_id": row.endpoint_id,
                        "attempted_at": outcome.attempted_at,
                        "succeeded": True,
                        "status_code": result.status_code,
                        "duration_ms": result.duration_ms,
                        "response_body": result.response_body,
                        "error_class": None,
                        "error_message": None,
                        "trigger": "scheduled",
                    }
                )
                if state == ("pending", row.attempts) and row.id not in seen:
                    seen.add(row.id)
                    succeeded.append(
                        {
                            "b_id": row.id,
                            "b_attempts": row.attempts + 1,
                            "b_at": outcome.attempted_at,
                            "b_code": result.status_code,
                        }
                    )
                    cleared.add(row.endpoint_id)
                    metrics.WEBHOOK_DELIVERIES.labels("succeeded").inc()
            if attempt_rows:
                await session.execute(_INSERT_ATTEMPTS, attempt_rows)
            if succeeded:
                for params in succeeded:
                    params["b_now"] = at
                await session.execute(_SUCCEEDED, succeeded)
            failing_endpoints = {o.row.endpoint_id for o in failed}
            if not self.db.is_sqlite and (failing_endpoints or cleared):
                # every endpoint row this transaction will change, locked up front in one sorted
                # statement: batches recorded side by side then never wait on each other in
                # opposite orders (a deadlock). NO KEY UPDATE leaves the FOR KEY SHARE that a
                # publisher's delivery insert takes through the foreign key unblocked. A healthy
                # endpoint that only succeeded is not locked at all.
                e = _endpoints.c
                await session.execute(
                    select(e.id)
                    .where(
                        e.id.in_(sorted(failing_endpoints | cleared)),
                        or_(e.id.in_(sorted(failing_endpoints)), e.failing_since.is_not(None)),
                    )
                    .order_by(e.id)
                    .with_for_update(key_share=True)
                )
            if cleared:
                # no row lock on a healthy endpoint: only those in a failure run are touched
                await session.execute(
                    update(_endpoints)
                    .where(
                        _endpoints.c.id.in_(sorted(cleared)),
                        _endpoints.c.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )
            for outcome in failed:
                await record(
                    session,
                    outcome.row.id,
                    outcome.result,
                    attempted_at=outcome.attempted_at,
                    trigger="scheduled",
                    expected_attempts=outcome.row.attempts,
                    disable_after=self.disable_after,
                )
            await session.commit()

    # -- next run --------------------------------------------------------------------------

    async def _queue_next_run(self) -> None:
        """The durable timer: a run at the earliest pending row's time (a retry, a deferral,
        or the end of another dispatcher's lease)."""
        try:
            async with self.db.session() as session:
                earliest = await session.scalar(
                    select(func.min(WebhookDelivery.next_attempt_at)).where(
                        WebhookDelivery.status == "pending"
                    )
                )
                if earliest is None:
                    await session.commit()
                    return
                if isinstance(earliest, str):  # an aggregate loses the column type on SQLite
                    earliest = datetime.fromisoformat(earliest)
                at = now()
                if earliest.tzinfo is None:
                    from datetime import UTC

                    earliest = earliest.replace(tzinfo=UTC)
                await wake_at_most_once(session, max(earliest, at + RECHECK))
                await session.commit()
        except Exception as exc:  # the minute schedule still finds every due row
            log.warning("webhook_dispatch_timer_failed", error=str(exc))


_dispatchers: dict[tuple[int, int, int], Dispatcher] = {}


def dispatcher_for(
    db: Database, settings: Settings, gates: Gates, keyring: Keyring, limiter: Any
) -> Dispatcher:
    key = (id(asyncio.get_running_loop()), id(db), id(settings))
    found = _dispatchers.get(key)
    if found is None or found.gates is not gates:
        found = _dispatchers[key] = Dispatcher(db, settings, gates, keyring, limiter)
    return found
