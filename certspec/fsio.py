"""File-system primitives: atomic writes, private folders, and the atomic folder swap.

An environment's folder (``DIR/ENV``) is replaced as a whole: a stage folder is built
beside it (unchanged files hard-linked, so their bytes and mtimes stay), written and
fsynced, then exchanged with the live folder in one ``renameat2(RENAME_EXCHANGE)``. A
reader, or a kill, sees the old generation or the new one, never a mix. Where the
exchange is not available (Windows, old kernels, some file systems) two renames are used;
between them the folder is briefly absent, and ``recover`` finishes the swap next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
from pathlib import Path

from certspec.errors import OutputError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644
STAGE_SUFFIX = ".certspec-new"
OLD_SUFFIX = ".certspec-old"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def io_error(action: str, path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return OutputError(f"cannot {action} {path}: {reason}")


def ensure_dir(path: Path, mode: int = PRIVATE_DIR) -> None:
    """Create ``path`` (and parents) and set its mode whatever the umask."""
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link; certspec does not follow links in its folders")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except OSError as e:
        raise io_error("create folder", path, e) from None


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return  # Windows flushes directory entries with the files; no handle to fsync
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: str | Path, flags: int, data: bytes, mode: int, sync: bool) -> None:
    """Open ``path`` with ``flags`` (never following a link), set ``mode`` whatever the
    umask, write all of ``data``, fsync if asked, close."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        if os.name == "posix":
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes, mode: int, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename) with ``mode``.

    ``sync=False`` leaves the fsync to a later ``flush`` that covers many files at once.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        _write_new(tmp, os.O_TRUNC, data, mode, sync)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise io_error("write", path, e) from None


def create_file(path: str, data: bytes, mode: int, *, replace: bool = False) -> None:
    """Create ``path`` with ``data`` and ``mode``, in a stage folder only: no temporary
    file or rename (the stage's swap is what makes it appear at once) and no fsync (see
    ``flush``). ``replace`` unlinks what is there first, so that a hard link to a live
    file is replaced and never written through."""
    try:
        if replace:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        _write_new(path, os.O_EXCL, data, mode, sync=False)
    except OSError as e:
        raise io_error("write", Path(path), e) from None


def _syncfs(folder: Path) -> bool:
    """Linux syncfs(2): flush the whole file system holding ``folder`` in one call."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(fn(fd) == 0)
    finally:
        os.close(fd)


def flush(files: list[Path], folders: set[Path]) -> None:
    """Make ``files`` (written with sync=False) and their ``folders`` durable: one syncfs
    where Linux offers it, else an fsync per file and per folder."""
    if folders and _syncfs(next(iter(folders))):
        return
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in folders:
        fsync_dir(folder)


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None if absent. A link is refused, never followed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise io_error("read", path, e) from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{path} is a symbolic link; certspec does not follow links in its folders")
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        raise io_error("read", path, e) from None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2). False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    res = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if res == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def clone_tree(src: Path, dst: Path) -> None:
    """Copy the folder ``src`` to ``dst`` with hard links (copies where links fail),
    keeping modes and mtimes; a symbolic link anywhere inside is refused."""
    dst.mkdir(mode=PRIVATE_DIR)
    shutil.copystat(src, dst)
    for entry in os.scandir(src):
        s, d = Path(entry.path), dst / entry.name
        if entry.is_symlink():
            raise OutputError(f"{s} is a symbolic link; certspec does not follow links in its folders")
        if entry.is_dir():
            clone_tree(s, d)
        else:
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def stage_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{STAGE_SUFFIX}")


def swap_in(stage: Path, target: Path) -> None:
    """Make ``stage`` the live ``target`` atomically; the old tree is deleted after."""
    parent = target.parent
    if not target.exists():
        os.rename(stage, target)
    elif not _exchange(stage, target):
        old = target.with_name(f".{target.name}{OLD_SUFFIX}")
        os.rename(target, old)
        os.rename(stage, target)
        fsync_dir(parent)
        shutil.rmtree(old, ignore_errors=True)
        return
    fsync_dir(parent)
    shutil.rmtree(stage, ignore_errors=True)  # after an exchange the stage holds the old tree


def remove_tree(target: Path) -> None:
    """Delete the live folder ``target`` at once for readers: renamed aside first (what a
    kill leaves there, ``recover`` deletes), then deleted."""
    old = target.with_name(f".{target.name}{OLD_SUFFIX}")
    if old.exists():
        shutil.rmtree(old)
    os.rename(target, old)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def recover(root: Path) -> list[str]:
    """Finish or undo swaps that a killed run left in ``root``; returns what it did."""
    done: list[str] = []
    if not root.is_dir():
        return done
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        name = entry.name
        if not name.startswith("."):
            continue
        for suffix in (STAGE_SUFFIX, OLD_SUFFIX):
            if name.endswith(suffix):
                live = root / name[1:-len(suffix)]
                if suffix == STAGE_SUFFIX and not live.exists() and (root / f".{live.name}{OLD_SUFFIX}").exists():
                    os.rename(entry.path, live)  # the two-rename swap stopped halfway: finish it
                    done.append(f"finished the swap of {live.name}")
                else:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    done.append(f"removed leftover {name}")
    return done


def refuse_links(folder: Path) -> None:
    """OutputError if ``folder`` or anything inside it is a symbolic link (never followed)."""
    if folder.is_symlink():
        raise OutputError(f"{folder} is a symbolic link; certspec does not follow links in its folders")
    if not folder.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                raise OutputError(f"{path} is a symbolic link; certspec does not follow links in its folders")


def sweep_temp_files(folder: Path) -> None:
    """Delete ``.NAME.tmpPID`` files a killed write left behind."""
    for dirpath, _, files in os.walk(folder):
        for f in files:
            if f.startswith(".") and ".tmp" in f:
                Path(dirpath, f).unlink(missing_ok=True)
