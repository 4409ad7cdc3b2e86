"""Schemathesis hooks for the fuzz run (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.checks)."""

from __future__ import annotations

from typing import Any

import schemathesis

# a provider that cannot be reached is answered with a typed 502/503/504 by design (the fuzzer
# creates integrations whose provider hosts do not resolve on a machine without internet)
PROVIDER_STATUSES = {502, 503, 504}


@schemathesis.check
def no_server_error_but_typed_provider_errors(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code < 500:
        return
    try:
        kind = response.json()["error"]["type"]
    except Exception:
        kind = None
    if response.status_code in PROVIDER_STATUSES and kind == "provider":
        return
    raise AssertionError(f"server error {response.status_code}: {response.text[:500]}")
