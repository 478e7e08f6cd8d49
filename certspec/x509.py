"""Keys and certificates with ``cryptography``, in one readable module (trustme style).

``build_certificate`` turns a CertSpec into a signed certificate; ``differences`` says which
spec fields an existing certificate no longer matches. Both read the same spec fields, so
what is issued and what is compared cannot drift apart.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ObjectIdentifier

from certspec.model import CertSpec, KeySpec
from certspec.textext import format_subject, parse_subject

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]  # noqa: UP007 - a runtime alias on 3.10
PUBLIC_EXPONENT = 65537  # the only exponent every platform (and FIPS) accepts
CURVES = {"p256": ec.SECP256R1, "p384": ec.SECP384R1}
HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}  # SHA-1 is refused by validation
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft user principal name
KU_FLAGS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


def generate_key(spec: KeySpec) -> PrivateKey:
    if spec.algorithm == "rsa":
        assert spec.size is not None
        return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=spec.size)
    assert spec.curve is not None
    return ec.generate_private_key(CURVES[spec.curve]())


def describe_key(public_key: object) -> str:
    """``rsa-2048`` / ``ecdsa-p256``: the same spelling as ``str(KeySpec)``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        names = {v().name: k for k, v in CURVES.items()}
        return f"ecdsa-{names.get(public_key.curve.name, public_key.curve.name)}"
    return type(public_key).__name__


def key_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted: for files of mode 0600 only."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


def key_matches(key: PrivateKey, cert: x509.Certificate) -> bool:
    return key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 of the DER: 40 upper-case hex characters, as Windows shows it."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def sha256_thumbprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def normalize_thumbprint(text: str) -> str:
    """What a user pasted from a Windows dialog (spaces, U+200E...) -> 40 upper-case hex."""
    return "".join(c for c in text if c in "0123456789abcdefABCDEF").upper()


def _utf8_der(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) < 128:
        return bytes([0x0C, len(raw)]) + raw
    size = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + raw


def _general_names(spec: CertSpec) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ip_addresses]
    names += [x509.RFC822Name(e) for e in spec.emails]
    names += [x509.OtherName(UPN_OID, _utf8_der(u)) for u in spec.upns]
    return names


def _key_usage(flags: tuple[str, ...]) -> x509.KeyUsage:
    wanted = {"content_commitment" if f == "non_repudiation" else f for f in flags}
    return x509.KeyUsage(**{f: f in wanted for f in KU_FLAGS})


def build_certificate(
    spec: CertSpec,
    key: PrivateKey,
    *,
    now: datetime,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
) -> x509.Certificate:
    """Sign a certificate for ``spec`` with ``key``; by ``issuer`` or self-signed.

    NotBefore is ``now - not_before``; NotAfter is ``now + validity``, clamped to the
    issuer's NotAfter so that no certificate outlives the authority that signed it.
    """
    now = now.replace(microsecond=0)
    subject = parse_subject(spec.subject)
    not_after = now + spec.validity
    if issuer is not None:
        not_after = min(not_after, issuer[0].not_valid_after_utc)
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())  # random, positive, 159 bits
        .not_valid_before(now - spec.not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=spec.ca, path_length=spec.path_length if spec.ca else None),
                       critical=True)
        .add_extension(ski, critical=False)
    )
    if issuer is not None:
        issuer_ski = issuer[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    builder = builder.add_extension(aki, critical=False)
    if spec.key_usage:
        builder = builder.add_extension(_key_usage(spec.key_usage), critical=True)
    if spec.extended_key_usage:
        ekus = [ObjectIdentifier(o) for o in spec.extended_key_usage]
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=spec.eku_critical)
    names = _general_names(spec)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names),
                                        critical=spec.san_critical or len(subject) == 0)
    for raw in spec.raw_extensions:
        ext = x509.UnrecognizedExtension(ObjectIdentifier(raw.oid), raw.value)
        builder = builder.add_extension(ext, critical=raw.critical)
    signer = issuer[1] if issuer else key
    return builder.sign(signer, HASHES[spec.signature_hash]())


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def san_of(cert: x509.Certificate) -> dict[str, tuple[str, ...]]:
    ext = _ext(cert, x509.SubjectAlternativeName)
    out: dict[str, list[str]] = {"dns_names": [], "ip_addresses": [], "emails": [], "upns": []}
    names: list[x509.GeneralName] = list(ext.value) if ext else []  # type: ignore[call-overload]
    for gn in names:
        if isinstance(gn, x509.DNSName):
            out["dns_names"].append(gn.value)
        elif isinstance(gn, x509.IPAddress):
            out["ip_addresses"].append(str(gn.value))
        elif isinstance(gn, x509.RFC822Name):
            out["emails"].append(gn.value)
        elif isinstance(gn, x509.OtherName) and gn.type_id == UPN_OID:
            out["upns"].append(gn.value[2:].decode("utf-8", "replace"))
    return {k: tuple(v) for k, v in out.items()}


def key_usage_of(cert: x509.Certificate) -> tuple[str, ...]:
    ext = _ext(cert, x509.KeyUsage)
    if ext is None:
        return ()
    ku = ext.value
    flags = []
    for f in KU_FLAGS:
        try:
            on = getattr(ku, f)
        except ValueError:  # encipher_only/decipher_only without key_agreement
            on = False
        if on:
            flags.append("non_repudiation" if f == "content_commitment" else f)
    return tuple(sorted(flags))


def eku_of(cert: x509.Certificate) -> tuple[tuple[str, ...], bool]:
    ext = _ext(cert, x509.ExtendedKeyUsage)
    if ext is None:
        return (), False
    return tuple(o.dotted_string for o in ext.value), ext.critical  # type: ignore[attr-defined]


def differences(spec: CertSpec, cert: x509.Certificate, issuer: x509.Certificate | None) -> list[str]:
    """Spec fields that ``cert`` no longer matches (empty: it is what the spec asks for)."""
    diff: list[str] = []
    if format_subject(cert.subject) != spec.subject:
        diff.append("subject")
    san = san_of(cert)
    for field in ("dns_names", "ip_addresses", "emails", "upns"):
        want = tuple(str(ipaddress.ip_address(x)) for x in spec.ip_addresses) if field == "ip_addresses" \
            else getattr(spec, field)
        if san[field] != want:
            diff.append(field)
    if describe_key(cert.public_key()) != str(spec.key):
        diff.append("key")
    algo = cert.signature_hash_algorithm
    if algo is None or algo.name != spec.signature_hash:
        diff.append("signature_hash")
    if key_usage_of(cert) != tuple(sorted(spec.key_usage)):
        diff.append("key_usage")
    if eku_of(cert) != (spec.extended_key_usage, spec.eku_critical if spec.extended_key_usage else False):
        diff.append("extended_key_usage")
    bc = _ext(cert, x509.BasicConstraints)
    have_bc = (bc.value.ca, bc.value.path_length) if bc else (False, None)  # type: ignore[attr-defined]
    if have_bc != (spec.ca, spec.path_length if spec.ca else None):
        diff.append("path_length" if spec.is_authority else "text_extensions")
    raw = {(e.oid.dotted_string, e.critical, e.value.value) for e in cert.extensions
           if isinstance(e.value, x509.UnrecognizedExtension)}
    if raw != {(r.oid, r.critical, r.value) for r in spec.raw_extensions}:
        diff.append("text_extensions")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    clamped = issuer is not None and cert.not_valid_after_utc == issuer.not_valid_after_utc \
        and lifetime < spec.lifetime
    if lifetime != spec.lifetime and not clamped:
        diff.append("validity")
    if (issuer.subject if issuer is not None else cert.subject) != cert.issuer:
        diff.append("issuer")
    return diff


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``cert`` names ``issuer`` as its issuer: issuer name and authority key
    identifier against the issuer's subject and subject key identifier. A reissued CA has a
    new key, hence a new identifier; comparing identifiers costs nothing, where checking the
    signature of every certificate on every run would dominate a no-op plan."""
    if cert.issuer != issuer.subject:
        return False
    aki, ski = _ext(cert, x509.AuthorityKeyIdentifier), _ext(issuer, x509.SubjectKeyIdentifier)
    if aki is None or ski is None:
        return True
    return aki.value.key_identifier == ski.value.digest  # type: ignore[attr-defined]
