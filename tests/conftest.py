from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from certspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)

# A small manifest that exercises a CA chain with fast ECDSA keys (tests that do not care
# about RSA use ECDSA so that the suite stays fast).
SMALL = """\
version: 1
defaults:
  key: {algorithm: ecdsa, curve: p256}
  issuer: issuing
authorities:
  root:
    subject: "CN={env} Root"
    key: {algorithm: ecdsa, curve: p384}
    validity: 10y
  issuing:
    issuer: root
    subject: "CN={env} Issuing"
    validity: 5y
    path_length: 0
roles:
  web:
    certificates:
      tls:
        dns_names: ["web.{env}.example.com"]
      client:
        type: Custom
        subject: "CN=client.{env}"
        extended_key_usage: [client_auth]
        friendly_name: "{env} client"
        exports: [pfx, pfx-base64, thumbprint, cert-pem, key-pem, chain-pem]
environments:
  dev:
    roles: [web]
  prod:
    roles: [web]
"""


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(text: str, name: str = "certspec.yaml") -> Path:
        p = tmp_path / name
        p.write_text(dedent(text), encoding="utf-8")
        return p

    return _write


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pin the one clock certspec reads (commands.common.now)."""
    c = Clock()
    import certspec.commands.common as common

    monkeypatch.setattr(common, "now", c)
    for mod in ("plan", "apply", "status", "inspect"):
        m = __import__(f"certspec.commands.{mod}", fromlist=["now"])
        if hasattr(m, "now"):
            monkeypatch.setattr(m, "now", c)
    return c


@pytest.fixture
def cs(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run certspec's main() in-process: (exit code, stdout, stderr)."""

    def _run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--log-format", "json", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs it)")
    return path
