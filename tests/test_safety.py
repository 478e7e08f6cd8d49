"""Never a half-written bundle: locking, faults, signals, symlinks, git, permissions."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import filelock
import pytest
from conftest import SMALL, Clock
from harness import check_whole, manifest
from test_reconcile import plan, snapshot

from certspec import fsio

Run = Callable[..., tuple[int, str, str]]
CERTSPEC = [sys.executable, "-m", "certspec"]


@pytest.fixture
def applied(write: Callable[[str], Path], tmp_path: Path, cs: Run, clock: Clock) -> tuple[Path, Path]:
    m = write(SMALL)
    out = tmp_path / "out"
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    return m, out


def test_permissions_whatever_the_umask(write: Callable[[str], Path], tmp_path: Path, cs: Run) -> None:
    old = os.umask(0)
    try:
        out = tmp_path / "out"
        assert cs("apply", "-f", str(write(SMALL)), "-o", str(out))[0] == 0
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    for p in [out, out / "dev", out / "dev/web", out / ".certspec", out / ".certspec/keys/dev"]:
        assert mode(p) == 0o700, p
    for p in [out / "dev/web/client.key", out / "dev/web/tls.pfx.password", out / "dev/web/tls.pfx",
              *(out / ".certspec/keys/dev").iterdir(), out / ".certspec/secret"]:
        assert mode(p) == 0o600, p


def test_lock_held_fails_after_timeout_naming_the_holder(applied: tuple[Path, Path], cs: Run) -> None:
    m, out = applied
    (out / ".certspec/lock.info").write_text('{"pid": 4242, "host": "agent-7", "since": "2027-01-01T00:00:00+00:00"}')
    with filelock.FileLock(str(out / ".certspec/lock")):
        code, _, err = cs("apply", "-f", str(m), "-o", str(out), "--lock-timeout", "0.2")
    assert code == 1 and err.count("\n") == 1
    assert "locked by another certspec run (pid 4242 on agent-7 since 2027-01-01T00:00:00+00:00)" in err


def test_a_lock_left_by_a_dead_process_is_taken_over(applied: tuple[Path, Path], cs: Run) -> None:
    m, out = applied
    proc = subprocess.Popen([sys.executable, "-c", f"import filelock,os,time; l=filelock.FileLock({str(out / '.certspec/lock')!r}); "
                             "l.acquire(); os.kill(os.getpid(), 9)"])
    proc.wait()
    assert cs("apply", "-f", str(m), "-o", str(out), "--lock-timeout", "1")[0] == 0


def test_two_simultaneous_applies_end_with_one_whole_result(write: Callable[[str], Path], tmp_path: Path,
                                                             cs: Run) -> None:
    m = write(manifest(12, "{algorithm: ecdsa}"))
    out = tmp_path / "out"
    procs = [subprocess.Popen([*CERTSPEC, "apply", "-f", str(m), "-o", str(out), "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all("Traceback" not in e for _, e in results)
    created = sorted(o.split("Apply complete: ")[1].split(" created")[0] for o, _ in results)
    assert created == ["0", "14"]  # one did the work; the other waited, then found nothing to do
    assert check_whole(out) == []


@pytest.mark.parametrize("fault", ["enospc", "eacces"])
def test_io_fault_is_one_line_and_leaves_the_previous_outputs(applied: tuple[Path, Path], cs: Run,
                                                              monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    m, out = applied
    before = snapshot(out)
    m.write_text(SMALL + "    overrides:\n      web/tls: {dns_names: [x.example.com]}\n")
    calls = {"n": 0}
    real_write = os.write

    def failing_write(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC if fault == "enospc" else errno.EACCES,
                          os.strerror(errno.ENOSPC if fault == "enospc" else errno.EACCES))
        return real_write(fd, data)

    monkeypatch.setattr(fsio.os, "write", failing_write)
    code, _, err = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert ("no space left on the device" if fault == "enospc" else "Permission denied") in err
    assert snapshot(out) == before
    assert not list(out.glob(".*certspec-new"))
    monkeypatch.undo()
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert plan(cs, m, out)["changes"] == []


def test_symlink_inside_the_output_folder_is_refused(applied: tuple[Path, Path], cs: Run, tmp_path: Path) -> None:
    m, out = applied
    secret = tmp_path / "elsewhere"
    secret.write_text("do not touch")
    target = out / "dev/web/tls.pfx.b64"
    target.unlink()
    target.symlink_to(secret)
    for command in ("plan", "apply"):
        code, _, err = cs(command, "-f", str(m), "-o", str(out))
        assert code == 1 and "is a symbolic link" in err and err.count("\n") == 1
    assert secret.read_text() == "do not touch"


def test_symlinked_environment_folder_is_refused(applied: tuple[Path, Path], cs: Run, tmp_path: Path) -> None:
    m, out = applied
    (out / "dev").rename(tmp_path / "moved")
    (out / "dev").symlink_to(tmp_path / "moved")
    code, _, err = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 1 and "symbolic link" in err


def test_output_folder_in_git_must_be_ignored(write: Callable[[str], Path], tmp_path: Path, cs: Run) -> None:
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    m = write(SMALL)
    code, _, err = cs("apply", "-f", str(m), "-o", str(tmp_path / "out"))
    assert code == 1 and "add the line '/out/' to" in err and not (tmp_path / "out").exists()
    assert cs("apply", "-f", str(m), "-o", str(tmp_path / "out"), "--allow-unignored")[0] == 0
    (tmp_path / ".gitignore").write_text("/out/\n")
    assert cs("apply", "-f", str(m), "-o", str(tmp_path / "out"))[0] == 0


def test_password_file_readable_by_others_warns(write: Callable[[str], Path], tmp_path: Path, cs: Run) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("from-a-file\n")
    pw.chmod(0o644)
    m = write(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  pfx: {password: {file: pw.txt}}\n"))
    code, _, err = cs("apply", "-f", str(m), "-o", str(tmp_path / "out"))
    assert code == 0 and "password file readable by others" in err and "from-a-file" not in err


def test_foreign_state_file_is_rebuilt(applied: tuple[Path, Path], cs: Run) -> None:
    m, out = applied
    (out / ".certspec/state.json").write_text('{"format": 99, "ids": []}')
    before = snapshot(out)
    code, _, err = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 0 and "rebuilding" in err and snapshot(out) == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_exits_cleanly_with_nothing_partial(write: Callable[[str], Path], tmp_path: Path,
                                                           cs: Run, signum: int) -> None:
    m = write(manifest(120))
    out = tmp_path / "out"
    proc = subprocess.Popen([*CERTSPEC, "apply", "-f", str(m), "-o", str(out), "-q", "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert check_whole(out) == []
    assert not list(out.glob(".*certspec-new"))  # the stages begun while issuing are gone
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert check_whole(out) == []
