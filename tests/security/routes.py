"""The /v1 routes of the app with the scope each one demands, read from FastAPI's dependency tree
(the ``require_scope`` closures), so a new route is covered by the matrices without editing them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from interlink.auth import dependencies as auth

# dependencies that authorize without a require_scope closure, and what they accept
CUSTOM_AUTHORIZERS: dict[Callable[..., Any], str] = {
    auth._catalog_reader: "connections:read",  # or integrations:read, see ConnectionsRead
}
# routes that take no API key, with the reason
PUBLIC = {
    ("POST", "/v1/inbound/{integration_id}"): "providers sign their deliveries; no API key",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scope: str | None
    path_params: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.path)


def _scopes(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        call = sub.call
        if call in CUSTOM_AUTHORIZERS:
            yield CUSTOM_AUTHORIZERS[call]
        elif getattr(call, "__qualname__", "") == "require_scope.<locals>.dependency":
            for cell in call.__closure__ or ():  # type: ignore[union-attr]
                if isinstance(cell.cell_contents, str):
                    yield cell.cell_contents
        yield from _scopes(sub)


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    try:  # FastAPI >= 0.16x keeps included routers lazily; this walks them with their prefixes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens routes into app.routes
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def api_routes(app: FastAPI) -> list[Route]:
    routes: list[Route] = []
    for context in _route_contexts(app):
        path = context.path
        dependant = getattr(context, "dependant", None)
        if not path or not path.startswith("/v1/") or dependant is None:
            continue
        scopes = sorted(set(_scopes(dependant)))
        assert len(scopes) <= 1, f"{path} demands several scopes {scopes}: extend the matrix"
        params = tuple(p.name for p in dependant.path_params)
        for method in sorted(context.methods or ()):
            if method == "HEAD":
                continue
            routes.append(Route(method, path, scopes[0] if scopes else None, params))
    assert routes, "no /v1 route found: the route walk no longer matches FastAPI"
    return routes
