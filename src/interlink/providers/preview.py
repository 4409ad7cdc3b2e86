"""Catalog entries for real providers whose adapters are not built yet (status beta).

Their credentials are validated and stored like any other, and ``test`` makes the provider's
cheapest authenticated request through the client layer, but ``execute`` answers a typed
"not available yet". Which ones really execute is listed in docs/integrations.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.providers.base import ConnectionSpec, GatewayContext, TestResult
from interlink.providers.errors import (
    NotAvailableYet,
    ProviderAuthFailed,
    ProviderRejectedRequest,
    ProviderUnavailable,
)
from interlink.providers.http import ProviderResponse
from interlink.providers.sandbox import (
    PROCESS_PAYMENT,
    QUOTE_SHIPPING,
    REFUND_PAYMENT,
    SYNC_PRODUCTS,
)

API_BASE = {
    "type": "string",
    "format": "uri",
    "pattern": "^https?://",
    "description": "Override the provider's API address (a fake or a proxy).",
}


def _settings(**extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"api_base": API_BASE, **extra},
        "additionalProperties": False,
    }


def _judge(response: ProviderResponse, provider: str) -> TestResult:
    if response.status in (401, 403):
        raise ProviderAuthFailed(f"{provider} refused the credentials ({response.status}).")
    if response.ok:
        return TestResult(ok=True, message=f"{provider} accepted the credentials.")
    if response.status == 429 or response.status >= 500:
        raise ProviderUnavailable(f"{provider} answered {response.status} to the test request.")
    raise ProviderRejectedRequest(f"{provider} answered {response.status} to the test request.")


class PreviewGateway:
    provider = "The provider"

    async def test(self, ctx: GatewayContext) -> TestResult:
        raise NotAvailableYet(f"Testing {self.provider} credentials is not available yet.")

    async def execute(
        self, ctx: GatewayContext, capability: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        raise NotAvailableYet(
            f"{self.provider}'s adapter is not built yet: {capability} cannot run. Use a sandbox "
            "connection to try the capability."
        )


class StripePreview(PreviewGateway):
    provider = "Stripe"

    async def test(self, ctx: GatewayContext) -> TestResult:
        base = ctx.settings.get("api_base", "https://api.stripe.com")
        response = await ctx.client.request(
            "GET",
            f"{base.rstrip('/')}/v1/balance",
            operation="test",
            headers={"Authorization": f"Bearer {ctx.credentials['secret_key']}"},
        )
        return _judge(response, self.provider)


class PayPalPreview(PreviewGateway):
    provider = "PayPal"

    async def test(self, ctx: GatewayContext) -> TestResult:
        default = (
            "https://api-m.sandbox.paypal.com"
            if ctx.environment == "sandbox"
            else "https://api-m.paypal.com"
        )
        base = ctx.settings.get("api_base", default)
        import base64

        basic = base64.b64encode(
            f"{ctx.credentials['client_id']}:{ctx.credentials['client_secret']}".encode()
        ).decode()
        response = await ctx.client.request(
            "POST",
            f"{base.rstrip('/')}/v1/oauth2/token",
            operation="test",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
            safe_to_retry=True,  # a token request changes nothing
        )
        return _judge(response, self.provider)


class EasyPostPreview(PreviewGateway):
    provider = "EasyPost"

    async def test(self, ctx: GatewayContext) -> TestResult:
        base = ctx.settings.get("api_base", "https://api.easypost.com")
        response = await ctx.client.request(
            "GET",
            f"{base.rstrip('/')}/v2/addresses",
            operation="test",
            params={"page_size": "1"},
            headers={"Authorization": f"Bearer {ctx.credentials['api_key']}"},
        )
        return _judge(response, self.provider)


class LexofficePreview(PreviewGateway):
    provider = "Lexoffice"

    async def test(self, ctx: GatewayContext) -> TestResult:
        base = ctx.settings.get("api_base", "https://api.lexware.io")
        response = await ctx.client.request(
            "GET",
            f"{base.rstrip('/')}/v1/profile",
            operation="test",
            headers={"Authorization": f"Bearer {ctx.credentials['api_key']}"},
        )
        return _judge(response, self.provider)


class ZidPreview(PreviewGateway):
    # the OAuth connect flow that obtains Zid's tokens is not built yet: tokens are entered by hand
    provider = "Zid"


class GenericRestPreview(PreviewGateway):
    provider = "The REST provider"

    async def test(self, ctx: GatewayContext) -> TestResult:
        base_url = ctx.settings.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise NotAvailableYet(
                "Set settings.base_url (and optionally settings.health_path) to test this provider."
            )
        headers: dict[str, str] = {}
        key = ctx.credentials.get("api_key")
        if isinstance(key, str):
            header = str(ctx.settings.get("auth_header", "Authorization"))
            headers[header] = f"Bearer {key}" if header.lower() == "authorization" else key
        response = await ctx.client.request(
            "GET",
            base_url.rstrip("/") + str(ctx.settings.get("health_path", "/")),
            operation="test",
            headers=headers,
        )
        return _judge(response, self.provider)


def _secret(pattern: str | None = None, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 500}
    if pattern:
        schema["pattern"] = pattern
    if description:
        schema["description"] = description
    return schema


def _object(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


# settings.inbound of a connection whose webhooks are checked with a public key (Lexoffice)
INBOUND_PUBLIC_KEY = {
    "type": "object",
    "properties": {
        "public_key": {
            "type": "string",
            "pattern": "^-----BEGIN PUBLIC KEY-----",
            "maxLength": 10000,
            "description": "PEM public key that signs the provider's webhooks.",
        }
    },
    "additionalProperties": False,
}

PREVIEW_CONNECTIONS = (
    ConnectionSpec(
        code="stripe",
        display_name="Stripe",
        description="Card payments, refunds and setup intents through Stripe.",
        logo_url="https://stripe.com/img/v3/home/social.png",
        kind="payment",
        status="beta",
        auth_type="api_key",
        credentials_schema=_object(
            ["secret_key"],
            secret_key=_secret("^(sk|rk)_(test|live)_[A-Za-z0-9]+$", "sk_test_… or sk_live_…"),
            publishable_key=_secret("^pk_(test|live)_[A-Za-z0-9]+$"),
            webhook_secret=_secret("^whsec_[A-Za-z0-9+/=]+$"),
        ),
        settings_schema=_settings(statement_descriptor={"type": "string", "maxLength": 22}),
        capabilities=(PROCESS_PAYMENT, REFUND_PAYMENT),
        gateway=StripePreview,
        executes=False,
        rate_limit="25/second",
    ),
    ConnectionSpec(
        code="paypal",
        display_name="PayPal",
        description="PayPal Orders v2: authorize, capture, void, refund.",
        kind="payment",
        status="beta",
        auth_type="oauth2",
        credentials_schema=_object(
            ["client_id", "client_secret"],
            client_id=_secret(),
            client_secret=_secret(),
            webhook_id=_secret(),
        ),
        settings_schema=_settings(),
        capabilities=(PROCESS_PAYMENT, REFUND_PAYMENT),
        gateway=PayPalPreview,
        executes=False,
        hint_fields=("client_id", "client_secret"),
    ),
    ConnectionSpec(
        code="generic_rest",
        display_name="Generic REST provider",
        description="Any REST API reached with an API key header.",
        kind="automation",
        status="beta",
        auth_type="api_key",
        credentials_schema=_object(["api_key"], api_key=_secret()),
        settings_schema={
            "type": "object",
            "properties": {
                "base_url": API_BASE,
                "health_path": {"type": "string", "pattern": "^/"},
                "auth_header": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
            },
            "required": ["base_url"],
            "additionalProperties": False,
        },
        capabilities=(),
        gateway=GenericRestPreview,
        executes=False,
    ),
    ConnectionSpec(
        code="easypost",
        display_name="EasyPost",
        description="Shipping rates, labels and tracking through EasyPost.",
        kind="shipping",
        status="beta",
        auth_type="api_key",
        credentials_schema=_object(
            ["api_key"],
            api_key=_secret("^(EZ[A-Z]K|EZAK|EZTK)[A-Za-z0-9]+$"),
            webhook_secret=_secret(),
        ),
        settings_schema=_settings(),
        capabilities=(QUOTE_SHIPPING,),
        gateway=EasyPostPreview,
        executes=False,
        rate_limit="5/second",
    ),
    ConnectionSpec(
        code="lexoffice",
        display_name="Lexoffice (Lexware Office)",
        description="Bookkeeping: contacts, invoices, payments; webhooks signed with RSA-SHA512.",
        kind="bookkeeping",
        status="beta",
        auth_type="api_key",
        credentials_schema=_object(["api_key"], api_key=_secret()),
        settings_schema=_settings(inbound=INBOUND_PUBLIC_KEY),
        capabilities=(),
        gateway=LexofficePreview,
        executes=False,
        rate_limit="2/second",
    ),
    ConnectionSpec(
        code="zid",
        display_name="Zid",
        description="Zid commerce: orders, products, customers; webhooks with Basic credentials.",
        kind="commerce",
        status="beta",
        auth_type="oauth2",
        credentials_schema=_object(
            [],
            authorization=_secret(description="The token response's Authorization value."),
            access_token=_secret(description="The token response's access_token (manager token)."),
            refresh_token=_secret(),
            webhook_username=_secret(),
            webhook_password=_secret(),
        ),
        settings_schema=_settings(),
        capabilities=(SYNC_PRODUCTS,),
        gateway=ZidPreview,
        executes=False,
        rate_limit="60/minute",
        hint_fields=("webhook_username",),
    ),
)
