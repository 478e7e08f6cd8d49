"""Pipeline outputs (contract §5): files derived from the certificates, in the exact shape
Azure, Sitecore, Docker, Kubernetes, traefik and Java consume.

``render_env`` returns every output file of an environment as bytes. An output whose
inputs (thumbprints, PFX bytes, password fingerprints, options) are unchanged keeps the
bytes it has on disk, so a second apply rewrites none of them, the Java trust store (whose
salts are random) included.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certspec import fsio, passwords
from certspec.exports import server_chain_pem
from certspec.model import Desired, OutputSpec
from certspec.observed import sha256
from certspec.passwords import Password
from certspec.x509 import key_pem, sha256_thumbprint, thumbprint

# Sitecore's connection strings that find the xConnect client certificate by thumbprint
# (collection, reference data, marketing automation reporting and operations, Cortex reporting)
SITECORE_CLIENT_CONNECTIONS = (
    "xconnect.collection.certificate",
    "xdb.referencedata.client.certificate",
    "xdb.marketingautomation.reporting.client.certificate",
    "xdb.marketingautomation.operations.client.certificate",
    "sitecore.reporting.client.certificate",
)
SECRET_KINDS = {"arm-parameters", "kubernetes-tls-secret", "java-truststore"}
SECRET_FIELDS = {"pfx-base64", "password"}


@dataclass
class Leaf:
    """What an output may read of one certificate, as it stands after this run."""

    cert: x509.Certificate
    key: Any
    chain: tuple[x509.Certificate, ...]  # issuers, nearest first
    pfx: bytes | None
    password: Password | None


def is_secret(rel: str, spec: OutputSpec) -> bool:
    if spec.kind == "dotenv":
        return any(field in SECRET_FIELDS for _, _, field in spec.values)
    if spec.kind == "traefik":
        return rel.endswith(".key")
    return spec.kind in SECRET_KINDS


def _fingerprint(spec: OutputSpec, leaves: dict[str, Leaf], authorities: dict[str, x509.Certificate],
                 secret: bytes, trust_password: Password | None) -> str:
    """A digest of everything an output is made from; never a secret itself."""
    parts: dict[str, Any] = {"spec": [spec.kind, spec.path, list(spec.options), list(spec.values),
                                      list(spec.certificates), list(spec.authorities)]}
    for cid in sorted(_leaf_ids(spec)):
        leaf = leaves[cid]
        parts[cid] = [thumbprint(leaf.cert), [thumbprint(c) for c in leaf.chain],
                      sha256(leaf.pfx) if leaf.pfx else None,
                      passwords.fingerprint(leaf.password, secret) if leaf.password else None]
    for aid in spec.authorities:
        parts[aid] = thumbprint(authorities[aid])
    if trust_password is not None:
        parts["trust_password"] = passwords.fingerprint(trust_password, secret)
    return sha256(json.dumps(parts, sort_keys=True).encode())


def render(spec: OutputSpec, leaves: dict[str, Leaf], authorities: dict[str, x509.Certificate],
           trust_password: Password | None) -> dict[str, bytes]:
    """relpath (under DIR/ENV) -> bytes for one output."""
    if spec.kind == "arm-parameters":
        leaf = leaves[spec.certificates[0]]
        assert leaf.pfx is not None and leaf.password is not None
        doc = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
               "contentVersion": "1.0.0.0",
               "parameters": {"authCertificateBlob": {"value": base64.b64encode(leaf.pfx).decode("ascii")},
                              "authCertificatePassword": {"value": leaf.password.reveal()}}}
        return {spec.path: (json.dumps(doc, indent=2) + "\n").encode()}
    if spec.kind == "dotenv":
        lines = [f"{key}={_field(leaves[cid], field)}" for key, cid, field in spec.values]
        return {spec.path: ("\n".join(lines) + "\n").encode()}
    if spec.kind == "sitecore-connection-strings":
        tp = thumbprint(leaves[spec.certificates[0]].cert)
        value = f"StoreName=My;StoreLocation=LocalMachine;FindType=FindByThumbprint;FindValue={tp}"
        adds = "".join(f"  <add name={quoteattr(name)} connectionString={quoteattr(value)} />\n"
                       for name in SITECORE_CLIENT_CONNECTIONS)
        text = f'<?xml version="1.0" encoding="utf-8"?>\n<connectionStrings>\n{adds}</connectionStrings>\n'
        return {spec.path: text.encode()}
    if spec.kind == "kubernetes-tls-secret":
        return {spec.path: _k8s_secret(spec, leaves[spec.certificates[0]]).encode()}
    if spec.kind == "traefik":
        return _traefik(spec, leaves)
    assert spec.kind == "java-truststore" and trust_password is not None
    certs = [pkcs12.PKCS12Certificate(authorities[a], a.rsplit("/", 1)[1].encode()) for a in spec.authorities]
    enc = PrivateFormat.PKCS12.encryption_builder().kdf_rounds(10000) \
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).build(trust_password.encode())
    out = {spec.path: pkcs12.serialize_java_truststore(certs, enc)}
    if spec.password is not None and spec.password.source == "generate":
        out[spec.path + ".password"] = trust_password.encode()
    return out


def _field(leaf: Leaf, field: str) -> str:
    if field == "pfx-base64":
        assert leaf.pfx is not None
        return base64.b64encode(leaf.pfx).decode("ascii")
    if field == "password":
        assert leaf.password is not None
        return leaf.password.reveal()
    if field == "thumbprint":
        return thumbprint(leaf.cert)
    if field == "thumbprint-sha256":
        return sha256_thumbprint(leaf.cert)
    assert field == "not-after"
    return leaf.cert.not_valid_after_utc.isoformat()


def _k8s_secret(spec: OutputSpec, leaf: Leaf) -> str:
    opts = dict(spec.options)
    env, role, name = spec.certificates[0].split("/")
    secret_name = opts.get("name") or f"{env}-{role}-{name}".replace("_", "-").lower()
    meta = f"  name: {secret_name}\n" + (f"  namespace: {opts['namespace']}\n" if "namespace" in opts else "")
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n{meta}type: kubernetes.io/tls\ndata:\n"
            f"  tls.crt: {b64(server_chain_pem(leaf.cert, leaf.chain))}\n  tls.key: {b64(key_pem(leaf.key))}\n")


def _traefik(spec: OutputSpec, leaves: dict[str, Leaf]) -> dict[str, bytes]:
    folder = PurePosixPath(spec.path).parent
    where = dict(spec.options).get("directory")
    out: dict[str, bytes] = {}
    entries = []
    for cid in spec.certificates:
        _, role, name = cid.split("/")
        stem = f"{role}-{name}"
        crt, key = str(folder / f"{stem}.crt"), str(folder / f"{stem}.key")
        out[crt.removeprefix("./")] = server_chain_pem(leaves[cid].cert, leaves[cid].chain)
        out[key.removeprefix("./")] = key_pem(leaves[cid].key)
        base = where.rstrip("/") if where else None
        entries.append((f"{base}/{stem}.crt" if base else PurePosixPath(crt).name,
                        f"{base}/{stem}.key" if base else PurePosixPath(key).name))
    yaml = "tls:\n  certificates:\n" + "".join(
        f"    - certFile: {json.dumps(c)}\n      keyFile: {json.dumps(k)}\n" for c, k in entries)
    out[spec.path] = yaml.encode()
    return out


def render_env(desired: Desired, env: str, leaves: dict[str, Leaf], authorities: dict[str, x509.Certificate],
               old: dict[str, Any], env_dir: Any, secret: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every output of ``env``: (relpath -> bytes to write, the bundle's ``outputs`` index).

    Only outputs whose inputs changed, or whose files are missing or edited, are rendered
    and returned for writing; the others keep their bytes."""
    writes: dict[str, bytes] = {}
    index: dict[str, Any] = {}
    for spec in (o for o in desired.outputs if o.env == env):
        trust_password = _trust_password(spec, env_dir)
        digest = _fingerprint(spec, leaves, authorities, secret, trust_password)
        prev = old.get(spec.path) or {}
        if prev.get("inputs") == digest and _files_intact(prev, env_dir):
            index[spec.path] = prev
            continue
        if spec.kind == "java-truststore" and trust_password is None:
            assert spec.password is not None
            trust_password = passwords.generate(spec.password.length)
            digest = _fingerprint(spec, leaves, authorities, secret, trust_password)
        files = render(spec, leaves, authorities, trust_password)
        writes.update(files)
        index[spec.path] = {"kind": spec.kind, "inputs": digest,
                            "files": {rel: sha256(data) for rel, data in sorted(files.items())},
                            "secret": any(is_secret(rel, spec) for rel in files)}
    return writes, index


def _files_intact(prev: dict[str, Any], env_dir: Any) -> bool:
    return all((data := fsio.read_bytes(env_dir / rel)) is not None and sha256(data) == sha
               for rel, sha in (prev.get("files") or {}).items())


def _leaf_ids(spec: OutputSpec) -> set[str]:
    """The certificates (not authorities) an output is made from."""
    return {*spec.certificates, *(v[1] for v in spec.values)}


def inputs(spec: OutputSpec) -> set[str]:
    """The ids an output is made from."""
    return _leaf_ids(spec) | set(spec.authorities)


@dataclass(frozen=True)
class OutputChange:
    """What apply will do to one output (plan's ``outputs``)."""

    env: str
    path: str  # under DIR/ENV
    kind: str
    action: str  # "write" | "delete"
    reason: str  # "new" | "inputs-changed" | "files-changed" | "removed"

    SENTENCES = {"new": "not written yet", "inputs-changed": "a certificate or setting it is made from changes",
                 "files-changed": "a file of it is missing or was edited", "removed": "no longer in the manifest"}

    @property
    def sentence(self) -> str:
        return f"{self.kind}: {self.SENTENCES[self.reason]}"

    def as_json(self) -> dict[str, str]:
        return {"env": self.env, "path": self.path, "kind": self.kind, "action": self.action, "reason": self.reason}


def plan_env(desired: Desired, env: str, leaves: dict[str, Leaf], authorities: dict[str, x509.Certificate],
             old: dict[str, Any], env_dir: Any, secret: bytes | None, changing: set[str]) -> list[OutputChange]:
    """The outputs of ``env`` that apply will write or delete, given the ids it will issue
    or re-export (``changing``): the same decisions as ``render_env``, made beforehand."""
    changes: list[OutputChange] = []
    specs = [o for o in desired.outputs if o.env == env]
    for spec in specs:
        prev = old.get(spec.path)
        if not isinstance(prev, dict):
            reason = "new"
        elif inputs(spec) & changing or secret is None or not _leaf_ids(spec) <= leaves.keys() \
                or not set(spec.authorities) <= authorities.keys():
            reason = "inputs-changed"
        elif not _files_intact(prev, env_dir):
            reason = "files-changed"
        elif prev.get("inputs") != _fingerprint(spec, leaves, authorities, secret, _trust_password(spec, env_dir)):
            reason = "inputs-changed"
        else:
            continue
        changes.append(OutputChange(env, spec.path, spec.kind, "write", reason))
    wanted = {spec.path for spec in specs}
    for path, prev in sorted(old.items()):
        if path not in wanted and isinstance(prev, dict):
            changes.append(OutputChange(env, path, str(prev.get("kind", "output")), "delete", "removed"))
    return changes


def _trust_password(spec: OutputSpec, env_dir: Any) -> Password | None:
    if spec.kind != "java-truststore" or spec.password is None:
        return None
    return passwords.resolve(spec.password, f"{spec.env}/outputs/{spec.path}", env_dir / (spec.path + ".password"))
