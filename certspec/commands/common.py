"""What several commands share: loading the manifest, the output folder, the clock."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timezone
from pathlib import Path

from certspec import manifest
from certspec.durations import parse_duration
from certspec.errors import CertspecError
from certspec.model import Desired


def load(args: argparse.Namespace) -> Desired:
    desired = manifest.load(Path(args.file))
    envs = getattr(args, "env", None)
    for env in envs or []:
        if env not in desired.envs:
            known = ", ".join(desired.envs) or "none"
            raise CertspecError(f"--env {env}: no such environment in {args.file} (defined: {known})")
    return desired


def output_dir(args: argparse.Namespace, desired: Desired) -> Path:
    if getattr(args, "output", None):
        return Path(args.output).resolve()
    if desired.output is not None:
        return desired.output
    raise CertspecError(f"no output folder: give -o DIR or set 'output:' in {args.file}")


def now() -> datetime:
    """The only clock read in certspec: everything below the CLI is handed the time."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def parse_time(text: str, option: str) -> datetime:
    """``2027-06-01``, an ISO time, or ``+90d`` from now."""
    if re.match(r"^\+", text):
        try:
            return now() + parse_duration(text[1:])
        except ValueError as e:
            raise CertspecError(f"{option} {text}: {e}") from None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CertspecError(f"{option} {text}: not a date or time (2027-06-01, 2027-06-01T12:00Z, +90d)") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
