"""Credential values and key secrets never come back from the API (after the one answer that
hands a new secret over) and never reach a log line: a sweep of every readable route of a tenant
that holds one object of every kind, with every log record captured."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest
from fastapi import FastAPI

from interlink.config import Settings
from interlink.db.engine import Database
from tests.security.routes import api_routes
from tests.security.test_tenant_isolation_matrix import NOT_TENANT_OWNED, path_values
from tests.security.world import build_world

# the answers whose purpose is to hand a secret to its owner once
HANDS_OVER_A_SECRET = {"/v1/webhooks/{webhook_id}/secret"}


async def test_no_secret_in_any_read_answer_or_log_line(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    world = await build_world(client, db, settings, "Leaky")
    answers: dict[str, str] = {}
    for route in api_routes(app):
        if route.method != "GET" or route.path in HANDS_OVER_A_SECRET:
            continue
        if route.path in NOT_TENANT_OWNED and route.path_params:
            url = route.url(
                {"code": "stripe", "capability_code": "payments", "tenant_id": world.key.tenant_id}
            )
        else:
            url = route.url(path_values(route, world))
        response = await client.get(url, headers=world.headers, params={"limit": "100"})
        assert response.status_code < 500, (url, response.text)
        answers[url] = response.text
    answers["/metrics"] = (await client.get("/metrics")).text

    wrong_key = "ik_test_" + secrets.token_urlsafe(24)
    refused = await client.get("/v1/webhooks", headers={"Authorization": f"Bearer {wrong_key}"})
    assert refused.status_code == 401
    answers["wrong key"] = refused.text

    logs = capsys.readouterr()
    log_text = (
        logs.out + logs.err + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    )
    assert world.ids["payment"] in log_text, "the log capture saw nothing"
    assert len(answers) > 30
    assert world.secrets
    for secret in [*world.secrets, wrong_key]:
        assert secret not in log_text, f"a secret ({secret[:8]}…) was logged"
        for url, text in answers.items():
            assert secret not in text, f"{url} returned a secret ({secret[:8]}…)"
