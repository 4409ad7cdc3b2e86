"""Standard Webhooks signatures (https://www.standardwebhooks.com), as sent on outbound webhooks.

The signed content is ``f"{msg_id}.{timestamp}."`` followed by the exact body bytes, the HMAC
key is the base64-decoded part of the secret after ``whsec_``, and ``webhook-signature`` holds
space-separated ``v1,<base64>`` entries so that several secrets are valid during a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from secrets import token_bytes

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public label of every secret, not a secret
SECRET_BYTES = 32
DEFAULT_TOLERANCE_SECONDS = 300

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class SignatureError(Exception):
    """A webhook did not verify; the message says why (never the secret)."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``body`` exactly as it will be sent.

    ``secret`` may carry the ``whsec_`` prefix or not; a secret that is not base64 raises
    ``ValueError``.
    """
    digest = _digest(_secret_key(secret), msg_id, timestamp, body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret, space-separated; receivers accept the message if any matches."""
    if not secrets:
        raise ValueError("at least one signing secret is required")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> None:
    """Raise ``SignatureError`` unless ``body`` carries a valid ``v1`` signature by ``secret``
    with a timestamp within ``tolerance`` seconds of ``now`` (default: the wall clock).

    Header names are matched case-insensitively. Signature versions other than ``v1`` are
    ignored, as the specification asks.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = _required(lowered, ID_HEADER)
    timestamp = _parse_timestamp(_required(lowered, TIMESTAMP_HEADER))
    signatures = _required(lowered, SIGNATURE_HEADER)

    current = int(time.time()) if now is None else now
    if timestamp < current - tolerance:
        raise SignatureError(f"message timestamp is more than {tolerance} s old")
    if timestamp > current + tolerance:
        raise SignatureError(f"message timestamp is more than {tolerance} s in the future")

    expected = _digest(_secret_key(secret), msg_id, timestamp, body)
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        candidate = _decode_signature(encoded)
        if candidate is not None and hmac.compare_digest(expected, candidate):
            return
    raise SignatureError("no matching signature found")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 after the 'whsec_' prefix") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _required(lowered: Mapping[str, str], name: str) -> str:
    value = lowered.get(name, "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _parse_timestamp(value: str) -> int:
    # The specification sends integer seconds; anything else is refused rather than guessed.
    if not value.isascii() or not value.isdigit():
        raise SignatureError("malformed webhook-timestamp header: expected integer seconds")
    return int(value)


def _decode_signature(encoded: str) -> bytes | None:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
