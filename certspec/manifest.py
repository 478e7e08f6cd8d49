"""Manifest file -> validated document -> desired state, in one call.

Stages stop at the first stage with problems (a schema-invalid document is not fit for
the semantic checks), but each stage reports all of its problems at once.
"""

from __future__ import annotations

from pathlib import Path

from certspec import desired, schema, semantics, yamlpos
from certspec.errors import ManifestError
from certspec.model import Desired


def load(path: Path) -> Desired:
    """Read, validate and expand the manifest at ``path``; ManifestError lists every problem."""
    doc = yamlpos.load(path)
    problems = schema.validate(doc)
    if problems:
        raise ManifestError(problems)
    problems = semantics.check_graph(doc)
    if problems:
        raise ManifestError(problems)
    result, problems = desired.build(doc, path.resolve())
    if problems:
        raise ManifestError(problems)
    return result
