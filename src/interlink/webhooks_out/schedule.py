"""The retry schedule: when the next attempt of a failed delivery is due."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# delay before attempt n+1 after n failed attempts; the first attempt is immediate
DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(DELAYS) + 1
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)


def delay_after(failed_attempts: int) -> timedelta:
    """The delay after ``failed_attempts`` failures, ±10 % jitter so retries of many deliveries
    that failed together do not arrive together."""
    base = DELAYS[min(failed_attempts, len(DELAYS)) - 1]
    return base * (1 + random.uniform(-JITTER, JITTER))


def parse_retry_after(value: str | None, at: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date, capped at 24 h; ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = parsedate_to_datetime(value) - at
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))
