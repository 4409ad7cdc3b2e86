"""structlog for everything, stdlib loggers (uvicorn, SQLAlchemy, alembic) routed through it."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

REDACTED_KEYS = frozenset(
    {"authorization", "api_key", "key", "secret", "password", "token", "credentials", "card"}
)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for name in list(event_dict):
        if name.lower() in REDACTED_KEYS:
            event_dict[name] = "[redacted]"
    return event_dict


class LevelCheckedLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger that asks the stdlib logger's level (a cached lookup) before
    anything else: a line below the level then costs a method call, where going through the
    processors to ``filter_by_level`` took ~4 µs (two such lines per inbound webhook at the
    default level of a busy server)."""

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not self._logger.isEnabledFor(logging.DEBUG):
            return None
        return self._proxy_to_logger("debug", event, *args, **kw)

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not self._logger.isEnabledFor(logging.INFO):
            return None
        return self._proxy_to_logger("info", event, *args, **kw)


def configure(level: str = "info", fmt: str = "console") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        # below the level, stop at once: the other processors (time stamp, context) would run
        # for every discarded line (debug and info lines never get here: LevelCheckedLogger)
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=LevelCheckedLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # our own access line carries the request id, tenant and key; uvicorn's would repeat it
    logging.getLogger("uvicorn.access").disabled = True
