from __future__ import annotations

import argparse

from certspec import apply as engine
from certspec.commands.common import load, now, output_dir, parse_time
from certspec.report import plan_text, to_json
from certspec.store import Store


def run(args: argparse.Namespace) -> int:
    desired = load(args)
    at = parse_time(args.at, "--at") if args.at else now()
    opts = engine.Options(out=output_dir(args, desired), envs=args.env, only=args.only)
    plan, _ = engine.build_plan(desired, Store(opts.out), opts, at)
    print(to_json(plan.as_json()) if args.json else plan_text(plan))
    return 2 if args.detailed_exitcode and (plan.pending or plan.outputs) else 0
