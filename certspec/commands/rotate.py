from __future__ import annotations

import argparse

from certspec.commands import apply
from certspec.commands.common import load
from certspec.errors import CertspecError
from certspec.plan import matches


def run(args: argparse.Namespace) -> int:
    desired = load(args)
    for glob in args.ids:
        if not any(matches(cid, [glob]) for cid in desired.certs):
            raise CertspecError(f"rotate {glob}: matches no id in {args.file}")
    return apply.run(args, rotate=list(args.ids))
