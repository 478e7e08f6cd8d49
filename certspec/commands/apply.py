from __future__ import annotations

import argparse

from certspec import apply as engine
from certspec import lock
from certspec.commands.common import load, now, output_dir
from certspec.errors import CertspecError
from certspec.report import plan_text, to_json


def options(args: argparse.Namespace, out: object) -> engine.Options:
    jobs = args.jobs
    if jobs is not None and jobs < 1:
        raise CertspecError(f"-j {jobs}: the number of jobs must be 1 or more")
    opts = engine.Options(out=out, envs=getattr(args, "env", None), only=getattr(args, "only", None),  # type: ignore[arg-type]
                          prune=getattr(args, "prune", False),
                          lock_timeout=lock.DEFAULT_TIMEOUT if args.lock_timeout is None else args.lock_timeout)
    if jobs:
        opts.jobs = jobs
    return opts


def run(args: argparse.Namespace, rotate: list[str] | None = None) -> int:
    desired = load(args)
    out = output_dir(args, desired)
    opts = options(args, out)
    opts.rotate = rotate
    if not args.allow_unignored:
        from certspec.gitcheck import ensure_ignored

        ensure_ignored(out)
    from certspec.commands.progress import reporter

    with reporter(args) as progress:
        opts.progress = progress
        plan = engine.run(desired, opts, now())
    if args.json:
        print(to_json(plan.as_json()))
    else:
        print(plan_text(plan, done=True, prune=opts.prune))
    if getattr(args, "emit", None):
        from certspec import emit
        from certspec.store import Store

        world = engine.observe(desired, Store(out), engine.select_envs(desired, opts.envs))
        for line in emit.render(args.emit, desired, world):
            print(line)
    return 0
