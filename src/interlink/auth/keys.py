"""The key format: ``ik_<mode>_<12-char lookup id><32-char secret>``.

The lookup id is not secret and finds the row; only a SHA-256 of the whole key is stored. The keys
carry about 190 bits of CSPRNG entropy, so a fast hash is enough (a slow password hash would only
add latency to every request) and comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

ALPHABET = string.ascii_letters + string.digits
LOOKUP_LEN = 12
SECRET_LEN = 32
MODES = ("test", "live")


@dataclass(frozen=True)
class ParsedKey:
    mode: str
    lookup_prefix: str
    full: str


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    lookup_prefix: str
    secret_hash: str
    last4: str


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate(mode: str) -> NewKey:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    lookup = _random(LOOKUP_LEN)
    plaintext = f"ik_{mode}_{lookup}{_random(SECRET_LEN)}"
    return NewKey(
        plaintext=plaintext,
        lookup_prefix=f"ik_{mode}_{lookup}",
        secret_hash=hash_key(plaintext),
        last4=plaintext[-4:],
    )


def parse(value: str) -> ParsedKey | None:
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != "ik" or parts[1] not in MODES:
        return None
    body = parts[2]
    if len(body) != LOOKUP_LEN + SECRET_LEN or not all(c in ALPHABET for c in body):
        return None
    return ParsedKey(mode=parts[1], lookup_prefix=f"ik_{parts[1]}_{body[:LOOKUP_LEN]}", full=value)


def matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), secret_hash)


def masked(lookup_prefix: str, last4: str) -> str:
    return f"{lookup_prefix}…{last4}"
