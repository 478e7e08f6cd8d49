from __future__ import annotations

import argparse
import sys

from certspec.schema import schema_text


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0
