from __future__ import annotations

import logging

import httpx
import pytest

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key

SECRET = "sk_test_neverlogthis0000XYZ"
SANDBOX_SECRET = "sbx_neverlogthiseither"


async def test_no_secret_in_any_response_or_log_line(
    client: httpx.AsyncClient,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await tenant_with_key(db, ["admin"])
    h = admin.headers
    bodies: list[str] = []

    stripe = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "stripe",
            "name": "S",
            "credentials": {"secret_key": SECRET},
            # a loopback address the provider policy refuses: the test call never leaves
            "settings": {"api_base": "http://127.0.0.1:9"},
        },
        headers=h,
    )
    sandbox = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "sandbox_payment",
            "name": "P",
            "credentials": {"api_key": SANDBOX_SECRET},
        },
        headers=h,
    )
    sid, pid = stripe.json()["id"], sandbox.json()["id"]
    responses = [
        stripe,
        sandbox,
        await client.post(
            "/v1/integrations",
            json={
                "connection_code": "stripe",
                "name": "bad",
                "credentials": {"secret_key": SECRET + " "},
            },
            headers=h,
        ),
        await client.post(
            "/v1/integrations",
            json={
                "connection_code": "stripe",
                "name": "bad",
                "credentials": {"secret_key": [SECRET]},
            },
            headers=h,
        ),
        await client.put(
            f"/v1/integrations/{sid}", json={"credentials": {"secret_key": SECRET}}, headers=h
        ),
        await client.get(f"/v1/integrations/{sid}", headers=h),
        await client.get("/v1/integrations", headers=h),
        await client.get("/v1/integrations/status", headers=h),
        await client.post(f"/v1/integrations/{pid}/test", headers=h),
        await client.post(
            f"/v1/integrations/{pid}/execute",
            json={
                "capability_code": "PROCESS_PAYMENT",
                "parameters": {
                    "amount": 5,
                    "currency": "usd",
                    "payment_method": "pm_card_declined",
                },
            },
            headers=h,
        ),
        await client.post(f"/v1/integrations/{sid}/test", headers=h),
        await client.get("/v1/integration-logs", headers=h),
        await client.get("/v1/integration-logs", params={"outcome": "blocked"}, headers=h),
        await client.delete(f"/v1/integrations/{sid}", headers=h),
    ]
    bodies = [r.text for r in responses]
    assert responses[2].status_code == 422
    assert responses[3].status_code == 422
    assert responses[10].json()["ok"] is False
    assert len(responses[12].json()["data"]) == 1

    captured = capsys.readouterr()
    everything = "\n".join([*bodies, captured.out, captured.err, caplog.text])
    assert SECRET not in everything
    assert SANDBOX_SECRET not in everything
