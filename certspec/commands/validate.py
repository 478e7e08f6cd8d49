from __future__ import annotations

import argparse

from certspec.commands.common import load


def run(args: argparse.Namespace) -> int:
    desired = load(args)
    leaves = sum(1 for c in desired.certs.values() if not c.is_authority)
    auths = len(desired.certs) - leaves
    print(f"{args.file}: valid ({leaves} certificates, {auths} authority instances, "
          f"{len(desired.envs)} environments)")
    return 0
