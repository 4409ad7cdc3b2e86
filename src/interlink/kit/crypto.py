"""Secrets at rest: AES-256-GCM envelopes that carry the id of the key that sealed them.

A token reads ``v1.<kid>.<base64url(nonce + ciphertext + tag)>``. Because the key id travels with
the ciphertext, a keyring can hold old keys next to the active one, open anything sealed under any
of them, and tell which tokens still need re-sealing after a rotation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ENVELOPE_VERSION = "v1"

# Key ids appear inside tokens (split on ".") and inside specs (split on "," and ":").
_KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_B64URL_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


class DecryptionError(Exception):
    """A token could not be opened. The message never contains key material or plaintext."""


class Keyring:
    """Immutable set of AES-256 keys by key id, one of which seals new tokens."""

    __slots__ = ("_active", "_ciphers", "_keys")

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        for kid, key in keys.items():
            _check_kid(kid)
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"key {kid!r} is {len(key)} bytes long; AES-256 needs exactly {KEY_BYTES}"
                )
        if active not in keys:
            raise ValueError(f"active key id {active!r} is not in the keyring ({_kids(keys)})")
        self._keys: Mapping[str, bytes] = MappingProxyType(dict(keys))
        self._active = active
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}

    @classmethod
    def parse(cls, spec: str, active: str | None = None) -> Keyring:
        """Read ``"kid1:BASE64KEY,kid2:BASE64KEY"``; the first key is active unless ``active``
        names another. Keys may be standard or URL-safe base64, padded or not."""
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(spec.split(","), start=1):
            entry = entry.strip()
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep or not kid:
                raise ValueError(f"keyring entry {position} is not of the form 'kid:base64key'")
            _check_kid(kid)
            if kid in keys:
                raise ValueError(f"key id {kid!r} appears more than once in the keyring")
            keys[kid] = _decode_key(kid, encoded.strip())
        if not keys:
            raise ValueError("keyring is empty; expected 'kid:base64key[,kid:base64key…]'")
        return cls(keys, active if active is not None else next(iter(keys)))

    @classmethod
    def generate(cls, kid: str | None = None) -> Keyring:
        kid = kid if kid is not None else new_kid()
        return cls({kid: AESGCM.generate_key(bit_length=KEY_BYTES * 8)}, kid)

    @classmethod
    def load_or_create_file(cls, path: Path) -> Keyring:
        """Read the JSON keyring at ``path`` or create it (mode 0600) with one fresh key.

        Safe when several processes start at once: the file appears atomically and the first
        writer wins, so every process ends up with the same keys.
        """
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                _publish_new_file(path, cls.generate().to_json())
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_json(cls, text: str, *, source: str = "keyring") -> Keyring:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{source} must be a JSON object with 'active' and 'keys'")
        active, encoded_keys = data.get("active"), data.get("keys")
        if not isinstance(active, str) or not isinstance(encoded_keys, dict) or not encoded_keys:
            raise ValueError(
                f"{source} must hold 'active' (a key id) and a non-empty 'keys' object"
            )
        keys: dict[str, bytes] = {}
        for kid, encoded in encoded_keys.items():
            if not isinstance(encoded, str):
                raise ValueError(f"{source}: key {kid!r} must be a base64 string")
            keys[kid] = _decode_key(kid, encoded)
        return cls(keys, active)

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self._active,
                "keys": {kid: _encode_key(k) for kid, k in self._keys.items()},
            },
            indent=2,
        )

    def save_file(self, path: Path) -> None:
        """Replace the keyring file atomically, keeping it readable by the owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_file(path, self.to_json())

    def to_spec(self) -> str:
        """The ``INTERLINK_…`` environment form; the active key comes first so ``parse``
        round-trips without naming it. Contains the raw keys: print it only where asked to."""
        ordered = [self._active, *(kid for kid in self._keys if kid != self._active)]
        return ",".join(f"{kid}:{_encode_key(self._keys[kid])}" for kid in ordered)

    @property
    def active_kid(self) -> str:
        return self._active

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def add_key(
        self, kid: str | None = None, key: bytes | None = None, *, activate: bool = True
    ) -> Keyring:
        """A new keyring with one more key (fresh random unless given), active by default."""
        kid = kid if kid is not None else new_kid()
        if kid in self._keys:
            raise ValueError(f"key id {kid!r} is already in the keyring")
        key = key if key is not None else AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return Keyring({**self._keys, kid: key}, kid if activate else self._active)

    def with_active(self, kid: str) -> Keyring:
        return Keyring(self._keys, kid)

    def without_key(self, kid: str) -> Keyring:
        """Retire a key once nothing is sealed under it any more (see ``needs_rotation``)."""
        if kid == self._active:
            raise ValueError(f"key {kid!r} is active; activate another key before removing it")
        if kid not in self._keys:
            raise ValueError(f"key id {kid!r} is not in the keyring ({_kids(self._keys)})")
        return Keyring({k: v for k, v in self._keys.items() if k != kid}, self._active)

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        """Encrypt under the active key. ``aad`` (e.g. ``b"tenant_id|integration_id"``) is not
        stored in the token; the same bytes must be given to ``open``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, plaintext, aad)
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{ENVELOPE_VERSION}.{self._active}.{payload}"

    def open(self, token: str, aad: bytes) -> bytes:
        kid, payload = _split_token(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"token was sealed with key id {kid!r}, which is not in the keyring"
            )
        try:
            return cipher.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError(
                "token failed authentication: it was altered or the associated data differs"
            ) from None

    def seal_json(self, obj: object, aad: bytes) -> str:
        return self.seal(json.dumps(obj, separators=(",", ":")).encode("utf-8"), aad)

    def open_json(self, token: str, aad: bytes) -> Any:
        return json.loads(self.open(token, aad))

    def needs_rotation(self, token: str) -> bool:
        """True when the token was sealed under a key other than the active one."""
        return key_id_of(token) != self._active

    def reseal(self, token: str, aad: bytes) -> str:
        """The same plaintext sealed under the active key (returns ``token`` if already so)."""
        if not self.needs_rotation(token):
            return token
        return self.seal(self.open(token, aad), aad)

    def __repr__(self) -> str:
        return f"Keyring(active={self._active!r}, kids={list(self._keys)!r})"


def key_id_of(token: str) -> str:
    kid, _ = _split_token(token)
    return kid


def new_kid() -> str:
    """A sortable, readable key id such as ``k20260115-3fa2c1``."""
    return f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def mask_secret(value: str) -> str:
    """A hint safe to show: a label prefix such as ``sk_test_`` plus the last four characters
    (``sk_test_…p7dc``). Short values reveal at most two characters and never most of the value.
    """
    if not value:
        return ""
    if len(value) <= 8:
        return "…" + _tail(value, _short_reveal(len(value)))
    prefix = _label_prefix(value)
    rest = value[len(prefix) :]
    reveal = 4 if len(rest) >= 12 else _short_reveal(len(rest))
    return f"{prefix}…{_tail(rest, reveal)}"


def _label_prefix(value: str) -> str:
    # Only short alphabetic parts count as a label ("sk", "test", "whsec"); a random first part
    # would otherwise be printed in full.
    prefix = ""
    for part in value.split("_")[:2]:
        candidate = prefix + part + "_"
        if not re.fullmatch(r"[A-Za-z]{1,10}", part) or not value.startswith(candidate):
            break
        if len(value) - len(candidate) < 8:
            break
        prefix = candidate
    return prefix


def _short_reveal(length: int) -> int:
    return min(2, length // 3)


def _tail(value: str, count: int) -> str:
    return value[-count:] if count > 0 else ""


def _split_token(token: str) -> tuple[str, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise DecryptionError("malformed token: expected 'v1.<kid>.<payload>'")
    version, kid, encoded = parts
    if version != ENVELOPE_VERSION:
        raise DecryptionError(f"unsupported token version {version[:8]!r}")
    if not _KID_PATTERN.fullmatch(kid):
        raise DecryptionError("malformed token: invalid key id")
    if not _B64URL_PATTERN.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise DecryptionError("malformed token: payload is not unpadded base64url")
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(payload) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("malformed token: payload is too short")
    return kid, payload


def _check_kid(kid: str) -> None:
    if not _KID_PATTERN.fullmatch(kid):
        raise ValueError(
            f"key id {kid[:70]!r} must be 1 to 64 characters of letters, digits, '_' or '-'"
        )


def _decode_key(kid: str, encoded: str) -> bytes:
    normalized = encoded.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        key = base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"key {kid!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"key {kid!r} decodes to {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}"
        )
    return key


def _encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _kids(keys: Mapping[str, bytes]) -> str:
    return ", ".join(repr(k) for k in keys) or "no keys"


def _publish_new_file(path: Path, text: str) -> None:
    """Create ``path`` with ``text`` unless it exists (then ``FileExistsError``); readers never
    see a half-written file because the content is complete before the name appears."""
    tmp = _temporary_beside(path)
    _write_private(tmp, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # Filesystems without hard links: an exclusive create is still first-writer-wins.
        _write_private(path, text)
    finally:
        tmp.unlink(missing_ok=True)


def _replace_file(path: Path, text: str) -> None:
    tmp = _temporary_beside(path)
    try:
        _write_private(tmp, text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _temporary_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
