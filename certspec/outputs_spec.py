"""Pipeline outputs (contract §5) from the manifest into OutputSpec, with reference checks."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from certspec.model import AUTHORITIES, CertSpec, OutputSpec, PasswordSpec
from certspec.templating import Undefined, substitute
from certspec.yamlpos import JsonPath

if TYPE_CHECKING:
    from certspec.desired import Builder

NEEDS_PFX = {"arm-parameters": "the blob is the PFX"}
PFX_FIELDS = {"pfx-base64", "password"}


def declared(data: dict[str, Any], env: str) -> list[tuple[JsonPath, dict[str, Any]]]:
    """Every output an environment gets: the top-level list, then its own."""
    top = [(("outputs", i), o) for i, o in enumerate(data.get("outputs") or [])]
    own = (data["environments"][env] or {}).get("outputs") or []
    return top + [(("environments", env, "outputs", i), o) for i, o in enumerate(own)]


def authorities_named(data: dict[str, Any], env: str) -> set[str]:
    return {a for _, o in declared(data, env) if o.get("kind") == "java-truststore"
            for a in o.get("authorities", [])}


def safe_relative(path: str) -> str | None:
    """``path`` normalised if it stays inside the environment's folder, else None."""
    if "\\" in path or path.startswith("/") or ":" in path.split("/")[0]:
        return None
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("..", ".") for p in parts) or parts[0] in (AUTHORITIES, "bundle.json"):
        return None
    return str(PurePosixPath(*parts))


def build(b: Builder, leaves: dict[str, CertSpec], auths: dict[str, CertSpec]) -> tuple[OutputSpec, ...]:
    data = b.doc.data
    out: list[OutputSpec] = []
    for env in data["environments"]:
        seen: dict[str, JsonPath] = {}
        vars_ = {**b.env_vars(env)}
        for path, raw in declared(data, env):
            spec = _one(b, env, path, raw, vars_, leaves, auths)
            if spec is None:
                continue
            if spec.path in seen:
                b.fail((*path, "path"), f"two outputs write {spec.path!r} in environment {env!r}")
                continue
            seen[spec.path] = path
            out.append(spec)
    return tuple(out)


def _one(b: Builder, env: str, path: JsonPath, raw: dict[str, Any], vars_: dict[str, str],
         leaves: dict[str, CertSpec], auths: dict[str, CertSpec]) -> OutputSpec | None:
    label = f"in environment {env!r}"

    def sub(text: str, where: JsonPath) -> str:
        try:
            return substitute(text, vars_)
        except Undefined as e:
            b.fail(where, f"undefined variable {{{e.name}}} ({label})", e.offset)
            return text

    kind = raw["kind"]
    rel = safe_relative(sub(raw["path"], (*path, "path")))
    if rel is None:
        b.fail((*path, "path"), "path must be relative and stay inside DIR/ENV "
               "(no '..', no absolute path, not under authorities/ or bundle.json)")
        return None
    env_roles = (b.doc.data["environments"][env] or {}).get("roles") or []
    if rel.split("/")[0] in env_roles:
        b.fail((*path, "path"), f"path {rel!r} is inside the folder of role {rel.split('/')[0]!r}, "
               "which certspec keeps for the certificates' own files")
        return None

    def leaf(ref: str, where: JsonPath, need_pfx: bool) -> str:
        cid = f"{env}/{ref}"
        if cid not in leaves:
            b.fail(where, f"unknown certificate {ref!r} ({label})")
        elif need_pfx and "pfx" not in leaves[cid].exports:
            b.fail(where, f"{kind} needs the pfx export of {ref!r} ({label})")
        return cid

    certs: list[str] = []
    values: list[tuple[str, str, str]] = []
    authorities: list[str] = []
    if "certificate" in raw:
        certs.append(leaf(raw["certificate"], (*path, "certificate"), kind in NEEDS_PFX))
    for i, ref in enumerate(raw.get("certificates", [])):
        certs.append(leaf(ref, (*path, "certificates", i), False))
    for key, value in (raw.get("values") or {}).items():
        ref, _, field = value.partition(":")
        values.append((key, leaf(ref, (*path, "values", key), field in PFX_FIELDS), field))
    for i, name in enumerate(raw.get("authorities", [])):
        aid = f"{env}/{AUTHORITIES}/{name}"
        if aid not in auths:
            b.fail((*path, "authorities", i), f"unknown authority {name!r}")
        authorities.append(aid)
    options = tuple((k, sub(v, (*path, k))) for k, v in raw.items()
                    if k in ("name", "namespace", "directory"))
    password = None
    if kind == "java-truststore":
        password = PasswordSpec.from_manifest(raw.get("password") or {"generate": 24}, b.manifest.parent)
    return OutputSpec(env=env, kind=kind, path=rel, certificates=tuple(certs),
                      authorities=tuple(authorities), values=tuple(values), options=options,
                      password=password)
