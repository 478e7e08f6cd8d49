from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLES, T0
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certspec import manifest
from certspec.model import CertSpec, KeySpec
from certspec.x509 import build_certificate, differences, eku_of, generate_key, key_usage_of, san_of

SERVER, CLIENT = "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"


def spec_of(write: Callable[[str], Path], body: str, cid: str = "dev/r/c") -> CertSpec:
    text = ("version: 1\ndefaults: {key: {algorithm: ecdsa}}\nroles:\n  r:\n    certificates:\n      c:\n"
            + "".join(f"        {line}\n" for line in body.strip().splitlines())
            + "environments:\n  dev: {roles: [r]}\n")
    return manifest.load(write(text)).certs[cid]


def issue(spec: CertSpec) -> x509.Certificate:
    return build_certificate(spec, generate_key(spec.key), now=T0)


@pytest.mark.parametrize("type_, ku, eku", [
    ("SSLServerAuthentication", ("digital_signature", "key_encipherment"), (SERVER, CLIENT)),
    ("CodeSigningCert", ("digital_signature",), ("1.3.6.1.5.5.7.3.3",)),
    ("DocumentEncryptionCert", ("data_encipherment", "key_encipherment"), ("1.3.6.1.4.1.311.80.1",)),
    ("Custom", ("digital_signature", "key_encipherment"), ()),
])
def test_type_presets_match_new_selfsignedcertificate(write: Callable[[str], Path], type_: str,
                                                      ku: tuple[str, ...], eku: tuple[str, ...]) -> None:
    cert = issue(spec_of(write, f"type: {type_}\nsubject: x"))
    assert key_usage_of(cert) == ku
    assert eku_of(cert)[0] == eku


def test_defaults_match_powershell(write: Callable[[str], Path]) -> None:
    spec = spec_of(write, 'dns_names: ["a.example", "b.example"]').__class__
    text = "version: 1\nroles: {r: {certificates: {c: {dns_names: [a.example, b.example]}}}}\n" \
           "environments: {dev: {roles: [r]}}\n"
    spec = manifest.load(write(text)).certs["dev/r/c"]
    cert = issue(spec)
    assert cert.subject.rfc4514_string() == "CN=a.example"  # the first DNS name becomes the CN
    assert san_of(cert)["dns_names"] == ("a.example", "b.example")
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm.name == "sha256"  # type: ignore[union-attr]
    assert cert.not_valid_before_utc == T0 - timedelta(minutes=10)
    assert cert.not_valid_after_utc == T0 + timedelta(days=365)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).critical
    assert cert.serial_number > 0


def test_subject_without_equals_is_a_cn_and_order_is_kept(write: Callable[[str], Path]) -> None:
    assert issue(spec_of(write, "subject: commerce.example")).subject.rfc4514_string() == "CN=commerce.example"
    cert = issue(spec_of(write, 'subject: "CN=a, OU=b, O=c, L=d, ST=e, C=NL, E=x@y.z"'))
    assert cert.subject.rfc4514_string() == "CN=a,OU=b,O=c,L=d,ST=e,C=NL,1.2.840.113549.1.9.1=x@y.z"


def test_san_holds_dns_ip_email_and_upn(write: Callable[[str], Path]) -> None:
    cert = issue(spec_of(write, 'subject: x\ndns_names: [a.example]\nip_addresses: ["10.0.0.1", "::1"]\n'
                         'emails: [ops@example.com]\nupns: [svc@corp.example]'))
    san = san_of(cert)
    assert san == {"dns_names": ("a.example",), "ip_addresses": ("10.0.0.1", "::1"),
                   "emails": ("ops@example.com",), "upns": ("svc@corp.example",)}
    other = [n for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
             if isinstance(n, x509.OtherName)]
    assert other[0].type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"


def test_text_extensions_full_syntax(write: Callable[[str], Path]) -> None:
    cert = issue(spec_of(write, 'subject: x\ntext_extensions:\n'
                         '  - "2.5.29.37={critical}{text}1.3.6.1.5.5.7.3.2"\n'
                         '  - "2.5.29.17={text}DNS=a.example&IPAddress=10.1.2.3&UPN=u@x&Email=e@x"\n'
                         '  - "2.5.29.19={text}CA=false"\n'
                         '  - "1.2.3.4={hex}0c0568656c6c6f"'))
    assert eku_of(cert) == ((CLIENT,), True)
    assert san_of(cert)["dns_names"] == ("a.example",) and san_of(cert)["upns"] == ("u@x",)
    raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.2.3.4"))
    assert raw.value.value == bytes.fromhex("0c0568656c6c6f")  # type: ignore[attr-defined]


def test_sitecore_commerce_certificate_has_exactly_the_documented_extensions() -> None:
    spec = manifest.load(EXAMPLES / "commerce.yaml").certs["dev/commerce/engine"]
    cert = build_certificate(spec, generate_key(spec.key), now=T0)
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm.name == "sha256"  # type: ignore[union-attr]
    assert cert.not_valid_after_utc - T0 == timedelta(days=5 * 365)
    assert key_usage_of(cert) == ("data_encipherment", "digital_signature", "key_encipherment")
    assert eku_of(cert) == ((SERVER, CLIENT), False)
    names = sorted(e.oid._name for e in cert.extensions)
    assert names == sorted(["basicConstraints", "subjectKeyIdentifier", "authorityKeyIdentifier",
                            "keyUsage", "extendedKeyUsage"])


def test_ecdsa_keys_and_curves() -> None:
    assert isinstance(generate_key(KeySpec("ecdsa", curve="p384")), ec.EllipticCurvePrivateKey)


def test_leaf_is_clamped_to_its_issuer(write: Callable[[str], Path]) -> None:
    spec = spec_of(write, "subject: x")
    ca_spec = spec.__class__(**{**spec.__dict__, "id": "dev/authorities/ca", "role": "authorities",
                                "ca": True, "validity": timedelta(days=100), "key_usage": ("key_cert_sign",)})
    ca_key = generate_key(ca_spec.key)
    ca = build_certificate(ca_spec, ca_key, now=T0)
    leaf = build_certificate(spec, generate_key(spec.key), now=T0, issuer=(ca, ca_key))
    assert leaf.not_valid_after_utc == ca.not_valid_after_utc
    assert differences(spec, leaf, ca) == []  # clamped is not drift


@pytest.mark.parametrize("field, body_change, expected", [
    ("dns", "dns_names: [b.example]", ["dns_names"]),
    ("key", "key: {algorithm: ecdsa, curve: p384}", ["key"]),
    ("hash", "signature_hash: sha384", ["signature_hash"]),
    ("validity", "validity: 2y", ["validity"]),
    ("ku", "key_usage: [digital_signature]", ["key_usage"]),
    ("eku", "extended_key_usage: [client_auth]", ["extended_key_usage"]),
    ("subject", "subject: y", ["subject"]),
])
def test_differences_name_the_changed_field(write: Callable[[str], Path], field: str, body_change: str,
                                            expected: list[str]) -> None:
    base = "subject: x\ndns_names: [a.example]"
    cert = issue(spec_of(write, base))
    lines = dict(line.split(": ", 1) for line in base.splitlines())
    k, v = body_change.split(": ", 1)
    lines[k] = v
    changed = spec_of(write, "\n".join(f"{a}: {b}" for a, b in lines.items()))
    assert differences(changed, cert, None) == expected
