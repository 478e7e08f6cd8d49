from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from conftest import ROOT
from jsonschema import Draft202012Validator

from certspec.schema import schema


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def test_schema_is_draft_2020_12_with_an_id() -> None:
    s = schema()
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"].startswith("https://")


def test_every_property_has_a_description() -> None:
    missing = []
    for path, node in walk(schema()):
        for name, prop in (node.get("properties") or {}).items():
            if "description" not in prop and "$ref" not in prop:
                missing.append(f"{path}.properties.{name}")
    assert not missing


def test_every_object_forbids_unknown_keys() -> None:
    loose = [path for path, node in walk(schema())
             if node.get("type") == "object" and "additionalProperties" not in node and "oneOf" not in node]
    assert not loose


def test_schema_command_prints_the_file(cs: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cs("schema")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "schemas" / "certspec.schema.json").read_text())


def test_the_wheel_ships_the_schema_and_the_templates(tmp_path: object) -> None:
    """A plain (non-editable) install must find the schema: it is packed into the wheel."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    out = Path(str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    names = zipfile.ZipFile(next(out.glob("certspec-*.whl"))).namelist()
    assert "certspec/_schema/certspec.schema.json" in names
    assert {f"certspec/templates/{t}.yaml" for t in ("xp0", "xp1", "xm1", "xc")} <= set(names)
