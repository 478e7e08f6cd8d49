"""Arbitrary input never raises anything but certspec's own error."""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml
from conftest import SMALL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certspec import manifest, yamlpos
from certspec.errors import CertspecError

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["rsa", "ecdsa", "1y", "33%", "{env}", "web", "p256"]))
keys = st.sampled_from(["version", "roles", "environments", "defaults", "key", "validity", "issuer",
                        "subject", "dns_names", "certificates", "authorities", "pfx", "password",
                        "text_extensions", "vars", "overrides", "exports", "x"])
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


def check(path: Path) -> None:
    try:
        manifest.load(path)
    except CertspecError as e:
        assert str(e) and "Traceback" not in str(e)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_arbitrary_documents_give_only_our_errors(doc: object, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    check(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_only_our_errors(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(data)
    check(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=len(SMALL) - 1), text=st.text(max_size=8))
def test_mutated_valid_manifest_gives_only_our_errors(pos: int, text: str, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(SMALL[:pos] + text + SMALL[pos + 1:], encoding="utf-8")
    check(path)


@settings(max_examples=100, deadline=None)
@given(data=st.text(max_size=200))
def test_yaml_loader_never_crashes(data: str) -> None:
    with contextlib.suppress(CertspecError):
        yamlpos.loads(data.encode("utf-8", "surrogatepass"), "m.yaml")


names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)
FIELDS = ("subject", "dns_names", "emails", "upns", "ip_addresses", "friendly_name", "text_extensions")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=names)
def test_a_valid_manifest_always_issues(field: str, value: str, tmp_path: Path) -> None:
    """Whatever lands in a name field either fails validation with our error, or the
    certificate really builds: apply can never fail on a value that validate accepted."""
    import json
    from datetime import datetime, timezone

    from certspec.x509 import build_certificate, generate_key

    literal = json.dumps(value if field in ("subject", "friendly_name") else [value])
    extra = "" if field == "subject" else ", subject: s"
    text = ("version: 1\ndefaults: {key: {algorithm: ecdsa}}\n"
            f"roles: {{r: {{certificates: {{c: {{{field}: {literal}{extra}}}}}}}}}\n"
            "environments: {dev: {roles: [r]}}\n")
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        spec = manifest.load(path).certs["dev/r/c"]
    except CertspecError:
        return
    build_certificate(spec, generate_key(spec.key), now=datetime(2027, 1, 1, tzinfo=timezone.utc))
