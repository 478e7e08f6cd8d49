"""Worker processes for issuing. Imports nothing heavy, so that the CLI can boot the
fork server before it loads the rest of certspec.

forkserver (spawn on Windows), never fork: a forked worker would inherit the output
folder's lock and keep it held after a killed parent, blocking the next run.

A first run (nothing certspec made in the output folder yet: ``first_run``) starts its
workers at once, while the CLI is still loading and planning, and they make RSA-2048 keys
(the default key) ahead of the plan: see ``warm`` and docs/engine.md, "Performance".
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certspec import issue

SPECULATIVE_KEY = "rsa-2048"  # str(KeySpec) of the built-in default key
SPARE_LIMIT = 64  # keys one worker makes ahead at most (about 2.5 s of work)


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


class _Warm:
    """Workers started before the plan exists, making spare keys until it does."""

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context(_start_method())
        self.workers = workers
        self.stop = ctx.Event()
        self.futures: list[Future[int]] = []
        self.executor = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                            initargs=(self.stop,), mp_context=ctx)
        # starting a process waits for the fork server to boot: a thread does the waiting
        self.thread = threading.Thread(target=self._start, name="certspec-warm", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        for _ in range(self.workers):  # each submit starts one process; each takes one task
            self.futures.append(self.executor.submit(_make_spares, SPARE_LIMIT))

    def made(self) -> int:
        """How many keys the workers made ahead (once the speculation has ended)."""
        return sum(f.result() for f in self.futures if f.done() and not f.cancelled() and f.exception() is None)

    def adopt(self) -> ProcessPoolExecutor:
        """Stop the speculation (each worker finishes the key in hand) and hand over."""
        self.stop.set()
        self.thread.join()
        return self.executor

    def discard(self) -> None:
        self.stop.set()
        self.thread.join()
        self.executor.shutdown(wait=False, cancel_futures=True)


_warm: _Warm | None = None


def first_run(out: str) -> bool:
    """Whether ``out`` holds nothing certspec made: no key store and no published
    environment (a folder with a bundle.json), so every certificate will need a new key."""
    if os.path.lexists(os.path.join(out, ".certspec")):
        return False
    try:
        entries = os.scandir(out)
    except OSError:
        return True  # not there yet
    with entries:
        return not any(e.is_dir(follow_symlinks=False) and os.path.lexists(os.path.join(e.path, "bundle.json"))
                       for e in entries)


def warm(jobs: int) -> None:
    """Start ``jobs`` workers now, making RSA-2048 keys ahead of the plan. For first runs
    only, where almost every certificate needs a new key: elsewhere the keys would be
    thrown away and the CPU they took slows the no-op run that is the common case."""
    global _warm
    if jobs > 1 and _warm is None:
        prestart(jobs)
        _warm = _Warm(jobs)


def discard_warm() -> None:
    """Stop unused warm workers (they exit after the key in hand); safe to call twice."""
    global _warm
    if _warm is not None:
        _warm.discard()
        _warm = None


class Pool:
    """Worker processes for a run, started only when there is enough work to pay for them
    (or adopted from ``warm``)."""

    def __init__(self, workers: int, total: int) -> None:
        self.workers, self.total = workers, total
        self.pool: ProcessPoolExecutor | None = None
        self.warm: _Warm | None = None  # adopted: its workers made keys ahead

    def __enter__(self) -> Pool:
        global _warm
        if self.workers > 1 and self.total >= 3:
            if _warm is not None and _warm.workers == self.workers:
                self.warm, _warm = _warm, None
                self.pool = self.warm.adopt()
            else:
                self.pool = ProcessPoolExecutor(max_workers=min(self.workers, self.total), initializer=_worker_init,
                                                mp_context=multiprocessing.get_context(_start_method()))
        discard_warm()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.warm is not None:
            from certspec.logging import get_logger

            get_logger("certspec.workers").debug("keys made ahead of the plan", keys=self.warm.made())

    def map(self, jobs: list[issue.Job]) -> Iterator[issue.Result]:
        from certspec import issue

        if self.pool is None or len(jobs) < 2:
            yield from map(issue.run, jobs)
        else:
            # one job per task: a job is ~40 ms of key generation, so the IPC is noise, and
            # no worker sits idle at the end while the other finishes a long chunk
            yield from self.pool.map(issue.run, jobs, chunksize=1)


# ---- in the worker processes -----------------------------------------------------------------
_stop: Any = None  # the warm pool's "plan is ready" event
_spares: list[tuple[int, Any]] = []  # (pid that made it, key): never handed out in another process


def _worker_init(stop: Any = None) -> None:
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _make_spares(limit: int) -> int:
    """Make RSA-2048 keys until the parent has its plan (or ``limit`` of them)."""
    from certspec.model import KeySpec
    from certspec.x509 import generate_key

    spec, pid = KeySpec("rsa", 2048), os.getpid()
    assert str(spec) == SPECULATIVE_KEY
    while _stop is not None and not _stop.is_set() and len(_spares) < limit:
        _spares.append((pid, generate_key(spec)))
    return len(_spares)


def spare_key(kind: str) -> Any:
    """A key made ahead in this process for a ``kind`` (``str(KeySpec)``) key, or None.
    Each is handed out once, and only by the process that made it."""
    pid = os.getpid()
    while kind == SPECULATIVE_KEY and _spares:
        maker, key = _spares.pop()
        if maker == pid:
            return key
    return None


def _exit_with(sentinel: int) -> None:
    """Exit when the certspec process that owns this worker dies (even by SIGKILL).

    A pool worker otherwise waits forever: its task queue holds a copy of the queue's own
    write end, so it never sees end-of-file, and it keeps the fork server alive too."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
