"""Worker processes for issuing. Imports nothing heavy, so that the CLI can boot the
fork server before it loads the rest of certspec.

forkserver (spawn on Windows), never fork: a forked worker would inherit the output
folder's lock and keep it held after a killed parent, blocking the next run.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certspec import issue


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def prestart(jobs: int) -> None:
    """Boot the fork server (with the issuing code imported) in the background, so that
    workers are ready the moment the plan is known. Costs the main process nothing."""
    if jobs > 1 and _start_method() == "forkserver":
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["certspec.issue"])
        from multiprocessing import forkserver

        forkserver.ensure_running()


class Pool:
    """Worker processes for a run, started only when there is enough work to pay for them."""

    def __init__(self, workers: int, total: int) -> None:
        self.workers, self.total = workers, total
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        if self.workers > 1 and self.total >= 3:
            self.pool = ProcessPoolExecutor(max_workers=min(self.workers, self.total), initializer=_worker_init,
                                            mp_context=multiprocessing.get_context(_start_method()))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, jobs: list[issue.Job]) -> Iterator[issue.Result]:
        from certspec import issue

        if self.pool is None or len(jobs) < 2:
            yield from map(issue.run, jobs)
        else:
            # one job per task: a job is ~40 ms of key generation, so the IPC is noise, and
            # no worker sits idle at the end while the other finishes a long chunk
            yield from self.pool.map(issue.run, jobs, chunksize=1)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """Exit when the certspec process that owns this worker dies (even by SIGKILL).

    A pool worker otherwise waits forever: its task queue holds a copy of the queue's own
    write end, so it never sees end-of-file, and it keeps the fork server alive too."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
