"""structlog, configured once at the entry point: console on a TTY, JSON otherwise.

Logs go to stderr; results go to stdout. Context (env, role, cert, id) is bound as keys,
never formatted into the event text.

structlog (with the rich tracebacks its console renderer loads) costs about 70 ms to
import, a third of a first run's start-up: ``get_logger`` hands out a stand-in that
imports and configures structlog the first time an event passes the level filter.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
_settings: dict[str, Any] = {"fmt": "json", "level": logging.WARNING, "ready": False}


def configure(fmt: str = "auto", verbosity: int = 0) -> str:
    """Choose the format and level; returns the chosen format (console | json)."""
    fmt = os.environ.get("CERTSPEC_LOG_FORMAT", fmt) if fmt == "auto" else fmt
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    _settings.update(fmt=fmt, level=LEVELS[max(-1, min(2, verbosity))], ready=False)
    return fmt


def structlog_configured() -> Any:
    """The structlog module, configured as ``configure`` chose."""
    import structlog

    if not _settings["ready"]:
        renderer: structlog.types.Processor
        if _settings["fmt"] == "json":
            renderer = structlog.processors.JSONRenderer(sort_keys=True)
        else:
            renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                        renderer],
            wrapper_class=structlog.make_filtering_bound_logger(_settings["level"]),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=False,
        )
        _settings["ready"] = True
    return structlog


class Logger:
    """A structlog logger that costs nothing until an event passes the level filter."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _emit(self, level: int, event: str, kw: dict[str, Any]) -> None:
        if level >= _settings["level"]:
            method = logging.getLevelName(level).lower()
            getattr(structlog_configured().get_logger(self.name), method)(event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._emit(logging.DEBUG, event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit(logging.INFO, event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit(logging.WARNING, event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit(logging.ERROR, event, kw)


def get_logger(name: str) -> Logger:
    return Logger(name)
