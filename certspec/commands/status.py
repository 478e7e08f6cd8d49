"""status: every id's thumbprint, not-after, days left and state, from the same policy chain
that plan uses (so status and plan can never disagree about what is due)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from certspec import apply as engine
from certspec.commands.common import load, now, output_dir
from certspec.durations import parse_duration
from certspec.errors import CertspecError
from certspec.observed import World
from certspec.plan import Plan
from certspec.policies import due_at
from certspec.report import to_json
from certspec.store import Store
from certspec.x509 import thumbprint

STATES = {"create": "missing", "reissue": "drifted", "re-export": "drifted", "remove": "orphan"}


def rows(desired: Any, plan: Plan, world: World, at: datetime, window: Any) -> list[dict[str, Any]]:
    out = []
    for c in plan.changes:
        seen = world.seen.get(c.id)
        cert = seen.cert if seen else None
        state = STATES.get(c.action, "ok")
        if c.action == "renew":
            state = "expired" if c.reason == "expired" else "renew-due"
        row: dict[str, Any] = {"id": c.id, "thumbprint": thumbprint(cert) if cert else None,
                               "not_after": cert.not_valid_after_utc.isoformat() if cert else None,
                               "days_left": (cert.not_valid_after_utc - at).days if cert else None,
                               "renew_at": None, "state": state, "reason": c.reason}
        if cert is not None and c.id in desired.certs:
            due = due_at(desired.certs[c.id], cert)
            row["renew_at"] = due.isoformat()
            row["attention"] = state != "ok" or (window is not None and due <= at + window)
        else:
            row["attention"] = state not in ("ok", "orphan")
        out.append(row)
    return out


def run(args: argparse.Namespace) -> int:
    desired = load(args)
    window = None
    if args.fail_within:
        try:
            window = parse_duration(args.fail_within)
        except ValueError as e:
            raise CertspecError(f"--fail-within {args.fail_within}: {e}") from None
    at = now()
    opts = engine.Options(out=output_dir(args, desired), envs=args.env, only=args.only)
    world = engine.observe(desired, Store(opts.out), engine.select_envs(desired, opts.envs))
    plan = engine.make_plan(desired, world, at, only=opts.only)
    table = rows(desired, plan, world, at, window)
    if args.json:
        print(to_json({"at": at.isoformat(), "certificates": table}))
    else:
        width = max((len(r["id"]) for r in table), default=2)
        print(f"{'ID':<{width}}  {'THUMBPRINT':<40}  {'NOT AFTER':<10}  {'DAYS':>5}  STATE")
        for r in table:
            print(f"{r['id']:<{width}}  {r['thumbprint'] or '-':<40}  {(r['not_after'] or '-')[:10]:<10}  "
                  f"{'-' if r['days_left'] is None else r['days_left']:>5}  {r['state']}")
    if window is not None and any(r["attention"] for r in table):
        return 2
    return 0
