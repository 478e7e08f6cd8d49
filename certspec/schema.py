"""The JSON Schema: where it lives, and validation that reports every error, positioned.

Messages are written here rather than taken from jsonschema, for two reasons: they are
shorter and say what to do, and they never echo a value under a ``password`` key (a user
who pastes a literal password must not see it again in a pipeline log).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from certspec.errors import Problem
from certspec.yamlpos import Document

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (
    _HERE / "_schema" / "certspec.schema.json",  # inside an installed wheel
    _HERE.parent / "schemas" / "certspec.schema.json",  # a source checkout / editable install
)
_PATTERN_HELP = {
    "^[a-z0-9][a-z0-9_.-]{0,62}$": "is not a valid name (lower-case letters, digits, '_', '.', '-'; "
    "starting with a letter or digit; at most 63 characters)",
    "^[0-9]{1,7}(s|m|h|d|w|y)$": "is not a duration (a number and s, m, h, d, w or y: 90d, 2y)",
    "^([0-9]{1,7}(s|m|h|d|w|y)|[1-9][0-9]?%)$": "is neither a duration (30d) nor a share of the lifetime (33%)",
    "^[A-Za-z_][A-Za-z0-9_]*$": "is not a valid variable name (letters, digits, '_')",
}
LITERAL_PASSWORD = (
    "a literal password is not allowed in the manifest: use {env: NAME}, {file: path} or {generate: N}"
)
_JSON_TYPES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def schema_text() -> str:
    """The schema file's text, from the wheel or from the source tree."""
    for path in _CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("certspec.schema.json is missing from the installation")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def validate(doc: Document) -> list[Problem]:
    """Every schema problem of ``doc``, each positioned and phrased for the user."""
    problems: list[Problem] = []
    for err in _validator().iter_errors(doc.data):
        problems.extend(_problems(doc, err))
    return problems


def _is_secret(path: Iterable[Any]) -> bool:
    return "password" in [p for p in path if isinstance(p, str)]


def _show(value: Any, path: tuple[Any, ...]) -> str:
    if _is_secret(path):
        return "the value"
    text = repr(value) if not isinstance(value, (dict, list)) else _JSON_TYPES[type(value)]
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(doc: Document, err: ValidationError) -> Iterator[Problem]:
    path = tuple(err.absolute_path)
    kind = err.validator
    is_password = path[-2:] == ("pfx", "password") or (len(path) >= 3 and path[-1] == "password"
                                                       and path[-3] == "outputs")
    if is_password and isinstance(err.instance, str):
        yield doc.problem(path, LITERAL_PASSWORD)
        return
    if "propertyNames" in err.relative_schema_path or "propertyNames" in err.absolute_schema_path:
        name = err.instance
        if kind == "not":
            msg = f"{name!r} is reserved (built in) and cannot be defined here"
        else:
            msg = f"{name!r} " + _PATTERN_HELP.get(str(err.validator_value), "is not allowed here")
        yield doc.problem((*path, name), msg, at_key=True)
    elif kind in ("oneOf", "anyOf"):
        yield from _narrow(doc, err, path)
    elif kind == "additionalProperties" and isinstance(err.instance, dict):
        known = list((err.schema.get("properties") or {}).keys())
        for key in err.instance:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                more = f"; did you mean {hint[0]!r}?" if hint else (
                    f"; expected one of {', '.join(known)}" if known else "")
                yield doc.problem((*path, key), f"unknown key {key!r}{more}", at_key=True)
    elif kind == "required":
        yield doc.problem(path, _message(err, path), at_key=True)
    else:
        yield doc.problem(path, _message(err, path))


def _message(err: ValidationError, path: tuple[Any, ...]) -> str:
    kind, value, inst = err.validator, err.validator_value, err.instance
    if kind == "required":
        missing = [k for k in value if k not in inst]
        return f"missing required key {missing[0]!r}" if missing else err.message
    if kind == "type":
        return f"expected {_JSON_TYPES.get(_py_type(value), value)}, got {_JSON_TYPES.get(type(inst), 'a value')}"
    if kind == "enum":
        return f"{_show(inst, path)} is not one of: {', '.join(str(v) for v in value)}"
    if kind == "const":
        return f"must be {value!r}"
    if kind == "pattern":
        return f"{_show(inst, path)} " + _PATTERN_HELP.get(value, f"does not match {value}")
    if kind in ("minimum", "maximum"):
        return f"{_show(inst, path)} is {'below the minimum' if kind == 'minimum' else 'above the maximum'} of {value}"
    if kind == "uniqueItems":
        return "has duplicate items"
    if kind in ("minProperties", "minItems"):
        return "must not be empty"
    if kind == "minLength":
        return "must not be empty"
    return err.message if not _is_secret(path) else f"invalid ({kind})"


def _py_type(name: Any) -> type:
    return {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
            "number": float, "null": type(None)}.get(str(name), object)


def _narrow(doc: Document, err: ValidationError, path: tuple[Any, ...]) -> Iterator[Problem]:
    """Report a failed oneOf/anyOf through the branch the user most likely meant."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in err.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    inst = err.instance
    if path and path[-1] == "password" and isinstance(inst, dict):
        chosen = [i for i, b in enumerate(err.validator_value) if set(b["required"]) & set(inst)]
        if len(chosen) != 1:
            yield doc.problem(path, "must have exactly one of: generate, env, file")
            return
        branches = {chosen[0]: branches.get(chosen[0], [])}
    # a branch whose discriminator (a const, such as an output's kind) fails is not meant
    live = {i: errs for i, errs in branches.items()
            if not any(e.validator == "const" and len(e.relative_path) == 1 for e in errs)}
    if not live:
        return  # the discriminator itself is wrong; its enum error is reported on its own
    if all(not e.relative_path for errs in live.values() for e in errs) and len(live) > 1:
        alts = " or ".join(sorted({_message(e, path) for errs in live.values() for e in errs}))
        yield doc.problem(path, alts)
        return
    best = min(live.values(), key=lambda errs: (len(errs), -max(len(e.relative_path) for e in errs)))
    for sub in best:
        yield from _problems(doc, sub)
