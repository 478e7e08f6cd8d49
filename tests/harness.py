"""Shared by the kill harness and the safety tests: is every id in an output folder whole?"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12


def check_whole(out: Path) -> list[str]:
    """Problems with any id present in ``out``: each must be wholly one generation."""
    problems: list[str] = []
    for env_dir in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        bundle_path = env_dir / "bundle.json"
        if not bundle_path.exists():
            problems.append(f"{env_dir.name}: files without bundle.json")
            continue
        entries = json.loads(bundle_path.read_text())["certificates"]
        for cid, entry in entries.items():
            for rel, digest in entry["files"].items():
                f = env_dir / rel
                if not f.exists() or hashlib.sha256(f.read_bytes()).hexdigest() != digest:
                    problems.append(f"{cid}: {rel} disagrees with bundle.json")
            if "authorities" in cid:
                continue
            role, name = cid.split("/")[1:]
            pfx = (env_dir / role / f"{name}.pfx").read_bytes()
            password = (env_dir / role / f"{name}.pfx.password").read_bytes()
            p12 = pkcs12.load_pkcs12(pfx, password)
            thumb = p12.cert.certificate.fingerprint(hashes.SHA1()).hex().upper()  # type: ignore[union-attr]
            if thumb != entry["thumbprint"]:
                problems.append(f"{cid}: PFX holds another certificate than bundle.json says")
            if (env_dir / role / f"{name}.thumbprint").read_text() != thumb:
                problems.append(f"{cid}: thumbprint file disagrees with the PFX")
            if (env_dir / role / f"{name}.pfx.b64").read_bytes() != base64.b64encode(pfx):
                problems.append(f"{cid}: .pfx.b64 is not the PFX")
        stray = [p.name for p in env_dir.rglob(".*tmp*")]
        if stray:
            problems.append(f"{env_dir.name}: temporary files left: {stray}")
    return problems


def manifest(count: int, key: str = "{algorithm: rsa, size: 2048}") -> str:
    """``count`` leaf certificates over two environments, under a CA chain."""
    per_env = count // 2
    certs = "".join(f"      c{i:03d}: {{dns_names: [\"c{i}.{{env}}.example\"]}}\n" for i in range(per_env))
    return f"""version: 1
defaults:
  key: {key}
  issuer: ca
authorities:
  ca: {{subject: "CN={{env}} CA", key: {{algorithm: ecdsa, curve: p256}}}}
roles:
  app:
    certificates:
{certs}environments:
  dev: {{roles: [app]}}
  prod: {{roles: [app]}}
"""
