"""The files made from a key and certificate: PFX, Base64, thumbprint, PEM/DER, chain.

``render`` is pure: given the material and the spec it returns ``{file name: bytes}``;
writing is apply's job. Every PFX is opened again and checked before it is returned.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, pkcs12

from certspec.model import CertSpec
from certspec.passwords import Password
from certspec.x509 import PrivateKey, key_matches, key_pem, thumbprint

# PKCS#12 iteration counts per profile (issue 6, docs/manifest.md):
# - tripledes-sha1: 2048, OpenSSL's long-standing default, imported by every Windows and
#   Azure App Service; Windows' own Export-PfxCertificate uses 2000.
# - aes256-sha256: 10000 PBKDF2-SHA256 rounds; still a few milliseconds per file, and the
#   generated passwords (142 bits) do not lean on the KDF for strength anyway.
KDF_ROUNDS = {"tripledes-sha1": 2048, "aes256-sha256": 10000}
SECRET_SUFFIXES = (".pfx.password", ".key")  # file modes 0600


@dataclass(frozen=True)
class Material:
    """What an id *is*: its certificate, its key and the issuers above it (nearest first)."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()


def file_names(spec: CertSpec) -> dict[str, str]:
    """export kind -> file name (relative to DIR/ENV/ROLE or DIR/ENV/authorities)."""
    if spec.is_authority:
        return {"cert-pem": f"{spec.name}.crt", "trust": f"{spec.name}.trust.pem"}
    n = spec.name
    names = {"pfx": f"{n}.pfx", "pfx-base64": f"{n}.pfx.b64", "thumbprint": f"{n}.thumbprint",
             "cert-pem": f"{n}.crt", "cert-der": f"{n}.cer", "key-pem": f"{n}.key",
             "chain-pem": f"{n}.chain.pem"}
    wanted = {k: v for k, v in names.items() if k in spec.exports}
    if spec.pfx and spec.pfx.password.source == "generate" and "pfx" in spec.exports:
        wanted["password"] = f"{n}.pfx.password"
    return wanted


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def pfx_bytes(spec: CertSpec, m: Material, password: Password) -> bytes:
    assert spec.pfx is not None
    builder = PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS[spec.pfx.encryption])
    if spec.pfx.encryption == "tripledes-sha1":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    cas = list(m.chain) if spec.pfx.chain == "full" else None
    name = spec.friendly_name.encode("utf-8") if spec.friendly_name else None
    data = pkcs12.serialize_key_and_certificates(name, m.key, m.cert, cas, builder.build(password.encode()))
    verify_pfx(data, password, m)
    return data


class ExportCheckFailed(RuntimeError):
    """A PFX did not read back as written: a bug or a broken library, never user error."""


def verify_pfx(data: bytes, password: Password, m: Material) -> None:
    """Open the PFX again with its password; key, certificate and chain must be ours."""
    loaded = pkcs12.load_pkcs12(data, password.encode())
    if loaded.cert is None or loaded.key is None:
        raise ExportCheckFailed("PFX lost its key or certificate")
    if thumbprint(loaded.cert.certificate) != thumbprint(m.cert):
        raise ExportCheckFailed("PFX certificate thumbprint differs from the issued one")
    if not key_matches(loaded.key, m.cert):  # type: ignore[arg-type]
        raise ExportCheckFailed("PFX key does not match its certificate")


def render(spec: CertSpec, m: Material, password: Password | None) -> dict[str, bytes]:
    """Every export file of a leaf (or an authority's .crt), as bytes."""
    names = file_names(spec)
    out: dict[str, bytes] = {}
    if spec.is_authority:
        out[names["cert-pem"]] = pem(m.cert)
        return out
    if "pfx" in names:
        assert password is not None
        data = pfx_bytes(spec, m, password)
        out[names["pfx"]] = data
        if "pfx-base64" in names:
            out[names["pfx-base64"]] = base64.b64encode(data)
        if "password" in names:
            out[names["password"]] = password.encode()
    elif "pfx-base64" in names:
        raise AssertionError("pfx-base64 without pfx is refused by validation")
    if "thumbprint" in names:
        out[names["thumbprint"]] = thumbprint(m.cert).encode("ascii")
    if "cert-pem" in names:
        out[names["cert-pem"]] = pem(m.cert)
    if "cert-der" in names:
        out[names["cert-der"]] = m.cert.public_bytes(Encoding.DER)
    if "key-pem" in names:
        out[names["key-pem"]] = key_pem(m.key)
    if "chain-pem" in names:
        issuers = [c for c in m.chain if c.issuer != c.subject]  # the root is not sent
        out[names["chain-pem"]] = b"".join(pem(c) for c in (m.cert, *issuers))
    return out


def trust_pem(current: x509.Certificate, previous: x509.Certificate | None) -> bytes:
    """An authority's trust file: the current CA, then the previous one while it is valid."""
    return pem(current) + (pem(previous) if previous is not None else b"")
