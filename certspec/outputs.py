"""Pipeline outputs (contract §5): render each environment's declared outputs to bytes."""

from __future__ import annotations

from typing import Any

from certspec import issue
from certspec.model import Desired
from certspec.observed import World
from certspec.store import Store


def render_env(desired: Desired, env: str, entries: dict[str, Any], world: World,
               results: dict[str, issue.Result], store: Store) -> dict[str, bytes]:
    """relpath -> bytes for every output of ``env``."""
    return {}
