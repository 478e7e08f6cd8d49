"""Every schema and semantic rule: a failing manifest, the exact message and its line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from certspec import manifest
from certspec.errors import ManifestError

BASE = """\
version: 1
defaults:
  key: {algorithm: ecdsa}
authorities:
  root:
    subject: "CN=Root"
  issuing:
    issuer: root
    subject: "CN=Issuing"
    validity: 5y
roles:
  web:
    certificates:
      tls:
        issuer: issuing
        dns_names: ["web.{env}.{domain}"]
environments:
  dev:
    vars: {domain: example.com}
    roles: [web]
"""


def errors(write: Callable[[str], Path], text: str) -> list[str]:
    path = write(text)
    with pytest.raises(ManifestError) as e:
        manifest.load(path)
    return [str(p).split(": ", 1)[1] if False else str(p).replace(str(path), "M") for p in e.value.problems]


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


CASES = [
    # (behaviour, manifest text, expected "M:LINE:COL: $.path: message")
    ("unknown_top_level_key", BASE + "outptu: x\n",
     "M:21:1: $.outptu: unknown key 'outptu'; did you mean 'output'?"),
    ("typo_in_certificate_field", edit("        dns_names:", "        dns_name:"),
     "M:16:9: $.roles.web.certificates.tls.dns_name: unknown key 'dns_name'; did you mean 'dns_names'?"),
    ("wrong_version", edit("version: 1", "version: 2"), "M:1:10: $.version: must be 1"),
    ("bad_duration", edit("validity: 5y", "validity: 5 years"),
     "M:10:15: $.authorities.issuing.validity: '5 years' is not a duration (a number and s, m, h, d, w or y: 90d, 2y)"),
    ("bad_name", edit("  dev:", "  Dev:"),
     "M:18:3: $.environments.Dev: 'Dev' is not a valid name"),
    ("bad_enum", edit("{algorithm: ecdsa}", "{algorithm: dsa}"),
     "M:3:20: $.defaults.key.algorithm: 'dsa' is not one of: rsa, ecdsa"),
    ("wrong_type", edit("roles: [web]", "roles: web"),
     "M:20:12: $.environments.dev.roles: expected a list, got a string"),
    ("missing_required", edit('    subject: "CN=Root"\n', "    validity: 10y\n"),
     "M:5:3: $.authorities.root: missing required key 'subject'"),
    ("literal_password", edit("  key: {algorithm: ecdsa}", "  key: {algorithm: ecdsa}\n  pfx: {password: hunter2}"),
     "M:4:19: $.defaults.pfx.password: a literal password is not allowed in the manifest: use {env: NAME}, {file: path} or {generate: N}"),
    ("two_password_sources", edit("  key: {algorithm: ecdsa}", "  key: {algorithm: ecdsa}\n  pfx: {password: {env: A, file: b}}"),
     "M:4:19: $.defaults.pfx.password: must have exactly one of: generate, env, file"),
    ("unknown_issuer", edit("        issuer: issuing", "        issuer: isuing"),
     "M:15:17: $.roles.web.certificates.tls.issuer: unknown issuer 'isuing'"),
    ("unknown_authority_issuer", edit("    issuer: root", "    issuer: nope"),
     "M:8:13: $.authorities.issuing.issuer: unknown issuer 'nope' (defined: issuing, root)"),
    ("authority_cycle", edit('    subject: "CN=Root"', '    subject: "CN=Root"\n    issuer: issuing'),
     "M:7:13: $.authorities.root.issuer: authorities issue each other in a cycle: root -> issuing -> root"),
    ("undefined_role", edit("roles: [web]", "roles: [web, cms]"),
     "M:20:18: $.environments.dev.roles[1]: undefined role 'cms' (defined: web)"),
    ("override_unknown_cert", BASE + "    overrides:\n      web/api: {validity: 1y}\n",
     "M:22:7: $.environments.dev.overrides['web/api']: override for an unknown certificate 'web/api' (role 'web' has: tls)"),
    ("override_unknown_role", BASE + "    overrides:\n      cms/tls: {validity: 1y}\n",
     "M:22:7: $.environments.dev.overrides['cms/tls']: override for an unknown role 'cms'"),
    ("undefined_variable", edit("web.{env}.{domain}", "web.{env}.{domian}"),
     "M:16:32: $.roles.web.certificates.tls.dns_names[0]: undefined variable {domian} (in environment 'dev')"),
    ("name_with_dots", edit("  web:", "  we..b:").replace("roles: [web]", "roles: [we..b]"),
     "M:12:3: $.roles['we..b']: role name 'we..b' may not contain '..'"),
    ("windows_reserved_name", edit("      tls:", "      con:"),
     "M:14:7: $.roles.web.certificates.con: certificate name 'con' is reserved on Windows"),
    ("rsa_below_2048", edit("{algorithm: ecdsa}", "{algorithm: rsa, size: 1024}"),
     "M:3:31: $.defaults.key.size: RSA keys below 2048 bits are refused (1024)"),
    ("rsa_odd_size", edit("{algorithm: ecdsa}", "{algorithm: rsa, size: 2500}"),
     "M:3:31: $.defaults.key.size: RSA size must be 2048, 3072 or 4096, not 2500"),
    ("sha1_signature", edit("  key: {algorithm: ecdsa}", "  key: {algorithm: ecdsa}\n  signature_hash: sha1"),
     "M:4:19: $.defaults.signature_hash: SHA-1 signatures are refused; use sha256"),
    ("curve_with_rsa", edit("{algorithm: ecdsa}", "{algorithm: rsa, curve: p256}"),
     "M:3:32: $.defaults.key.curve: curve is for ECDSA keys; RSA keys take size"),
    ("size_with_ecdsa", edit("{algorithm: ecdsa}", "{algorithm: ecdsa, size: 2048}"),
     "M:3:33: $.defaults.key.size: size is for RSA keys; ECDSA keys take curve (p256, p384)"),
    ("leaf_outlives_issuer", edit("        issuer: issuing", "        issuer: issuing\n        validity: 6y"),
     "M:16:19: $.roles.web.certificates.tls.validity: dev/web/tls would outlive its issuer issuing (6y > 5y)"),
    ("renew_before_not_shorter", edit("        issuer: issuing", "        issuer: issuing\n        validity: 30d\n        renew_before: 30d"),
     "M:17:23: $.roles.web.certificates.tls.renew_before: renew_before (30d) is not shorter than validity (30d): the certificate would always be due"),
    ("text_extension_bad_oid_in_eku", edit("        issuer: issuing", "        issuer: issuing\n        text_extensions: [\"2.5.29.37={text}1.3.6.1.5.5.7.3.1,serverAuth\"]"),
     "M:16:62: $.roles.web.certificates.tls.text_extensions[0]: text extension: 'serverAuth' is not a dotted OID"),
    ("text_extension_unsupported_oid", edit("        issuer: issuing", "        issuer: issuing\n        text_extensions: [\"2.5.29.15={text}x\"]"),
     "M:16:27: $.roles.web.certificates.tls.text_extensions[0]: text extension: {text} is supported for 2.5.29.37 (EKU), 2.5.29.17 (SAN) and 2.5.29.19 (basic constraints); use {hex} for 2.5.29.15"),
    ("text_extension_bad_san", edit("        issuer: issuing", "        issuer: issuing\n        text_extensions: [\"2.5.29.17={text}DNS=a&URL=b\"]"),
     "M:16:50: $.roles.web.certificates.tls.text_extensions[0]: text extension: 'URL=b' is not DNS=, IPAddress=, UPN= or Email= with a value"),
    ("no_subject_no_names", edit('        dns_names: ["web.{env}.{domain}"]', "        validity: 1y"),
     "M:15:9: $.roles.web.certificates.tls: a certificate needs a subject or a DNS name"),
    ("bad_subject_attribute", edit("        issuer: issuing", "        issuer: issuing\n        subject: \"CN=x, Q=y\""),
     "M:16:25: $.roles.web.certificates.tls.subject: subject: 'Q' is not a known attribute (CN, O, OU, L, ST, C, E, DC ...)"),
    ("bad_ip", edit("        issuer: issuing", "        issuer: issuing\n        ip_addresses: [\"10.0.0.300\"]"),
     "M:16:24: $.roles.web.certificates.tls.ip_addresses[0]: '10.0.0.300' is not an IP address"),
    ("reserved_variable", edit("    vars: {domain: example.com}", "    vars: {domain: example.com, env: x}"),
     "M:19:33: $.environments.dev.vars.env: 'env' is reserved (built in) and cannot be defined here"),
    ("cyclic_variables", edit("    vars: {domain: example.com}", "    vars: {domain: \"{a}\", a: \"{domain}\"}"),
     "M:19:30: $.environments.dev.vars.a: variable 'a' uses undefined or cyclic variable 'domain' (in environment 'dev')"),
    ("authorities_role_name", edit("  web:", "  authorities:").replace("roles: [web]", "roles: [authorities]"),
     "M:12:3: $.roles.authorities: 'authorities' is reserved for the authorities' folder; choose another role name"),
    ("pfx_base64_without_pfx", edit("        issuer: issuing", "        issuer: issuing\n        exports: [pfx-base64]"),
     "M:16:18: $.roles.web.certificates.tls.exports: pfx-base64 needs the pfx export"),
    ("encipher_only_without_key_agreement", edit("        issuer: issuing", "        issuer: issuing\n        key_usage: [encipher_only]"),
     "M:16:20: $.roles.web.certificates.tls.key_usage: encipher_only and decipher_only need key_agreement"),
]


@pytest.mark.parametrize("behaviour, text, expected", CASES, ids=[c[0] for c in CASES])
def test_invalid_manifest_reports_position_and_message(write: Callable[[str], Path], behaviour: str,
                                                       text: str, expected: str) -> None:
    found = errors(write, text)
    assert any(expected in f for f in found), found


def test_base_is_valid(write: Callable[[str], Path]) -> None:
    d = manifest.load(write(BASE))
    assert list(d.certs) == ["dev/authorities/root", "dev/authorities/issuing", "dev/web/tls"]


def test_every_error_is_reported_at_once(write: Callable[[str], Path]) -> None:
    text = edit("version: 1", "version: 2").replace("roles: [web]", "roles: web") + "extra: 1\n"
    assert len(errors(write, text)) == 3


def test_literal_password_is_never_echoed(write: Callable[[str], Path]) -> None:
    text = edit("  key: {algorithm: ecdsa}", "  key: {algorithm: ecdsa}\n  pfx: {password: S3cr3t-Value}")
    assert not any("S3cr3t" in f for f in errors(write, text))


@pytest.mark.parametrize("body, message", [
    ('subject: "CN=' + "x" * 65 + '"', "the CN is 65 characters; X.509 allows at most 64"),
    ('dns_names: ["' + "a" * 70 + '.example"]', "the CN is 78 characters"),
    ('subject: s, dns_names: ["ünïcode.example"]', "is not ASCII; write its IDNA A-label 'xn--ncode-cta3g.example'"),
    ('subject: s, dns_names: ["a b.example"]', "'a b.example' is not a DNS name"),
    ('subject: s, dns_names: ["a.*.example"]', "'a.*.example' is not a DNS name"),
    ('subject: s, emails: ["ü@x"]', "'ü@x' is not an ASCII e-mail address"),
    ('subject: "\\ud800x"', "a \\u escape makes a lone surrogate"),
])
def test_names_x509_would_refuse_are_validation_errors(write: Callable[[str], Path], body: str, message: str) -> None:
    text = ("version: 1\ndefaults: {key: {algorithm: ecdsa}}\n"
            f"roles: {{r: {{certificates: {{c: {{{body}}}}}}}}}\nenvironments: {{dev: {{roles: [r]}}}}\n")
    found = errors(write, text)
    assert any(message in f and f.startswith("M:3:") for f in found), found
