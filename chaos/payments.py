"""Scenario 2: concurrent captures, voids and refunds through two ``interlink api`` processes
with two ``interlink worker`` processes running the sync, while a random one of the four is
killed with SIGKILL every few seconds and restarted. The provider is a Stripe integration created
through Interlink's API, served by localstripe in its own process (``chaos.stripe_fake``), so
every call goes through the official ``stripe`` SDK and the provider's records outlive the kills.

Per order: a quote, an authorization of 6000, then three captures (6000, 4500 and 3000, each
final: Stripe captures once) race, with a void in the race for every fourth order, then five
refunds of 1500 race for what was captured.

After the load, every process is restarted and the run waits (bounded) for the workers' sync to
settle the operations a kill left pending. Then it lists the provider's PaymentIntents, Charges
and Refunds with the ``stripe`` SDK and checks, for every intent:

- Interlink's captured and refunded amounts equal the provider's, the statuses agree;
- no double movement on either side: one PaymentIntent per Interlink intent, at most one capture,
  one provider refund per Interlink refund operation (the ids travel in refund metadata) with the
  same amount, nothing refunded beyond what was captured;
- every operation Interlink accepted (200) is reflected at the provider, every one it left pending
  (202) is settled and agrees; no operation is still pending;
- the database's own ledger: captured <= authorized, refunds (pending + succeeded) <= captured,
  no void after a capture, and each intent's amounts equal the sum of its operations."""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from sqlalchemy import text

from chaos.outbound import _admin_key, _killer, replica_env
from chaos.processes import Replica, free_port, wait_listening
from interlink.config import Settings
from interlink.db.engine import Database

AMOUNT = 6000  # 3 x 2000
CAPTURES = (6000, 4500, 3000)
REFUND = 1500
REFUNDS = 5
SECRET = "sk_test_chaos4242"  # noqa: S105 - the fake's test key
LATENCY_MS = 400  # the fake waits up to this before and after each POST, as a network would
OPERATION_KEY = "interlink_operation"  # where the Stripe adapter puts our operation id


@dataclass
class Attempt:
    """One operation as the client saw it: its key, and the status code it got (None: no
    answer, because the process died or the key stayed locked by a killed first try)."""

    kind: str
    intent: str
    amount: int | None
    key: str
    status: int | None = None
    code: str | None = None


@dataclass
class Run:
    attempts: list[Attempt] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)


async def _call(
    replicas: list[Replica],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    run: Run,
    key: str | None = None,
    within: float = 60,
) -> httpx.Response | None:
    """Retried with the same Idempotency-Key until some API process answers (or ``within``)."""
    idem = {"Idempotency-Key": key or secrets.token_hex(12)}
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < deadline:
            replica = random.choice([r for r in replicas if r.alive] or replicas)
            try:
                response = await client.request(
                    method,
                    f"http://127.0.0.1:{replica.port}{path}",
                    json=body,
                    headers={**headers, **idem},
                )
            except httpx.HTTPError:
                run.stats["retries"] += 1
                await asyncio.sleep(0.1)
                continue
            kind = _error_type(response)
            if response.status_code == 409 and _error_field(response, "code") == (
                "idempotency_key_in_use"
            ):
                # the first try died with its process: the key stays locked for 5 minutes, as
                # designed; a client retries after that, the run counts it and moves on
                run.stats["idempotency_key_locked_by_a_killed_request"] += 1
                return None
            if response.status_code >= 500 and kind != "provider":
                run.stats["retries"] += 1
                await asyncio.sleep(0.1)
                continue
            return response
    run.stats["no_api_answered"] += 1
    return None


def _error_type(response: httpx.Response) -> str | None:
    return _error_field(response, "type")


def _error_field(response: httpx.Response, name: str) -> str | None:
    try:
        value = response.json()["error"][name]
    except (ValueError, KeyError, TypeError):
        return None
    return str(value)


async def _operation(
    apis: list[Replica],
    headers: dict[str, str],
    run: Run,
    kind: str,
    intent: str,
    body: dict[str, Any],
) -> None:
    attempt = Attempt(kind, intent, body.get("amount"), secrets.token_hex(12))
    run.attempts.append(attempt)
    response = await _call(
        apis, "POST", f"/v1/payments/{intent}/{kind}", body, headers, run, attempt.key
    )
    if response is not None:
        attempt.status = response.status_code
        attempt.code = _error_field(response, "code")


async def _one_order(n: int, apis: list[Replica], headers: dict[str, str], run: Run) -> None:
    order = f"ord_chaos_{n}"
    quote = await _call(
        apis,
        "POST",
        "/v1/checkout/quote",
        {
            "order_id": order,
            "currency": "usd",
            "items": [{"variant_id": "v", "quantity": 3, "unit_amount": AMOUNT // 3}],
        },
        headers,
        run,
    )
    if quote is None or quote.status_code != 201:
        run.stats["orders_without_a_quote"] += 1
        return
    key = secrets.token_hex(12)
    authorized = await _call(
        apis,
        "POST",
        "/v1/payments/authorize",
        {
            "order_id": order,
            "snapshot_id": quote.json()["snapshot_id"],
            "payment_method": "pm_card_visa",
            "amount": AMOUNT,
            "currency": "usd",
        },
        headers,
        run,
        key,
    )
    attempt = Attempt("authorize", "", AMOUNT, key)
    run.attempts.append(attempt)
    if authorized is not None:
        attempt.status = authorized.status_code
        attempt.code = _error_field(authorized, "code")
    if authorized is not None and authorized.status_code in (200, 202):
        pid = str(authorized.json()["id"])
    elif authorized is None or attempt.code == "active_payment_exists":
        # the answer died with its process (and a retry under the same key found the order
        # paid for by the first try): find the payment the way a client would, by its order
        found = await _payment_of(apis, headers, order, run)
        if found is None:
            return
        pid = found
        run.stats["authorizations_found_by_order"] += 1
    else:
        return
    attempt.intent = pid
    race = [
        _operation(apis, headers, run, "capture", pid, {"amount": amount, "final": True})
        for amount in CAPTURES
    ]
    if n % 4 == 0:
        race.append(_operation(apis, headers, run, "void", pid, {}))
    random.shuffle(race)
    await asyncio.gather(*race)
    await asyncio.gather(
        *(_operation(apis, headers, run, "refund", pid, {"amount": REFUND}) for _ in range(REFUNDS))
    )


async def _payment_of(
    apis: list[Replica], headers: dict[str, str], order: str, run: Run
) -> str | None:
    """The order's payment once it is out of ``processing`` (the sync settles an authorization
    whose answer was lost), or None when there is none (or after a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = await _call(apis, "GET", f"/v1/orders/{order}/payments", None, headers, run)
        if listed is None or listed.status_code != 200:
            continue
        data = listed.json()["data"]
        if not data:  # the first try died before its authorization was written
            run.stats["authorizations_never_begun"] += 1
            return None
        if data[-1]["status"] != "processing":
            return str(data[-1]["id"])
        await asyncio.sleep(1)
    run.stats["authorizations_never_found"] += 1
    return None


async def _stripe_integration(api: Replica, headers: dict[str, str], stripe_url: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}", timeout=30) as client:
        created = await client.post(
            "/v1/integrations",
            json={
                "connection_code": "stripe",
                "name": "Stripe (localstripe)",
                "credentials": {"secret_key": SECRET},
                "settings": {"api_base": stripe_url},
            },
            headers=headers,
        )
        created.raise_for_status()
        tenant = (await client.get("/v1/api-keys", headers=headers)).json()["data"][0]
        linked = await client.post(
            f"/v1/entities/tenant/{tenant['tenant']}/integrations",
            json={
                "integration_id": created.json()["id"],
                "purpose": "payments",
                "is_default": True,
            },
            headers=headers,
        )
        linked.raise_for_status()


def _start_provider() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "chaos.stripe_fake", str(port), str(LATENCY_MS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port, process, within=30)
    return process, f"http://127.0.0.1:{port}"


async def run(database_url: str, quick: bool, logdir: str) -> dict[str, Any]:
    orders = 60 if quick else 300
    provider, stripe_url = _start_provider()
    env = {
        **replica_env(database_url),
        "INTERLINK_PAYMENTS_SYNC_DELAY_SECONDS": "3",
        "INTERLINK_PROVIDER_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    apis = [
        Replica(f"api{i}", [], env, port=free_port(), log=f"{logdir}/pay-api{i}.log")
        for i in range(2)
    ]
    for api in apis:
        api.args = ["api", "--port", str(api.port)]
    workers = [
        Replica(f"worker{i}", ["worker"], env, log=f"{logdir}/pay-worker{i}.log") for i in range(2)
    ]
    everyone = apis + workers
    db = Database(
        Settings(database_url=database_url, encryption_keys=env["INTERLINK_ENCRYPTION_KEYS"])
    )
    state = Run()
    try:
        for replica in everyone:  # the first API process migrates, alone
            await asyncio.to_thread(replica.start)
        key = await _admin_key(db)
        headers = {"Authorization": f"Bearer {key}"}
        await _stripe_integration(apis[0], headers, stripe_url)
        stop = asyncio.Event()
        started = time.monotonic()
        killer = asyncio.create_task(_killer(everyone, 2.0, stop))
        gate = asyncio.Semaphore(6)

        async def bounded(n: int) -> None:
            async with gate:
                await _one_order(n, apis, headers, state)

        await asyncio.gather(*(bounded(n) for n in range(orders)))
        stop.set()
        await killer
        load_s = time.monotonic() - started
        pending_after_load = await _count(db, PENDING)
        for replica in everyone:
            if not replica.alive:
                await asyncio.to_thread(replica.start)
        left = await _wait_settled(db, within=180 if quick else 600)
        settle_s = time.monotonic() - started - load_s
        local = await _local_records(db)
        remote = await _provider_records(stripe_url)
        verdict = check(local, remote, state.attempts)
        verdict["operations_pending_when_the_load_ended"] = pending_after_load
        verdict["operations_pending_after_wait"] = left
        verdict["status_changes_made_by_the_sync"] = await _count(db, BY_SYNC)
        verdict["provider_idempotency"] = await _idempotency_figures(stripe_url)
        if left:
            verdict["verdict"] = "FAIL"
    finally:
        for replica in everyone:
            replica.stop()
        await db.dispose()
        provider.terminate()
        provider.wait(timeout=10)
    return {
        "scenario": "chaos: concurrent captures, voids and refunds against Stripe under SIGKILL",
        "provider": "stripe (localstripe, own process)",
        "orders": orders,
        "load_seconds": round(load_s, 1),
        "settle_seconds": round(settle_s, 1),
        "kills": {r.name: r.kills for r in everyone},
        "operations": _figures(state.attempts),
        "client": dict(sorted(state.stats.items())),
        **verdict,
    }


def _figures(attempts: list[Attempt]) -> dict[str, dict[str, Any]]:
    figures: dict[str, Counter[str]] = defaultdict(Counter)
    codes: dict[str, Counter[str]] = defaultdict(Counter)
    for a in attempts:
        if a.status is not None and a.status >= 400:
            codes[a.kind][a.code or str(a.status)] += 1
        figures[a.kind]["attempted"] += 1
        if a.status is None:
            figures[a.kind]["unanswered"] += 1
        elif a.status == 202:
            figures[a.kind]["accepted_pending"] += 1
        elif 200 <= a.status < 300:
            figures[a.kind]["accepted"] += 1
        elif 400 <= a.status < 500:
            figures[a.kind]["refused"] += 1
        else:
            figures[a.kind][f"status_{a.status}"] += 1
    return {
        kind: {**dict(sorted(c.items())), "refused_by_code": dict(sorted(codes[kind].items()))}
        for kind, c in sorted(figures.items())
    }


PENDING = "SELECT count(*) FROM payment_operations WHERE status = 'pending'"
BY_SYNC = "SELECT count(*) FROM order_status_history WHERE source = 'sync'"


async def _count(db: Database, query: str) -> int:
    async with db.read_session() as session:
        return int((await session.execute(text(query))).scalar_one())


async def _idempotency_figures(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{url}/_chaos/idempotency", headers={"Authorization": f"Bearer {SECRET}"}
        )
        figures: dict[str, int] = answer.json()
    return figures


async def _wait_settled(db: Database, within: float) -> int:
    """Operations still pending once the sync had ``within`` seconds to settle them."""
    deadline = time.monotonic() + within
    while True:
        left = await _count(db, PENDING)
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(1)


@dataclass
class Local:
    intents: dict[str, dict[str, Any]]
    operations: list[dict[str, Any]]


@dataclass
class Remote:
    """The provider's records: PaymentIntents by Interlink intent id (a list: more than one is a
    double authorization), the charge of each PaymentIntent, the refunds of each charge."""

    intents: dict[str, list[dict[str, Any]]]
    charges: dict[str, dict[str, Any]]
    refunds: dict[str, list[dict[str, Any]]]
    unclaimed: int


async def _local_records(db: Database) -> Local:
    async with db.read_session() as session:
        intents = (
            (
                await session.execute(
                    text(
                        "SELECT id, status, amount, authorized_amount, captured_amount, "
                        "refunded_amount, refund_pending_amount, provider_reference "
                        "FROM payment_intents"
                    )
                )
            )
            .mappings()
            .all()
        )
        operations = (
            (
                await session.execute(
                    text(
                        "SELECT id, intent_id, operation, status, amount, idempotency_key, "
                        "provider_reference FROM payment_operations"
                    )
                )
            )
            .mappings()
            .all()
        )
    return Local({i["id"]: dict(i) for i in intents}, [dict(o) for o in operations])


async def _provider_records(url: str) -> Remote:
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        SECRET, base_addresses={"api": url}, max_network_retries=2, http_client=http
    )
    intents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    charges: dict[str, dict[str, Any]] = {}
    refunds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unclaimed = 0
    try:
        listed = await client.v1.payment_intents.list_async({"limit": 100})
        async for pi in listed.auto_paging_iter():
            record = pi.to_dict()
            owner = (record.get("metadata") or {}).get("interlink_intent")
            if owner is None:
                unclaimed += 1
                continue
            intents[owner].append(record)
        async for ch in (await client.v1.charges.list_async({"limit": 100})).auto_paging_iter():
            record = ch.to_dict()
            if record.get("payment_intent"):
                charges[record["payment_intent"]] = record
        async for re in (await client.v1.refunds.list_async({"limit": 100})).auto_paging_iter():
            record = re.to_dict()
            refunds[record["charge"]].append(record)
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    return Remote(dict(intents), charges, dict(refunds), unclaimed)


def _theirs(pis: list[dict[str, Any]], reference: str | None) -> dict[str, Any]:
    """Of the provider's PaymentIntents for one intent, the one Interlink refers to."""
    return next((pi for pi in pis if pi["id"] == reference), pis[0])


def _provider_view(pi: dict[str, Any], remote: Remote) -> dict[str, Any]:
    """One provider PaymentIntent as amounts. localstripe records a partial capture as a refund
    of the remainder without metadata; a refund Interlink asked for carries our operation id."""
    charge = remote.charges.get(pi["id"]) or {}
    refunds = remote.refunds.get(charge.get("id", ""), [])
    released = [r for r in refunds if not (r.get("metadata") or {}).get(OPERATION_KEY)]
    ours = [r for r in refunds if (r.get("metadata") or {}).get(OPERATION_KEY)]
    captured = 0
    if charge.get("captured"):
        captured = int(charge["amount"]) - sum(int(r["amount"]) for r in released)
    by_operation: dict[str, list[int]] = defaultdict(list)
    for r in ours:
        if r.get("status") == "succeeded":
            by_operation[r["metadata"][OPERATION_KEY]].append(int(r["amount"]))
    return {
        "status": pi["status"],
        "captured": captured,
        "released_refunds": len(released),
        "refunded": sum(sum(v) for v in by_operation.values()),
        "refunds": dict(by_operation),
    }


def _ledger_problems(intent: dict[str, Any], ops: list[dict[str, Any]]) -> list[str]:
    """The database's own invariants for one intent."""
    problems = []
    captured, refunded = intent["captured_amount"], intent["refunded_amount"]
    reserved = intent["refund_pending_amount"]
    done = [o for o in ops if o["status"] == "succeeded"]
    op_captured = sum(o["amount"] for o in done if o["operation"] == "capture")
    op_refunded = sum(o["amount"] for o in done if o["operation"] == "refund")
    op_reserved = sum(
        o["amount"] for o in ops if o["operation"] == "refund" and o["status"] == "pending"
    )
    if not captured <= intent["authorized_amount"] <= intent["amount"]:
        problems.append("captured > authorized")
    if refunded + reserved > captured:
        problems.append("refunds > captured")
    if intent["status"] == "voided" and captured:
        problems.append("voided after capture")
    if captured != op_captured:
        problems.append(f"captured {captured} != operations {op_captured}")
    if refunded != op_refunded:
        problems.append(f"refunded {refunded} != operations {op_refunded}")
    if reserved != op_reserved:
        problems.append(f"reserved {reserved} != pending refunds {op_reserved}")
    if sum(1 for o in done if o["operation"] == "capture") > 1:
        problems.append("captured twice")
    return problems


# Interlink's settled statuses → the Stripe PaymentIntent status that agrees
PROVIDER_STATUS = {
    "authorized": "requires_capture",
    "captured": "succeeded",
    "partially_refunded": "succeeded",
    "refunded": "succeeded",
    "voided": "canceled",
}


def _provider_problems(
    intent: dict[str, Any], ops: list[dict[str, Any]], pis: list[dict[str, Any]], remote: Remote
) -> list[str]:
    """Interlink's intent against the provider's records of it."""
    if not pis:
        if intent["provider_reference"] is not None or intent["authorized_amount"]:
            return ["authorized in Interlink, unknown to the provider"]
        return []
    problems = []
    if len(pis) > 1:
        problems.append(f"{len(pis)} provider PaymentIntents for one intent")
    if intent["provider_reference"] != pis[0]["id"]:
        problems.append(f"reference {intent['provider_reference']} != provider {pis[0]['id']}")
    view = _provider_view(_theirs(pis, intent["provider_reference"]), remote)
    if view["released_refunds"] > 1:
        problems.append("provider released a remainder twice")
    if view["captured"] != intent["captured_amount"]:
        problems.append(f"captured {intent['captured_amount']} != provider {view['captured']}")
    if view["refunded"] != intent["refunded_amount"]:
        problems.append(f"refunded {intent['refunded_amount']} != provider {view['refunded']}")
    if view["refunded"] > view["captured"]:
        problems.append(f"provider refunded {view['refunded']} > captured {view['captured']}")
    expected = PROVIDER_STATUS.get(intent["status"])
    if expected is not None and view["status"] != expected:
        problems.append(f"status {intent['status']} vs provider {view['status']}")
    if view["status"] == "canceled" and intent["status"] != "voided":
        problems.append(f"provider canceled, Interlink {intent['status']}")
    refunded_ops = {
        o["id"]: o["amount"]
        for o in ops
        if o["operation"] == "refund" and o["status"] == "succeeded"
    }
    for op_id, amounts in view["refunds"].items():
        if len(amounts) > 1:
            problems.append(f"refund {op_id} made {len(amounts)} times at the provider")
        if refunded_ops.get(op_id) != amounts[0]:
            problems.append(f"provider refund for {op_id} not a succeeded refund of that amount")
    for op_id in refunded_ops.keys() - view["refunds"].keys():
        problems.append(f"refund {op_id} succeeded in Interlink, absent at the provider")
    return problems


def _accepted_problems(
    attempts: list[Attempt], local: Local, remote: Remote
) -> tuple[list[str], int]:
    """Every operation answered 2xx exists, is settled, and (200 or succeeded) is at the
    provider."""
    by_key = {o["idempotency_key"]: o for o in local.operations if o["operation"] != "authorize"}
    problems = []
    checked = 0
    for a in attempts:
        if a.kind == "authorize" or a.status is None or not 200 <= a.status < 300:
            continue
        checked += 1
        op = by_key.get(a.key)
        if op is None:
            problems.append(f"{a.kind} answered {a.status} on {a.intent}: no operation recorded")
            continue
        if op["status"] == "pending":
            problems.append(f"{a.kind} {op['id']} answered {a.status}: still pending")
            continue
        if a.status == 200 and op["status"] != "succeeded":
            problems.append(f"{a.kind} {op['id']} answered 200 but {op['status']}")
            continue
        if op["status"] != "succeeded":
            continue  # a 202 whose sync found it did not happen: checked against the provider
        pis = remote.intents.get(op["intent_id"], [])
        reference = local.intents[op["intent_id"]]["provider_reference"]
        view = _provider_view(_theirs(pis, reference), remote) if pis else None
        if view is None:
            problems.append(f"{a.kind} {op['id']} accepted, provider has no payment")
        elif a.kind == "capture" and view["captured"] != op["amount"]:
            problems.append(f"capture {op['id']} of {op['amount']}: provider {view['captured']}")
        elif a.kind == "void" and view["status"] != "canceled":
            problems.append(f"void {op['id']} accepted, provider {view['status']}")
        elif a.kind == "refund" and view["refunds"].get(op["id"]) != [op["amount"]]:
            problems.append(f"refund {op['id']} accepted, provider {view['refunds'].get(op['id'])}")
    return problems, checked


def check(local: Local, remote: Remote, attempts: list[Attempt]) -> dict[str, Any]:
    ops_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in local.operations:
        ops_of[op["intent_id"]].append(op)
    ledger: list[str] = []
    provider: list[str] = []
    for pid, intent in sorted(local.intents.items()):
        ledger += [f"{pid}: {p}" for p in _ledger_problems(intent, ops_of[pid])]
        provider += [
            f"{pid}: {p}"
            for p in _provider_problems(intent, ops_of[pid], remote.intents.get(pid, []), remote)
        ]
    strangers = sorted(remote.intents.keys() - local.intents.keys())
    provider += [f"provider PaymentIntent for unknown intent {s}" for s in strangers]
    if remote.unclaimed:
        provider.append(f"{remote.unclaimed} provider PaymentIntents without an Interlink intent")
    accepted, checked = _accepted_problems(attempts, local, remote)
    unseen = {a.key for a in attempts if a.status in (None, 202)}
    left_to_sync = [o for o in local.operations if o["idempotency_key"] in unseen]
    statuses = Counter(i["status"] for i in local.intents.values())
    provider_captured = sum(
        _provider_view(pi, remote)["captured"] for pis in remote.intents.values() for pi in pis
    )
    provider_refunded = sum(
        _provider_view(pi, remote)["refunded"] for pis in remote.intents.values() for pi in pis
    )
    passed = bool(local.intents) and not ledger and not provider and not accepted
    return {
        "verdict": "PASS" if passed else "FAIL",
        "intents": len(local.intents),
        "intent_statuses": dict(sorted(statuses.items())),
        "provider_payment_intents": sum(len(v) for v in remote.intents.values()),
        "captured_total": sum(i["captured_amount"] for i in local.intents.values()),
        "provider_captured_total": provider_captured,
        "refunded_total": sum(i["refunded_amount"] for i in local.intents.values()),
        "provider_refunded_total": provider_refunded,
        "accepted_operations_checked_at_provider": checked,
        # operations whose outcome the client never saw (no answer, or 202): the sync's work
        "operations_the_client_saw_unsettled": len(left_to_sync),
        "of_them_settled": sum(1 for o in left_to_sync if o["status"] != "pending"),
        "unanswered_requests_that_made_no_operation": len(
            unseen - {o["idempotency_key"] for o in local.operations}
        ),
        "ledger_violations": len(ledger),
        "provider_mismatches": len(provider),
        "accepted_not_reflected": len(accepted),
        "examples": (ledger + provider + accepted)[:10],
    }
