from __future__ import annotations

import base64

import pytest
from conftest import T0
from cryptography.hazmat.primitives.serialization import pkcs12

from certspec import manifest, pfxinfo
from certspec.exports import Material, render
from certspec.passwords import Password
from certspec.x509 import build_certificate, generate_key, thumbprint


def material(write: object, exports: str, **pfx: str) -> tuple[object, Material]:
    pfx_yaml = ", ".join(f"{k}: {v}" for k, v in pfx.items())
    text = f"""version: 1
defaults: {{key: {{algorithm: ecdsa}}}}
roles:
  r:
    certificates:
      c: {{subject: x, friendly_name: "My Cert", exports: [{exports}], pfx: {{{pfx_yaml}}}}}
environments: {{dev: {{roles: [r]}}}}
"""
    spec = manifest.load(write(text)).certs["dev/r/c"]  # type: ignore[operator]
    key = generate_key(spec.key)
    return spec, Material(build_certificate(spec, key, now=T0), key)


@pytest.mark.parametrize("encryption, bags, mac", [
    ("tripledes-sha1", "pbeWithSHAAnd3-KeyTripleDES-CBC", "SHA-1"),
    ("aes256-sha256", "PBES2 (AES-256-CBC, PBKDF2 HMAC-SHA-256)", "SHA-256"),
])
def test_pfx_encryption_profiles(write: object, encryption: str, bags: str, mac: str) -> None:
    spec, m = material(write, "pfx, pfx-base64, thumbprint", encryption=encryption)
    files = render(spec, m, Password("pw"))  # type: ignore[arg-type]
    info = pfxinfo.read(files["c.pfx"])
    assert info.cert_encryption == [bags] and info.key_encryption == [bags]
    assert info.mac == mac
    assert not any("RC2" in a for a in info.cert_encryption + info.key_encryption)
    verdict = info.verdicts()["windows_server_2016"]
    assert verdict.startswith("yes") == (encryption == "tripledes-sha1")


def test_base64_thumbprint_and_friendly_name(write: object) -> None:
    spec, m = material(write, "pfx, pfx-base64, thumbprint, cert-pem, cert-der, key-pem")
    files = render(spec, m, Password("pw"))  # type: ignore[arg-type]
    assert files["c.pfx.b64"] == base64.b64encode(files["c.pfx"]) and b"\n" not in files["c.pfx.b64"]
    assert files["c.thumbprint"] == thumbprint(m.cert).encode() and len(files["c.thumbprint"]) == 40
    loaded = pkcs12.load_pkcs12(files["c.pfx"], b"pw")
    assert loaded.cert is not None and loaded.cert.friendly_name == b"My Cert"
    assert files["c.key"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert set(files) == {"c.pfx", "c.pfx.b64", "c.pfx.password", "c.thumbprint", "c.crt", "c.cer", "c.key"}


def test_password_never_prints_itself() -> None:
    p = Password("hunter2")
    assert "hunter2" not in repr(p) and "hunter2" not in str(p) and "hunter2" not in f"{p}"
