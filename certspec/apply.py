"""Execute a Plan: issue in parallel, then publish each environment in one atomic swap.

Order of effects, chosen so that a kill at any instant is harmless:
 1. nothing is written while keys and certificates are made (in worker processes);
 2. new key material goes to the key store (new files only; nothing live changes);
 3. each environment's folder is staged and swapped in whole (fsio.swap_in);
 4. the state cache is written, and key material no longer referenced is deleted.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from certspec import fsio, issue, lock, outputs, publish, workers
from certspec.errors import Interrupted, SecretError
from certspec.exports import pem
from certspec.logging import get_logger
from certspec.model import CertSpec, Desired
from certspec.observed import World, observe
from certspec.plan import Change, Plan, make_plan
from certspec.policies import ISSUING, REEXPORT, REISSUE, RENEW
from certspec.store import Store
from certspec.x509 import describe_key, key_pem

log = get_logger("certspec.apply")
Progress = Callable[[int, int], None]


@dataclass
class Options:
    out: Path
    envs: list[str] | None = None
    only: list[str] | None = None
    rotate: list[str] | None = None
    prune: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    lock_timeout: float = lock.DEFAULT_TIMEOUT
    progress: Progress | None = None


def select_envs(desired: Desired, envs: list[str] | None) -> list[str]:
    return sorted(set(envs)) if envs else desired.envs


def build_plan(desired: Desired, store: Store, opts: Options, now: datetime) -> tuple[Plan, World]:
    world = observe(desired, store, select_envs(desired, opts.envs))
    plan = make_plan(desired, world, now, only=opts.only, rotate=opts.rotate)
    errors = [err for c in plan.changes if c.id in world.seen and (err := world.seen[c.id].password_error)]
    if errors:
        raise SecretError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    return replace(plan, outputs=tuple(_plan_outputs(desired, world, plan, store))), world


def _plan_outputs(desired: Desired, world: World, plan: Plan, store: Store) -> list[outputs.OutputChange]:
    """The outputs apply will write or delete: in each environment it publishes, the same
    decision ``outputs.render_env`` makes, taken before anything is issued."""
    changing = {c.id for c in plan.changes if c.action in (*ISSUING, REEXPORT)}
    found: list[outputs.OutputChange] = []
    for env in sorted({c.id.split("/", 1)[0] for c in plan.changes}):
        old = world.recorded_outputs(env)
        if not old and not any(o.env == env for o in desired.outputs):
            continue
        leaves, authorities = publish.current(desired, world, {}, env)
        found += outputs.plan_env(desired, env, leaves, authorities, old, store.root / env, world.secret, changing)
    return found


def run(desired: Desired, opts: Options, now: datetime) -> Plan:
    store = Store(opts.out)
    with lock.held(store.state_dir, opts.lock_timeout), _signals() as stop:
        for what in fsio.recover(opts.out):
            log.info("recovered an interrupted run", action=what)
        fsio.sweep_temp_files(store.state_dir)
        plan, world = build_plan(desired, store, opts, now)
        log.info("planned", **{k.replace("-", "_"): v for k, v in plan.summary().items()})
        stages = publish.Stages(opts.out)
        try:
            results = _issue_all(desired, world, plan, now, opts, store, stop, stages)
            log.info("issued", certificates=len(results))
            stop.check()
            publish.publish(desired, world, plan, results, store, opts.prune, now, stop, stages)
        except BaseException:
            stages.discard()
            raise
        log.info("published", environments=len({c.id.split("/", 1)[0] for c in plan.pending}))
    return plan


# ---- issuing -------------------------------------------------------------------------------
def _job(desired: Desired, spec: CertSpec, change: Change, world: World,
         material: dict[str, tuple[Any, Any]], now: datetime) -> issue.Job:
    seen = world.seen[spec.id]
    issuing = change.action in ISSUING
    key = None
    if not issuing:
        key = key_pem(seen.key)  # type: ignore[arg-type]
    elif (spec.key_rotation == "reuse" and change.action in (RENEW, REISSUE) and seen.key is not None
          and change.reason not in ("rotate-requested", "unreadable", "key-mismatch")
          and describe_key(seen.key.public_key()) == str(spec.key)):
        key = key_pem(seen.key)
    chain = [pem(material[node][0]) for node in desired.issuers(spec.id)]
    issuer = pem(material[spec.issuer][0]) + key_pem(material[spec.issuer][1]) if spec.issuer else None
    previous = None
    if spec.is_authority and issuing and seen.cert is not None and seen.cert.not_valid_after_utc > now:
        previous = pem(seen.cert)
    return issue.Job(spec, issuing, now, key=key, cert=None if issuing else pem(seen.cert),  # type: ignore[arg-type]
                     issuer=issuer, chain=tuple(chain), password=seen.password, previous=previous)


def _issue_all(desired: Desired, world: World, plan: Plan, now: datetime, opts: Options,
               store: Store, stop: _Stop, stages: publish.Stages) -> dict[str, issue.Result]:
    """Issue in waves: authorities by depth (roots first), then every leaf; each wave runs in
    parallel. New key material goes to the key store, and export files to the stages, as
    each result arrives, while the workers go on."""
    todo = {c.id: c for c in plan.changes if c.action in (*ISSUING, REEXPORT)}
    material = {cid: (s.cert, s.key) for cid, s in world.seen.items() if s.cert is not None and s.key is not None}
    waves: dict[int, list[str]] = {}
    for cid in todo:
        depth = len(desired.issuers(cid)) if desired.certs[cid].is_authority else 1 << 10
        waves.setdefault(depth, []).append(cid)
    results: dict[str, issue.Result] = {}
    with workers.Pool(opts.jobs, len(todo)) as pool:
        for level in sorted(waves):
            jobs = [_job(desired, desired.certs[cid], todo[cid], world, material, now) for cid in waves[level]]
            for res in pool.map(jobs):
                results[res.id] = res
                if desired.certs[res.id].is_authority:  # it signs the next waves
                    m = publish.material_of(res)
                    material[res.id] = (m.cert, m.key)
                store.save_blob(res.id.split("/", 1)[0], res.thumbprint, res.cert + res.key, sync=False)
                stages.add(desired.certs[res.id], res)
                stop.check()  # a signal stops the run here; nothing live has changed yet
                if opts.progress:
                    opts.progress(len(results), len(todo))
    return results


# ---- signals ------------------------------------------------------------------------------
class _Stop:
    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        if self.signum is not None:
            name = signal.Signals(self.signum).name
            raise Interrupted(f"stopped by {name}; nothing partial was published")


@contextmanager
def _signals() -> Iterator[_Stop]:
    """SIGINT/SIGTERM set a flag; the run stops at the next safe point (never mid-swap)."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    def handler(signum: int, _frame: object) -> None:
        stop.signum = signum
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
