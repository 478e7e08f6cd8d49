"""The one family of errors a user can fix. Each message is one line written for them.

The CLI boundary (cli.py) maps every CertspecError to exit code 1 and prints its message;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class CertspecError(Exception):
    """A problem the user can fix. ``str(err)`` is the whole, one-line message."""


@dataclass(frozen=True, order=True)
class Problem:
    """One positioned manifest problem: ``FILE:LINE:COL: $.json.path: message``."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


class ManifestError(CertspecError):
    """The manifest is invalid; carries every problem found, sorted by position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class SecretError(CertspecError):
    """A password source cannot be read (missing variable, unreadable or empty file)."""


class OutputError(CertspecError):
    """The output folder cannot be used as asked (I/O failure, unsafe path, symlink...)."""


class LockHeld(CertspecError):
    """Another apply or rotate holds the output folder's lock."""


class Interrupted(CertspecError):
    """SIGINT or SIGTERM arrived; the run stopped at a safe point."""
