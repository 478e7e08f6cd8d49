from __future__ import annotations

import pytest

from certspec import yamlpos
from certspec.errors import ManifestError


def problems(raw: bytes) -> list[str]:
    with pytest.raises(ManifestError) as e:
        yamlpos.loads(raw, "m.yaml")
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize(
    "name, raw, expected",
    [
        ("duplicate_key", b"a: 1\nb: 2\na: 3\n",
         "m.yaml:3:1: $.a: duplicate key 'a' (first at line 1); YAML would silently keep only the last"),
        ("nested_duplicate", b"x:\n  y: 1\n  y: 2\n", "m.yaml:3:3: $.x.y: duplicate key 'y'"),
        ("empty", b"", "m.yaml:1:1: $: the manifest is empty"),
        ("comments_only", b"# nothing\n", "m.yaml:1:1: $: the manifest is empty"),
        ("top_level_list", b"- a\n", "m.yaml:1:1: $: the top level must be a mapping, not a list"),
        ("top_level_scalar", b"hello\n", "m.yaml:1:1: $: the top level must be a mapping, not a single value"),
        ("not_utf8", b"a: 1\nb: \xff\n", "m.yaml:2:4: $: the file is not UTF-8 text (byte 0xff)"),
        ("control_char", b"a: \"x\x07\"\n", "m.yaml:1:6: $: YAML: control character U+0007 is not allowed"),
        ("tab_indent", b"a:\n\tb: 1\n", "m.yaml:2:1: $: YAML: while scanning for the next token found character"),
        ("recursive_alias", b"a: &x [*x]\n", "an alias refers to the mapping or list that holds it"),
        ("non_string_key", b"1: x\n", "m.yaml:1:1: $: mapping key '1' is not a string (quote it)"),
        ("deep_nesting", b"[" * 5000, "YAML nesting is too deep"),
        ("two_documents", b"a: 1\n---\nb: 2\n", "m.yaml:2:1: $: YAML: expected a single document in the stream"),
    ],
)
def test_bad_yaml_gets_one_positioned_line(name: str, raw: bytes, expected: str) -> None:
    found = problems(raw)
    assert any(expected in p for p in found), found
    assert all("\n" not in p for p in found)


def test_billion_laughs_fails_fast() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    found = problems("\n".join(lines).encode())
    assert "alias bomb" in found[0]


def test_oversized_file() -> None:
    found = problems(b"a: " + b"x" * (yamlpos.MAX_BYTES + 1))
    assert found == [f"m.yaml:1:1: $: the file is larger than {yamlpos.MAX_BYTES:,} bytes"]


def test_positions_of_values_and_keys() -> None:
    doc = yamlpos.loads(b"a: 1\nb:\n  c: [x, 'y']\n", "m.yaml")
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert doc.position(("b", "c", 1)) == (3, 10)
    assert doc.position(("b", "c"), at_key=True) == (3, 3)
    assert doc.position(("b", "missing")) == (3, 3)  # nearest known ancestor


def test_merge_keys_are_supported_and_explicit_keys_win() -> None:
    doc = yamlpos.loads(b"base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "m.yaml")
    assert doc.data["c"] == {"x": 1, "y": 3}


def test_timestamps_stay_text() -> None:
    doc = yamlpos.loads(b"a: 2027-01-01\n", "m.yaml")
    assert doc.data == {"a": "2027-01-01"}


def test_format_path_quotes_non_identifiers() -> None:
    assert yamlpos.format_path(("environments", "prod", "overrides", "x/y", 0)) == \
        "$.environments.prod.overrides['x/y'][0]"
