"""Gather what exists for each id: bundle entry, key material, export files, password.

No decision is made here (policies.py decides); this module only reads. The files are
the truth: material comes from the key store when its entry is whole, else it is
recovered from the exports (the PFX opened with the current password, or CERT.crt with
CERT.key), so a lost ``.certspec`` folder costs a re-export at most, not a reissue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from certspec import fsio, passwords, pfxinfo
from certspec.errors import SecretError
from certspec.exports import file_names
from certspec.model import CertSpec, Desired
from certspec.passwords import Password
from certspec.store import Store
from certspec.x509 import PrivateKey, key_matches, load_key, normalize_thumbprint, thumbprint


@dataclass
class Seen:
    """What exists for one desired id."""

    id: str
    entry: dict[str, Any] | None = None  # its bundle.json entry
    cert: x509.Certificate | None = None
    key: PrivateKey | None = None
    source: str = ""  # where the material came from: store | pfx | pem
    files: dict[str, str] = field(default_factory=dict)  # relpath -> ok | missing | edited
    password: Password | None = None
    password_error: str | None = None
    password_same: bool | None = None
    pfx_sha256: str | None = None
    previous: x509.Certificate | None = None  # previous generation (authorities' trust file)
    unreadable: str | None = None

    @property
    def exists(self) -> bool:
        return self.entry is not None or any(s != "missing" for s in self.files.values())


@dataclass
class World:
    root: Path
    seen: dict[str, Seen]
    orphans: dict[str, dict[str, Any]]  # id -> bundle entry, for ids no longer desired
    bundles: dict[str, dict[str, Any]]
    state: dict[str, Any]
    secret: bytes | None

    def recorded_outputs(self, env: str) -> dict[str, Any]:
        """The ``outputs`` index of ``env``'s bundle.json: output path -> what was written."""
        found = (self.bundles.get(env) or {}).get("outputs") or {}
        return found if isinstance(found, dict) else {}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rel_files(spec: CertSpec) -> dict[str, str]:
    """export kind -> path relative to DIR/ENV."""
    return {kind: f"{spec.role}/{name}" for kind, name in file_names(spec).items()}


def observe(desired: Desired, store: Store, envs: list[str]) -> World:
    for env in envs:
        fsio.refuse_links(store.root / env)
    fsio.refuse_links(store.state_dir)
    bundles = {env: store.read_bundle(env) for env in sorted(set(envs) | set(store.envs_on_disk()))}
    state = store.read_state()
    secret = store.secret(create=False)
    seen = {}
    for cid, spec in desired.certs.items():
        if spec.env in envs:
            seen[cid] = _observe_one(spec, store, bundles[spec.env], state.get(cid), secret)
    orphans = {}
    for env, bundle in bundles.items():
        if env not in envs and env in desired.envs:
            continue
        for cid, entry in (bundle.get("certificates") or {}).items():
            if cid not in desired.certs and isinstance(entry, dict):
                orphans[cid] = entry
    return World(store.root, seen, orphans, bundles, state, secret)


def _observe_one(spec: CertSpec, store: Store, bundle: dict[str, Any], state: dict[str, Any] | None,
                 secret: bytes | None) -> Seen:
    env_dir = store.root / spec.env
    entry = (bundle.get("certificates") or {}).get(spec.id)
    s = Seen(spec.id, entry if isinstance(entry, dict) else None)
    content: dict[str, bytes | None] = {}
    hashes = (s.entry or {}).get("files") or {}
    for kind, rel in rel_files(spec).items():
        content[kind] = data = fsio.read_bytes(env_dir / rel)
        s.files[rel] = "missing" if data is None else ("ok" if hashes.get(rel) == sha256(data) else "edited")
    if spec.pfx is not None and "pfx" in spec.exports:
        try:
            gen_file = env_dir / spec.role / f"{spec.name}.pfx.password"
            s.password = passwords.resolve(spec.pfx.password, spec.id, gen_file)
        except SecretError as e:
            s.password_error = str(e)
    pfx = content.get("pfx")
    s.pfx_sha256 = sha256(pfx) if pfx is not None else None
    thumb = (s.entry or {}).get("thumbprint")
    if thumb is None and content.get("thumbprint"):
        thumb = normalize_thumbprint(content["thumbprint"].decode("ascii", "replace"))  # type: ignore[union-attr]
    found = store.load_material(spec.env, thumb) if thumb else None
    if found:
        s.cert, s.key = found
        s.source = "store"
    else:
        _recover(s, spec, env_dir, content, thumb)
    _password_same(s, state, secret, pfx)
    prev = (s.entry or {}).get("previous_thumbprint")
    if spec.is_authority and prev:
        old = store.load_material(spec.env, prev)
        s.previous = old[0] if old else None
    return s


def _recover(s: Seen, spec: CertSpec, env_dir: Path, content: dict[str, bytes | None],
             thumb: str | None) -> None:
    """No store entry: take the material from the exports, or say why it is unreadable."""
    pfx = content.get("pfx")
    if pfx is not None and s.password is not None:
        opened = open_pfx_material(pfx, s.password)
        if opened is not None:
            s.cert, s.key, s.source = opened[0], opened[1], "pfx"
            s.password_same = True
            return
    crt = fsio.read_bytes(env_dir / spec.role / f"{spec.name}.crt")
    key = fsio.read_bytes(env_dir / spec.role / f"{spec.name}.key")
    if spec.is_authority and crt is not None:
        try:  # an authority's key lives only in the key store; its certificate still tells
            cert = x509.load_pem_x509_certificate(crt)
            if thumb is None or thumbprint(cert) == thumb:
                s.cert, s.source = cert, "pem"
                return
        except ValueError:
            pass
    if crt is not None and key is not None:
        try:
            cert, k = x509.load_pem_x509_certificate(crt), load_key(key)
            if key_matches(k, cert) and (thumb is None or thumbprint(cert) == thumb):
                s.cert, s.key, s.source = cert, k, "pem"
                return
        except ValueError:
            pass
    if s.exists:
        s.unreadable = "key or certificate cannot be read from the store or the exports"


def _password_same(s: Seen, state: dict[str, Any] | None, secret: bytes | None, pfx: bytes | None) -> None:
    if s.password_same is not None or pfx is None or s.password_error:
        return
    if s.password is None:
        s.password_same = False  # a generated password whose file is gone: a new one is due
        return
    if state and secret and state.get("pfx_sha256") == s.pfx_sha256 and state.get("password_hmac"):
        s.password_same = state["password_hmac"] == passwords.fingerprint(s.password, secret)
        return
    # no usable fingerprint (state lost): ask the PFX itself
    s.password_same = open_pfx_material(pfx, s.password) is not None


def open_pfx_material(pfx: bytes, password: Password) -> tuple[x509.Certificate, PrivateKey] | None:
    """The certificate and key a PFX holds, if ``password`` opens it (certspec's own reader:
    cryptography's would re-run the RSA key self-test, 33 ms per file)."""
    try:
        certs, key = pfxinfo.open_material(pfx, password.encode())
    except pfxinfo.DerError:
        return None
    return next(((c, key) for c in certs if key is not None and key_matches(key, c)), None)
