"""What may be opened, and where results may go: ordinary files only, writable folders.

A pipe (FIFO), a device such as /dev/zero or a socket blocks or never ends when it is read,
so every file a user names (image, mask, checkpoint, training state, session) is checked with
`regular_file` before anything opens it. `stat` never blocks, unlike `open` on a FIFO.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import MAEError

# the extensions File ▸ Open image / Open checkpoint, the command line's plain files and the
# model cache recognise (a Hugging Face checkpoint is a folder, told by its config.json)
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
)
CHECKPOINT_SUFFIXES = frozenset({".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".tar"})

_KINDS = (
    (stat.S_ISFIFO, "a pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not an ordinary file"


def regular_file(path: str | Path, what: str = "file") -> Path:
    """path, once it is known to be an ordinary file (symbolic links followed).

    `what` names it in messages ('image', 'mask file', 'checkpoint'). Raises MAEError when
    the path does not exist, is a folder, or is a pipe, device or socket (which would block
    or never end when read), or cannot be looked at.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise MAEError(f"{what} not found: {path}") from None
    except PermissionError:
        raise MAEError(f"cannot open {what} {path}: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MAEError(f"cannot open {what} {path}: {reason}") from None
    if stat.S_ISDIR(mode):
        raise MAEError(f"expected {_article(what)} {what}, got a folder: {path}")
    if not stat.S_ISREG(mode):
        raise MAEError(
            f"{what} {path} is {_kind(mode)}, not an ordinary file; only ordinary files are opened"
        )
    return path


def regular_folder(path: str | Path, what: str = "folder") -> Path:
    """path, once it is known to be a folder; MAEError otherwise (see `regular_file`)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise MAEError(f"{what} not found: {path}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MAEError(f"cannot open {what} {path}: {reason}") from None
    if not stat.S_ISDIR(mode):
        raise MAEError(f"{what} {path} is not a folder")
    return path


def inside(folder: Path, name: str, what: str) -> Path:
    """folder / name, refused (MAEError) unless it stays inside folder once links and '..'
    are resolved: an index file may only name files next to it."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise MAEError(f"{what} names {name!r}, which is not a file name")
    base = folder.resolve()
    target = (folder / name).resolve()
    if target == base or not target.is_relative_to(base):
        raise MAEError(
            f"{what} names {name!r}, which is outside the folder {folder.name}/; "
            "only files inside the model folder are read"
        )
    return target


def writable_folder(path: str | Path, what: str = "output folder") -> Path:
    """Check that results can be written into the folder path, before any work is done.

    The folder may exist (it must then be a folder one can write into) or not (its nearest
    existing parent must be a folder and the folder must be creatable). Nothing is left
    behind: folders created for the check are removed again. Raises MAEError naming the
    problem.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MAEError(f"{what} {path} is a file, not a folder")
    created: list[Path] = []
    probe = path
    missing = []
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise MAEError(f"{what} {path} cannot be created: {probe} is a file, not a folder")
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        fd, name = tempfile.mkstemp(dir=path, prefix=".mae-desktop-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise MAEError(f"cannot write to {what} {path}: {reason}") from None
    finally:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
    return path


# names Windows gives to devices, with any extension (CON.png is the console too)
WINDOWS_RESERVED = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(1, 10)),
        *(f"LPT{i}" for i in range(1, 10)),
    }
)


def safe_name(name: str, fallback: str = "image") -> str:
    """`name` as a file or folder name that stays where it is put, on every system: no
    separators or characters Windows refuses (each becomes '_'), no leading or trailing
    dots and spaces (so never '.' or '..'), not a Windows device name (CON, NUL, COM1, ...:
    '_' appended); `fallback` when nothing is left."""
    cleaned = "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in name)
    cleaned = cleaned.strip(" .")
    if not cleaned:
        return fallback
    if cleaned.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        return cleaned + "_"
    return cleaned


@contextlib.contextmanager
def atomic_write(path: str | Path, what: str = "file") -> Iterator[Path]:
    """Write a file whole or not at all: yields a temporary name beside `path` (same folder,
    hidden, same suffix so writers that look at it still work); when the block ends without
    error it is renamed over `path` in one step. On any error the temporary file is removed
    and an OSError becomes MAEError naming `path` ('the disk is full' for ENOSPC/EDQUOT); a
    reader never sees a half-written `path`, and an older `path` survives a failed write."""
    import errno

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, MAEError):
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
                raise MAEError(f"cannot write {what} {path}: the disk is full") from exc
            raise MAEError(f"cannot write {what} {path}: {exc.strerror or exc}") from exc
        raise


def write_bytes(path: str | Path, data: bytes, what: str = "file") -> Path:
    """atomic_write of `data`; returns `path`."""
    with atomic_write(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_npy(path: str | Path, array: Any) -> Path:
    """np.save, whole or not at all, to exactly `path` (np.save(path) appends .npy to a name
    that does not end in it); returns `path`."""
    import numpy as np

    with atomic_write(path, "array") as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)
    return Path(path)


def _article(what: str) -> str:
    return "an" if what[:1].lower() in "aeiou" else "a"


__all__ = [
    "atomic_write",
    "inside",
    "regular_file",
    "regular_folder",
    "safe_name",
    "save_npy",
    "writable_folder",
    "write_bytes",
]
