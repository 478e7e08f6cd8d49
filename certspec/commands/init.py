"""init: a commented starter manifest for a Sitecore topology, and the schema beside it
(so that editors check the file as it is typed)."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from certspec.errors import CertspecError
from certspec.schema import schema_text


def template(topology: str) -> str:
    return resources.files("certspec").joinpath("templates").joinpath(f"{topology}.yaml").read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.exists() and not args.force:
        raise CertspecError(f"{path} already exists (use --force to overwrite it)")
    schema_path = path.parent / "certspec.schema.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template(args.topology), encoding="utf-8")
        if not schema_path.exists() or args.force:
            schema_path.write_text(schema_text(), encoding="utf-8")
    except OSError as e:
        raise CertspecError(f"cannot write {e.filename}: {e.strerror}") from None
    print(f"wrote {path} ({args.topology}) and {schema_path}; next: certspec plan -f {path}")
    return 0
