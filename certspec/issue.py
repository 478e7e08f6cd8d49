"""Issue or re-export one id: runs in worker processes, so everything crosses as bytes.

A Job carries PEM bytes in and a Result carries PEM and file bytes out (x509 objects do
not pickle). Nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from certspec import passwords, workers
from certspec.exports import Material, pem, render, trust_pem
from certspec.model import CertSpec
from certspec.passwords import Password
from certspec.x509 import build_certificate, generate_key, key_pem, load_key, thumbprint


@dataclass(frozen=True)
class Job:
    spec: CertSpec
    issue: bool  # True: sign a new certificate; False: re-export the existing one
    now: datetime
    key: bytes | None = None  # existing key (re-export, or renewal with key_rotation: reuse)
    cert: bytes | None = None  # existing certificate (re-export)
    issuer: bytes | None = None  # issuer's certificate and key, PEM
    chain: tuple[bytes, ...] = ()  # issuers above, nearest first
    password: Password | None = None  # None with a generate source: make one
    previous: bytes | None = None  # authorities: the previous CA for the trust file


@dataclass(frozen=True)
class Result:
    id: str
    cert: bytes
    key: bytes
    files: dict[str, bytes]  # file name (in the id's folder) -> bytes
    password: Password | None
    thumbprint: str


def _load_pair(data: bytes) -> tuple[x509.Certificate, object]:
    return x509.load_pem_x509_certificate(data), load_key(data)  # each loader finds its own PEM block


def run(job: Job) -> Result:
    spec = job.spec
    key = load_key(job.key) if job.key else (workers.spare_key(str(spec.key)) or generate_key(spec.key))
    if job.issue:
        issuer = _load_pair(job.issuer) if job.issuer else None
        cert = build_certificate(spec, key, now=job.now, issuer=issuer)  # type: ignore[arg-type]
    else:
        assert job.cert is not None
        cert = x509.load_pem_x509_certificate(job.cert)
    chain = tuple(x509.load_pem_x509_certificate(c) for c in job.chain)
    password = job.password
    if password is None and spec.pfx is not None and "pfx" in spec.exports:
        password = passwords.generate(spec.pfx.password.length)
    m = Material(cert, key, chain)
    files = render(spec, m, password)
    if spec.is_authority:
        prev = x509.load_pem_x509_certificate(job.previous) if job.previous else None
        files[f"{spec.name}.trust.pem"] = trust_pem(cert, prev)
    return Result(spec.id, pem(cert), key_pem(key), files, password, thumbprint(cert))
