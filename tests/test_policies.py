"""Each named check of the decision chain, in a table, with a fixed clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from conftest import T0

from certspec import manifest, policies
from certspec.durations import RenewBefore, renewal_time
from certspec.model import CertSpec
from certspec.observed import Seen
from certspec.policies import Decision, Input, decide
from certspec.x509 import build_certificate, generate_key

TEXT = """version: 1
defaults: {key: {algorithm: ecdsa}}
roles: {r: {certificates: {c: {subject: x, friendly_name: f, validity: 90d, renew_before: 30d}}}}
environments: {dev: {roles: [r]}}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertSpec, Seen]:
    path = tmp_path_factory.mktemp("m") / "m.yaml"
    path.write_text(TEXT)
    spec = manifest.load(path).certs["dev/r/c"]
    key = generate_key(spec.key)
    cert = build_certificate(spec, key, now=T0)
    entry = {"thumbprint": "X", "exports": list(spec.exports),
             "pfx": {"encryption": "tripledes-sha1", "chain": "full", "friendly_name": "f"}}
    files = {"r/c.pfx": "ok", "r/c.pfx.b64": "ok", "r/c.thumbprint": "ok", "r/c.pfx.password": "ok"}
    return spec, Seen("dev/r/c", entry=entry, cert=cert, key=key, source="store", files=files, password_same=True)


def _key() -> object:
    from certspec.model import KeySpec
    return generate_key(KeySpec("ecdsa", curve="p256"))


CASES = [
    # behaviour, change to the observed world, change to the spec, now, (action, reason, detail)
    ("nothing_there_creates", {"entry": None, "cert": None, "key": None,
                               "files": {"r/c.pfx": "missing"}}, {}, T0, ("create", "missing", "")),
    ("unreadable_reissues", {"cert": None}, {}, T0, ("reissue", "unreadable", "")),
    ("foreign_key_reissues", {"key": "OTHER"}, {}, T0, ("reissue", "key-mismatch", "")),
    ("issuer_reissued_cascades", {}, {"issuer": "dev/authorities/ca"}, T0,
     ("reissue", "issuer-reissued", "dev/authorities/ca")),
    ("san_change_reissues", {}, {"dns_names": ("a.example",)}, T0, ("reissue", "spec-changed", "dns_names")),
    ("validity_change_reissues", {}, {"validity": timedelta(days=365)}, T0, ("reissue", "spec-changed", "validity")),
    ("expired_renews", {}, {}, T0 + timedelta(days=91), ("renew", "expired", None)),
    ("due_renews", {}, {}, T0 + timedelta(days=61), ("renew", "renew-due", None)),
    ("not_yet_due", {}, {}, T0 + timedelta(days=59), ("unchanged", "up-to-date", "")),
    ("renew_before_change_only_moves_the_date", {}, {"renew_before": RenewBefore.parse("50%")},
     T0 + timedelta(days=40), ("unchanged", "up-to-date", "")),
    ("encryption_change_reexports", {}, {"pfx": "aes"}, T0, ("re-export", "export-changed", "encryption")),
    ("friendly_name_change_reexports", {}, {"friendly_name": "g"}, T0,
     ("re-export", "export-changed", "friendly_name")),
    ("password_change_reexports", {"password_same": False}, {}, T0, ("re-export", "export-changed", "password")),
    ("export_list_change_reexports", {}, {"exports": ("pfx", "thumbprint")}, T0,
     ("re-export", "export-changed", "exports")),
    ("missing_file_reexports", {"files": {"r/c.pfx": "ok", "r/c.pfx.b64": "missing"}}, {}, T0,
     ("re-export", "export-missing", "r/c.pfx.b64")),
    ("edited_file_reexports", {"files": {"r/c.pfx": "edited"}}, {}, T0, ("re-export", "export-edited", "r/c.pfx")),
    ("spec_change_beats_expiry", {}, {"dns_names": ("a.example",)}, T0 + timedelta(days=400),
     ("reissue", "spec-changed", "dns_names")),
    ("expiry_beats_export_change", {"password_same": False}, {}, T0 + timedelta(days=100), ("renew", "expired", None)),
]


@pytest.mark.parametrize("behaviour, seen_change, spec_change, now, expected", CASES, ids=[c[0] for c in CASES])
def test_decision_chain(world: tuple[CertSpec, Seen], behaviour: str, seen_change: dict, spec_change: dict,
                        now: object, expected: tuple[str, str, str | None]) -> None:
    spec, seen = world
    if seen_change.get("key") == "OTHER":
        seen_change = {**seen_change, "key": _key()}
    if spec_change.get("pfx") == "aes":
        spec_change = {**spec_change, "pfx": dataclasses.replace(spec.pfx, encryption="aes256-sha256")}
    s = dataclasses.replace(seen, **seen_change)
    c = dataclasses.replace(spec, **spec_change)
    issuer_action = "renew" if c.issuer else None
    d = decide(Input(c, s, now, None, issuer_action))  # type: ignore[arg-type]
    assert (d.action, d.reason) == expected[:2]
    if expected[2] is not None:
        assert d.detail == expected[2]
    assert d.sentence


def test_the_chain_order_is_documented() -> None:
    doc = policies.__doc__ or ""
    positions = [doc.index(name.replace("_", "-")) for name in
                 ("missing", "unreadable", "key_mismatch", "issuer_reissued", "spec_changed", "expired",
                  "renew_due", "export_changed", "export_missing", "export_edited", "previous_ca_expired")]
    assert positions == sorted(positions)
    assert [c.__name__ for c in policies.CHAIN][:3] == ["missing", "unreadable", "key_mismatch"]


@pytest.mark.parametrize("renew_before, expected_days", [("33%", 60.3), ("30d", 60), ("1%", 89.1)])
def test_renewal_time_is_computed_from_the_certificate(renew_before: str, expected_days: float) -> None:
    due = renewal_time(T0, T0 + timedelta(days=90), RenewBefore.parse(renew_before))
    assert abs((due - T0).total_seconds() / 86400 - expected_days) < 0.01


def test_up_to_date_when_nothing_fires(world: tuple[CertSpec, Seen]) -> None:
    spec, seen = world
    assert decide(Input(spec, seen, T0, None, None)) == Decision("unchanged", "up-to-date", "", "up to date")
