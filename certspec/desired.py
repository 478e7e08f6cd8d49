"""Expand environments x roles into one desired CertSpec per id, checking each as it goes.

Precedence, lowest first: built-in defaults, ``defaults``, the environment's ``defaults``,
the role's certificate, the environment's ``overrides["role/cert"]``. Maps merge deeply and
lists replace; a ``key`` that names an ``algorithm`` and any ``password`` replace whole (a
``{generate}`` merged into an ``{env}`` would mean nothing).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certspec import outputs_spec
from certspec.defaults import AUTHORITY_DEFAULTS, AUTHORITY_FIELDS, BUILTIN_DEFAULTS, EKU_OIDS, PRESETS, RSA_SIZES
from certspec.durations import RenewBefore, format_duration, parse_duration
from certspec.errors import Problem
from certspec.model import AUTHORITIES, CertSpec, Desired, KeySpec, PasswordSpec, PfxSpec, issuer_chain
from certspec.templating import Undefined, resolve_vars, substitute
from certspec.textext import (
    SyntaxProblem,
    TextExtensions,
    dns_problem,
    email_problem,
    parse_subject,
    parse_text_extension,
)
from certspec.yamlpos import Document, JsonPath


@dataclass
class Merged:
    """A certificate's merged fields and, for each, the manifest path it came from."""

    values: dict[str, Any]
    origins: dict[tuple[str, ...], JsonPath | None]
    home: JsonPath  # where the certificate itself is declared

    def where(self, *field_path: str) -> JsonPath:
        for n in range(len(field_path), 0, -1):
            if field_path[:n] in self.origins:
                base = self.origins[field_path[:n]]
                return self.home if base is None else (*base, *field_path[n:])
        return self.home


def merge(layers: list[tuple[dict[str, Any], JsonPath | None]], home: JsonPath) -> Merged:
    out = Merged({}, {}, home)
    for layer, path in layers:
        _merge_into(out, out.values, layer or {}, path, ())
    return out


def _merge_into(out: Merged, into: dict[str, Any], layer: dict[str, Any], path: JsonPath | None,
                rel: tuple[str, ...]) -> None:
    for key, value in layer.items():
        here = (*rel, key)
        sub = None if path is None else (*path, key)
        replaces = key == "password" or (here == ("key",) and "algorithm" in value)
        if isinstance(value, dict) and isinstance(into.get(key), dict) and not replaces:
            _merge_into(out, into[key], value, sub, here)
        else:
            into[key] = _copy(value)
            for k in [k for k in out.origins if k[: len(here)] == here]:
                del out.origins[k]
            out.origins[here] = sub


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass
class Builder:
    doc: Document
    manifest: Path
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: JsonPath, message: str, offset: int = 0) -> None:
        self.problems.append(self.doc.problem(path, message, offset=offset))

    # ---- variables -------------------------------------------------------------------
    def env_vars(self, env: str) -> dict[str, str]:
        data = self.doc.data
        raw = {**(data.get("vars") or {}), **((data["environments"][env] or {}).get("vars") or {})}
        try:
            return resolve_vars(raw, {"env": env})
        except Undefined as e:
            var = e.var or e.name
            where = ("environments", env, "vars", var) if var in (
                (data["environments"][env] or {}).get("vars") or {}) else ("vars", var)
            self.fail(where, f"variable {var!r} uses undefined or cyclic variable {e.name!r} "
                      f"(in environment {env!r})")
            return {**raw, "env": env}  # reported once here, not again in every string

    def substitute_all(self, m: Merged, values: dict[str, str], label: str) -> None:
        def walk(v: Any, fp: tuple[str, ...]) -> Any:
            if isinstance(v, str):
                try:
                    return substitute(v, values)
                except Undefined as e:
                    self.fail(m.where(*fp), f"undefined variable {{{e.name}}} ({label})", e.offset)
                    return v
            if isinstance(v, list):
                return [walk(x, fp) if not isinstance(x, str) else walk_item(x, fp, i)
                        for i, x in enumerate(v)]
            if isinstance(v, dict):
                return {k: walk(x, (*fp, k)) for k, x in v.items()}
            return v

        def walk_item(x: str, fp: tuple[str, ...], i: int) -> Any:
            try:
                return substitute(x, values)
            except Undefined as e:
                self.fail((*m.where(*fp), i), f"undefined variable {{{e.name}}} ({label})", e.offset)
                return x

        m.values = {k: walk(v, (k,)) for k, v in m.values.items()}

    # ---- shared field conversion ---------------------------------------------------------
    def key(self, m: Merged) -> KeySpec:
        k = m.values["key"]
        algorithm = k.get("algorithm", "rsa")
        if algorithm == "rsa":
            if "curve" in k:
                self.fail(m.where("key", "curve"), "curve is for ECDSA keys; RSA keys take size")
            size = k.get("size", 2048)
            if size < 2048:
                self.fail(m.where("key", "size"), f"RSA keys below 2048 bits are refused ({size})")
            elif size not in RSA_SIZES:
                self.fail(m.where("key", "size"), f"RSA size must be 2048, 3072 or 4096, not {size}")
            return KeySpec("rsa", size=size)
        if "size" in k:
            self.fail(m.where("key", "size"), "size is for RSA keys; ECDSA keys take curve (p256, p384)")
        return KeySpec("ecdsa", curve=k.get("curve", "p256"))

    def timing(self, m: Merged) -> tuple[Any, Any, RenewBefore, str]:
        v = m.values
        validity, not_before = parse_duration(v["validity"]), parse_duration(v["not_before"])
        renew = RenewBefore.parse(v["renew_before"])
        if validity.total_seconds() <= 0:
            self.fail(m.where("validity"), "validity must be longer than zero")
        if renew.duration is not None and renew.duration >= validity:
            self.fail(m.where("renew_before"), f"renew_before ({renew}) is not shorter than "
                      f"validity ({v['validity']}): the certificate would always be due")
        if v["signature_hash"] == "sha1":
            self.fail(m.where("signature_hash"), "SHA-1 signatures are refused; use sha256")
        return validity, not_before, renew, v["signature_hash"]

    def subject(self, m: Merged, fallback: str | None) -> str:
        from certspec.textext import format_subject

        text = m.values.get("subject") or fallback
        if not text:
            self.fail(m.home, "a certificate needs a subject or a DNS name")
            return "CN=invalid"
        try:
            return format_subject(parse_subject(text))
        except SyntaxProblem as e:
            self.fail(m.where("subject") if m.values.get("subject") else m.where("dns_names"),
                      f"subject: {e}", e.offset)
            return "CN=invalid"

    # ---- leaves and authorities -----------------------------------------------------------
    def leaf(self, env: str, role: str, name: str, vars_: dict[str, str]) -> CertSpec:
        data = self.doc.data
        e = data["environments"][env] or {}
        home: JsonPath = ("roles", role, "certificates", name)
        override_key = f"{role}/{name}"
        layers = [
            (BUILTIN_DEFAULTS, None),
            (data.get("defaults") or {}, ("defaults",)),
            (e.get("defaults") or {}, ("environments", env, "defaults")),
            (data["roles"][role]["certificates"][name] or {}, home),
            ((e.get("overrides") or {}).get(override_key) or {},
             ("environments", env, "overrides", override_key)),
        ]
        m = merge(layers, home)
        self.substitute_all(m, {**vars_, "role": role, "cert": name}, f"in environment {env!r}")
        v = m.values
        ext = self.text_extensions(m)
        names = {f: [*v.get(f, []), *ext.san[f]] for f in ("dns_names", "ip_addresses", "emails", "upns")}
        self.names(m)
        ku_preset, eku_preset = PRESETS[v["type"]]
        eku = ext.eku if ext.eku is not None else tuple(
            EKU_OIDS.get(x, x) for x in v.get("extended_key_usage", eku_preset))
        validity, not_before, renew, sig = self.timing(m)
        self.usage_rules(m)
        issuer = v.get("issuer")
        if issuer is not None and issuer not in (data.get("authorities") or {}):
            self.fail(m.where("issuer"), f"unknown issuer {issuer!r}")
        ca, path_len = ext.basic_constraints or (False, None)
        return CertSpec(
            id=f"{env}/{role}/{name}", env=env, role=role, name=name,
            subject=self.subject(m, names["dns_names"][0] if names["dns_names"] else None),
            key=self.key(m), signature_hash=sig, validity=validity, not_before=not_before,
            renew_before=renew, key_usage=tuple(sorted(v.get("key_usage", ku_preset))),
            extended_key_usage=eku, eku_critical=ext.eku_critical,
            dns_names=tuple(names["dns_names"]), ip_addresses=tuple(names["ip_addresses"]),
            emails=tuple(names["emails"]), upns=tuple(names["upns"]), san_critical=ext.san_critical,
            ca=ca, path_length=path_len, raw_extensions=tuple(ext.raw),
            issuer=f"{env}/{AUTHORITIES}/{issuer}" if issuer else None,
            friendly_name=v.get("friendly_name"),
            pfx=PfxSpec(PasswordSpec.from_manifest(v["pfx"]["password"], self.manifest.parent),
                        v["pfx"]["encryption"], v["pfx"]["chain"]),
            exports=tuple(v["exports"]), key_rotation=v["key_rotation"],
        )

    def names(self, m: Merged) -> None:
        """The SAN entries, checked as X.509 will check them (so apply cannot fail on them)."""
        checks = {"dns_names": dns_problem, "emails": email_problem, "ip_addresses": _ip_problem}
        for field_name, check in checks.items():
            for i, value in enumerate(m.values.get(field_name, [])):
                why = check(value)
                if why:
                    self.fail((*m.where(field_name), i), why)

    def usage_rules(self, m: Merged) -> None:
        v = m.values
        if "pfx-base64" in v["exports"] and "pfx" not in v["exports"]:
            self.fail(m.where("exports"), "pfx-base64 needs the pfx export")
        ku = set(v.get("key_usage", ()))
        if ku & {"encipher_only", "decipher_only"} and "key_agreement" not in ku:
            self.fail(m.where("key_usage"), "encipher_only and decipher_only need key_agreement")

    def text_extensions(self, m: Merged) -> TextExtensions:
        ext = TextExtensions()
        for i, text in enumerate(m.values.get("text_extensions", [])):
            try:
                parse_text_extension(text, ext)
            except SyntaxProblem as e:
                self.fail((*m.where("text_extensions"), i), f"text extension: {e}", e.offset)
        return ext

    def authority(self, env: str, name: str, vars_: dict[str, str]) -> CertSpec:
        data = self.doc.data
        e = data["environments"][env] or {}
        home: JsonPath = ("authorities", name)
        pick = lambda d: {k: v for k, v in (d or {}).items() if k in AUTHORITY_FIELDS}  # noqa: E731
        m = merge([(AUTHORITY_DEFAULTS, None), (pick(data.get("defaults")), ("defaults",)),
                   (pick(e.get("defaults")), ("environments", env, "defaults")),
                   (data["authorities"][name], home)], home)
        self.substitute_all(m, {**vars_, "authority": name}, f"in environment {env!r}")
        validity, not_before, renew, sig = self.timing(m)
        issuer = m.values.get("issuer")
        return CertSpec(
            id=f"{env}/{AUTHORITIES}/{name}", env=env, role=AUTHORITIES, name=name,
            subject=self.subject(m, None), key=self.key(m), signature_hash=sig,
            validity=validity, not_before=not_before, renew_before=renew,
            key_usage=tuple(sorted(m.values["key_usage"])), extended_key_usage=(),
            ca=True, path_length=m.values.get("path_length"),
            issuer=f"{env}/{AUTHORITIES}/{issuer}" if issuer else None,
            key_rotation=m.values["key_rotation"],
        )


def build(doc: Document, manifest: Path) -> tuple[Desired, list[Problem]]:
    """The desired state of a schema-valid, graph-checked document, and its problems."""
    b = Builder(doc, manifest)
    data = doc.data
    auths_raw = data.get("authorities") or {}
    leaves: dict[str, CertSpec] = {}
    authorities: dict[str, CertSpec] = {}
    for env, e in data["environments"].items():
        vars_ = b.env_vars(env)
        for role in (e or {}).get("roles") or []:
            for name in ((data.get("roles") or {}).get(role) or {}).get("certificates") or {}:
                spec = b.leaf(env, role, name, vars_)
                leaves[spec.id] = spec
        wanted = {c.issuer.rsplit("/", 1)[1] for c in leaves.values() if c.env == env and c.issuer}
        wanted |= outputs_spec.authorities_named(data, env)
        while wanted:
            name = wanted.pop()
            if name in auths_raw and f"{env}/{AUTHORITIES}/{name}" not in authorities:
                spec = b.authority(env, name, vars_)
                authorities[spec.id] = spec
                if spec.issuer:
                    wanted.add(spec.issuer.rsplit("/", 1)[1])
    _check_lifetimes(b, {**authorities, **leaves})
    outputs = outputs_spec.build(b, leaves, authorities)
    ordered = sorted(authorities.values(), key=lambda c: (len(issuer_chain(authorities, c.id)), c.id))
    certs = {c.id: c for c in ordered} | dict(sorted(leaves.items()))
    out = data.get("output")
    return Desired(manifest, (manifest.parent / out).resolve() if out else None, certs, outputs), b.problems


def _ip_problem(text: str) -> str | None:
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        return f"{text!r} is not an IP address"




def _check_lifetimes(b: Builder, certs: dict[str, CertSpec]) -> None:
    for spec in certs.values():
        parent = certs.get(spec.issuer) if spec.issuer else None
        if parent is not None and spec.validity > parent.validity:
            home: JsonPath = ("authorities", spec.name) if spec.is_authority else (
                "roles", spec.role, "certificates", spec.name)
            b.problems.append(b.doc.problem(
                (*home, "validity"), f"{spec.id} would outlive its issuer {parent.name} "
                f"({format_duration(spec.validity)} > {format_duration(parent.validity)})"))
