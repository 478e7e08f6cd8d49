"""``{name}`` variables in manifest strings.

``{{`` and ``}}`` stand for literal braces; ``{text}``, ``{hex}`` and ``{critical}`` are the
-TextExtension syntax and pass through untouched. Variables may use other variables and
``{env}``; certificates also see ``{role}`` and ``{cert}``, authorities ``{authority}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
PASS_THROUGH = frozenset({"text", "hex", "critical"})


class Undefined(KeyError):
    """A ``{name}`` with no value; ``offset`` is where it starts in the string."""

    def __init__(self, name: str, offset: int) -> None:
        super().__init__(name)
        self.name, self.offset = name, offset


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every ``{name}`` in ``text``; raise Undefined for the first unknown one."""

    def repl(m: re.Match[str]) -> str:
        token, name = m.group(0), m.group(1)
        if token in ("{{", "}}"):
            return token[0]
        if name in PASS_THROUGH:
            return token
        if name not in values:
            raise Undefined(name, m.start())
        return values[name]

    return _TOKEN.sub(repl, text)


def resolve_vars(raw: Mapping[str, str], builtins: Mapping[str, str]) -> dict[str, str]:
    """Expand variables that use other variables. Raises Undefined (unknown or cyclic)
    with the offending variable's name set as ``.var``."""
    done: dict[str, str] = dict(builtins)
    visiting: set[str] = set()

    def get(name: str) -> str:
        if name in done:
            return done[name]
        if name in visiting or name not in raw:
            raise Undefined(name, 0)
        visiting.add(name)
        try:
            done[name] = substitute(raw[name], _Lazy(get))
        except Undefined as e:
            e.var = getattr(e, "var", name)  # type: ignore[attr-defined]
            raise
        finally:
            visiting.discard(name)
        return done[name]

    for name in raw:
        get(name)
    return done


class _Lazy(Mapping[str, str]):
    def __init__(self, get: object) -> None:
        self._get = get

    def __getitem__(self, key: str) -> str:
        return self._get(key)  # type: ignore[operator, no-any-return]

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __len__(self) -> int:
        return 0
