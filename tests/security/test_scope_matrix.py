"""Every /v1 route refuses a key that lacks its scope (403) and admits one that holds exactly it;
the scope of each route is read from its dependencies, so a new route joins the matrix by itself."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from interlink.auth.scopes import ADMIN, ALL_SCOPES, PLATFORM
from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key
from tests.security.routes import PUBLIC, Route, api_routes

FILLER = {
    "code": "sandbox_payment",
    "capability_code": "payments",
    "entity_type": "tenant",
}


def placeholder(name: str) -> str:
    return FILLER.get(name, f"{name.removesuffix('_id')}_0000000000000000000000000")


def lacking(scope: str) -> list[str]:
    """Every scope of the catalogue except those that would grant ``scope``."""
    if scope == PLATFORM:
        return [ADMIN]
    resource, _, _ = scope.partition(":")
    withheld = {ADMIN, PLATFORM, scope, f"{resource}:write"}
    if scope == "connections:read":  # the catalog is readable with integrations:read too
        withheld |= {"integrations:read", "integrations:write"}
    return sorted(ALL_SCOPES - withheld)


async def call(client: httpx.AsyncClient, route: Route, headers: dict[str, str]) -> httpx.Response:
    url = route.url({p: placeholder(p) for p in route.path_params})
    kwargs: dict[str, Any] = {"headers": {**headers, "Idempotency-Key": secrets.token_hex(8)}}
    if route.method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return await client.request(route.method, url, **kwargs)


def test_every_route_but_the_public_ones_demands_a_scope(app: FastAPI) -> None:
    unscoped = {(r.method, r.path) for r in api_routes(app) if r.scope is None}
    assert unscoped == set(PUBLIC), "routes without a scope dependency: " + str(
        sorted(unscoped - set(PUBLIC))
    )


async def test_route_refuses_a_key_lacking_its_scope_and_admits_one_holding_it(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    routes = [r for r in api_routes(app) if r.scope is not None]
    keys: dict[str, dict[str, str]] = {}
    failures: list[str] = []
    for route in routes:
        assert route.scope is not None
        for label, scopes in (("lacking", lacking(route.scope)), ("holding", [route.scope])):
            cache = f"{label}:{route.scope}"
            if cache not in keys:
                keys[cache] = (await tenant_with_key(db, scopes)).headers
            response = await call(client, route, keys[cache])
            refused = response.status_code == 403
            if label == "lacking" and not (
                refused and response.json()["error"]["type"] == "permission"
            ):
                failures.append(
                    f"{route.label} answered {response.status_code} to a key "
                    f"without {route.scope}: {response.text[:200]}"
                )
            if label == "holding" and (refused or response.status_code >= 500):
                failures.append(
                    f"{route.label} answered {response.status_code} to a key "
                    f"holding {route.scope}: {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)


async def test_route_refuses_a_request_without_a_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    failures = []
    for route in api_routes(app):
        if (route.method, route.path) in PUBLIC:
            continue
        response = await call(client, route, {})
        if response.status_code != 401:
            failures.append(f"{route.label} answered {response.status_code} without a key")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
async def test_public_route_needs_no_key_and_still_answers_4xx_for_unknown_ids(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path.replace("{integration_id}", "int_nope"))
    assert response.status_code == 404, response.text
