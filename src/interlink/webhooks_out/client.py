"""The HTTP side of a delivery: one shared aiohttp session per process and event loop, whose
connector refuses non-public addresses at connect time, and a result for every outcome."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from interlink import __version__
from interlink.kit.ssrf import AddressPolicy, BlockedAddress, guarded_connector

MAX_RESPONSE_BODY = 16 * 1024
USER_AGENT = f"Interlink-Webhooks/{__version__}"


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    response_body: str | None
    error_class: str | None
    error_message: str | None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryClient:
    """``per_host`` is 0 (no cap) by default: the dispatcher bounds sends per endpoint and in all,
    and several endpoints often share one host (a customer's gateway, an automation service), so
    a per-host cap would let a slow endpoint hold every connection its fast neighbours need."""

    def __init__(
        self, policy: AddressPolicy, *, max_connections: int = 256, per_host: int = 0
    ) -> None:
        self.policy = policy
        self._session = aiohttp.ClientSession(
            connector=guarded_connector(
                policy, limit=max_connections, limit_per_host=per_host, ttl_dns_cache=10
            ),
            headers={"User-Agent": USER_AGENT},
            # a delivery's body is all the cookies it needs
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        await self._session.close()

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,  # noqa: ASYNC109 - a per-request setting passed to aiohttp
    ) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            async with self._session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                raw = await response.content.read(MAX_RESPONSE_BODY)
                status = response.status
                retry_after = response.headers.get("Retry-After")
            text = raw.decode("utf-8", errors="replace")
            error_class = None
            error_message = None
            if 300 <= status < 400:
                error_class, error_message = "redirect", f"redirect ({status}) is not followed"
            elif not 200 <= status < 300:
                error_class, error_message = "http_status", f"answered {status}"
            return AttemptResult(status, elapsed(), text, error_class, error_message, retry_after)
        except BlockedAddress as exc:
            return AttemptResult(None, elapsed(), None, "blocked_address", str(exc))
        except TimeoutError:
            return AttemptResult(
                None, elapsed(), None, "timeout", f"no answer within {timeout:g} s"
            )
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error
            if isinstance(cause, ConnectionRefusedError):
                return AttemptResult(None, elapsed(), None, "connection_refused", str(exc)[:500])
            if isinstance(exc, aiohttp.ClientConnectorDNSError) or "Name or service" in str(exc):
                return AttemptResult(None, elapsed(), None, "dns_error", str(exc)[:500])
            if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
                return AttemptResult(None, elapsed(), None, "tls_error", str(exc)[:500])
            return AttemptResult(None, elapsed(), None, "connection_error", str(exc)[:500])
        except aiohttp.ClientError as exc:
            return AttemptResult(None, elapsed(), None, "connection_error", str(exc)[:500])
        except OSError as exc:
            return AttemptResult(None, elapsed(), None, "connection_error", str(exc)[:500])


_clients: dict[tuple[int, tuple[str, ...]], DeliveryClient] = {}


def shared_client(allowed_networks: list[str], max_connections: int = 256) -> DeliveryClient:
    """The process's client for the running event loop (connections are reused across jobs)."""
    key = (id(asyncio.get_running_loop()), tuple(allowed_networks))
    client = _clients.get(key)
    if client is None or client.closed:
        client = _clients[key] = DeliveryClient(
            AddressPolicy(allowed_networks), max_connections=max_connections
        )
    return client


async def close_shared_clients() -> None:
    clients = list(_clients.values())
    _clients.clear()
    for client in clients:
        await client.close()
