"""Rendering results for people (text) and scripts (JSON). Never a secret: nothing passed
in here holds one."""

from __future__ import annotations

import json
from typing import Any

from certspec.plan import Plan

SYMBOLS = {"create": "+", "reissue": "~", "renew": "^", "re-export": ">", "remove": "-"}
NOUNS = (("create", "to create"), ("reissue", "to reissue"), ("renew", "to renew"),
         ("re-export", "to re-export"), ("remove", "to remove"), ("unchanged", "unchanged"))


def plan_text(plan: Plan, *, done: bool = False, prune: bool = True) -> str:
    lines = []
    names = [f"{o.env}/{o.path}" for o in plan.outputs]
    width = max([len(c.id) for c in plan.pending] + [len(n) for n in names], default=0)
    for c in plan.pending:
        note = c.sentence
        if c.action == "remove" and done and not prune:
            note = "kept: no longer in the manifest (use --prune to delete)"
        lines.append(f"  {SYMBOLS[c.action]} {c.action:<9} {c.id:<{width}}  {note}")
    for o, name in zip(plan.outputs, names, strict=True):
        lines.append(f"  {'-' if o.action == 'delete' else '>'} {'output':<9} {name:<{width}}  {o.sentence}")
    s = plan.summary()
    written = sum(o.action == "write" for o in plan.outputs)
    deleted = len(plan.outputs) - written
    if done:
        parts = [f"{s['create']} created", f"{s['reissue']} reissued", f"{s['renew']} renewed",
                 f"{s['re-export']} re-exported",
                 f"{s['remove'] if prune else 0} removed", f"{s['unchanged']} unchanged"]
        tail = f"; outputs: {written} written, {deleted} deleted" if plan.outputs else ""
        lines.append("Apply complete: " + ", ".join(parts) + tail + ".")
    elif not plan.pending and not plan.outputs:
        lines.append(f"No changes. {s['unchanged']} up to date.")
    else:
        tail = f"; outputs: {written} to write, {deleted} to delete" if plan.outputs else ""
        lines.append("Plan: " + ", ".join(f"{s[a]} {noun}" for a, noun in NOUNS) + tail + ".")
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
