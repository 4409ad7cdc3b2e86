"""Endpoint signing secrets, sealed with the keyring (aad: tenant id + endpoint id)."""

from __future__ import annotations

from datetime import datetime

from interlink.config import Settings
from interlink.keyring import load_keyring
from interlink.kit.crypto import Keyring
from interlink.models import WebhookEndpoint

_keyrings: dict[int, Keyring] = {}


def keyring_for(settings: Settings) -> Keyring:
    """The keyring of ``settings``, loaded once per process (jobs have no app state)."""
    keyring = _keyrings.get(id(settings))
    if keyring is None:
        keyring = _keyrings[id(settings)] = load_keyring(settings)
    return keyring


def aad(endpoint: WebhookEndpoint) -> bytes:
    return f"{endpoint.tenant_id}:{endpoint.id}".encode()


def seal(keyring: Keyring, endpoint: WebhookEndpoint, secret: str) -> str:
    return keyring.seal(secret.encode(), aad(endpoint))


def current_secret(keyring: Keyring, endpoint: WebhookEndpoint) -> str:
    return keyring.open(endpoint.secret_sealed, aad(endpoint)).decode()


def signing_secrets(keyring: Keyring, endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The current secret, and the previous one while its rotation window is open."""
    secrets = [current_secret(keyring, endpoint)]
    if (
        endpoint.previous_secret_sealed is not None
        and endpoint.previous_secret_expires_at is not None
        and at < endpoint.previous_secret_expires_at
    ):
        secrets.append(keyring.open(endpoint.previous_secret_sealed, aad(endpoint)).decode())
    return secrets
