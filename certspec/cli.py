"""Argument parsing and dispatch only. ``main`` returns the exit code.

Exit codes: 0 success; 1 any error the user can fix (printed as one line each, never a
traceback); 2 ``plan --detailed-exitcode`` with changes pending, or ``status
--fail-within`` with something needing attention.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from certspec import __version__

TOPOLOGIES = ("xp0", "xp1", "xm1", "xc")


class _Parser(argparse.ArgumentParser):
    """Usage errors are errors like any other: one line on stderr and exit 1 (contract §2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _globals(p: argparse.ArgumentParser, default: object) -> None:
    """The global options, accepted before the command and after it."""
    d = (lambda v: v) if default is None else (lambda v: default)
    p.add_argument("--log-format", choices=("auto", "console", "json"), default=d("auto"),
                   help="log format on stderr (default auto: console on a TTY, JSON otherwise; "
                   "also CERTSPEC_LOG_FORMAT)")
    p.add_argument("-v", "--verbose", action="count", default=d(0), help="more logs (-vv: debug)")
    p.add_argument("-q", "--quiet", action="count", default=d(0), help="fewer logs, no progress")


def _common(p: argparse.ArgumentParser, *, out: bool = True, select: bool = False) -> None:
    p.add_argument("-f", "--file", default="certspec.yaml", metavar="FILE",
                   help="the manifest (default: ./certspec.yaml)")
    if out:
        p.add_argument("-o", "--output", metavar="DIR", help="output folder (default: the manifest's output)")
    if select:
        p.add_argument("--env", action="append", metavar="E", help="only this environment (repeatable)")
        p.add_argument("--only", action="append", metavar="GLOB",
                       help="only ids matching GLOB, as ENV/ROLE/CERT or ROLE/CERT (repeatable)")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="certspec", description="Declarative certificate bundles: "
                 "one YAML manifest, one reconcile command.")
    ap.add_argument("--version", action="version", version=f"certspec {__version__}")
    _globals(ap, None)
    shared = _Parser(add_help=False)
    _globals(shared, argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    real_add = sub.add_parser
    sub.add_parser = lambda *a, **kw: real_add(*a, parents=[shared], **kw)  # type: ignore[method-assign]

    p = sub.add_parser("validate", help="schema and semantic checks")
    _common(p, out=False)

    p = sub.add_parser("plan", help="what apply would do and why, changing nothing")
    _common(p, select=True)
    p.add_argument("--at", metavar="TIME", help="forecast at TIME (2027-06-01, an ISO time, or +90d)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes are pending")

    p = sub.add_parser("apply", help="make the output folder match the manifest")
    _common(p, select=True)
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="worker processes (default: CPU count)")
    p.add_argument("--prune", action="store_true", help="delete ids no longer in the manifest")
    p.add_argument("--emit", choices=("github", "azure-devops"),
                   help="hand thumbprints, PFX blobs and passwords to later CI steps, secrets masked")
    _apply_safety(p)

    p = sub.add_parser("rotate", help="new keys and certificates now for the ids matching the globs")
    _common(p)
    p.add_argument("ids", nargs="+", metavar="ID_GLOB")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="worker processes (default: CPU count)")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    _apply_safety(p)

    p = sub.add_parser("status", help="every certificate's thumbprint, expiry and state")
    _common(p, select=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--fail-within", metavar="DURATION",
                   help="exit 2 if anything is expired, missing, drifted or due within DURATION")

    p = sub.add_parser("inspect", help="what a PFX, PEM or DER file holds")
    p.add_argument("path", metavar="PATH")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-env", metavar="NAME", help="PFX password from this environment variable")
    g.add_argument("--password-file", metavar="F", help="PFX password from this file")
    p.add_argument("--json", action="store_true")

    sub.add_parser("schema", help="print the manifest's JSON Schema")

    p = sub.add_parser("init", help="write a starter manifest")
    p.add_argument("--topology", choices=TOPOLOGIES, default="xp0", help="Sitecore topology (default xp0)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("path", nargs="?", default="certspec.yaml", metavar="PATH")
    return ap


def _apply_safety(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lock-timeout", type=float, metavar="SECONDS",
                   help="wait this long for another run's lock (default 60)")
    p.add_argument("--allow-unignored", action="store_true",
                   help="write into a git work tree even if git does not ignore the output folder")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from certspec import logging as cslog
    from certspec.errors import CertspecError

    issuing = args.command in ("apply", "rotate") and (args.jobs is None or args.jobs > 1)
    if issuing:
        import os

        from certspec import workers

        jobs = args.jobs or os.cpu_count() or 1
        if args.output and workers.first_run(args.output):
            workers.warm(jobs)  # a first run: every key is new, so start making them now
        else:
            workers.prestart(jobs)  # the fork server boots while the rest loads
    cslog.configure(args.log_format, args.verbose - args.quiet)
    try:
        from certspec.commands import dispatch

        return dispatch(args)
    except CertspecError as e:
        print(str(e) or type(e).__name__, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    finally:
        if issuing:
            from certspec import workers

            workers.discard_warm()
