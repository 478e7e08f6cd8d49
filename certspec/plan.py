"""Desired state + observed world + now -> Plan: pure data, sorted, no I/O.

Authorities are decided before the certificates they sign (desired order), so that a
(re)issued authority reissues everything under it in the same plan. Selection (``--env``,
``--only``, ``rotate``'s globs) narrows the plan after deciding, keeping what the selected
ids depend on: their authorities and, when an authority is issued anew, all it signs.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certspec.model import Desired
from certspec.observed import World
from certspec.policies import ACTIONS, CREATE, ISSUING, REISSUE, REMOVE, UNCHANGED, Decision, Input, decide

if TYPE_CHECKING:
    from certspec.outputs import OutputChange


@dataclass(frozen=True)
class Change:
    id: str
    action: str
    reason: str
    detail: str
    sentence: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "action": self.action, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class Plan:
    now: datetime
    changes: tuple[Change, ...]  # every selected id, unchanged ones included
    outputs: tuple[OutputChange, ...] = ()  # pipeline outputs apply will write or delete

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != UNCHANGED]

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        return {a: counts.get(a, 0) for a in ACTIONS}

    def as_json(self) -> dict[str, Any]:
        return {"changes": [c.as_json() for c in self.pending], "summary": self.summary(),
                "outputs": [o.as_json() for o in self.outputs]}


def matches(cid: str, globs: list[str]) -> bool:
    """An id matches a glob written for the whole id or for its ROLE/CERT part."""
    short = cid.split("/", 1)[1]
    return any(fnmatch.fnmatchcase(cid, g) or fnmatch.fnmatchcase(short, g) for g in globs)


def make_plan(desired: Desired, world: World, now: datetime, *, only: list[str] | None = None,
              rotate: list[str] | None = None) -> Plan:
    forced: dict[str, Decision] = {}
    while True:
        decisions = _decide_all(desired, world, now, rotate, forced)
        lost = _keys_needed(desired, world, decisions) - set(forced)
        if not lost:
            break
        forced.update({cid: Decision(REISSUE, "key-lost", "", "its key is lost and a certificate "
                                     "under it must be signed") for cid in lost})
    for cid in world.orphans:
        decisions[cid] = Decision(REMOVE, "orphan", "", "no longer in the manifest (removed with --prune)")
    keep = _selection(desired, decisions, only or rotate)
    changes = [Change(cid, d.action, d.reason, d.detail, d.sentence)
               for cid, d in decisions.items() if cid in keep]
    return Plan(now, tuple(sorted(changes, key=lambda c: c.id)))


def _keys_needed(desired: Desired, world: World, decisions: dict[str, Decision]) -> set[str]:
    """Authorities without a key that must sign something in this plan."""
    need = set()
    for cid, d in decisions.items():
        issuer = desired.certs[cid].issuer if cid in desired.certs else None
        if d.action in ISSUING and issuer and world.seen[issuer].key is None \
                and decisions[issuer].action not in ISSUING:
            need.add(issuer)
    return need


def _decide_all(desired: Desired, world: World, now: datetime, rotate: list[str] | None,
                forced: dict[str, Decision]) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    for cid, spec in desired.certs.items():
        seen = world.seen.get(cid)
        if seen is None:
            continue  # an environment outside the selection
        issuer_seen = world.seen.get(spec.issuer) if spec.issuer else None
        issuer_action = decisions[spec.issuer].action if spec.issuer in decisions else None
        d = decide(Input(spec, seen, now, issuer_seen.cert if issuer_seen else None, issuer_action))
        if rotate and matches(cid, rotate) and d.action not in (CREATE, REISSUE):
            d = Decision(REISSUE, "rotate-requested", "", "rotation requested")
        if cid in forced and d.action not in ISSUING:
            d = forced[cid]
        decisions[cid] = d
    return decisions


def _selection(desired: Desired, decisions: dict[str, Decision], globs: list[str] | None) -> set[str]:
    if not globs:
        return set(decisions)
    keep = {cid for cid in decisions if matches(cid, globs)}
    for cid in list(keep):  # what a selected id needs: its issuers
        keep.update(desired.issuers(cid))
    issuing = {cid for cid in keep if decisions[cid].action in ISSUING}
    for cid in desired.certs:  # what an authority issued anew signs
        if cid in decisions and issuing.intersection(desired.issuers(cid)):
            keep.add(cid)
    return keep
