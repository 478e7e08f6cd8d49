"""``{name}`` variables in manifest strings.

``{{`` and ``}}`` stand for literal braces; ``{text}``, ``{hex}`` and ``{critical}`` are the
-TextExtension syntax and pass through untouched. Variables may use other variables and
``{env}``; certificates also see ``{role}`` and ``{cert}``, authorities ``{authority}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
PASS_THROUGH = frozenset({"text", "hex", "critical"})


class Undefined(KeyError):
    """A ``{name}`` with no value at ``offset``; ``var`` names the variable whose own value
    held it, when the failure happened while expanding variables."""

    def __init__(self, name: str, offset: int, var: str | None = None) -> None:
        super().__init__(name)
        self.name, self.offset, self.var = name, offset, var


def _expand(text: str, lookup: Callable[[str], str]) -> str:
    def repl(m: re.Match[str]) -> str:
        token, name = m.group(0), m.group(1)
        if token in ("{{", "}}"):
            return token[0]
        if name in PASS_THROUGH:
            return token
        try:
            return lookup(name)
        except Undefined as e:
            raise Undefined(e.name, m.start(), e.var) from None

    return _TOKEN.sub(repl, text)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every ``{name}`` in ``text``; raise Undefined for the first unknown one."""

    def lookup(name: str) -> str:
        if name not in values:
            raise Undefined(name, 0)
        return values[name]

    return _expand(text, lookup)


def resolve_vars(raw: Mapping[str, str], builtins: Mapping[str, str]) -> dict[str, str]:
    """Expand variables that use other variables. Undefined (with ``var`` set to the
    variable being expanded) for an unknown or cyclic reference."""
    done: dict[str, str] = dict(builtins)

    def get(name: str, visiting: frozenset[str]) -> str:
        if name in done:
            return done[name]
        if name in visiting or name not in raw:
            raise Undefined(name, 0)
        try:
            done[name] = _expand(raw[name], lambda ref: get(ref, visiting | {name}))
        except Undefined as e:
            raise Undefined(e.name, e.offset, e.var or name) from None
        return done[name]

    for name in raw:
        get(name, frozenset())
    return done
