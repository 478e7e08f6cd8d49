"""Safe YAML loading that keeps every node's position.

PyYAML's safe composer builds the node graph; this module turns it into plain JSON-like
data while recording where each value (and each mapping key) stood, so that every later
error can say ``FILE:LINE:COL``. It also closes the traps that plain ``yaml.safe_load``
leaves open: duplicated keys (PyYAML silently keeps the last), alias bombs ("billion
laughs"), recursive aliases, runaway nesting, non-UTF-8 and oversized files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from certspec.errors import ManifestError, Problem

MAX_BYTES = 4 * 1024 * 1024  # a manifest of 5,000 certificates is well under 2 MiB
MAX_NODES = 500_000  # values after alias expansion; a billion-laughs document stops here
MAX_DEPTH = 64  # the schema nests about 8 deep; far more is an attack or a mistake

JsonPath = tuple["str | int", ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


def format_path(path: JsonPath) -> str:
    """``("environments", "prod", "roles", 0)`` -> ``$.environments.prod.roles[0]``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


@dataclass
class Document:
    """Loaded data plus positions: ``marks`` for values, ``key_marks`` for mapping keys."""

    file: str
    data: Any
    marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    quoted: set[JsonPath] = field(default_factory=set)

    def position(self, path: JsonPath, *, at_key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``, or of its nearest known ancestor."""
        p = tuple(path)
        if at_key and p in self.key_marks:
            return self.key_marks[p]
        while p not in self.marks and p:
            p = p[:-1]
        return self.marks.get(p, (1, 1))

    def problem(
        self, path: JsonPath, message: str, *, at_key: bool = False, offset: int = 0
    ) -> Problem:
        """A positioned problem; ``offset`` points inside a one-line string value."""
        line, col = self.position(path, at_key=at_key)
        if offset:
            col += offset + (1 if tuple(path) in self.quoted else 0)
        return Problem(self.file, line, col, format_path(path), message)


class _Walker:
    """Turns a composed node graph into data, recording positions and collecting problems."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()
        self.problems: list[Problem] = []
        self.constructor = yaml.constructor.SafeConstructor()

    def _fatal(self, node: yaml.Node, path: JsonPath, message: str) -> ManifestError:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return ManifestError([Problem(self.doc.file, line, col, format_path(path), message)])

    def convert(self, node: yaml.Node, path: JsonPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fatal(
                node, path, f"the document expands to more than {MAX_NODES:,} values "
                "(aliases repeated too often: an alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise self._fatal(node, path, f"nesting deeper than {MAX_DEPTH} levels")
        if id(node) in self.active:
            raise self._fatal(node, path, "an alias refers to the mapping or list that holds it")
        self.doc.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("'", '"'):
                self.doc.quoted.add(path)
            value = self._scalar(node)
            if isinstance(value, str) and not _encodable(value):
                self.problems.append(self._problem(node, path, "a \\u escape makes a lone surrogate, "
                                                   "which is not text (write the character itself)"))
            return value
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(n, (*path, i), depth + 1) for i, n in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag in _SCALAR_TAGS:
            return self.constructor.construct_object(node)
        return node.value  # timestamps, binary and custom tags stay the text that was written

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_value(value_node, path, depth))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            kpath = (*path, key)
            if key in out:
                line = self.doc.key_marks[kpath][0]
                self.problems.append(self._problem(
                    key_node, kpath, f"duplicate key {key!r} (first at line {line}); "
                    "YAML would silently keep only the last"
                ))
                continue
            self.doc.key_marks[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.convert(value_node, kpath, depth + 1)
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    def _merge_value(self, node: yaml.Node, path: JsonPath, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for src in reversed(sources):  # earlier sources win, as YAML's merge key says
            value = self.convert(src, path, depth + 1)
            if not isinstance(value, dict):
                raise self._fatal(src, path, "a merge key (<<) takes a mapping or a list of mappings")
            merged.update(value)
        return merged

    def _key(self, key_node: yaml.Node, path: JsonPath) -> str | None:
        if not isinstance(key_node, yaml.ScalarNode):
            self.problems.append(self._problem(key_node, path, "a mapping key must be a plain string"))
            return None
        value = self._scalar(key_node)
        if not isinstance(value, str):
            self.problems.append(self._problem(
                key_node, path, f"mapping key {key_node.value!r} is not a string (quote it)"
            ))
            return None
        return value

    def _problem(self, node: yaml.Node, path: JsonPath, message: str) -> Problem:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return Problem(self.doc.file, line, col, format_path(path), message)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _decode(raw: bytes, file: str) -> str:
    if len(raw) > MAX_BYTES:
        raise ManifestError([Problem(file, 1, 1, "$", f"the file is larger than {MAX_BYTES:,} bytes")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        msg = f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x})"
        raise ManifestError([Problem(file, line, col, "$", msg)]) from None


def _yaml_error(err: yaml.YAMLError, text: str, file: str) -> ManifestError:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        what = " ".join(x for x in (err.context, err.problem) if x) or "invalid YAML"
        return ManifestError([Problem(file, mark.line + 1, mark.column + 1, "$", f"YAML: {what}")])
    if isinstance(err, yaml.reader.ReaderError):
        line = text.count("\n", 0, err.position) + 1
        col = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        msg = f"YAML: control character U+{err.character:04X} is not allowed"
        return ManifestError([Problem(file, line, col, "$", msg)])
    return ManifestError([Problem(file, 1, 1, "$", f"YAML: {str(err).splitlines()[0]}")])


def loads(raw: bytes, file: str) -> Document:
    """Parse ``raw`` (the bytes of ``file``) into a positioned Document, or raise ManifestError."""
    text = _decode(raw, file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, file) from None
    except RecursionError:
        raise ManifestError([Problem(file, 1, 1, "$", "YAML nesting is too deep")]) from None
    if root is None:
        raise ManifestError([Problem(file, 1, 1, "$", "the manifest is empty")])
    doc = Document(file=file, data=None)
    walker = _Walker(doc)
    try:
        doc.data = walker.convert(root, ())
    except RecursionError:
        raise ManifestError([Problem(file, 1, 1, "$", "YAML nesting is too deep")]) from None
    if walker.problems:
        raise ManifestError(walker.problems)
    if not isinstance(doc.data, dict):
        line, col = doc.position(())
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        raise ManifestError([Problem(file, line, col, "$", f"the top level must be a mapping, not {kind}")])
    return doc


def load(path: Path) -> Document:
    """Read and parse a manifest file; unreadable files are one-line ManifestErrors."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ManifestError([Problem(str(path), 1, 1, "$", f"cannot read: {e.strerror or e}")]) from None
    return loads(raw, str(path))
