from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from interlink.kit.ssrf import AddressPolicy, BlockedAddress, guarded_connector


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("fd00:ec2::254%eth0", "metadata"),
        ("100.100.100.200", "metadata"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not a bind
        ("0.1.2.3", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.10", "documentation"),
        ("203.0.113.10", "documentation"),
        ("2001:db8::1", "documentation"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("::ffff:169.254.169.254", "IPv4-mapped cloud metadata"),
        ("64:ff9b::7f00:1", "loopback embedded"),
        ("64:ff9b::a00:1", "private network embedded"),
        ("2002:7f00:1::", "loopback embedded"),
        ("2002:c0a8:101::1", "private network embedded"),
        ("::127.0.0.1", "reserved"),
        ("::ffff:0:7f00:1", "reserved"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("100::1", "discard-only"),
    ],
)
def test_non_public_address_is_refused_with_its_reason(address: str, reason: str) -> None:
    with pytest.raises(BlockedAddress, match=reason) as raised:
        AddressPolicy().check_ip(address)

    assert raised.value.reason
    assert raised.value.address


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_address_is_allowed(address: str) -> None:
    AddressPolicy().check_ip(address)


def test_address_inside_an_allowed_network_is_accepted() -> None:
    policy = AddressPolicy(["10.0.0.0/8", "fd00:1234::/32"])

    policy.check_ip("10.20.30.40")
    policy.check_ip("fd00:1234::5")
    policy.check_ip("::ffff:10.20.30.40")
    with pytest.raises(BlockedAddress):
        policy.check_ip("192.168.0.1")


def test_broad_allow_list_does_not_open_a_metadata_address() -> None:
    policy = AddressPolicy(["100.64.0.0/10", "169.254.0.0/16"])

    policy.check_ip("100.100.0.1")
    with pytest.raises(BlockedAddress, match="metadata"):
        policy.check_ip("100.100.100.200")
    with pytest.raises(BlockedAddress, match="metadata"):
        policy.check_ip("169.254.169.254")


def test_scoped_ipv6_metadata_address_is_not_opened_by_a_broad_allow_list() -> None:
    with pytest.raises(BlockedAddress, match="metadata"):
        AddressPolicy(["fd00::/8"]).check_ip("fd00:ec2::254%eth0")


def test_metadata_address_allow_listed_as_a_single_host_is_accepted() -> None:
    AddressPolicy(["169.254.169.254/32"]).check_ip("169.254.169.254")


def test_invalid_allowed_network_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="'intranet' is not a CIDR"):
        AddressPolicy(["intranet"])


def test_host_bits_in_an_allowed_network_are_tolerated() -> None:
    AddressPolicy(["10.0.0.1/8"]).check_ip("10.9.9.9")


async def test_hostname_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        await AddressPolicy().resolve_and_check("localhost", 80)


async def test_legacy_numeric_ipv4_form_is_resolved_and_refused() -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        await AddressPolicy().resolve_and_check("2130706433", 80)


async def test_literal_ip_is_checked_without_dns() -> None:
    assert await AddressPolicy().resolve_and_check("[2606:4700:4700::1111]", 443) == [
        "2606:4700:4700::1111"
    ]
    with pytest.raises(BlockedAddress):
        await AddressPolicy().resolve_and_check("[::1]", 443)


async def test_allow_listed_hostname_returns_every_resolved_address() -> None:
    policy = AddressPolicy(["127.0.0.0/8", "::1/128"])

    addresses = await policy.resolve_and_check("localhost", 80)

    assert "127.0.0.1" in addresses


async def test_check_url_refuses_non_http_schemes_and_private_hosts() -> None:
    policy = AddressPolicy()

    with pytest.raises(ValueError, match="http or https"):
        await policy.check_url("file:///etc/passwd")
    with pytest.raises(BlockedAddress):
        await policy.check_url("https://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedAddress):
        await policy.check_url("http://localhost:8080/hook")


@dataclass
class ReceivingServer:
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[ReceivingServer]:
    server = ReceivingServer(port=0)

    async def handle(request: web.Request) -> web.Response:
        server.hits.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


class FixedResolver(AbstractResolver):
    """Answers every lookup with fixed addresses, as a hostile or rebinding DNS server would."""

    def __init__(self, *addresses: str) -> None:
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._addresses
        ]

    async def close(self) -> None:
        return None


async def _post(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(url, json={"id": "evt_1"}, allow_redirects=False) as response:
        return response.status


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"], ids=["literal", "dns", "mapped"]
)
async def test_guarded_session_never_reaches_a_loopback_receiver(
    receiver: ReceivingServer, host: str
) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector(AddressPolicy())) as session:
        with pytest.raises(BlockedAddress, match="loopback"):
            await _post(session, f"http://{host}:{receiver.port}/hook")

    assert receiver.hits == []


async def test_guarded_session_refuses_non_canonical_ip_literal(receiver: ReceivingServer) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector(AddressPolicy())) as session:
        with pytest.raises(BlockedAddress, match="not a canonical IP address"):
            await _post(session, f"http://127.1:{receiver.port}/hook")

    assert receiver.hits == []


async def test_hostname_resolving_to_public_and_private_addresses_is_refused(
    receiver: ReceivingServer,
) -> None:
    connector = guarded_connector(AddressPolicy(), resolver=FixedResolver("8.8.8.8", "127.0.0.1"))

    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(BlockedAddress) as raised:
            await _post(session, f"http://rebind.example:{receiver.port}/hook")

    assert raised.value.address == "127.0.0.1"
    assert receiver.hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "allowed.internal"])
async def test_allow_listed_loopback_receiver_gets_the_delivery(
    receiver: ReceivingServer, host: str
) -> None:
    policy = AddressPolicy(["127.0.0.0/8", "::1/128"])
    resolver = FixedResolver("127.0.0.1") if host == "allowed.internal" else None
    connector = guarded_connector(policy, resolver=resolver)

    async with aiohttp.ClientSession(connector=connector) as session:
        status = await _post(session, f"http://{host}:{receiver.port}/hook")

    assert status == 200
    assert receiver.hits == ["/hook"]
