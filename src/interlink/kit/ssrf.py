"""Refuse outbound HTTP to private, loopback, link-local, metadata and other non-public addresses.

The check must run on the address that is actually connected to, or a hostname that resolves to a
public address at registration and to ``127.0.0.1`` at delivery (DNS rebinding) gets through.
``guarded_connector`` therefore checks inside aiohttp's connection path: every address the
resolver returns, and IP-literal hosts (which aiohttp connects to without calling the resolver).

Redirects are not followed safely by this module alone: a guarded session re-checks each hop it
connects to, but callers sending webhooks pass ``allow_redirects=False`` because a 3xx is a failed
delivery. An HTTP proxy resolves the target itself, so a session that uses one relies on the proxy
to enforce the same rules (only the proxy's own address is checked here).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import Connection
from aiohttp.resolver import ThreadedResolver
from aiohttp.tracing import Trace
from yarl import URL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_V4_BLOCKED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "unspecified ('this network') address"),
        ("10.0.0.0/8", "private network"),
        ("100.64.0.0/10", "carrier-grade NAT shared address space"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private network"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation range"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private network"),
        ("198.18.0.0/15", "benchmarking range"),
        ("198.51.100.0/24", "documentation range"),
        ("203.0.113.0/24", "documentation range"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_V6_BLOCKED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(cidr), reason)
    for cidr, reason in (
        ("::/128", "unspecified address"),
        ("::1/128", "loopback"),
        # IPv4-compatible (deprecated) and IPv4-translated forms are never routed publicly;
        # IPv4-mapped addresses are unwrapped before this table is consulted.
        ("::/96", "reserved (IPv4-compatible)"),
        ("::ffff:0:0:0/96", "reserved (IPv4-translated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001:2::/48", "benchmarking range"),
        ("2001:db8::/32", "documentation range"),
        ("3fff::/20", "documentation range"),
        ("fc00::/7", "unique local (private) address"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

_METADATA = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)

_NAT64 = IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"refusing to connect to {address}: {reason}")
        self.address = address
        self.reason = reason

    def __reduce__(self) -> tuple[type[BlockedAddress], tuple[str, str]]:
        return (type(self), (self.address, self.reason))


class AddressPolicy:
    """Which destinations outbound requests may reach.

    Everything public is allowed; the non-public ranges above are refused unless they fall in
    ``allowed_networks`` (``INTERLINK_WEBHOOK_ALLOWED_NETWORKS``). Cloud metadata addresses stay
    refused under a broad allow-list (e.g. ``100.64.0.0/10`` for a Tailscale network also
    contains Alibaba's metadata address) and pass only when allow-listed as a single host.
    """

    def __init__(self, allowed_networks: Iterable[str | IPNetwork] = ()) -> None:
        self._allowed: tuple[IPNetwork, ...] = tuple(_parse_network(n) for n in allowed_networks)

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self._allowed

    def check_ip(self, ip: str | IPAddress) -> None:
        """Raise ``BlockedAddress`` if ``ip`` may not be connected to. A string that is not an IP
        address raises ``ValueError``."""
        address = ip_address(ip) if isinstance(ip, str) else ip
        reason = blocked_reason(address)
        if reason is None or self._is_allowed(address):
            return
        raise BlockedAddress(str(address), reason)

    async def resolve_and_check(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, refusing all of them if any one is blocked (a
        mixed answer is how rebinding attacks hide). DNS failures raise ``OSError``."""
        host = host.removeprefix("[").removesuffix("]")
        literal = _as_ip(host)
        if literal is not None:
            self.check_ip(literal)
            return [str(literal)]
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self.check_ip(address)
        return addresses

    async def check_url(self, url: str | URL) -> list[str]:
        """Registration-time check of an ``http(s)`` URL; returns the addresses it resolves to.
        Not a substitute for ``guarded_connector``: DNS can change before delivery."""
        parsed = URL(url) if isinstance(url, str) else url
        if parsed.scheme not in ("http", "https"):
            raise ValueError("URL must use http or https")
        if not parsed.raw_host or parsed.port is None:
            raise ValueError("URL must have a host")
        return await self.resolve_and_check(parsed.raw_host, parsed.port)

    def _is_allowed(self, address: IPAddress) -> bool:
        address = _unscoped(address)
        candidates = [address]
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        metadata = any(c in _METADATA for c in candidates)
        return any(
            candidate in network and (not metadata or network.num_addresses == 1)
            for candidate in candidates
            for network in self._allowed
        )


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or ``None`` if it is."""
    address = _unscoped(address)
    if address in _METADATA:
        return "cloud metadata endpoint"
    if isinstance(address, IPv4Address):
        return next((reason for net, reason in _V4_BLOCKED if address in net), None)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = blocked_reason(embedded)
        if address.ipv4_mapped is not None:
            # The connection really goes to the IPv4 address, so only its verdict counts.
            return None if inner is None else f"IPv4-mapped {inner}"
        if inner is not None:
            return f"{inner} embedded in an IPv6 address"
    return next((reason for net, reason in _V6_BLOCKED if address in net), None)


class GuardedResolver(AbstractResolver):
    """Wraps an aiohttp resolver and refuses hostnames that resolve to a blocked address.

    aiohttp connects to exactly the addresses returned here, so the check and the connection
    cannot disagree. The default inner resolver is aiohttp's ``ThreadedResolver`` (the running
    loop's ``getaddrinfo``), which holds no resources: TCPConnector never closes a resolver it
    was given, and here nothing is lost by that.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._owns_inner = inner is None
        self._inner: AbstractResolver = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check_ip(result["host"])
        return results

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector whose every new connection goes to an address the policy allows."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        kwargs["resolver"] = GuardedResolver(policy, kwargs.get("resolver"))
        super().__init__(**kwargs)
        self._policy = policy
        # verdicts on IP-literal hosts: the policy is fixed for the connector's life, and this
        # check runs before every request (pooled connections included)
        self._literal_verdicts: dict[str, BlockedAddress | None] = {}

    def _check_literal(self, host: str) -> None:
        if host in self._literal_verdicts:
            verdict = self._literal_verdicts[host]
        else:
            verdict = None
            literal = _as_ip(host)
            try:
                if literal is None:
                    # Legacy forms such as "127.1" or "2130706433" are mapped onto real
                    # addresses by the socket layer; only canonical literals can be checked
                    # honestly.
                    raise BlockedAddress(host, "not a canonical IP address")
                self._policy.check_ip(literal)
            except BlockedAddress as exc:
                verdict = exc
            if len(self._literal_verdicts) >= 1024:
                self._literal_verdicts.clear()
            self._literal_verdicts[host] = verdict
        if verdict is not None:
            raise BlockedAddress(verdict.address, verdict.reason)

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's BaseConnector.connect signature
    ) -> Connection:
        host = req.url.raw_host
        if host is not None and _skips_resolver(host):
            self._check_literal(host)
        return await super().connect(req, traces, timeout)


def guarded_connector(policy: AddressPolicy, **kwargs: Any) -> aiohttp.TCPConnector:
    """A connector for ``aiohttp.ClientSession`` that enforces ``policy`` at connect time.

    ``kwargs`` go to ``aiohttp.TCPConnector``; a ``resolver`` given there is wrapped, not
    replaced. A refused destination raises ``BlockedAddress`` from the request call.
    """
    return GuardedConnector(policy, **kwargs)


def _parse_network(value: str | IPNetwork) -> IPNetwork:
    if not isinstance(value, str):
        return value
    try:
        return ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"allowed network {value!r} is not a CIDR such as 10.0.0.0/8") from None


def _as_ip(host: str) -> IPAddress | None:
    try:
        return ip_address(host)
    except ValueError:
        return None


def _skips_resolver(host: str) -> bool:
    # The same test aiohttp uses to decide that a host is an IP literal and connect directly.
    return ":" in host or host.replace(".", "").isdigit()


def _unscoped(address: IPAddress) -> IPAddress:
    # "fd00:ec2::254%eth0" is the same destination as "fd00:ec2::254" but does not compare equal.
    if isinstance(address, IPv6Address) and address.scope_id:
        return IPv6Address(int(address))
    return address


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None
