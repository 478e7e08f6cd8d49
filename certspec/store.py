"""What certspec keeps on disk besides the exports.

- ``DIR/ENV/bundle.json``: the public index of an environment (contract §3). It travels
  with the exports in the same atomic swap, so it always describes the files beside it.
- ``DIR/.certspec/keys/ENV/THUMBPRINT.pem``: each generation's certificate and PKCS#8 key
  (0600 in 0700 folders). Authorities' keys live only here. Written before the swap that
  publishes them; unreferenced ones are deleted after it.
- ``DIR/.certspec/state.json``: a cache (password HMACs per PFX). Lost or corrupted, it is
  rebuilt from the outputs; it never decides alone.
- ``DIR/.certspec/secret``: the HMAC key for password fingerprints.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
from pathlib import Path
from typing import Any

from cryptography import x509

from certspec import fsio
from certspec.exports import Material, pem
from certspec.logging import get_logger
from certspec.x509 import key_matches, key_pem, load_key

FORMAT = 1
STATE_DIR = ".certspec"
log = get_logger("certspec.store")


def dump_json(data: Any) -> bytes:
    """Deterministic JSON: the same content always gives the same bytes."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / STATE_DIR
        self.keys_dir = self.state_dir / "keys"
        self.pending: list[Path] = []  # key material written but not yet flushed

    # ---- bundle.json -------------------------------------------------------------------
    def read_bundle(self, env: str) -> dict[str, Any]:
        raw = fsio.read_bytes(self.root / env / "bundle.json")
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
            certs = data["certificates"]
            assert isinstance(certs, dict)
            return dict(data)
        except (ValueError, KeyError, TypeError, AssertionError):
            log.warning("bundle.json unreadable; rebuilding it from the files", env=env)
            return {}

    def envs_on_disk(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(e.name for e in os.scandir(self.root)
                      if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                      and (Path(e.path) / "bundle.json").is_file())

    # ---- state.json --------------------------------------------------------------------
    def read_state(self) -> dict[str, Any]:
        raw = fsio.read_bytes(self.state_dir / "state.json")
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
            if data.get("format") == FORMAT and isinstance(data.get("ids"), dict):
                return dict(data["ids"])
        except (ValueError, AttributeError):
            pass
        log.warning("state file unreadable or foreign; rebuilding it from the outputs",
                    file=str(self.state_dir / "state.json"))
        return {}

    def write_state(self, ids: dict[str, Any]) -> None:
        data = dump_json({"format": FORMAT, "ids": ids})
        if fsio.read_bytes(self.state_dir / "state.json") != data:
            fsio.ensure_dir(self.state_dir)
            fsio.write_file(self.state_dir / "state.json", data, fsio.PRIVATE_FILE)

    def secret(self, create: bool) -> bytes | None:
        path = self.state_dir / "secret"
        raw = fsio.read_bytes(path)
        if raw is not None and len(raw) == 32:
            return raw
        if not create:
            return None
        fsio.ensure_dir(self.state_dir)
        raw = _secrets.token_bytes(32)
        fsio.write_file(path, raw, fsio.PRIVATE_FILE)
        return raw

    # ---- key store ---------------------------------------------------------------------
    def material_path(self, env: str, thumb: str) -> Path:
        return self.keys_dir / env / f"{thumb}.pem"

    def load_material(self, env: str, thumb: str) -> tuple[x509.Certificate, Any] | None:
        """Certificate and key of one generation, or None if absent or damaged."""
        raw = fsio.read_bytes(self.material_path(env, thumb))
        if raw is None:
            return None
        try:
            cert = x509.load_pem_x509_certificate(raw)
            key = load_key(raw)  # the loader skips the certificate's PEM block
        except ValueError:
            return None
        return (cert, key) if key_matches(key, cert) else None

    def save_material(self, env: str, thumb: str, m: Material, *, sync: bool = True) -> None:
        """Write one generation's certificate and key; ``sync=False`` leaves durability to
        the flush that precedes the swap publishing it."""
        self.save_blob(env, thumb, pem(m.cert) + key_pem(m.key), sync=sync)

    def save_blob(self, env: str, thumb: str, data: bytes, *, sync: bool = True) -> None:
        """``save_material`` for a certificate and key already in PEM."""
        folder = self.keys_dir / env
        if not folder.is_dir():
            fsio.ensure_dir(self.state_dir)
            fsio.ensure_dir(self.keys_dir)
            fsio.ensure_dir(folder)
        path = self.material_path(env, thumb)
        if fsio.read_bytes(path) != data:
            fsio.write_file(path, data, fsio.PRIVATE_FILE, sync=sync)
            if not sync:
                self.pending.append(path)

    def flush(self) -> None:
        """Make the key material written with sync=False durable (before any swap)."""
        if self.pending:
            fsio.flush(self.pending, {p.parent for p in self.pending})
            self.pending.clear()

    def prune_material(self, env: str, keep: set[str]) -> None:
        folder = self.keys_dir / env
        if not folder.is_dir():
            return
        for entry in os.scandir(folder):
            if entry.name.endswith(".pem") and entry.name[:-4] not in keep:
                Path(entry.path).unlink(missing_ok=True)
        if not keep and not os.listdir(folder):
            folder.rmdir()  # an environment with nothing left
