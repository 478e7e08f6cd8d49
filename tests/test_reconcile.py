"""End-to-end reconcile scenarios through main([...]) on a temporary folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SMALL, Clock
from cryptography.hazmat.primitives.serialization import pkcs12

Run = Callable[..., tuple[int, str, str]]


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            rel = str(p.relative_to(root))
            if not rel.startswith(".certspec"):
                out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def plan(cs: Run, m: Path, out: Path, *extra: str) -> dict:
    code, stdout, err = cs("plan", "-f", str(m), "-o", str(out), "--json", *extra)
    assert code == 0, err
    return json.loads(stdout)


def changes(p: dict) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["action"], c["reason"]) for c in p["changes"]}


def bundle(out: Path, env: str) -> dict:
    return json.loads((out / env / "bundle.json").read_text())["certificates"]


@pytest.fixture
def setup(write: Callable[[str], Path], tmp_path: Path, cs: Run, clock: Clock) -> tuple[Path, Path]:
    m = write(SMALL)
    out = tmp_path / "out"
    code, _, err = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 0, err
    return m, out


def test_second_apply_writes_nothing_and_plan_is_empty(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    before = snapshot(out)
    code, stdout, _ = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 0 and "0 created" in stdout and "8 unchanged" in stdout
    assert snapshot(out) == before
    p = plan(cs, m, out)
    assert p["changes"] == [] and p["summary"]["unchanged"] == 8
    assert cs("plan", "-f", str(m), "-o", str(out), "--detailed-exitcode")[0] == 0


def test_san_edit_reissues_exactly_that_id(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    m.write_text(SMALL + "    overrides:\n      web/tls: {dns_names: [other.example.com]}\n")
    assert changes(plan(cs, m, out)) == {"prod/web/tls": ("reissue", "spec-changed")}
    assert plan(cs, m, out)["changes"][0]["detail"] == "subject,dns_names"
    assert cs("plan", "-f", str(m), "-o", str(out), "--detailed-exitcode")[0] == 2
    old = bundle(out, "prod")["prod/web/tls"]["thumbprint"]
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    new = bundle(out, "prod")["prod/web/tls"]
    assert new["thumbprint"] != old and new["previous_thumbprint"] == old and new["generation"] == 2
    assert plan(cs, m, out)["changes"] == []


def test_encryption_change_reexports_with_the_same_thumbprint(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    m.write_text(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  pfx: {encryption: aes256-sha256}\n"))
    p = changes(plan(cs, m, out))
    assert set(p.values()) == {("re-export", "export-changed")} and len(p) == 4
    before = {k: v["thumbprint"] for k, v in bundle(out, "dev").items()}
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert {k: v["thumbprint"] for k, v in bundle(out, "dev").items()} == before
    from certspec import pfxinfo
    assert pfxinfo.read((out / "dev/web/tls.pfx").read_bytes()).mac == "SHA-256"


def test_deleted_b64_and_truncated_pfx_are_repaired(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    (out / "dev/web/tls.pfx.b64").unlink()
    pfx = out / "prod/web/client.pfx"
    pfx.write_bytes(pfx.read_bytes()[:100])
    (out / "prod/web/client.thumbprint").write_text("0" * 40)
    p = changes(plan(cs, m, out))
    assert p == {"dev/web/tls": ("re-export", "export-missing"), "prod/web/client": ("re-export", "export-edited")}
    thumb = bundle(out, "prod")["prod/web/client"]["thumbprint"]
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert plan(cs, m, out)["changes"] == []
    assert (out / "prod/web/client.thumbprint").read_text() == thumb
    pw = (out / "prod/web/client.pfx.password").read_bytes()
    assert pkcs12.load_pkcs12(pfx.read_bytes(), pw).cert is not None


def test_at_forecasts_and_apply_then_renews_with_new_keys(setup: tuple[Path, Path], cs: Run, clock: Clock) -> None:
    m, out = setup
    # leaves: 1y at 33% -> due after ~245 days; authorities (5y, 10y) are not
    p = changes(plan(cs, m, out, "--at", "2027-09-10"))
    assert p == {f"{e}/web/{c}": ("renew", "renew-due") for e in ("dev", "prod") for c in ("tls", "client")}
    assert changes(plan(cs, m, out, "--at", "2027-08-01")) == {}
    old_keys = {k: v["thumbprint"] for k, v in bundle(out, "dev").items()}
    old_key_pem = (out / "dev/web/client.key").read_bytes()
    clock.now = clock.now + timedelta(days=252)
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    new = bundle(out, "dev")
    assert new["dev/web/tls"]["thumbprint"] != old_keys["dev/web/tls"]
    assert new["dev/authorities/root"]["thumbprint"] == old_keys["dev/authorities/root"]
    assert (out / "dev/web/client.key").read_bytes() != old_key_pem  # key_rotation: always


def test_key_rotation_reuse_keeps_the_key(write: Callable[[str], Path], tmp_path: Path, cs: Run,
                                          clock: Clock) -> None:
    m = write(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  key_rotation: reuse\n"))
    out = tmp_path / "out"
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    key = (out / "dev/web/client.key").read_bytes()
    clock.now = clock.now + timedelta(days=300)
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert (out / "dev/web/client.key").read_bytes() == key
    assert bundle(out, "dev")["dev/web/client"]["generation"] == 2


def test_rotating_an_authority_reissues_its_leaves_and_only_them(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    before = {**bundle(out, "dev"), **bundle(out, "prod")}
    code, stdout, _ = cs("rotate", "-f", str(m), "-o", str(out), "prod/authorities/issuing")
    assert code == 0
    after = {**bundle(out, "dev"), **bundle(out, "prod")}
    changed = {k for k in before if before[k]["thumbprint"] != after[k]["thumbprint"]}
    assert changed == {"prod/authorities/issuing", "prod/web/tls", "prod/web/client"}
    trust = (out / "prod/authorities/issuing.trust.pem").read_text()
    assert trust.count("BEGIN CERTIFICATE") == 2  # old and new CA until the old expires
    assert plan(cs, m, out)["changes"] == []


def test_trust_file_drops_the_old_ca_once_it_expires(setup: tuple[Path, Path], cs: Run, clock: Clock) -> None:
    m, out = setup
    assert cs("rotate", "-f", str(m), "-o", str(out), "dev/authorities/issuing")[0] == 0
    clock.now = clock.now + timedelta(days=5 * 365 + 1)  # the first issuing CA has expired
    p = changes(plan(cs, m, out))
    assert p["dev/authorities/issuing"] == ("re-export", "previous-ca-expired") or \
        p["dev/authorities/issuing"][0] == "renew"


def test_removed_role_is_planned_and_only_prune_deletes(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    m.write_text(SMALL.replace("  prod:\n    roles: [web]\n", "  prod:\n    roles: []\n"))
    orphans = {f"prod/{x}": ("remove", "orphan") for x in ("web/tls", "web/client", "authorities/root",
                                                             "authorities/issuing")}
    assert changes(plan(cs, m, out)) == orphans
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert (out / "prod/web/tls.pfx").exists()
    code, stdout, _ = cs("apply", "-f", str(m), "-o", str(out), "--prune")
    assert code == 0 and "4 removed" in stdout
    assert not (out / "prod").exists()  # nothing left in it: gone, as a first run would not make it


@pytest.mark.parametrize("stray", [False, True])
def test_environment_removed_from_the_manifest_goes_whole_with_prune(setup: tuple[Path, Path], cs: Run,
                                                                     stray: bool) -> None:
    m, out = setup
    m.write_text(SMALL.replace("  prod:\n    roles: [web]\n", ""))
    if stray:  # a file certspec did not write: the folder stays for it
        (out / "prod/notes.txt").write_text("mine")
    code, stdout, _ = cs("apply", "-f", str(m), "-o", str(out), "--prune")
    assert code == 0 and "4 removed" in stdout
    if stray:
        assert sorted(p.name for p in (out / "prod").iterdir()) == ["bundle.json", "notes.txt"]
        assert bundle(out, "prod") == {}
    else:
        assert not (out / "prod").exists()
    assert not (out / ".certspec/keys/prod").exists()
    assert not any(k.startswith("prod/") for k in json.loads((out / ".certspec/state.json").read_text()))
    assert not list(out.glob(".prod*"))
    assert plan(cs, m, out)["changes"] == []
    assert (out / "dev/web/tls.pfx").exists()


def test_corrupted_state_is_recovered_from_the_outputs(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    (out / ".certspec/state.json").write_text("{not json")
    before = snapshot(out)
    assert plan(cs, m, out)["changes"] == []
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert snapshot(out) == before
    assert json.loads((out / ".certspec/state.json").read_text())["format"] == 1


def test_lost_key_store_costs_no_reissue_until_an_authority_must_sign(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    shutil.rmtree(out / ".certspec")
    before = snapshot(out)
    assert plan(cs, m, out)["changes"] == []
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert snapshot(out) == before  # leaves recovered from their PFX; authorities keep serving
    p = changes(plan(cs, m, out, "--only", "dev/web/tls", "--at", "2027-12-01"))
    assert p["dev/authorities/root"] == ("reissue", "key-lost")
    assert p["dev/authorities/issuing"] == ("reissue", "issuer-reissued")


def test_only_and_env_select(setup: tuple[Path, Path], cs: Run) -> None:
    m, out = setup
    shutil.rmtree(out / "dev")
    assert set(changes(plan(cs, m, out, "--env", "prod"))) == set()
    p = changes(plan(cs, m, out, "--only", "web/tls"))
    assert set(p) == {"dev/authorities/root", "dev/authorities/issuing", "dev/web/tls", "dev/web/client"}
    assert cs("plan", "-f", str(m), "-o", str(out), "--env", "nope")[0] == 1


def test_missing_password_variable_stops_before_writing(write: Callable[[str], Path], tmp_path: Path,
                                                         cs: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CS_TEST_PW", raising=False)
    m = write(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  pfx: {password: {env: CS_TEST_PW}}\n"))
    out = tmp_path / "out"
    code, stdout, err = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 1 and "password environment variable CS_TEST_PW is not set" in err
    assert "dev/web/" in err and err.count("\n") == 1
    assert not (out / "dev").exists()
    monkeypatch.setenv("CS_TEST_PW", "")
    assert "is empty" in cs("apply", "-f", str(m), "-o", str(out))[2]


def test_env_password_change_reexports(write: Callable[[str], Path], tmp_path: Path, cs: Run,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_TEST_PW", "first-password")
    m = write(SMALL.replace("  issuer: issuing\n", "  issuer: issuing\n  pfx: {password: {env: CS_TEST_PW}}\n"))
    out = tmp_path / "out"
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert not (out / "dev/web/tls.pfx.password").exists()
    assert "first-password" not in (out / ".certspec/state.json").read_text()
    monkeypatch.setenv("CS_TEST_PW", "second-password")
    p = changes(plan(cs, m, out))
    assert set(p.values()) == {("re-export", "export-changed")} and len(p) == 4
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert pkcs12.load_pkcs12((out / "dev/web/tls.pfx").read_bytes(), b"second-password").key is not None


def test_status_states_and_fail_within(setup: tuple[Path, Path], cs: Run, clock: Clock) -> None:
    m, out = setup
    code, stdout, _ = cs("status", "-f", str(m), "-o", str(out), "--json")
    rows = {r["id"]: r for r in json.loads(stdout)["certificates"]}
    assert code == 0 and {r["state"] for r in rows.values()} == {"ok"}
    assert len(rows["dev/web/tls"]["thumbprint"]) == 40 and rows["dev/web/tls"]["days_left"] == 365
    assert cs("status", "-f", str(m), "-o", str(out), "--fail-within", "30d")[0] == 0
    assert cs("status", "-f", str(m), "-o", str(out), "--fail-within", "300d")[0] == 2
    (out / "dev/web/tls.pfx").unlink()
    shutil.rmtree(out / "prod")
    code, stdout, _ = cs("status", "-f", str(m), "-o", str(out), "--json", "--fail-within", "1d")
    rows = {r["id"]: r for r in json.loads(stdout)["certificates"]}
    assert code == 2 and rows["dev/web/tls"]["state"] == "drifted" and rows["prod/web/tls"]["state"] == "missing"
    clock.now = clock.now + timedelta(days=400)
    code, stdout, _ = cs("status", "-f", str(m), "-o", str(out), "--json")
    rows = {r["id"]: r for r in json.loads(stdout)["certificates"]}
    assert rows["dev/web/client"]["state"] == "expired"


def test_bundle_json_describes_the_files(setup: tuple[Path, Path]) -> None:
    _, out = setup
    entry = bundle(out, "dev")["dev/web/client"]
    for key in ("thumbprint", "thumbprint_sha256", "serial", "subject", "dns_names", "not_before",
                "not_after", "issuer", "generation", "previous_thumbprint", "files"):
        assert key in entry
    for rel, digest in entry["files"].items():
        assert hashlib.sha256((out / "dev" / rel).read_bytes()).hexdigest() == digest
    text = (out / "dev/bundle.json").read_text()
    assert "PRIVATE KEY" not in text and (out / "dev/web/client.pfx.password").read_text() not in text
