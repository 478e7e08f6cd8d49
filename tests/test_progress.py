"""Progress: JSON log events every few seconds without a terminal; -q silences them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import manifest

from certspec.commands import progress

Run = Callable[..., tuple[int, str, str]]


def test_json_progress_events(write: Callable[[str], Path], tmp_path: Path, cs: Run,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)
    code, _, err = cs("apply", "-f", str(write(manifest(8, "{algorithm: ecdsa}"))), "-o", str(tmp_path / "o"))
    assert code == 0
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    ticks = [e for e in events if e["event"] == "progress"]
    assert ticks and ticks[-1]["done"] == ticks[-1]["total"] == 10  # 8 certificates + 2 authorities
    assert {"rate", "eta_seconds"} <= set(ticks[0])


def test_quiet_silences_progress(write: Callable[[str], Path], tmp_path: Path, cs: Run,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)
    code, _, err = cs("-q", "apply", "-f", str(write(manifest(8, "{algorithm: ecdsa}"))), "-o", str(tmp_path / "o"))
    assert code == 0 and "progress" not in err
