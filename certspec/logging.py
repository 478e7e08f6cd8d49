"""structlog, configured once at the entry point: console on a TTY, JSON otherwise.

Logs go to stderr; results go to stdout. Context (env, role, cert, id) is bound as keys,
never formatted into the event text.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


def configure(fmt: str = "auto", verbosity: int = 0) -> str:
    """Set up structlog; returns the chosen format (console | json)."""
    fmt = os.environ.get("CERTSPEC_LOG_FORMAT", fmt) if fmt == "auto" else fmt
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    level = LEVELS[max(-1, min(2, verbosity))]
    processors: list[structlog.types.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    return fmt
