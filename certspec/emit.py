"""Hand the results to the next pipeline steps without a secret ever showing in a log.

- ``github``: each secret is first registered with ``::add-mask::`` (GitHub Actions then
  masks it everywhere), and every value is written to the file named by $GITHUB_OUTPUT.
- ``azure-devops``: each value is set with ``##vso[task.setvariable ...]``, secrets with
  ``issecret=true`` (the agent masks them and keeps them out of the environment).

Names are ``ENV_ROLE_CERT_FIELD`` in upper case, '-' and '.' as '_': for example
``PROD_XCONNECT_CLIENT_THUMBPRINT``, ``PROD_XCONNECT_CLIENT_PFX_BASE64``,
``PROD_XCONNECT_CLIENT_PASSWORD``. These two modes are the only way a secret reaches
stdout, and then only inside the CI system's own secret syntax.
"""

from __future__ import annotations

import base64
import os
import re
import secrets as _secrets
from collections.abc import Iterator
from pathlib import Path

from certspec import fsio
from certspec.errors import CertspecError
from certspec.model import Desired
from certspec.observed import World

MODES = ("github", "azure-devops")


def values(desired: Desired, world: World) -> Iterator[tuple[str, str, bool]]:
    """(name, value, is_secret) for every certificate observed after an apply."""
    for cid, seen in sorted(world.seen.items()):
        spec = desired.certs[cid]
        if spec.is_authority or seen.entry is None:
            continue
        stem = re.sub(r"[^A-Za-z0-9]", "_", cid.replace("/", "_")).upper()
        yield f"{stem}_THUMBPRINT", seen.entry["thumbprint"], False
        yield f"{stem}_NOT_AFTER", seen.entry["not_after"], False
        pfx = fsio.read_bytes(world.root / spec.env / spec.role / f"{spec.name}.pfx")
        if pfx is not None and seen.password is not None:
            yield f"{stem}_PFX_BASE64", base64.b64encode(pfx).decode("ascii"), True
            yield f"{stem}_PASSWORD", seen.password.reveal(), True


def github(items: list[tuple[str, str, bool]]) -> list[str]:
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        raise CertspecError("--emit github: GITHUB_OUTPUT is not set (run it inside a GitHub Actions step)")
    lines = [f"::add-mask::{value}" for _, value, secret in items if secret]
    with Path(target).open("a", encoding="utf-8") as f:
        for name, value, _ in items:
            marker = f"certspec_{_secrets.token_hex(8)}"
            f.write(f"{name}<<{marker}\n{value}\n{marker}\n")
    lines.append(f"certspec: {len(items)} values written to GITHUB_OUTPUT "
                 f"({sum(1 for i in items if i[2])} masked)")
    return lines


def azure_devops(items: list[tuple[str, str, bool]]) -> list[str]:
    return [f"##vso[task.setvariable variable={name};isoutput=true{';issecret=true' if secret else ''}]{value}"
            for name, value, secret in items]


def render(mode: str, desired: Desired, world: World) -> list[str]:
    items = list(values(desired, world))
    return github(items) if mode == "github" else azure_devops(items)
