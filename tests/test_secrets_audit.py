"""No password, private key or PFX byte ever reaches stdout, stderr, logs, plan or status
JSON, or bundle.json, whatever the command and however verbose."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SMALL

ENV_PW = "Env-Password-4b1c9e"
FILE_PW = "File-Password-77aa01"


def test_no_secret_in_any_output(write: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from certspec.cli import main

    monkeypatch.setenv("CS_AUDIT_PW", ENV_PW)
    (tmp_path / "pw.txt").write_text(FILE_PW + "\n")
    (tmp_path / "pw.txt").chmod(0o600)
    text = SMALL + "    overrides:\n      web/tls: {pfx: {password: {env: CS_AUDIT_PW}}}\n" \
                   "      web/client: {pfx: {password: {file: pw.txt}}}\n"
    m = write(text)
    out = tmp_path / "out"
    common = ["-f", str(m), "-o", str(out)]
    runs = [["apply", *common, "--json"], ["plan", *common, "--json"], ["status", *common, "--json"],
            ["rotate", *common, "dev/web/*"], ["apply", *common],
            ["plan", *common, "--at", "+400d"], ["status", *common], ["validate", "-f", str(m)]]
    captured = ""
    for argv in runs:
        for fmt in ("json", "console"):
            capsys.readouterr()
            code = main(["-vv", "--log-format", fmt, *argv])
            o, e = capsys.readouterr()
            assert code == 0, e
            captured += o + e
    pfx = out / "prod/web/client.pfx"
    pw_file = out / "prod/web/tls.pfx.password"
    capsys.readouterr()
    assert main(["-vv", "inspect", str(pfx), "--password-file", str(tmp_path / "pw.txt"), "--json"]) == 0
    o, e = capsys.readouterr()
    captured += o + e
    # every secret there is
    generated = [p.read_text() for p in out.rglob("*.pfx.password")]
    assert generated and not pw_file.exists()
    secrets = [ENV_PW, FILE_PW, *generated]
    keys = [k.read_text() for k in out.rglob("*.key")]
    pfx_chunks = [base64.b64encode(p.read_bytes()).decode()[100:160] for p in out.rglob("*.pfx")]
    bundles = "".join(p.read_text() for p in out.rglob("bundle.json"))
    state = (out / ".certspec/state.json").read_text()
    for haystack, name in ((captured, "stdout/stderr"), (bundles, "bundle.json"), (state, "state.json")):
        for s in secrets:
            assert s not in haystack, f"a password in {name}"
        assert "PRIVATE KEY" not in haystack, f"a private key in {name}"
        for k in keys:
            body = re.sub(r"-----[A-Z ]+-----|\s", "", k)
            assert body[50:110] not in haystack
        for chunk in pfx_chunks:
            assert chunk not in haystack, f"PFX bytes in {name}"
    assert json.loads((out / "dev/bundle.json").read_text())["certificates"]


def test_literal_password_error_does_not_echo_it(write: Callable[[str], Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from certspec.cli import main

    m = write(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  pfx: {password: Sup3r-Secret}\n"))
    assert main(["validate", "-f", str(m)]) == 1
    o, e = capsys.readouterr()
    assert "Sup3r-Secret" not in o + e and "literal password" in e
