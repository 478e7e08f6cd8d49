"""Publish a run's results: each environment staged beside the live one and swapped in
whole (see docs/engine.md, "Crash safety"), then the state cache and key-store cleanup.
"""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from cryptography import x509

from certspec import fsio, issue, outputs, passwords
from certspec.exports import SECRET_SUFFIXES, Material
from certspec.model import CertSpec, Desired
from certspec.observed import World, sha256
from certspec.plan import Change, Plan
from certspec.policies import ISSUING, REEXPORT, REMOVE
from certspec.store import Store, dump_json
from certspec.textext import format_subject
from certspec.x509 import describe_key, load_key, san_of, sha256_thumbprint, thumbprint


class Stop(Protocol):
    def check(self) -> None: ...


def _entry(spec: CertSpec, res: issue.Result, files: dict[str, bytes], old: dict[str, Any] | None,
           previous: x509.Certificate | None, now: datetime) -> dict[str, Any]:
    cert = x509.load_pem_x509_certificate(res.cert)
    thumb = thumbprint(cert)
    old = old or {}
    renewed = old.get("thumbprint") not in (None, thumb)
    entry: dict[str, Any] = {
        "thumbprint": thumb, "thumbprint_sha256": sha256_thumbprint(cert),
        "serial": format(cert.serial_number, "X"), "subject": format_subject(cert.subject),
        "issuer": format_subject(cert.issuer), "issuer_id": spec.issuer,
        **san_of(cert), "key": describe_key(cert.public_key()),
        "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat(),
        "generation": int(old.get("generation", 0)) + 1 if renewed or not old else int(old.get("generation", 1)),
        "previous_thumbprint": old.get("thumbprint") if renewed else old.get("previous_thumbprint"),
        "files": {rel: sha256(data) for rel, data in sorted(files.items())},
    }
    for k in ("dns_names", "ip_addresses", "emails", "upns"):
        entry[k] = list(entry[k])
    if spec.is_authority:
        entry["trust_previous_until"] = previous.not_valid_after_utc.isoformat() if previous else None
    else:
        entry["exports"] = list(spec.exports)
        entry["pfx"] = None if spec.pfx is None or "pfx" not in spec.exports else {
            "encryption": spec.pfx.encryption, "chain": spec.pfx.chain, "friendly_name": spec.friendly_name}
    return entry


def _mode(rel: str) -> int:
    return fsio.PRIVATE_FILE if rel.endswith(SECRET_SUFFIXES + (".pfx", ".pfx.b64")) else fsio.PUBLIC_FILE


class Stages:
    """The stage folders of a run (``.ENV.certspec-new``, beside each live folder).

    Each is begun when the first result of its environment arrives, and the export files
    of every result are written into it then, while the workers go on issuing; ``publish``
    adds what depends on the whole environment (bundle.json, outputs, deletions) and swaps
    it in. A stage is never live: a kill leaves it for ``fsio.recover`` to delete, an error
    or a signal deletes it here (``discard``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: dict[str, dict[str, bytes]] = {}  # env -> relative path -> bytes written
        self._folders: dict[str, set[str]] = {}  # env -> folders of its stage known to exist
        self._cloned: set[str] = set()  # stages holding hard links to live files

    def begin(self, env: str) -> Path:
        """The stage of ``env``: a hard-linked copy of the live folder, made on first use."""
        stage = fsio.stage_path(self.root / env)
        if env not in self.written:
            if stage.exists():
                shutil.rmtree(stage)
            fsio.ensure_dir(self.root)
            self.written[env], self._folders[env] = {}, {""}
            if (self.root / env).exists():
                fsio.clone_tree(self.root / env, stage)
                stage.chmod(fsio.PRIVATE_DIR)
                self._cloned.add(env)
            else:
                fsio.ensure_dir(stage)
        return stage

    def write(self, env: str, rel: str, data: bytes, mode: int) -> None:
        """Write one file of the stage. A file already there (a hard link to the live one,
        or written earlier in this run) is unlinked first, never written through."""
        written = self.written.get(env)
        if written is not None and written.get(rel) == data:
            return
        stage = self.begin(env)
        folder = rel.rpartition("/")[0]
        if folder not in self._folders[env]:
            for parent in reversed(PurePosixPath(rel).parents[:-1]):  # each level 0700
                fsio.ensure_dir(stage / parent)
            self._folders[env].add(folder)
        fsio.create_file(os.path.join(stage, rel), data, mode,
                         replace=env in self._cloned or rel in self.written[env])
        self.written[env][rel] = data

    def add(self, spec: CertSpec, res: issue.Result) -> None:
        """Stage the export files of one result as it arrives."""
        for name, data in res.files.items():
            rel = f"{spec.role}/{name}"
            self.write(spec.env, rel, data, _mode(rel))

    def forget(self, env: str) -> bool:
        """Stop tracking the stage of ``env`` (swapped in); whether there was one."""
        self._cloned.discard(env)
        return self.written.pop(env, None) is not None

    def drop(self, env: str) -> None:
        if self.forget(env):
            shutil.rmtree(fsio.stage_path(self.root / env), ignore_errors=True)

    def discard(self) -> None:
        """Delete every stage not yet swapped in (after an error or a signal)."""
        for env in list(self.written):
            self.drop(env)


def publish(desired: Desired, world: World, plan: Plan, results: dict[str, issue.Result], store: Store,
            prune: bool, now: datetime, stop: Stop, stages: Stages | None = None) -> None:
    """Write every environment the plan touches: key material, stage, swap, then state."""
    stages = stages or Stages(store.root)
    secret = store.secret(create=True)
    assert secret is not None
    state = dict(world.state)
    by_env: dict[str, list[Change]] = {}
    for c in plan.changes:
        by_env.setdefault(c.id.split("/", 1)[0], []).append(c)
    for env in sorted(by_env):
        writes, deletes, entries = _env_changes(desired, world, by_env[env], results, prune, now)
        # what outputs read (every certificate and key, parsed) is gathered only where there are outputs
        has_outputs = any(o.env == env for o in desired.outputs)
        leaves, authorities = current(desired, world, results, env) if has_outputs else ({}, {})
        old_outputs = world.recorded_outputs(env)
        out_writes, out_index = outputs.render_env(desired, env, leaves, authorities, old_outputs,
                                                   store.root / env, secret)
        writes.update(out_writes)
        secrets_ = {rel for o in out_index.values() if o.get("secret") for rel in o["files"]}
        kept = {rel for o in out_index.values() for rel in o["files"]}
        deletes |= {rel for o in old_outputs.values() if isinstance(o, dict)
                    for rel in (o.get("files") or {}) if rel not in kept}
        bundle = {"format": 1, "environment": env, "certificates": entries, "outputs": out_index}
        for cid, seen in world.seen.items():  # material recovered from the exports: cache it
            if cid.startswith(env + "/") and seen.source in ("pfx", "pem") and cid not in results \
                    and seen.key is not None:
                store.save_material(env, thumbprint(seen.cert), Material(seen.cert, seen.key), sync=False)  # type: ignore[arg-type]
        store.flush()
        if env not in desired.envs and not entries and not out_index \
                and _only(store.root / env, deletes | {"bundle.json"}):
            stop.check()  # an environment pruned whole: its folder goes, rather than stay empty
            fsio.remove_tree(store.root / env)
        else:
            _stage_and_swap(stages, env, writes, deletes - set(writes), dump_json(bundle), stop, secrets_)
        _refresh_state(state, world, results, entries, secret, env)
        keep = {e.get(k) for e in entries.values() for k in ("thumbprint", "previous_thumbprint")}
        store.prune_material(env, {k for k in keep if k})
    store.write_state(state)


def _only(folder: Path, names: set[str]) -> bool:
    """Whether every file in ``folder`` is one of ``names`` (relative, POSIX): nothing a
    person put there would be lost with it."""
    for dirpath, _, files in os.walk(folder):
        for f in files:
            if Path(dirpath, f).relative_to(folder).as_posix() not in names:
                return False
    return True


def current(desired: Desired, world: World, results: dict[str, issue.Result],
             env: str) -> tuple[dict[str, outputs.Leaf], dict[str, x509.Certificate]]:
    """Every id of ``env`` as it stands after this run, for the outputs to read."""
    material: dict[str, tuple[Any, Any]] = {}
    for cid, spec in desired.certs.items():
        if spec.env != env:
            continue
        if cid in results:
            m = material_of(results[cid])
            material[cid] = (m.cert, m.key)
        elif cid in world.seen and world.seen[cid].cert is not None:
            material[cid] = (world.seen[cid].cert, world.seen[cid].key)
    authorities = {cid: m[0] for cid, m in material.items() if desired.certs[cid].is_authority}
    leaves = {}
    for cid, (cert, key) in material.items():
        spec = desired.certs[cid]
        if spec.is_authority or key is None:
            continue
        chain = [authorities[a] for a in itertools.takewhile(authorities.__contains__, desired.issuers(cid))]
        res = results.get(cid)
        if res is not None:
            pfx, password = res.files.get(f"{spec.name}.pfx"), res.password
        else:
            pfx = fsio.read_bytes(world.root / env / spec.role / f"{spec.name}.pfx")
            password = world.seen[cid].password
        leaves[cid] = outputs.Leaf(cert, key, tuple(chain), pfx, password)
    return leaves, authorities


def _env_changes(desired: Desired, world: World, changes: list[Change], results: dict[str, issue.Result],
                 prune: bool, now: datetime) -> tuple[dict[str, bytes], set[str], dict[str, Any]]:
    env = changes[0].id.split("/", 1)[0]
    old_entries = dict((world.bundles.get(env) or {}).get("certificates") or {})
    entries = dict(old_entries)
    writes: dict[str, bytes] = {}
    deletes: set[str] = set()
    for c in changes:
        old = old_entries.get(c.id)
        if c.action == REMOVE:
            if prune:
                deletes |= set((old or {}).get("files") or {})
                entries.pop(c.id, None)
            continue
        if c.id not in results:
            continue
        spec, res = desired.certs[c.id], results[c.id]
        files = {f"{spec.role}/{name}": data for name, data in res.files.items()}
        writes.update(files)
        deletes |= set((old or {}).get("files") or {}) - set(files)
        seen = world.seen[c.id]
        prev = seen.cert if spec.is_authority and c.action in ISSUING and seen.cert is not None \
            and seen.cert.not_valid_after_utc > now else None
        if spec.is_authority and c.action == REEXPORT:
            prev = None
        entries[c.id] = _entry(spec, res, files, old, prev, now)
    return writes, deletes - set(writes), dict(sorted(entries.items()))


def _stage_and_swap(stages: Stages, env: str, writes: dict[str, bytes], deletes: set[str], bundle: bytes,
                    stop: Stop, secret_files: set[str]) -> None:
    env_dir = stages.root / env
    if not writes and not deletes and fsio.read_bytes(env_dir / "bundle.json") == bundle:
        stages.drop(env)
        return
    try:
        stage = stages.begin(env)
        for rel, data in sorted(writes.items()):
            stages.write(env, rel, data, fsio.PRIVATE_FILE if rel in secret_files else _mode(rel))
        for rel in deletes:
            (stage / rel).unlink(missing_ok=True)
        for folder in sorted({(stage / rel).parent for rel in deletes}, reverse=True):
            if folder != stage and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        fsio.write_file(stage / "bundle.json", bundle, fsio.PUBLIC_FILE, sync=False)
        # one flush makes the staged files and the key material written before them durable
        fsio.flush([stage / rel for rel in writes] + [stage / "bundle.json"],
                   {(stage / rel).parent for rel in writes} | {stage})
        stop.check()
        fsio.swap_in(stage, env_dir)
        stages.forget(env)
    except BaseException:
        stages.drop(env)
        raise


def _refresh_state(state: dict[str, Any], world: World, results: dict[str, issue.Result],
                   entries: dict[str, Any], secret: bytes, env: str) -> None:
    for cid in [k for k in state if k.startswith(env + "/") and k not in entries]:
        del state[cid]
    for cid, entry in entries.items():
        pfx_rel = next((r for r in (entry.get("files") or {}) if r.endswith(".pfx")), None)
        if pfx_rel is None:
            state.pop(cid, None)
            continue
        res = results.get(cid)
        password = res.password if res else (world.seen[cid].password if cid in world.seen
                                              and world.seen[cid].password_same else None)
        if password is not None:
            state[cid] = {"pfx_sha256": entry["files"][pfx_rel],
                          "password_hmac": passwords.fingerprint(password, secret)}


def material_of(res: issue.Result) -> Material:
    return Material(x509.load_pem_x509_certificate(res.cert), load_key(res.key))
