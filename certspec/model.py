"""The typed model: frozen dataclasses that everything after the manifest works on.

Nothing downstream of ``desired.py`` touches the raw manifest dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from certspec.durations import RenewBefore

AUTHORITIES = "authorities"  # the ROLE part of an authority's id: ENV/authorities/NAME


@dataclass(frozen=True)
class KeySpec:
    algorithm: str  # "rsa" | "ecdsa"
    size: int | None = None  # RSA bits
    curve: str | None = None  # "p256" | "p384"

    def __str__(self) -> str:
        return f"rsa-{self.size}" if self.algorithm == "rsa" else f"ecdsa-{self.curve}"


@dataclass(frozen=True)
class PasswordSpec:
    """Where a password comes from; never the password itself."""

    source: str  # "generate" | "env" | "file"
    length: int = 0  # for generate
    name: str = ""  # environment variable name, or the file's path (resolved)

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any], base: Path) -> PasswordSpec:
        """From a schema-valid ``{generate: N}``, ``{env: NAME}`` or ``{file: path}``; a
        file is relative to the manifest's folder ``base``."""
        if "generate" in raw:
            return cls("generate", length=raw["generate"])
        if "env" in raw:
            return cls("env", name=raw["env"])
        return cls("file", name=str((base / raw["file"]).resolve()))

    def __str__(self) -> str:
        if self.source == "generate":
            return f"generated ({self.length} characters)"
        return f"{'environment variable' if self.source == 'env' else 'file'} {self.name}"


@dataclass(frozen=True)
class PfxSpec:
    password: PasswordSpec
    encryption: str  # "tripledes-sha1" | "aes256-sha256"
    chain: str  # "full" | "end-entity"


@dataclass(frozen=True)
class RawExtension:
    """A ``{hex}`` text extension: DER bytes placed as they are."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertSpec:
    """One desired certificate: a leaf (``ENV/ROLE/CERT``) or an authority instance
    (``ENV/authorities/NAME``), with every default, override and variable applied."""

    id: str
    env: str
    role: str
    name: str
    subject: str  # RFC 4514, in the order written
    key: KeySpec
    signature_hash: str
    validity: timedelta
    not_before: timedelta
    renew_before: RenewBefore
    key_usage: tuple[str, ...]  # sorted flag names; empty: no key usage extension
    extended_key_usage: tuple[str, ...]  # dotted OIDs in order; empty: no EKU extension
    eku_critical: bool = False
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    upns: tuple[str, ...] = ()
    san_critical: bool = False
    ca: bool = False
    path_length: int | None = None
    raw_extensions: tuple[RawExtension, ...] = ()
    issuer: str | None = None  # id of the signing authority; None: self-signed
    friendly_name: str | None = None
    pfx: PfxSpec | None = None  # None for authorities
    exports: tuple[str, ...] = ()
    key_rotation: str = "always"

    @property
    def is_authority(self) -> bool:
        return self.role == AUTHORITIES

    @property
    def lifetime(self) -> timedelta:
        """NotAfter - NotBefore of a certificate issued now (unless clamped to its issuer)."""
        return self.validity + self.not_before


@dataclass(frozen=True)
class OutputSpec:
    """A pipeline output (contract §5) of one environment; ``options`` is kind-specific."""

    env: str
    kind: str
    path: str  # relative to DIR/ENV
    certificates: tuple[str, ...] = ()  # leaf ids it reads
    authorities: tuple[str, ...] = ()  # authority ids it reads
    values: tuple[tuple[str, str, str], ...] = ()  # dotenv: (KEY, leaf id, FIELD)
    options: tuple[tuple[str, str], ...] = ()
    password: PasswordSpec | None = None


def issuer_chain(certs: Mapping[str, CertSpec], cid: str) -> list[str]:
    """The ids above ``cid``, nearest first: its issuer, that one's issuer, and so on. The
    walk stops after an id ``certs`` does not hold, and never loops."""
    chain: list[str] = []
    node = certs[cid].issuer if cid in certs else None
    while node and node not in chain:
        chain.append(node)
        node = certs[node].issuer if node in certs else None
    return chain


@dataclass(frozen=True)
class Desired:
    """The whole desired state: every id in issuing order (authorities by depth first)."""

    manifest: Path
    output: Path | None  # the manifest's own ``output``, resolved; -o wins over it
    certs: dict[str, CertSpec] = field(default_factory=dict)
    outputs: tuple[OutputSpec, ...] = ()

    def issuers(self, cid: str) -> list[str]:
        return issuer_chain(self.certs, cid)

    @property
    def envs(self) -> list[str]:
        return sorted({c.env for c in self.certs.values()})
