"""What an endpoint may be: URL rules, event type subscriptions, custom headers."""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address

from yarl import URL

from interlink.kit.ssrf import AddressPolicy, BlockedAddress, _as_ip
from interlink.webhooks_out.exceptions import InvalidHeader, InvalidWebhookUrl, UnknownEventType

WILDCARD = re.compile(r"^([a-z][a-z0-9_]*\.)+\*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "user-agent", "connection", "transfer-encoding"}
)


def _legacy_ipv4(host: str) -> IPv4Address | None:
    """Hex, octal, integer and short forms of an IPv4 address (``0x7f000001``, ``127.1``), which
    resolvers accept: they name the same addresses as the dotted form and get the same rules."""
    try:
        return IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def check_url(raw: str, *, live: bool, policy: AddressPolicy) -> str:
    """The URL to store, or ``InvalidWebhookUrl`` naming the rule it breaks. Hostnames are not
    resolved here: the address is checked when each delivery connects."""
    try:
        url = URL(raw.strip())
    except (ValueError, TypeError):
        raise InvalidWebhookUrl("url is not a valid URL.", param="url") from None
    if url.scheme not in ("http", "https"):
        raise InvalidWebhookUrl(
            "url must start with https:// (or http:// for test keys).", param="url"
        )
    if live and url.scheme != "https":
        raise InvalidWebhookUrl("Live endpoints must use https://.", param="url")
    if not url.raw_host:
        raise InvalidWebhookUrl("url has no host.", param="url")
    if url.user is not None or url.password is not None:
        raise InvalidWebhookUrl(
            "url must not carry credentials; send them with custom headers instead.", param="url"
        )
    if url.fragment:
        raise InvalidWebhookUrl("url must not have a #fragment.", param="url")
    host = url.raw_host.strip("[]").rstrip(".").lower()
    literal = _as_ip(host) or _legacy_ipv4(host)
    if literal is not None:
        try:
            policy.check_ip(literal)
        except BlockedAddress as exc:
            raise InvalidWebhookUrl(
                f"url points to a non-public address ({exc.reason}); an operator can allow it "
                "with INTERLINK_WEBHOOK_ALLOWED_NETWORKS.",
                param="url",
                code="blocked_address",
            ) from None
    elif host == "localhost" or host.endswith(".localhost"):
        raise InvalidWebhookUrl(
            "url points to a non-public address.", param="url", code="blocked_address"
        )
    return str(url)


def check_event_types(patterns: Sequence[str], known: set[str]) -> list[str]:
    result: list[str] = []
    for index, pattern in enumerate(patterns):
        if pattern == "*" or pattern in known:
            pass
        elif WILDCARD.match(pattern):
            prefix = pattern[:-1]
            if not any(name.startswith(prefix) for name in known):
                raise UnknownEventType(
                    f"No event type matches {pattern!r}.", param=f"event_types.{index}"
                )
        else:
            raise UnknownEventType(
                f"Unknown event type {pattern!r}: see GET /v1/event-types.",
                param=f"event_types.{index}",
            )
        if pattern not in result:
            result.append(pattern)
    return result


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise InvalidHeader(f"{name!r} is not a valid header name.", param=f"headers.{name}")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise InvalidHeader(
                f"The header {name!r} is set by Interlink and cannot be overridden.",
                param=f"headers.{name}",
            )
        if len(value) > 1000 or any(c in value for c in "\r\n\0"):
            raise InvalidHeader(
                f"The value of {name!r} is too long or holds a line break.", param=f"headers.{name}"
            )
    return dict(headers)
