"""Prefixed, time-sortable object ids such as ``ten_01JD8X...``."""

from __future__ import annotations

import os

from ulid import ULID

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def new_id_stem(prefix: str, tail: int) -> str:
    """A new id without its last ``tail`` characters, for ids that a statement
    completes (say with a row number). The random characters are fresh: ``ULID()`` draws
    consecutive values within a millisecond, which differ only at the end."""
    time = str(ULID())[:10]
    bits = int.from_bytes(os.urandom(10), "big")
    random = "".join(_CROCKFORD[(bits >> (5 * n)) & 31] for n in range(16 - tail))
    return f"{prefix}_{time}{random}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
