"""Checks on the manifest as a whole, after the schema: references between sections.

Per-certificate checks (keys, hashes, durations, subjects, extensions, variables) happen
where each certificate is built, in ``desired.py``; these are the ones about the graph.
"""

from __future__ import annotations

from typing import Any

from certspec.errors import Problem
from certspec.model import AUTHORITIES
from certspec.yamlpos import Document

# names that make files a Windows agent cannot create
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                    *(f"lpt{i}" for i in range(1, 10))}


def check_name(doc: Document, path: tuple[Any, ...], name: str, what: str) -> list[Problem]:
    if ".." in name:
        return [doc.problem(path, f"{what} name {name!r} may not contain '..'", at_key=True)]
    if name.split(".")[0] in WINDOWS_RESERVED:
        return [doc.problem(path, f"{what} name {name!r} is reserved on Windows", at_key=True)]
    return []


def check_graph(doc: Document) -> list[Problem]:
    """Names, authority issuers and cycles, environments' roles and overrides."""
    data = doc.data
    problems: list[Problem] = []
    auths: dict[str, Any] = data.get("authorities") or {}
    roles: dict[str, Any] = data.get("roles") or {}
    for name in auths:
        problems += check_name(doc, ("authorities", name), name, "authority")
    for name, role in roles.items():
        problems += check_name(doc, ("roles", name), name, "role")
        if name == AUTHORITIES:
            problems.append(doc.problem(("roles", name), "'authorities' is reserved for the "
                                        "authorities' folder; choose another role name", at_key=True))
        for cert in (role or {}).get("certificates") or {}:
            problems += check_name(doc, ("roles", name, "certificates", cert), cert, "certificate")
    for name, auth in auths.items():
        issuer = auth.get("issuer")
        if issuer is not None and issuer not in auths:
            problems.append(doc.problem(("authorities", name, "issuer"),
                                        f"unknown issuer {issuer!r}{_known(auths)}"))
    problems += _cycles(doc, auths)
    for env, spec in (data.get("environments") or {}).items():
        problems += check_name(doc, ("environments", env), env, "environment")
        env_roles = spec.get("roles") or []
        for i, role in enumerate(env_roles):
            if role not in roles:
                problems.append(doc.problem(("environments", env, "roles", i),
                                            f"undefined role {role!r}{_known(roles)}"))
        for key in spec.get("overrides") or {}:
            problems += _check_override(doc, env, key, env_roles, roles)
    return problems


def _check_override(doc: Document, env: str, key: str, env_roles: list[str],
                    roles: dict[str, Any]) -> list[Problem]:
    path = ("environments", env, "overrides", key)
    role, _, cert = key.partition("/")
    if role not in roles:
        return [doc.problem(path, f"override for an unknown role {role!r}", at_key=True)]
    certs = (roles[role] or {}).get("certificates") or {}
    if cert not in certs:
        return [doc.problem(path, f"override for an unknown certificate {key!r}"
                            f"{_known(certs, 'role ' + repr(role) + ' has')}", at_key=True)]
    if role not in env_roles:
        return [doc.problem(path, f"override for {key!r}, but role {role!r} is not in "
                            f"environment {env!r}'s roles", at_key=True)]
    return []


def _cycles(doc: Document, auths: dict[str, Any]) -> list[Problem]:
    problems = []
    reported: set[str] = set()
    for start in auths:
        seen: list[str] = []
        node: str | None = start
        while node in auths and node not in seen:
            seen.append(node)
            node = auths[node].get("issuer")
        if node in seen and node not in reported:
            cycle = seen[seen.index(node):]
            reported.update(cycle)
            chain = " -> ".join([*cycle, node])
            problems.append(doc.problem(("authorities", node, "issuer"),
                                        f"authorities issue each other in a cycle: {chain}"))
    return problems


def _known(names: dict[str, Any], lead: str = "defined") -> str:
    return f" ({lead}: {', '.join(sorted(names))})" if names else " (none are defined)"
