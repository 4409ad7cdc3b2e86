"""The process heap: long-lived objects kept out of the cyclic garbage collector's full scans,
and freed memory handed back to the system.

A full collection walks every tracked object; in a service almost all of them (modules, classes,
SQLAlchemy's metadata and compiled statements) live as long as the process. Frozen, they are
skipped: a full collection in a delivering worker took up to ~80 ms with them, a pause every
request in flight waits out.

glibc's allocator keeps freed memory for reuse instead of returning it to the system: a worker
after a burst of deliveries held 2 to 3 MiB of free heap that way. ``trim`` returns it."""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable

_modules_at_freeze = 0


def freeze_if_modules_loaded() -> bool:
    """Freeze what is alive now if modules were imported since the last freeze (a job, client or
    provider SDK loaded on first use); whether it froze. Cheap when nothing was imported."""
    global _modules_at_freeze
    count = len(sys.modules)
    if count == _modules_at_freeze:
        return False
    _modules_at_freeze = count
    gc.collect()  # garbage is collected, not frozen
    gc.freeze()
    return True


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols, the C library's among them; glibc has it, musl has not
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


_trim = _malloc_trim()


def trim() -> bool:
    """Hand the allocator's free memory back to the system (glibc); whether it could."""
    if _trim is None:
        return False
    _trim(0)
    return True
