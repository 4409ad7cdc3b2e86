from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from interlink.db.engine import Database
from interlink.models import Integration
from tests.fixtures.factories import tenant_with_key

STRIPE_SECRET = "sk_test_51HxAbCdEfGhIjKlMnOp4242"


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> httpx.Response:
    return await client.post("/v1/integrations", json=body, headers=headers)


async def test_catalog_lists_builtin_connections_with_capability_schemas(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["connections:read"])

    response = await client.get("/v1/connections", headers=admin.headers)

    assert response.status_code == 200
    by_code = {c["code"]: c for c in response.json()["data"]}
    for code in (
        "sandbox_payment",
        "sandbox_lab",
        "sandbox_shipping",
        "sandbox_tax",
        "sandbox_email",
        "stripe",
        "paypal",
        "whcc",
        "mpix",
        "generic_rest",
        "easypost",
    ):
        assert code in by_code
    payment = by_code["sandbox_payment"]
    assert payment["kind"] == "payment"
    assert payment["executes"] is True
    caps = {c["code"]: c for c in payment["capabilities"]}
    assert caps["PROCESS_PAYMENT"]["parameters_schema"]["required"] == ["amount", "currency"]
    assert by_code["stripe"]["status"] == "beta"
    assert by_code["stripe"]["executes"] is False


async def test_credentials_are_sealed_at_rest_and_only_hinted_in_responses(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])

    response = await create(
        client,
        admin.headers,
        connection_code="stripe",
        name="Main Stripe",
        credentials={"secret_key": STRIPE_SECRET},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert STRIPE_SECRET not in response.text
    assert body["credential_hints"] == {"secret_key": "sk_test_…4242"}
    assert body["environment"] == "sandbox"
    assert body["status"] == "active"
    for path in (f"/v1/integrations/{body['id']}", "/v1/integrations", "/v1/integrations/status"):
        listed = await client.get(path, headers=admin.headers)
        assert listed.status_code == 200
        assert STRIPE_SECRET not in listed.text
    async with db.read_session() as session:
        row = await session.scalar(select(Integration).where(Integration.id == body["id"]))
    assert row is not None
    assert row.credentials_sealed is not None
    assert row.credentials_sealed.startswith("v1.test1.")
    assert STRIPE_SECRET not in row.credentials_sealed


async def test_credentials_failing_the_schema_name_the_field_without_echoing_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])

    response = await create(
        client,
        admin.headers,
        connection_code="stripe",
        name="Bad",
        credentials={"secret_key": "not-a-stripe-key-secret"},
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "credentials.secret_key"
    assert error["code"] == "invalid_credentials"
    assert "not-a-stripe-key-secret" not in response.text


async def test_settings_of_the_wrong_type_are_refused_naming_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])

    response = await create(
        client, admin.headers, connection_code="sandbox_payment", name="S", settings={"label": 5}
    )

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "settings.label"


async def test_unknown_connection_code_says_which_exist(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])

    response = await create(client, admin.headers, connection_code="nope", name="x")

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["param"] == "connection_code"
    assert "sandbox_payment" in error["message"]


async def test_test_key_cannot_create_or_reach_production_integrations(
    client: httpx.AsyncClient, db: Database
) -> None:
    test_key = await tenant_with_key(db, ["integrations:write"], mode="test")
    live_key = await tenant_with_key(
        db, ["integrations:write"], mode="live", tenant_id=test_key.tenant_id
    )

    refused = await create(
        client, test_key.headers, connection_code="stripe", name="Prod", environment="production"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "environment_mismatch"

    production = await create(
        client,
        live_key.headers,
        connection_code="stripe",
        name="Prod",
        credentials={"secret_key": "sk_live_abcdefghijklmnop"},
    )
    assert production.status_code == 201
    assert production.json()["environment"] == "production"
    integration_id = production.json()["id"]
    for method, path in (
        ("GET", f"/v1/integrations/{integration_id}"),
        ("POST", f"/v1/integrations/{integration_id}/execute"),
        ("DELETE", f"/v1/integrations/{integration_id}"),
    ):
        reached = await client.request(
            method,
            path,
            headers=test_key.headers,
            json={"capability_code": "PROCESS_PAYMENT"} if method == "POST" else None,
        )
        assert reached.status_code == 403, (method, path)
    listed = await client.get("/v1/integrations", headers=test_key.headers)
    assert listed.json()["data"] == []


async def test_sandbox_connections_refuse_production(
    client: httpx.AsyncClient, db: Database
) -> None:
    live_key = await tenant_with_key(db, ["integrations:write"], mode="live")

    response = await create(client, live_key.headers, connection_code="sandbox_payment", name="x")

    assert response.status_code == 403
    assert response.json()["error"]["param"] == "environment"


async def test_missing_required_credentials_leave_integration_pending_until_given(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    created = await create(client, admin.headers, connection_code="whcc", name="Lab")
    assert created.json()["status"] == "pending_configuration"
    integration_id = created.json()["id"]

    updated = await client.put(
        f"/v1/integrations/{integration_id}",
        json={
            "credentials": {
                "consumer_key": "ck_123456789",
                "consumer_secret": "cs_abcdefghijklmnop",
            },
            "metadata": {"region": "us"},
        },
        headers=admin.headers,
    )

    assert updated.status_code == 200
    assert updated.json()["status"] == "active"
    assert updated.json()["metadata"] == {"region": "us"}
    assert "cs_abcdefghijklmnop" not in updated.text


async def test_list_filters_by_connection_kind_and_status(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    await create(client, admin.headers, connection_code="sandbox_payment", name="P")
    await create(client, admin.headers, connection_code="sandbox_tax", name="T")
    await create(client, admin.headers, connection_code="whcc", name="W")

    async def names(**params: str) -> list[str]:
        r = await client.get("/v1/integrations", params=params, headers=admin.headers)
        assert r.status_code == 200
        return sorted(i["name"] for i in r.json()["data"])

    assert await names() == ["P", "T", "W"]
    assert await names(kind="tax") == ["T"]
    assert await names(connection_code="sandbox_payment") == ["P"]
    assert await names(status="pending_configuration") == ["W"]
    assert await names(environment="sandbox") == ["P", "T", "W"]
    bad = await client.get("/v1/integrations", params={"kind": "weather"}, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "kind"


async def test_execute_runs_the_sandbox_gateway_and_validates_parameters(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_payment", name="P")
    ).json()
    url = f"/v1/integrations/{integration['id']}/execute"

    ok = await client.post(
        url,
        json={
            "capability_code": "PROCESS_PAYMENT",
            "parameters": {"amount": 1500, "currency": "USD"},
        },
        headers=admin.headers,
    )
    again = await client.post(
        url,
        json={
            "capability_code": "PROCESS_PAYMENT",
            "parameters": {"amount": 1500, "currency": "USD"},
        },
        headers=admin.headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["result"]["status"] == "succeeded"
    assert ok.json()["result"]["id"] == again.json()["result"]["id"]

    bad = await client.post(
        url,
        json={
            "capability_code": "PROCESS_PAYMENT",
            "parameters": {"amount": "15", "currency": "USD"},
        },
        headers=admin.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "parameters.amount"

    unknown = await client.post(
        url, json={"capability_code": "SEND_EMAIL", "parameters": {}}, headers=admin.headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["param"] == "capability_code"
    assert "PROCESS_PAYMENT" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "status", "code"),
    [
        ("pm_card_declined", 402, "provider_declined"),
        ("pm_provider_down", 502, "provider_unavailable"),
    ],
)
async def test_provider_failures_are_typed(
    client: httpx.AsyncClient, db: Database, method: str, status: int, code: str
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_payment", name="P")
    ).json()

    response = await client.post(
        f"/v1/integrations/{integration['id']}/execute",
        json={
            "capability_code": "PROCESS_PAYMENT",
            "parameters": {"amount": 100, "currency": "usd", "payment_method": method},
        },
        headers=admin.headers,
    )

    assert response.status_code == status
    assert response.json()["error"]["type"] == "provider"
    assert response.json()["error"]["code"] == code
    if status >= 500:
        assert int(response.headers["Retry-After"]) >= 1


async def test_every_sandbox_capability_runs(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    calls = {
        "sandbox_lab": (
            "SUBMIT_LAB_ORDER",
            {"reference": "o1", "items": [{"product_id": "sbx_print_4x6", "quantity": 2}]},
        ),
        "sandbox_shipping": ("QUOTE_SHIPPING", {"to": {"country": "DE"}, "weight_grams": 400}),
        "sandbox_tax": (
            "QUOTE_TAX",
            {"amount": 10000, "currency": "usd", "to": {"country": "US", "state": "CA"}},
        ),
        "sandbox_email": ("SEND_EMAIL", {"to": "a@example.com", "subject": "Hi"}),
    }
    results = {}
    for code, (capability, parameters) in calls.items():
        integration = (await create(client, admin.headers, connection_code=code, name=code)).json()
        r = await client.post(
            f"/v1/integrations/{integration['id']}/execute",
            json={"capability_code": capability, "parameters": parameters},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        results[code] = r.json()["result"]
    assert results["sandbox_lab"]["subtotal"] == 90
    assert results["sandbox_tax"]["amount_to_collect"] == 725
    assert results["sandbox_shipping"]["rates"][0]["amount"] == 1840


async def test_preview_connections_answer_not_available_yet(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(
            client,
            admin.headers,
            connection_code="stripe",
            name="S",
            credentials={"secret_key": STRIPE_SECRET},
        )
    ).json()

    response = await client.post(
        f"/v1/integrations/{integration['id']}/execute",
        json={"capability_code": "PROCESS_PAYMENT", "parameters": {"amount": 1, "currency": "usd"}},
        headers=admin.headers,
    )

    assert response.status_code == 501
    assert response.json()["error"]["code"] == "capability_not_available"


async def test_inactive_integration_cannot_execute(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_email", name="E")
    ).json()
    await client.put(
        f"/v1/integrations/{integration['id']}", json={"status": "inactive"}, headers=admin.headers
    )

    response = await client.post(
        f"/v1/integrations/{integration['id']}/execute",
        json={"capability_code": "SEND_EMAIL", "parameters": {"to": "a@b.c", "subject": "s"}},
        headers=admin.headers,
    )

    assert response.status_code == 409
    assert "inactive" in response.json()["error"]["message"]


async def test_integration_capabilities_are_those_of_its_connection(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_lab", name="L")
    ).json()

    response = await client.get(
        f"/v1/integrations/{integration['id']}/capabilities", headers=admin.headers
    )

    assert [c["code"] for c in response.json()["data"]] == ["SUBMIT_LAB_ORDER", "SYNC_PRODUCTS"]


async def test_delete_removes_the_integration(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_tax", name="T")
    ).json()

    deleted = await client.delete(f"/v1/integrations/{integration['id']}", headers=admin.headers)
    gone = await client.get(f"/v1/integrations/{integration['id']}", headers=admin.headers)

    assert deleted.status_code == 200
    assert gone.status_code == 404


async def test_times_without_a_zone_are_refused_naming_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write", "logs:read"])

    created = await create(
        client,
        admin.headers,
        connection_code="sandbox_tax",
        name="T",
        credentials_expire_at="2030-01-01T00:00:00",
    )
    logs = await client.get(
        "/v1/integration-logs", params={"since": "2030-01-01T00:00:00"}, headers=admin.headers
    )

    assert created.status_code == 422
    assert created.json()["error"]["param"] == "credentials_expire_at"
    assert logs.status_code == 422
    assert logs.json()["error"]["param"] == "since"


async def test_a_missing_required_parameter_is_named(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_payment", name="P")
    ).json()

    response = await client.post(
        f"/v1/integrations/{integration['id']}/execute",
        json={"capability_code": "PROCESS_PAYMENT", "parameters": {"amount": 5}},
        headers=admin.headers,
    )

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "parameters.currency"
    assert response.json()["error"]["code"] == "invalid_parameters"


async def test_sandbox_operations_appear_in_the_integration_logs(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write", "logs:read"])
    integration = (
        await create(client, admin.headers, connection_code="sandbox_payment", name="P")
    ).json()
    url = f"/v1/integrations/{integration['id']}/execute"
    for method in ("pm_card_visa", "pm_card_declined"):
        await client.post(
            url,
            json={
                "capability_code": "PROCESS_PAYMENT",
                "parameters": {"amount": 5, "currency": "usd", "payment_method": method},
            },
            headers={**admin.headers, "X-Request-Id": f"corr-{method}"},
        )

    logs = await client.get(
        "/v1/integration-logs", params={"integration": integration["id"]}, headers=admin.headers
    )

    entries = {e["correlation_id"]: e for e in logs.json()["data"]}
    declined, paid = entries["corr-pm_card_declined"], entries["corr-pm_card_visa"]
    assert (declined["status_code"], declined["outcome"]) == (402, "http_error")
    assert (paid["status_code"], paid["outcome"]) == (200, "ok")
    assert paid["url"] == "sandbox://sandboxpayments/process_payment"
    overview = await client.get("/v1/integrations/status", headers=admin.headers)
    assert overview.json()["data"][0]["error_rate_24h"] == 0.5
