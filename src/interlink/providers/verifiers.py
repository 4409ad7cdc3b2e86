"""Signature checks for inbound provider webhooks.

Pure functions over (headers, raw body, secret or configuration, now): no database, no network,
no framework. Each raises ``SignatureInvalid`` whose ``code`` is stable (for metrics and the stored
record) and whose ``reason`` explains the refusal without quoting a secret. Headers are matched
case-insensitively. Signatures are always computed over the raw body bytes as received.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from interlink.kit import signing

DEFAULT_TOLERANCE_SECONDS = 300

FailureCode = Literal[
    "missing_header",
    "malformed_header",
    "timestamp_out_of_tolerance",
    "signature_mismatch",
    "not_configured",
    "certificate_rejected",
]


class SignatureInvalid(Exception):
    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code: FailureCode = code
        self.reason = reason


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _header(headers: Mapping[str, str], name: str) -> str:
    value = lower_headers(headers).get(name.lower(), "").strip()
    if not value:
        raise SignatureInvalid("missing_header", f"missing {name} header")
    return value


def _check_tolerance(timestamp: int, now: datetime, tolerance: int, header: str) -> None:
    current = int(now.timestamp())
    if timestamp < current - tolerance:
        raise SignatureInvalid(
            "timestamp_out_of_tolerance", f"{header} timestamp is more than {tolerance} s old"
        )
    if timestamp > current + tolerance:
        raise SignatureInvalid(
            "timestamp_out_of_tolerance",
            f"{header} timestamp is more than {tolerance} s in the future",
        )


def _hex_digest(secret: bytes, content: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret, content, algorithm).hexdigest()


def _require_secret(secret: str | None, what: str) -> str:
    if not secret:
        raise SignatureInvalid("not_configured", f"the integration has no {what} configured")
    return secret


def _t_v1(
    headers: Mapping[str, str], body: bytes, secret: str, now: datetime, tolerance: int, header: str
) -> None:
    """The ``t=<unix>,v1=<hex>[,v1=<hex>…]`` scheme of Stripe and WHCC."""
    raw = _header(headers, header)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in raw.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureInvalid(
                "malformed_header", f"malformed {header} header: '{key}' has no '='"
            )
        if key == "t":
            if not value.isascii() or not value.isdigit():
                raise SignatureInvalid(
                    "malformed_header", f"malformed {header} header: t is not integer seconds"
                )
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.lower())
    if timestamp is None:
        raise SignatureInvalid("malformed_header", f"malformed {header} header: no t= timestamp")
    if not candidates:
        raise SignatureInvalid("malformed_header", f"malformed {header} header: no v1= signature")
    _check_tolerance(timestamp, now, tolerance, header)
    expected = _hex_digest(secret.encode(), f"{timestamp}.".encode() + body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureInvalid(
            "signature_mismatch", f"no v1 signature in {header} matches the body"
        )


def verify_stripe(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """``Stripe-Signature``; any of several ``v1`` entries may match (secret rotation)."""
    key = _require_secret(secret, "Stripe webhook_secret")
    _t_v1(headers, body, key, now, tolerance, "Stripe-Signature")


def verify_whcc(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """``WHCC-Signature``, signed with the consumer secret; hex compared case-insensitively."""
    key = _require_secret(secret, "WHCC consumer_secret")
    _t_v1(headers, body, key, now, tolerance, "WHCC-Signature")


EASYPOST_PREFIX = "hmac-sha256-hex="


def verify_easypost(headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
    """``X-Hmac-Signature: hmac-sha256-hex=<hex>`` keyed with the NFKD-normalised secret."""
    key = _require_secret(secret, "EasyPost webhook_secret")
    raw = _header(headers, "X-Hmac-Signature")
    if not raw.lower().startswith(EASYPOST_PREFIX):
        raise SignatureInvalid(
            "malformed_header", f"malformed X-Hmac-Signature header: expected '{EASYPOST_PREFIX}…'"
        )
    candidate = raw[len(EASYPOST_PREFIX) :].lower()
    normalised = unicodedata.normalize("NFKD", key).encode()
    if not hmac.compare_digest(_hex_digest(normalised, body), candidate):
        raise SignatureInvalid("signature_mismatch", "X-Hmac-Signature does not match the body")


def verify_zid(headers: Mapping[str, str], username: str | None, password: str | None) -> None:
    """Zid sends no HMAC: the Basic credentials registered with the webhook, compared in
    constant time."""
    user = _require_secret(username, "Zid webhook_username")
    secret = _require_secret(password, "Zid webhook_password")
    raw = _header(headers, "Authorization")
    scheme, _, encoded = raw.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise SignatureInvalid("malformed_header", "malformed Authorization header: expected Basic")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(
            "malformed_header", "malformed Authorization header: not base64"
        ) from None
    if not hmac.compare_digest(given, f"{user}:{secret}".encode()):
        raise SignatureInvalid("signature_mismatch", "the Basic credentials do not match")


def verify_lexoffice(headers: Mapping[str, str], body: bytes, public_key_pem: str | None) -> None:
    """``X-Lxo-Signature``: base64 RSA-SHA512 (PKCS#1 v1.5) over the body, checked with
    Lexware's published public key (configuration, not a secret)."""
    pem = _require_secret(public_key_pem, "Lexoffice public key")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise SignatureInvalid(
            "not_configured", "the Lexoffice public key is not a PEM key"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureInvalid("not_configured", "the Lexoffice public key is not an RSA key")
    signature = _b64(_header(headers, "X-Lxo-Signature"), "X-Lxo-Signature")
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        raise SignatureInvalid(
            "signature_mismatch", "X-Lxo-Signature does not match the body"
        ) from None


def _b64(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(
            "malformed_header", f"malformed {header} header: not base64"
        ) from None


def verify_standard(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Any sender following the Standard Webhooks specification."""
    key = _require_secret(secret, "webhook_secret")
    try:
        signing.verify(key, headers, body, tolerance=tolerance, now=int(now.timestamp()))
    except ValueError:
        raise SignatureInvalid(
            "not_configured", "the webhook_secret is not a whsec_ secret"
        ) from None
    except signing.SignatureError as exc:
        message = str(exc)
        if message.startswith("missing"):
            code: FailureCode = "missing_header"
        elif message.startswith("malformed"):
            code = "malformed_header"
        elif "timestamp" in message:
            code = "timestamp_out_of_tolerance"
        else:
            code = "signature_mismatch"
        raise SignatureInvalid(code, message) from None


PAYPAL_HEADERS = (
    "PAYPAL-TRANSMISSION-ID",
    "PAYPAL-TRANSMISSION-TIME",
    "PAYPAL-TRANSMISSION-SIG",
    "PAYPAL-CERT-URL",
)


def paypal_cert_url(headers: Mapping[str, str]) -> str:
    return _header(headers, "PAYPAL-CERT-URL")


def paypal_signed_content(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


def verify_paypal(
    headers: Mapping[str, str],
    body: bytes,
    webhook_id: str | None,
    certificate_pem: bytes,
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """PayPal's offline check: RSA-SHA256 over ``id|time|webhook_id|crc32(body)`` with the
    certificate served at ``PAYPAL-CERT-URL``. The caller fetches that certificate (from an
    allowed host only) and passes its PEM; here it must be valid now, and every certificate of
    the bundle must be issued by the next one."""
    hook = _require_secret(webhook_id, "PayPal webhook_id")
    transmission_id, transmission_time, sig_b64, _ = (_header(headers, h) for h in PAYPAL_HEADERS)
    algo = lower_headers(headers).get("paypal-auth-algo", "SHA256withRSA").strip()
    if algo.upper() != "SHA256WITHRSA":
        raise SignatureInvalid(
            "malformed_header", f"unsupported PAYPAL-AUTH-ALGO {algo!r}: only SHA256withRSA"
        )
    try:
        sent = datetime.fromisoformat(transmission_time.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureInvalid(
            "malformed_header", "malformed PAYPAL-TRANSMISSION-TIME header: not ISO 8601"
        ) from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    _check_tolerance(int(sent.timestamp()), now, tolerance, "PAYPAL-TRANSMISSION-TIME")
    signature = _b64(sig_b64, "PAYPAL-TRANSMISSION-SIG")
    leaf = _paypal_leaf(certificate_pem, now)
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureInvalid("certificate_rejected", "the PayPal certificate has no RSA key")
    content = paypal_signed_content(transmission_id, transmission_time, hook, body)
    try:
        key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureInvalid(
            "signature_mismatch", "PAYPAL-TRANSMISSION-SIG does not match the body"
        ) from None


def _paypal_leaf(certificate_pem: bytes, now: datetime) -> x509.Certificate:
    try:
        chain = x509.load_pem_x509_certificates(certificate_pem)
    except ValueError:
        raise SignatureInvalid(
            "certificate_rejected", "PAYPAL-CERT-URL did not serve a PEM certificate"
        ) from None
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SignatureInvalid(
                "certificate_rejected", "a certificate at PAYPAL-CERT-URL is not valid now"
            )
    for cert, issuer in itertools.pairwise(chain):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise SignatureInvalid(
                "certificate_rejected", "the certificate chain at PAYPAL-CERT-URL is broken"
            ) from None
    return chain[0]


Encoding = Literal["hex", "base64"]
Algorithm = Literal["sha1", "sha256", "sha512"]


@dataclass(frozen=True)
class HmacConfig:
    """A provider that signs with an HMAC in its own way. ``template`` names the signed content:
    ``{body}`` (the raw bytes), ``{timestamp}`` (the timestamp header) and ``{id}`` (the id
    header); ``prefix`` is stripped from the signature header (``sha256=``)."""

    header: str
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    template: str = "{body}"
    prefix: str = ""
    timestamp_header: str | None = None
    id_header: str | None = None
    tolerance: int = DEFAULT_TOLERANCE_SECONDS


def verify_hmac(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    config: HmacConfig,
    *,
    now: datetime,
) -> None:
    key = _require_secret(secret, "webhook_secret")
    raw = _header(headers, config.header)
    if config.prefix:
        if not raw.startswith(config.prefix):
            raise SignatureInvalid(
                "malformed_header",
                f"malformed {config.header} header: expected '{config.prefix}…'",
            )
        raw = raw[len(config.prefix) :]
    content = config.template.encode()
    if "{timestamp}" in config.template:
        if config.timestamp_header is None:
            raise SignatureInvalid("not_configured", "the template uses {timestamp} but no header")
        stamp = _header(headers, config.timestamp_header)
        if not stamp.isascii() or not stamp.isdigit():
            raise SignatureInvalid(
                "malformed_header",
                f"malformed {config.timestamp_header} header: not integer seconds",
            )
        _check_tolerance(int(stamp), now, config.tolerance, config.timestamp_header)
        content = content.replace(b"{timestamp}", stamp.encode())
    if "{id}" in config.template:
        if config.id_header is None:
            raise SignatureInvalid("not_configured", "the template uses {id} but no id header")
        content = content.replace(b"{id}", _header(headers, config.id_header).encode())
    before, sep, after = content.partition(b"{body}")
    signed = before + body + after if sep else content
    digest = hmac.new(key.encode(), signed, config.algorithm).digest()
    if config.encoding == "hex":
        ok = hmac.compare_digest(digest.hex(), raw.strip().lower())
    else:
        ok = hmac.compare_digest(digest, _b64(raw.strip(), config.header))
    if not ok:
        raise SignatureInvalid("signature_mismatch", f"{config.header} does not match the body")


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
