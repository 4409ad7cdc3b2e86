"""Prefixed, time-sortable object ids such as ``ten_01JD8X...``: a ULID (48 bits of Unix time in
milliseconds, 80 random bits, Crockford base32) after the prefix.

Written here rather than taken from python-ulid, which made them three times slower (its
object, validation and encoding layers); an inbound webhook makes three ids and they were a
visible share of its cost. Ids made in one process sort in the order they were made: within a
millisecond (or if the clock steps back) the random part of the previous id is incremented, as
python-ulid's generator does. tests/kit/test_ids.py checks the encoding against python-ulid.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
# every pair of base32 digits: ten bits per lookup
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_RANDOM_MAX = (1 << 80) - 1

_lock = threading.Lock()  # ids are also made on the database's thread
_last_ms = 0
_last_random = 0
_last_time = ""


def new_id(prefix: str) -> str:
    global _last_ms, _last_random, _last_time
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            random = int.from_bytes(os.urandom(10), "big")
            _last_ms = ms
            _last_time = _encode_time(ms)
        elif _last_random < _RANDOM_MAX:
            random = _last_random + 1
        else:  # 2**80 ids in one millisecond: borrow the next one
            random = int.from_bytes(os.urandom(10), "big")
            _last_ms += 1
            _last_time = _encode_time(_last_ms)
        _last_random = random
        stamp = _last_time
    p = _PAIRS
    return (
        f"{prefix}_{stamp}{p[random >> 70]}{p[(random >> 60) & 1023]}{p[(random >> 50) & 1023]}"
        f"{p[(random >> 40) & 1023]}{p[(random >> 30) & 1023]}{p[(random >> 20) & 1023]}"
        f"{p[(random >> 10) & 1023]}{p[random & 1023]}"
    )


def _encode_time(ms: int) -> str:
    # 48 bits in ten digits: the first carries the top 3 bits of 50 (always 0-7)
    return "".join(_PAIRS[(ms >> shift) & 1023] for shift in (40, 30, 20, 10, 0))


def new_id_stem(prefix: str, tail: int) -> str:
    """A new id without its last ``tail`` characters, for ids that a statement
    completes (say with a row number). The random characters are fresh: ULIDs draw
    consecutive values within a millisecond (as ``new_id`` does), which differ only at the end."""
    stamp = _encode_time(time.time_ns() // 1_000_000)
    bits = int.from_bytes(os.urandom(10), "big")
    random = "".join(_ALPHABET[(bits >> (5 * n)) & 31] for n in range(16 - tail))
    return f"{prefix}_{stamp}{random}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
