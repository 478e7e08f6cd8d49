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
    width = max((len(c.id) for c in plan.pending), default=0)
    for c in plan.pending:
        note = c.sentence
        if c.action == "remove" and done and not prune:
            note = "kept: no longer in the manifest (use --prune to delete)"
        lines.append(f"  {SYMBOLS[c.action]} {c.action:<9} {c.id:<{width}}  {note}")
    s = plan.summary()
    if done:
        parts = [f"{s['create']} created", f"{s['reissue']} reissued", f"{s['renew']} renewed",
                 f"{s['re-export']} re-exported",
                 f"{s['remove'] if prune else 0} removed", f"{s['unchanged']} unchanged"]
        lines.append("Apply complete: " + ", ".join(parts) + ".")
    elif not plan.pending:
        lines.append(f"No changes. {s['unchanged']} up to date.")
    else:
        lines.append("Plan: " + ", ".join(f"{s[a]} {noun}" for a, noun in NOUNS) + ".")
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
