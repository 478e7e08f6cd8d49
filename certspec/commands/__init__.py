"""One module per command; each has ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib


def dispatch(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"certspec.commands.{args.command}")
    return int(module.run(args))
