"""The kill harness: SIGKILL an apply at seeded random moments; every id present must be
whole after each kill, and the next apply must converge.

CERTSPEC_KILLS is the number of kills (not runs) to reach; CI runs a modest count, and the
long run by hand is:
    CERTSPEC_KILLS=200 python -m pytest -q tests/test_crash.py -s
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import check_whole, manifest

KILLS = int(os.environ.get("CERTSPEC_KILLS", "12"))
SEED = int(os.environ.get("CERTSPEC_KILL_SEED", "20271203"))


def apply(m: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "certspec", "-q", "apply", "-f", str(m), "-o", str(out),
                             "--lock-timeout", "30", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_at_random_moments_never_leaves_a_mixed_id(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    m = tmp_path / "m.yaml"
    texts = [manifest(32), manifest(32).replace(".example", ".example.net")]  # the second: a SAN change
    m.write_text(texts[0])
    out = tmp_path / "out"
    mixed, kills, i = [], 0, 0
    while kills < KILLS and i < KILLS * 4:
        # alternate between first runs, reissues (a SAN change) and re-exports (encryption)
        text = texts[i % 2]
        if i % 3 == 2:
            text = text.replace("  issuer: ca\n", "  issuer: ca\n  pfx: {encryption: aes256-sha256}\n")
        m.write_text(text)
        proc = apply(m, out)
        time.sleep(rng.uniform(0.05, 1.6))  # a run of this manifest takes 0.5 to 2 s
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        problems = check_whole(out) if out.exists() else []
        if problems:
            mixed.append((i, problems[:3]))
        i += 1
    assert mixed == [] and kills >= KILLS
    final = apply(m, out)
    assert final.wait(timeout=300) == 0, final.stderr.read() if final.stderr else ""
    assert check_whole(out) == []
    again = subprocess.run([sys.executable, "-m", "certspec", "plan", "-f", str(m), "-o", str(out),
                            "--detailed-exitcode"], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout
    print(f"kill harness: {kills} kills over {i} runs, seed {SEED}, 0 mixed ids")


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def test_a_killed_apply_leaves_no_process_behind(tmp_path: Path) -> None:
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    m = tmp_path / "m.yaml"
    m.write_text(manifest(60))
    proc = apply(m, tmp_path / "out", "-j", "2")
    deadline = time.monotonic() + 20
    helpers: set[int] = set()
    while time.monotonic() < deadline and len(helpers) < 3:  # the fork server and two workers
        time.sleep(0.1)
        helpers = _descendants(proc.pid)
    assert proc.poll() is None and len(helpers) >= 3, helpers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in helpers):
        time.sleep(0.1)
    left = [pid for pid in helpers if _alive(pid)]
    assert left == [], f"processes left behind after SIGKILL: {left}"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a container's init to reap it does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
