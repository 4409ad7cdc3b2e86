"""Catalog entries of the print labs whose adapters implement ``LabProvider``. They replace the
preview entries of the same code in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.providers.base import ConnectionSpec
from interlink.providers.generic_lab import GENERIC_PROPERTIES, GenericLab, check_config
from interlink.providers.mpix import MpixLab, mpix_config
from interlink.providers.sandbox import SANDBOX_CREDENTIALS, SUBMIT_LAB_ORDER, SYNC_PRODUCTS
from interlink.providers.sandbox_lab import SandboxLabProvider
from interlink.providers.whcc import WhccLab

SUBMIT_ON = {
    "enum": ["order.created", "order.paid", "manual"],
    "description": "Which platform event submits an order automatically (manual: never).",
}
ADDRESS = {
    "type": "object",
    "properties": {
        k: {"type": "string", "maxLength": 200}
        for k in ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")
    },
    "required": ["name", "line1", "city", "postal_code", "country"],
    "additionalProperties": False,
}
API_BASE = {"type": "string", "pattern": "^https?://", "description": "Override the API address."}
CAPABILITIES = (SUBMIT_LAB_ORDER, SYNC_PRODUCTS)


def _secret() -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": 500}


def _check_mpix(settings: Mapping[str, Any]) -> None:
    check_config(mpix_config(settings))


LAB_CONNECTIONS = (
    ConnectionSpec(
        code="sandbox_lab",
        display_name="Sandbox print lab",
        description="Accepts, prints and ships orders on a timer; no account needed.",
        kind="lab",
        status="active",
        auth_type="api_key",
        credentials_schema=SANDBOX_CREDENTIALS,
        settings_schema={
            "type": "object",
            "properties": {
                "label": {"type": "string", "maxLength": 200},
                "submit_on": SUBMIT_ON,
                "accept_after_seconds": {"type": "number", "minimum": 0, "maximum": 86400},
                "ship_after_seconds": {"type": "number", "minimum": 0, "maximum": 86400},
                "poll_interval_seconds": {"type": "number", "minimum": 0.05, "maximum": 3600},
            },
            "additionalProperties": False,
        },
        capabilities=CAPABILITIES,
        gateway=SandboxLabProvider,
        environments=("sandbox",),
        rate_limit="100/second",
    ),
    ConnectionSpec(
        code="whcc",
        display_name="WHCC",
        description="White House Custom Colour print lab (Order Submit API).",
        kind="lab",
        status="active",
        auth_type="api_key",
        credentials_schema={
            "type": "object",
            "properties": {"consumer_key": _secret(), "consumer_secret": _secret()},
            "required": ["consumer_key", "consumer_secret"],
            "additionalProperties": False,
        },
        settings_schema={
            "type": "object",
            "properties": {"api_base": API_BASE, "submit_on": SUBMIT_ON, "ship_from": ADDRESS},
            "additionalProperties": False,
        },
        capabilities=CAPABILITIES,
        gateway=WhccLab,
        rate_limit="10/second",
        hint_fields=("consumer_key",),
    ),
    ConnectionSpec(
        code="mpix",
        display_name="Miller's / Mpix",
        description="Miller's and Mpix print labs (a preset of the generic REST lab adapter).",
        kind="lab",
        status="beta",
        auth_type="api_key",
        credentials_schema={
            "type": "object",
            "properties": {"api_token": _secret(), "user": _secret()},
            "required": ["api_token", "user"],
            "additionalProperties": False,
        },
        settings_schema={
            "type": "object",
            "properties": {**GENERIC_PROPERTIES, "submit_on": SUBMIT_ON},
            "additionalProperties": False,
        },
        capabilities=CAPABILITIES,
        gateway=MpixLab,
        hint_fields=("api_token",),
        settings_check=_check_mpix,
    ),
    ConnectionSpec(
        code="generic_lab",
        display_name="Any REST print lab",
        description="A print lab reached over REST: auth, steps, field mapping and status are "
        "configured in the integration's settings.",
        kind="lab",
        status="beta",
        auth_type="api_key",
        credentials_schema={
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": 2000},
        },
        settings_schema={
            "type": "object",
            "properties": {**GENERIC_PROPERTIES, "submit_on": SUBMIT_ON},
            "required": ["steps", "response"],
            "additionalProperties": False,
        },
        capabilities=CAPABILITIES,
        gateway=GenericLab,
        settings_check=check_config,
    ),
)
