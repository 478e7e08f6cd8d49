"""Progress for long applies: a rich bar on a terminal, a JSON log event every few seconds
otherwise, nothing with -q."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from certspec.logging import structlog_configured

EVERY = 5.0  # seconds between progress events in JSON logs
SHOW_AFTER = 4  # a bar for fewer items is only flicker


@contextmanager
def reporter(args: argparse.Namespace) -> Iterator[Callable[[int, int], None] | None]:
    if args.quiet:
        yield None
        return
    if sys.stderr.isatty() and args.log_format != "json":
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = None
            start = time.monotonic()

            def update(done: int, total: int) -> None:
                nonlocal task
                if total < SHOW_AFTER:
                    return
                if task is None:
                    task = bar.add_task("issuing", total=total, rate="")
                elapsed = time.monotonic() - start
                rate = f"{done / elapsed:.1f}/s" if elapsed > 0 else ""
                bar.update(task, completed=done, rate=rate)

            yield update
        return
    # progress shows at the default verbosity (only -q silences it), whatever the level of
    # the other logs: its own logger, with the configured processors and renderer
    start = last = time.monotonic()
    log: Any = None

    def event(done: int, total: int) -> None:
        nonlocal last, log
        t = time.monotonic()
        if t - last >= EVERY or (done == total and t - start >= EVERY):
            last = t
            if log is None:  # structlog is imported only for runs long enough to report on
                structlog = structlog_configured()
                log = structlog.wrap_logger(structlog.PrintLogger(sys.stderr),
                                            processors=structlog.get_config()["processors"],
                                            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
            rate = done / (t - start) if t > start else 0.0
            eta = (total - done) / rate if rate else None
            log.info("progress", done=done, total=total, rate=round(rate, 1),
                     eta_seconds=round(eta) if eta is not None else None)

    yield event
