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
