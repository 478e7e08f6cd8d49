"""Refuse to write keys into a git work tree that would commit them.

An output folder inside a git work tree must be ignored by git; otherwise the next
``git add -A`` publishes private keys. The check asks git itself (``git check-ignore``),
so every .gitignore, .git/info/exclude and global exclude counts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from certspec.errors import OutputError
from certspec.logging import get_logger

log = get_logger("certspec.gitcheck")


def work_tree(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def ensure_ignored(out: Path) -> None:
    """OutputError if ``out`` lies in a git work tree that does not ignore it."""
    out = out.resolve()
    root = work_tree(out)
    if root is None:
        return
    rel = out.relative_to(root).as_posix()
    if rel == ".":
        raise OutputError(f"the output folder {out} is the root of a git work tree; choose a "
                          "folder inside it that git ignores (or pass --allow-unignored)")
    git = shutil.which("git")
    if git is None:
        log.warning("git not found; cannot check that the output folder is git-ignored", folder=str(out))
        return
    res = subprocess.run([git, "-C", str(root), "check-ignore", "-q", "--no-index", rel + "/"],
                         capture_output=True, timeout=30)
    if res.returncode == 1:
        raise OutputError(f"the output folder {out} is inside the git work tree {root} and git does "
                          f"not ignore it; add the line '/{rel}/' to {root / '.gitignore'} "
                          "(or pass --allow-unignored)")
    if res.returncode not in (0, 1):
        log.warning("git check-ignore failed; cannot check the output folder", folder=str(out))
