"""PayPal's webhook signing certificates: fetched only from allowed hosts, through the provider
client (address guard, timeout, audit), and cached per URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from interlink.providers.errors import ProviderUnavailable
from interlink.providers.http import ProviderClient
from interlink.providers.verifiers import SignatureInvalid

MAX_CERT_BYTES = 64 * 1024


class CertificateUnavailable(Exception):
    """The certificate could not be fetched now; the sender should retry later."""


def host_allowed(url: str, allowed_hosts: Sequence[str], *, https_only: bool) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "https" and (https_only or parts.scheme != "http"):
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return any(host == h.lower() or host.endswith("." + h.lower()) for h in allowed_hosts)


@dataclass
class CertificateCache:
    ttl_seconds: float = 86_400.0
    _entries: dict[str, tuple[bytes, float]] = field(default_factory=dict)

    def get(self, url: str) -> bytes | None:
        entry = self._entries.get(url)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, url: str, pem: bytes) -> None:
        self._entries[url] = (pem, time.monotonic() + self.ttl_seconds)

    def clear(self) -> None:
        self._entries.clear()


CACHE = CertificateCache()


@dataclass
class CertificateFetcher:
    allowed_hosts: Sequence[str]
    https_only: bool
    client_factory: Callable[[], ProviderClient]
    cache: CertificateCache = field(default_factory=lambda: CACHE)

    async def get(self, url: str) -> bytes:
        """The PEM at ``url``. Raises ``SignatureInvalid`` for a URL outside the allowed hosts
        (the request is forged) and ``CertificateUnavailable`` when the host did not answer."""
        if not host_allowed(url, self.allowed_hosts, https_only=self.https_only):
            raise SignatureInvalid(
                "certificate_rejected", "PAYPAL-CERT-URL is not on an allowed PayPal host"
            )
        cached = self.cache.get(url)
        if cached is not None:
            return cached
        try:
            response = await self.client_factory().request(
                "GET", url, operation="paypal_webhook_certificate"
            )
        except ProviderUnavailable as exc:
            raise CertificateUnavailable(
                f"PayPal's certificate host did not answer: {exc}"
            ) from None
        if not response.ok or len(response.body) > MAX_CERT_BYTES:
            raise CertificateUnavailable(
                f"PayPal's certificate host answered {response.status} for PAYPAL-CERT-URL"
            )
        self.cache.put(url, response.body)
        return response.body
