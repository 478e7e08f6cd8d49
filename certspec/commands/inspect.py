"""inspect: what a PFX, PEM or DER file holds. Private keys are described, never shown."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key, pkcs12

from certspec import pfxinfo
from certspec.commands.common import now
from certspec.errors import CertspecError, SecretError
from certspec.report import to_json
from certspec.textext import format_subject
from certspec.x509 import describe_key, eku_of, key_matches, key_usage_of, san_of, sha256_thumbprint, thumbprint

EKU_NAMES = {"1.3.6.1.5.5.7.3.1": "server_auth", "1.3.6.1.5.5.7.3.2": "client_auth",
             "1.3.6.1.5.5.7.3.3": "code_signing", "1.3.6.1.5.5.7.3.4": "email_protection",
             "1.3.6.1.4.1.311.80.1": "document_encryption"}


def describe(cert: x509.Certificate, at: datetime) -> dict[str, Any]:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        ca = bool(bc.ca)
    except x509.ExtensionNotFound:
        ca = False
    return {
        "subject": format_subject(cert.subject), "issuer": format_subject(cert.issuer),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": (cert.not_valid_after_utc - at).days, "key": describe_key(cert.public_key()),
        "signature_hash": cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None,
        "ca": ca, "san": {k: list(v) for k, v in san_of(cert).items() if v},
        "key_usage": list(key_usage_of(cert)),
        "extended_key_usage": [EKU_NAMES.get(o, o) for o in eku_of(cert)[0]],
        "thumbprint": thumbprint(cert), "thumbprint_sha256": sha256_thumbprint(cert),
    }


def _password(args: argparse.Namespace) -> bytes | None:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise SecretError(f"--password-env {args.password_env}: the variable is not set")
        return value.encode()
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SecretError(f"--password-file {args.password_file}: cannot read it "
                              f"({getattr(e, 'strerror', None) or 'not UTF-8'})") from None
        return text[:-1].encode() if text.endswith("\n") else text.encode()
    return None


def inspect_pfx(data: bytes, password: bytes | None, at: datetime) -> dict[str, Any]:
    info = pfxinfo.read(data)
    out: dict[str, Any] = {"format": "pkcs12", "certificate_encryption": info.cert_encryption,
                           "key_encryption": info.key_encryption, "mac": info.mac,
                           "mac_iterations": info.mac_iterations, "compatibility": info.verdicts()}
    if password is None:
        out["note"] = "give --password-env or --password-file to read the certificates"
        return out
    try:
        p12 = pkcs12.load_pkcs12(data, password)
    except ValueError:
        raise CertspecError("the PFX does not open with that password (or is damaged)") from None
    if p12.cert is not None:
        out["certificate"] = describe(p12.cert.certificate, at)
        out["friendly_name"] = p12.cert.friendly_name.decode("utf-8", "replace") if p12.cert.friendly_name else None
    if p12.key is not None:
        out["private_key"] = {"type": describe_key(p12.key.public_key()),
                              "matches_certificate": bool(p12.cert and key_matches(p12.key, p12.cert.certificate))}  # type: ignore[arg-type]
    out["chain"] = [describe(c.certificate, at) for c in p12.additional_certs]
    return out


def inspect_bytes(data: bytes, password: bytes | None, at: datetime) -> dict[str, Any]:
    if b"-----BEGIN" in data[:1024]:
        certs = x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
        out: dict[str, Any] = {"format": "pem", "certificates": [describe(c, at) for c in certs]}
        if b"PRIVATE KEY-----" in data:
            start = data.index(b"-----BEGIN", data.index(b"PRIVATE KEY-----") - 40)
            try:
                key = load_pem_private_key(data[start:], password)
                out["private_key"] = {"type": describe_key(key.public_key())}
            except (ValueError, TypeError):
                out["private_key"] = {"type": "unreadable (encrypted?)"}
        return out
    try:
        return {"format": "der", "certificates": [describe(x509.load_der_x509_certificate(data), at)]}
    except ValueError:
        pass
    try:
        key = load_der_private_key(data, password)
        return {"format": "der", "private_key": {"type": describe_key(key.public_key())}}
    except (ValueError, TypeError):
        pass
    return inspect_pfx(data, password, at)


def _text(info: dict[str, Any]) -> str:
    lines = [f"format: {info['format']}"]
    for key in ("certificate_encryption", "key_encryption", "mac", "mac_iterations", "friendly_name", "note"):
        if info.get(key) is not None:
            value = info[key]
            lines.append(f"{key.replace('_', ' ')}: {', '.join(value) if isinstance(value, list) else value}")
    for k, v in (info.get("compatibility") or {}).items():
        lines.append(f"{k.replace('_', ' ')}: {v}")
    certs = [info["certificate"]] if "certificate" in info else []
    certs += info.get("certificates", []) + info.get("chain", [])
    for i, c in enumerate(certs):
        lines.append(f"certificate {i}:" if i or "certificate" not in info else "certificate:")
        for k, v in c.items():
            if v in (None, [], {}):
                continue
            shown = ", ".join(f"{a}={'; '.join(b)}" for a, b in v.items()) if isinstance(v, dict) else \
                (", ".join(v) if isinstance(v, list) else v)
            lines.append(f"  {k.replace('_', ' ')}: {shown}")
    if "private_key" in info:
        pk = info["private_key"]
        lines.append(f"private key: {pk['type']}" + (
            f" (matches the certificate: {'yes' if pk['matches_certificate'] else 'NO'})"
            if "matches_certificate" in pk else "") + " (not shown)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CertspecError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        info = inspect_bytes(data, _password(args), now())
    except pfxinfo.DerError:
        raise CertspecError(f"{path}: not a PEM, DER or PKCS#12 file") from None
    info = {"path": str(path), **info}
    print(to_json(info) if args.json else _text(info))
    return 0
