"""One apply or rotate per output folder at a time.

``filelock`` takes an OS lock (fcntl on POSIX, msvcrt on Windows) that the kernel drops
when its holder dies, so a lock left by a killed run is taken over safely and no stale
lock file ever needs deleting by hand. Who holds it (pid, host, since) is written beside
it, for the message a waiting run prints when it gives up.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import filelock

from certspec import fsio
from certspec.errors import LockHeld

# A pipeline that starts while another deployment is applying should wait for it rather
# than fail: a whole first run over hundreds of certificates takes well under a minute on
# two cores, so 60 s covers it; --lock-timeout 0 fails at once.
DEFAULT_TIMEOUT = 60.0


@contextmanager
def held(state_dir: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    fsio.ensure_dir(state_dir.parent, 0o700) if not state_dir.parent.exists() else None
    fsio.ensure_dir(state_dir)
    lock = filelock.FileLock(str(state_dir / "lock"), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockHeld(f"{state_dir.parent} is locked by another certspec run "
                       f"({_holder(state_dir)}); waited {timeout:g}s (--lock-timeout)") from None
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    try:
        fsio.write_file(state_dir / "lock.info", json.dumps(info).encode(), fsio.PRIVATE_FILE)
        yield
    finally:
        (state_dir / "lock.info").unlink(missing_ok=True)
        lock.release()


def _holder(state_dir: Path) -> str:
    try:
        info = json.loads((state_dir / "lock.info").read_text())
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
