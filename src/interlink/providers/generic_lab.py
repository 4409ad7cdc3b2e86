"""A print lab reached over any REST API, configured per integration (its ``settings``): auth,
a pipeline of steps (session → image upload → order), a field mapping from our order model to the
lab's JSON (see ``lab_templates``), a response transformation into our status model, and status
by polling or by callback. Miller's / Mpix is a preset of this adapter (``providers/mpix.py``).

Every step but the last runs in ``prepare`` (repeatable: a new session, new uploads); the last
places the order in ``submit`` and may send the fulfillment order id as an idempotency key.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from interlink.kit.clock import now
from interlink.providers import lab_templates as tpl
from interlink.providers.base import GatewayContext, TestResult
from interlink.providers.errors import (
    ProviderAuthFailed,
    ProviderConflict,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import ProviderResponse
from interlink.providers.labs import (
    LAB_STATES,
    LabOrder,
    LabProduct,
    LabRejected,
    LabState,
    LabStatus,
    LabSubmission,
    Tracking,
    check_mapping_against,
)

POINTER = {"type": "string", "pattern": "^(/.*)?$", "description": "A JSON pointer (RFC 6901)."}
NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
METHOD = {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]}
REQUEST = {
    "type": "object",
    "properties": {"method": METHOD, "path": {"type": "string", "minLength": 1}},
    "required": ["path"],
    "additionalProperties": False,
}
AUTH = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "type": {"const": "header"},
                "header": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
                "credential": {"type": "string"},
                "prefix": {"type": "string"},
            },
            "required": ["type", "header", "credential"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"type": {"const": "bearer"}, "credential": {"type": "string"}},
            "required": ["type", "credential"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "basic"},
                "username_credential": {"type": "string"},
                "password_credential": {"type": "string"},
            },
            "required": ["type", "username_credential", "password_credential"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "token"},
                "path": {"type": "string", "minLength": 1},
                "method": METHOD,
                "form": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {},
                "token_pointer": POINTER,
                "expires_in_pointer": POINTER,
                "header": {"type": "string"},
                "prefix": {"type": "string"},
            },
            "required": ["type", "path", "token_pointer"],
            "additionalProperties": False,
        },
    ]
}
STEP = {
    "type": "object",
    "properties": {
        "name": NAME,
        "method": METHOD,
        "path": {"type": "string", "minLength": 1, "description": "Path or templated URL."},
        "for_each": {"const": "asset"},
        "body": {"description": "A JSON template (see docs/fulfillment.md)."},
        "upload": {"const": "raw", "description": "Send the image bytes as the body."},
        "save": {"type": "object", "additionalProperties": POINTER},
        "idempotency_header": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
    },
    "required": ["name", "path"],
    "additionalProperties": False,
}
GENERIC_PROPERTIES: dict[str, Any] = {
    "base_url": {"type": "string", "pattern": "^https?://"},
    "api_base": {"type": "string", "pattern": "^https?://"},
    "auth": AUTH,
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "steps": {"type": "array", "minItems": 1, "maxItems": 10, "items": STEP},
    "response": {
        "type": "object",
        "properties": {
            "order_id": POINTER,
            "status": POINTER,
            "message": POINTER,
            "status_map": {"type": "object", "additionalProperties": {"enum": list(LAB_STATES)}},
            "tracking_number": POINTER,
            "carrier": POINTER,
            "tracking_url": POINTER,
        },
        "additionalProperties": False,
    },
    "status": {
        "type": "object",
        "properties": {
            "mode": {"enum": ["poll", "callback", "none"]},
            "method": METHOD,
            "path": {"type": "string"},
            "interval_seconds": {"type": "number", "minimum": 1, "maximum": 86400},
        },
        "required": ["mode"],
        "additionalProperties": False,
    },
    "cancel": REQUEST,
    "catalog": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "items": POINTER,
            "id": POINTER,
            "name": POINTER,
        },
        "required": ["path", "items", "id"],
        "additionalProperties": False,
    },
    "errors": {
        "type": "object",
        "properties": {
            "message": POINTER,
            "code": POINTER,
            "retry_codes": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
}
DEFAULT_STATUS_MAP: dict[str, LabState] = {s: s for s in LAB_STATES}


class ConfigError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def check_config(config: Mapping[str, Any], root: str = "settings") -> None:
    """Semantic checks beyond the JSON schema: step names, saved values and every template
    placeholder must name something that exists where it is used."""
    steps = config.get("steps") or []
    if not config.get("base_url") and not config.get("api_base"):
        raise ConfigError(f"{root}.base_url", "the lab's API address is required")
    if not steps:
        raise ConfigError(f"{root}.steps", "at least one step (the order) is required")
    saved: dict[str, tuple[str, ...]] = {}
    asset_extra: tuple[str, ...] = ()
    for index, step in enumerate(steps):
        where = f"{root}.steps.{index}"
        name = step["name"]
        if name in saved:
            raise ConfigError(f"{where}.name", f"step name {name!r} is used twice")
        per_asset = step.get("for_each") == "asset"
        if per_asset and index == len(steps) - 1:
            raise ConfigError(f"{where}.for_each", "the last step places the order once")
        fields = tpl.Fields(item=per_asset, asset=per_asset, steps=saved, asset_extra=asset_extra)
        try:
            tpl.check(step["path"], fields, f"{where}.path")
            if "body" in step:
                tpl.check(step["body"], fields, f"{where}.body")
        except tpl.TemplateError as exc:
            raise ConfigError(exc.where, exc.message) from None
        if step.get("upload") and not per_asset:
            raise ConfigError(f"{where}.upload", 'an upload step needs "for_each": "asset"')
        names = tuple(step.get("save") or {})
        if per_asset:
            asset_extra = (*asset_extra, *names)
        else:
            saved = {**saved, name: names}
    response = config.get("response") or {}
    if "order_id" not in response:
        raise ConfigError(
            f"{root}.response.order_id",
            "a JSON pointer to the lab's order id in the last step's response is required",
        )
    status = config.get("status") or {"mode": "none"}
    if status.get("mode") == "poll" and not status.get("path"):
        raise ConfigError(f"{root}.status.path", "polling needs the status request's path")
    lab_fields = tpl.Fields(lab_order_id=True)
    for key in ("status", "cancel"):
        part = config.get(key)
        if isinstance(part, Mapping) and part.get("path"):
            try:
                tpl.check(part["path"], lab_fields, f"{root}.{key}.path")
            except tpl.TemplateError as exc:
                raise ConfigError(exc.where, exc.message) from None
    for header, value in (config.get("headers") or {}).items():
        try:
            tpl.check(value, tpl.Fields(), f"{root}.headers.{header}")
        except tpl.TemplateError as exc:
            raise ConfigError(exc.where, exc.message) from None


@dataclass
class _Token:
    value: str
    expires_at: datetime


_tokens: dict[str, _Token] = {}
_locks: dict[str, asyncio.Lock] = {}


class GenericLab:
    lab_name = "The lab"

    def config(self, ctx: GatewayContext) -> Mapping[str, Any]:
        return ctx.settings

    def _base(self, ctx: GatewayContext) -> str:
        config = self.config(ctx)
        return str(config.get("base_url") or config.get("api_base") or "").rstrip("/")

    def _url(self, ctx: GatewayContext, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self._base(ctx) + path

    async def test(self, ctx: GatewayContext) -> TestResult:
        await self._auth_headers(ctx)
        return TestResult(ok=True, message=f"{self.lab_name}'s configuration is usable.")

    async def execute(
        self, ctx: GatewayContext, capability: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        if capability == "SYNC_PRODUCTS":
            return {"products": [{"id": p.id, "name": p.name} for p in await self.catalog(ctx)]}
        raise ProviderRejectedRequest(
            "Submit print orders with POST /v1/fulfillment/orders: it hashes the images and "
            "tracks the order."
        )

    def poll_interval(self, ctx: GatewayContext) -> float | None:
        status = self.config(ctx).get("status") or {}
        if status.get("mode") != "poll":
            return None
        return float(status.get("interval_seconds", 300))

    async def _auth_headers(self, ctx: GatewayContext, *, renew: bool = False) -> dict[str, str]:
        config = self.config(ctx)
        creds = ctx.credentials
        scope = {"credentials": creds, "settings": config}
        headers = {
            k: str(tpl.render(v, scope) or "") for k, v in (config.get("headers") or {}).items()
        }
        auth = config.get("auth") or {}
        kind = auth.get("type")
        if kind == "header":
            headers[auth["header"]] = auth.get("prefix", "") + str(
                creds.get(auth["credential"], "")
            )
        elif kind == "bearer":
            headers["Authorization"] = f"Bearer {creds.get(auth['credential'], '')}"
        elif kind == "basic":
            pair = f"{creds.get(auth['username_credential'], '')}:" + str(
                creds.get(auth["password_credential"], "")
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif kind == "token":
            token = await self._token(ctx, auth, scope, renew=renew)
            headers[auth.get("header", "Authorization")] = auth.get("prefix", "Bearer ") + token
        return headers

    async def _token(
        self, ctx: GatewayContext, auth: Mapping[str, Any], scope: Mapping[str, Any], *, renew: bool
    ) -> str:
        key = ctx.integration_id
        async with _locks.setdefault(key, asyncio.Lock()):
            cached = _tokens.get(key)
            if not renew and cached is not None and cached.expires_at > now():
                return cached.value
            form = {k: str(tpl.render(v, scope) or "") for k, v in (auth.get("form") or {}).items()}
            response = await ctx.client.request(
                auth.get("method", "POST"),
                self._url(ctx, auth["path"]),
                operation="lab.token",
                data=form or None,
                json_body=tpl.render(auth["body"], scope) if "body" in auth else None,
                safe_to_retry=True,
            )
            if response.status in (400, 401, 403):
                raise ProviderAuthFailed(
                    f"{self.lab_name} refused the credentials ({response.status})."
                )
            body = response.json() if response.ok else None
            token = tpl.pointer(body, auth["token_pointer"])
            if not token:
                raise ProviderUnavailable(f"{self.lab_name} issued no token.", retry_after=30)
            lifetime = tpl.pointer(body, auth.get("expires_in_pointer", "/expires_in"))
            seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
            _tokens[key] = _Token(str(token), now() + timedelta(seconds=max(0.0, seconds - 60)))
            return str(token)

    async def _call(
        self,
        ctx: GatewayContext,
        method: str,
        url: str,
        operation: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        for renew in (False, True):
            headers = {**await self._auth_headers(ctx, renew=renew), **(extra_headers or {})}
            if content_type:
                headers["Content-Type"] = content_type
            response = await ctx.client.request(
                method,
                url,
                operation=operation,
                headers=headers,
                json_body=json_body,
                content=content,
                safe_to_retry=bool(extra_headers) or None,
            )
            if (
                response.status != 401
                or (self.config(ctx).get("auth") or {}).get("type") != "token"
            ):
                break
        if response.status >= 500 or response.status == 429:
            raise ProviderUnavailable(
                f"{self.lab_name} answered {response.status}.", retry_after=30
            )
        if response.status in (401, 403):
            raise ProviderAuthFailed(
                f"{self.lab_name} refused the credentials ({response.status})."
            )
        if not response.ok:
            raise self._rejection(ctx, response, operation)
        return response

    def _rejection(self, ctx: GatewayContext, response: ProviderResponse, step: str) -> Exception:
        errors = self.config(ctx).get("errors") or {}
        try:
            body = response.json()
        except ValueError:
            body = None
        message = tpl.pointer(body, errors.get("message", "/message")) if body else None
        code = tpl.pointer(body, errors.get("code", "/code")) if body else None
        text = f"{self.lab_name} refused {step} ({response.status}"
        text += f", {code}" if code is not None else ""
        text += f"): {message}" if message else ")"
        if code is not None and str(code) in (errors.get("retry_codes") or []):
            return ProviderUnavailable(text, retry_after=60)
        return LabRejected(text, code=str(code) if code is not None else None)

    async def _run_step(
        self, ctx: GatewayContext, step: Mapping[str, Any], scope: dict[str, Any], key: str | None
    ) -> dict[str, Any]:
        url = self._url(ctx, str(tpl.render(step["path"], scope)))
        method = step.get("method", "POST")
        content = None
        content_type = None
        body = tpl.render(step["body"], scope) if "body" in step else None
        if step.get("upload") == "raw":
            asset = scope["asset"]
            content, content_type, body = asset.get("_content") or b"", asset["content_type"], None
        headers = (
            {step["idempotency_header"]: key} if key and step.get("idempotency_header") else None
        )
        response = await self._call(
            ctx,
            method,
            url,
            f"lab.{step['name']}",
            json_body=body,
            content=content,
            content_type=content_type,
            extra_headers=headers,
        )
        document = response.json() if response.body else {}
        return {
            name: tpl.pointer(document, ptr) for name, ptr in (step.get("save") or {}).items()
        } | {"_response": document}

    async def prepare(self, ctx: GatewayContext, order: LabOrder) -> dict[str, Any]:
        config = self.config(ctx)
        data = order.as_template_data()
        contents = [[a.content for a in item.assets] for item in order.items]
        steps: dict[str, Any] = {}
        for step in (config.get("steps") or [])[:-1]:
            if step.get("for_each") == "asset":
                for i, item in enumerate(data["items"]):
                    for j, asset in enumerate(item["assets"]):
                        scope = {
                            "order": data,
                            "item": item,
                            "asset": {**asset, "_content": contents[i][j]},
                            "steps": steps,
                            "credentials": ctx.credentials,
                            "settings": config,
                        }
                        saved = await self._run_step(ctx, step, scope, None)
                        saved.pop("_response", None)
                        asset.update(saved)
            else:
                scope = {
                    "order": data,
                    "steps": steps,
                    "credentials": ctx.credentials,
                    "settings": config,
                }
                saved = await self._run_step(ctx, step, scope, None)
                saved.pop("_response", None)
                steps[step["name"]] = saved
        return {"steps": steps, "order": data}

    async def submit(
        self, ctx: GatewayContext, order: LabOrder, draft: Mapping[str, Any]
    ) -> LabSubmission:
        config = self.config(ctx)
        step = (config.get("steps") or [])[-1]
        scope = {
            "order": draft.get("order") or order.as_template_data(),
            "steps": draft.get("steps") or {},
            "credentials": ctx.credentials,
            "settings": config,
        }
        saved = await self._run_step(ctx, step, scope, order.reference)
        document = saved.pop("_response")
        response = config.get("response") or {}
        lab_order_id = tpl.pointer(document, response.get("order_id", "/id"))
        if lab_order_id in (None, ""):
            raise ProviderRejectedRequest(
                f"{self.lab_name}'s answer has no order id at {response.get('order_id')!r}."
            )
        status = self._status_of(config, document)
        state: LabState = status.state if status.state in ("submitted", "accepted") else "submitted"
        return LabSubmission(str(lab_order_id), state, {}, {"response": document, **saved})

    def _status_of(self, config: Mapping[str, Any], document: Any) -> LabStatus:
        response = config.get("response") or {}
        raw = tpl.pointer(document, response["status"]) if "status" in response else None
        mapping = {**DEFAULT_STATUS_MAP, **(response.get("status_map") or {})}
        state: LabState = mapping.get(str(raw), "submitted") if raw is not None else "submitted"
        message = tpl.pointer(document, response["message"]) if "message" in response else None
        tracking: tuple[Tracking, ...] = ()
        number = (
            tpl.pointer(document, response["tracking_number"])
            if "tracking_number" in response
            else None
        )
        if number:
            carrier = tpl.pointer(document, response["carrier"]) if "carrier" in response else None
            url = (
                tpl.pointer(document, response["tracking_url"])
                if "tracking_url" in response
                else None
            )
            tracking = (
                Tracking(str(carrier) if carrier else None, str(number), str(url) if url else None),
            )
        return LabStatus(
            state,
            str(message) if message else (f"lab status {raw!r}" if raw is not None else None),
            tracking,
        )

    async def status(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus | None:
        config = self.config(ctx)
        status = config.get("status") or {}
        if status.get("mode") != "poll":
            return None
        path = str(tpl.render(status["path"], {"lab_order_id": lab_order_id, "settings": config}))
        response = await self._call(
            ctx, status.get("method", "GET"), self._url(ctx, path), "lab.status"
        )
        return self._status_of(config, response.json() if response.body else {})

    async def cancel(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus:
        cancel = self.config(ctx).get("cancel")
        if not cancel:
            raise ProviderConflict(f"{self.lab_name} offers no cancellation through its API.")
        path = str(tpl.render(cancel["path"], {"lab_order_id": lab_order_id}))
        try:
            await self._call(ctx, cancel.get("method", "POST"), self._url(ctx, path), "lab.cancel")
        except LabRejected as exc:
            raise ProviderConflict(exc.message) from None
        return LabStatus("cancelled", f"Cancelled at {self.lab_name}.")

    async def catalog(self, ctx: GatewayContext) -> list[LabProduct]:
        spec = self.config(ctx).get("catalog")
        if not spec:
            return []
        response = await self._call(ctx, "GET", self._url(ctx, spec["path"]), "lab.catalog")
        items = tpl.pointer(response.json() if response.body else {}, spec["items"]) or []
        products = []
        for raw in items if isinstance(items, list) else []:
            ident = tpl.pointer(raw, spec["id"])
            if ident is None:
                continue
            name = tpl.pointer(raw, spec.get("name", "/name"))
            products.append(LabProduct(id=str(ident), name=str(name or ident), details=_plain(raw)))
        return products

    def check_mapping(
        self, product: LabProduct, attributes: Sequence[str], node_id: str | None
    ) -> str | None:
        return check_mapping_against(product, attributes, node_id)


def _plain(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, Mapping) else {"value": raw}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
