"""Interlink: a self-hosted integrations service."""

import sys

__version__ = "0.1.0"


def _import_structlog_without_dev_renderers() -> None:
    # structlog's console renderer imports rich and better_exceptions when they are installed (a
    # development environment has them through its tools): rich and pygments are ~5 MiB in every
    # process that never renders with them (Interlink's console lines use plain tracebacks). The
    # block lasts only for structlog's import; code that imports them later gets them.
    blocked = [name for name in ("rich", "better_exceptions") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


_import_structlog_without_dev_renderers()
