"""First runs overlap work (issue 6): workers make RSA-2048 keys while the plan is made,
and export files are staged as results arrive. Neither may change what is issued."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from harness import check_whole

from certspec import issue, manifest, workers
from certspec.x509 import generate_key, load_key

SELF_SIGNED = """\
version: 1
defaults: {key: {algorithm: rsa, size: 2048}}
roles:
  app:
    certificates:
""" + "".join(f"      c{i}: {{dns_names: [\"c{i}.{{env}}.example\"]}}\n" for i in range(6)) + """\
      ec: {key: {algorithm: ecdsa, curve: p256}, dns_names: ["ec.{env}.example"]}
environments:
  dev: {roles: [app]}
"""


def _jobs(path: Path) -> list[issue.Job]:
    desired = manifest.load(path)
    now = datetime(2027, 1, 1, tzinfo=timezone.utc)
    return [issue.Job(spec, True, now) for spec in desired.certs.values()]


def _modulus(res: issue.Result) -> int:
    return load_key(res.key).public_key().public_numbers().n  # type: ignore[union-attr]


def test_a_job_takes_a_spare_key_of_its_own_process_once(write: Callable[[str], Path]) -> None:
    jobs = {j.spec.name: j for j in _jobs(write(SELF_SIGNED))}
    spare = generate_key(jobs["c0"].spec.key)
    workers._spares[:] = [(os.getpid(), spare)]
    try:
        first, second = issue.run(jobs["c0"]), issue.run(jobs["c1"])
        assert _modulus(first) == spare.public_key().public_numbers().n  # type: ignore[union-attr]
        assert _modulus(second) != _modulus(first)  # used once, then a fresh key
        workers._spares[:] = [(os.getpid() + 1, spare)]  # made in another process: never handed out
        assert workers.spare_key("rsa-2048") is None and workers._spares == []
        workers._spares[:] = [(os.getpid(), spare)]
        issue.run(jobs["ec"])
        assert workers._spares == [(os.getpid(), spare)]  # an ECDSA job leaves the RSA spare alone
    finally:
        workers._spares.clear()


def test_warm_workers_make_keys_ahead_and_every_key_is_distinct(write: Callable[[str], Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = [j for j in _jobs(write(SELF_SIGNED)) if str(j.spec.key) == "rsa-2048"]
    monkeypatch.setattr(workers, "SPARE_LIMIT", 3)
    workers.warm(2)
    warm = workers._warm
    assert warm is not None
    warm.thread.join()
    concurrent.futures.wait(warm.futures, timeout=120)  # each worker stops at 3 keys by itself
    with workers.Pool(2, len(jobs)) as pool:
        assert pool.warm is warm and workers._warm is None
        results = list(pool.map(jobs))
    assert warm.made() == 6
    assert len({_modulus(r) for r in results}) == len(jobs)


def test_unused_warm_workers_are_stopped(write: Callable[[str], Path]) -> None:
    workers.warm(2)
    with workers.Pool(2, 1) as pool:  # one job: not worth a pool, so the warm one is discarded
        assert pool.pool is None and workers._warm is None
        assert len(list(pool.map(_jobs(write(SELF_SIGNED))[:1]))) == 1


def _marked_alive(mark: str) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes() and \
                        (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(int(entry.name))
            except OSError:
                continue
    return alive


@pytest.mark.parametrize("problem", ["manifest", "env"])
def test_a_first_run_that_fails_early_leaves_no_worker(write: Callable[[str], Path], tmp_path: Path,
                                                       problem: str) -> None:
    """A first run starts its workers before it has read the manifest; when the run then
    fails, they must go too (and promptly: at most the key in hand)."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    m = write(SELF_SIGNED.replace("size: 2048", "size: 1024") if problem == "manifest" else SELF_SIGNED)
    mark = f"CERTSPEC_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, mark.split("=")[0]: mark.split("=")[1]}
    args = [sys.executable, "-m", "certspec", "apply", "-f", str(m), "-o", str(tmp_path / "out")]
    if problem == "env":
        args += ["--env", "nosuch"]
    timings = {}
    for jobs in ("1", "2"):  # -j 1 starts no worker: the baseline
        start = time.monotonic()
        res = subprocess.run([*args, "-j", jobs], capture_output=True, text=True, env=env, timeout=120)
        timings[jobs] = time.monotonic() - start
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    # the workers are stopped at once, not left to make their 64 keys (seconds) first
    assert timings["2"] - timings["1"] < 1.5, timings
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _marked_alive(mark):
        time.sleep(0.1)
    assert _marked_alive(mark) == []


def test_an_io_fault_while_issuing_leaves_no_stage_and_no_output(write: Callable[[str], Path], tmp_path: Path,
                                                                  cs: Callable[..., tuple[int, str, str]],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Export files are staged as results arrive: a fault there must still leave nothing."""
    import errno

    from certspec import fsio

    m = write(SELF_SIGNED.replace("rsa, size: 2048", "ecdsa, curve: p256"))
    out = tmp_path / "out"
    calls = {"n": 0}
    real_create = fsio.create_file

    def failing_create(path: str, data: bytes, mode: int, *, replace: bool = False) -> None:
        calls["n"] += 1
        if calls["n"] > 5:
            raise fsio.io_error("write", Path(path), OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        real_create(path, data, mode, replace=replace)

    monkeypatch.setattr(fsio, "create_file", failing_create)
    code, _, err = cs("apply", "-f", str(m), "-o", str(out), "-j", "2")
    assert code == 1 and "no space left on the device" in err and err.count("\n") == 1
    assert calls["n"] == 6
    assert not list(out.glob(".*certspec-new")) and not (out / "dev").exists()
    monkeypatch.undo()
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert check_whole(out) == []


def test_only_a_folder_with_nothing_published_counts_as_a_first_run(tmp_path: Path) -> None:
    """Keys are made ahead only where every certificate needs one: not after losing
    .certspec (the exports are recovered, nothing is issued), nor on later runs."""
    out = tmp_path / "out"
    assert workers.first_run(str(out))  # not there yet
    (out / "notes").mkdir(parents=True)
    (out / "README").write_text("x")
    assert workers.first_run(str(out))  # nothing certspec made
    (out / "prod").mkdir()
    (out / "prod/bundle.json").write_text("{}")
    assert not workers.first_run(str(out))  # a published environment: its keys are recovered
    (out / "prod/bundle.json").unlink()
    (out / ".certspec").mkdir()
    assert not workers.first_run(str(out))
