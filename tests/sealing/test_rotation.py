from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from interlink.db.engine import Database
from interlink.integrations import credentials
from interlink.kit.crypto import Keyring, key_id_of
from interlink.models import Integration
from interlink.sealing import columns as _registered  # noqa: F401
from interlink.sealing.registry import SealedColumn, columns
from interlink.sealing.rotate import (
    RotationReport,
    key_usage,
    read_batch,
    rotate_column,
    write_batch,
)
from tests.conftest import TEST_KEYRING
from tests.fixtures.factories import tenant_with_key

OLD = Keyring.parse(TEST_KEYRING)  # the app's keyring: kid "test1"
NEW_KEY = base64.b64encode(b"n" * 32).decode()
ROTATED = Keyring.parse(f"test2:{NEW_KEY},{TEST_KEYRING}")  # test2 active, test1 still readable
NEW_ONLY = Keyring.parse(f"test2:{NEW_KEY}")
CREDENTIALS = {"secret_key": "sk_test_rotationsecret0001"}


def integrations_column() -> SealedColumn:
    return next(c for c in columns() if c.name == "integrations.credentials")


async def make_integrations(client: httpx.AsyncClient, db: Database, count: int) -> list[str]:
    admin = await tenant_with_key(db, ["integrations:write"])
    ids = []
    for n in range(count):
        r = await client.post(
            "/v1/integrations",
            json={"connection_code": "stripe", "name": f"s{n}", "credentials": CREDENTIALS},
            headers=admin.headers,
        )
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids


async def stored(db: Database) -> list[Integration]:
    async with db.read_session() as session:
        return list((await session.scalars(select(Integration).order_by(Integration.id))).all())


async def test_rotation_moves_rows_to_the_active_key_and_the_old_key_can_then_go(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_integrations(client, db, 5)
    column = integrations_column()
    assert dict(await key_usage(db, column)) == {"test1": 5}
    # rows under the old key read fine with the rotated keyring
    for row in await stored(db):
        assert (
            credentials.unseal(ROTATED, row.tenant_id, row.id, row.credentials_sealed or "")
            == CREDENTIALS
        )

    report = await rotate_column(db, ROTATED, column, batch_size=2)

    assert report.resealed == 5
    assert dict(await key_usage(db, column)) == {"test2": 5}
    for row in await stored(db):
        assert key_id_of(row.credentials_sealed or "") == "test2"
        assert (
            credentials.unseal(NEW_ONLY, row.tenant_id, row.id, row.credentials_sealed or "")
            == CREDENTIALS
        )


async def test_interrupted_rotation_resumes(client: httpx.AsyncClient, db: Database) -> None:
    await make_integrations(client, db, 5)
    column = integrations_column()

    first = await rotate_column(db, ROTATED, column, batch_size=2, max_batches=1)
    assert first.resealed == 2
    assert dict(await key_usage(db, column)) == {"test1": 3, "test2": 2}

    rest = await rotate_column(db, ROTATED, column, batch_size=2)

    assert rest.resealed == 3
    assert dict(await key_usage(db, column)) == {"test2": 5}


async def test_rotation_never_overwrites_a_secret_changed_meanwhile(
    client: httpx.AsyncClient, db: Database
) -> None:
    (integration_id,) = await make_integrations(client, db, 1)
    column = integrations_column()
    row = (await stored(db))[0]
    newer = credentials.seal(ROTATED, row.tenant_id, row.id, {"secret_key": "sk_test_newer0002"})
    batch = await read_batch(db, ROTATED, column, None, 10)
    assert batch is not None

    # live traffic replaces the credentials between the rotation's read and its write
    async with db.session() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(credentials_sealed=newer)
        )
        await session.commit()
    report = RotationReport()
    await write_batch(db, column, batch, report)

    assert report.changed_meanwhile == 1
    assert report.resealed == 0
    row = (await stored(db))[0]
    assert credentials.unseal(NEW_ONLY, row.tenant_id, row.id, row.credentials_sealed or "") == {
        "secret_key": "sk_test_newer0002"
    }


async def test_crypto_commands(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    subprocess_env: dict[str, str],
    repo_root: Path,
) -> None:
    await make_integrations(client, db, 3)
    env = {
        **subprocess_env,
        "INTERLINK_DATABASE_URL": app.state.settings.database_url,
        "INTERLINK_ENCRYPTION_KEYS": f"test2:{NEW_KEY},{TEST_KEYRING}",
    }
    interlink = str(repo_root / ".venv" / "bin" / "interlink")

    async def run(*args: str, expect: int = 0) -> str:
        process = await asyncio.create_subprocess_exec(
            interlink,
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == expect, err.decode()
        return out.decode() + err.decode()

    before = await run("crypto", "status")
    refused = await run("crypto", "remove-key", "test1", expect=1)
    rotated = await run("crypto", "rotate", "--batch-size", "2")
    after = await run("crypto", "status")
    removed = await run("crypto", "remove-key", "test1")

    assert "integrations.credentials: test1=3" in before
    assert "re-sealed 3" in rotated
    assert "integrations.credentials: test2=3" in after
    assert "safe to remove): test1" in after
    assert "3 stored secret(s) are still sealed under test1" in refused
    assert removed.strip() == f"INTERLINK_ENCRYPTION_KEYS=test2:{NEW_KEY}"
    assert os.environ.get("INTERLINK_ENCRYPTION_KEYS") != env["INTERLINK_ENCRYPTION_KEYS"]


async def test_sealed_idempotent_responses_rotate_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["admin"])
    created = await client.post(
        "/v1/api-keys",
        json={"scopes": ["events:read"], "name": "zap"},
        headers={**admin.headers, "Idempotency-Key": "rotate-me-1"},
    )
    assert created.status_code == 201
    column = next(c for c in columns() if c.name == "idempotency_keys.response_body")
    assert dict(await key_usage(db, column)) == {"test1": 1}

    report = await rotate_column(db, ROTATED, column)

    assert report.resealed == 1
    assert dict(await key_usage(db, column)) == {"test2": 1}
