"""Webhook URLs that point inside the network are refused at registration and on update, in every
spelling; delivery-time checks on the resolved address are in tests/webhooks_out/test_ssrf.py and
tests/kit/test_ssrf.py (redirects, DNS names resolving to loopback, rebinding)."""

from __future__ import annotations

import httpx
import pytest
from yarl import URL

from interlink.db.engine import Database
from interlink.kit.ssrf import AddressPolicy, BlockedAddress
from tests.fixtures.factories import tenant_with_key

INSIDE = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://localhost/hook",
    "http://LOCALHOST./hook",
    "http://user@127.0.0.1/hook",
    "http://example.com@127.0.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
]


@pytest.mark.parametrize("url", INSIDE)
async def test_webhook_url_inside_the_network_is_refused_on_create_and_update(
    client: httpx.AsyncClient, db: Database, url: str
) -> None:
    key = await tenant_with_key(db, ["webhooks:write"])
    created = await client.post("/v1/webhooks", json={"url": url}, headers=key.headers)
    assert created.status_code in (400, 422), created.text
    assert created.json()["error"]["param"] == "url"

    ok = await client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/x"}, headers=key.headers
    )
    assert ok.status_code == 201, ok.text
    updated = await client.put(
        f"/v1/webhooks/{ok.json()['id']}", json={"url": url}, headers=key.headers
    )
    assert updated.status_code in (400, 422), updated.text
    after = await client.get(f"/v1/webhooks/{ok.json()['id']}", headers=key.headers)
    assert after.json()["url"] == "https://hooks.example.com/x"


def _url(param: object) -> str:
    return str(param.values[0]) if hasattr(param, "values") else str(param)


@pytest.mark.parametrize(
    "url", [_url(u) for u in INSIDE if _url(u).startswith("http") and "@" not in _url(u)]
)
async def test_every_inside_spelling_is_refused_when_a_delivery_connects(url: str) -> None:
    parsed = URL(url)
    assert parsed.raw_host is not None
    assert parsed.port is not None
    # OSError: the name does not resolve at all here (some resolvers do not know "LOCALHOST.")
    with pytest.raises((BlockedAddress, OSError)):
        await AddressPolicy([]).resolve_and_check(parsed.raw_host, parsed.port)
