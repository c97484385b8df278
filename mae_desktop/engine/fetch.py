"""Checkpoints into the per-user model cache: catalogue entries, any URL and Hugging Face
model folders, each checked to open; what the cache holds (no Qt).

Files come through engine/download.py, resumable and retried. A Hugging Face repository is
fetched file by file the same way into `<folder>.part/`, renamed to `<folder>` once every file
is there.

Every function here blocks: call them from a background thread (the app) or the main thread
(the CLI). `cancel` (a threading.Event) is checked between chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .catalogue import (
    CATALOGUE,
    CatalogueEntry,
    by_file_name,
    cached_path,
    hub_file_url,
    url_file_name,
)
from .download import (
    TIMEOUT_S,
    NotFound,
    ProgressFn,
    _check_url,
    _size,
    download,
    format_bytes,
    part_path,
)
from .errors import MAEError
from .files import CHECKPOINT_SUFFIXES


def download_hub(
    repo: str,
    dest: str | Path,
    files: Iterable[str] = ("config.json",),
    *,
    optional: Iterable[str] = ("preprocessor_config.json",),
    weights: Iterable[str] = ("model.safetensors", "pytorch_model.bin"),
    endpoint: str | None = None,
    revision: str = "main",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    retries: int = 5,
    backoff: float | None = None,
    timeout: float = TIMEOUT_S,
    notice: Callable[[str], None] | None = None,
) -> Path:
    """Download a Hugging Face model folder (`repo` = "owner/name") into the folder `dest`.

    Fetches every file of `files`, those of `optional` the repository has, and the first of
    `weights` it has, from `<endpoint>/<repo>/resolve/<revision>/<file>` (endpoint: see
    catalogue.hub_endpoint), each resumable as `download` does, into `<dest>.part/`; renames
    that folder to `dest` when all are there. Progress counts the bytes of all files.
    """
    dest = Path(dest)
    work = part_path(dest)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MAEError(f"cannot create the folder {work}: {exc.strerror or exc}") from exc
    finished = 0  # bytes of the files already complete, for one running count

    def sub(done: int, total: int | None, rate: float) -> None:
        if progress is not None:
            progress(finished + done, None if total is None else finished + total, rate)

    def get(name: str) -> None:
        nonlocal finished
        target = work / name
        if not target.is_file():
            url = hub_file_url(repo, name, endpoint, revision)
            download(
                url, target, sub, cancel, retries, backoff=backoff, timeout=timeout, notice=notice
            )
        finished += _size(target)

    for name in files:
        get(name)
    for name in optional:
        with contextlib.suppress(NotFound):  # e.g. no preprocessor_config.json
            get(name)
    weights = tuple(weights)
    for i, name in enumerate(weights):
        try:
            get(name)
            break
        except NotFound:
            if i == len(weights) - 1:
                raise MAEError(
                    f"{repo} has none of the weight files {', '.join(weights)} at "
                    f"{hub_file_url(repo, '', endpoint, revision)}"
                ) from None
    if dest.exists():
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    os.replace(work, dest)
    return dest


def check_opens(path: str | Path) -> Path:
    """Open a downloaded checkpoint with the engine's loader to make sure it is one.

    One that does not open is renamed `<name>.bad` (kept for a look, never offered nor
    resumed) and MAEError says why. Loads every tensor: seconds and the file's size in
    memory for the largest models; call it off the GUI thread.
    """
    from .checkpoints import load_checkpoint

    path = Path(path)
    try:
        load_checkpoint(path)
    except Exception as exc:  # any failure to open means the download is of no use
        bad = path.with_name(path.name + ".bad")
        if bad.is_dir():
            shutil.rmtree(bad)
        elif bad.exists():
            bad.unlink()
        os.replace(path, bad)
        raise MAEError(
            f"{path.name} was downloaded but does not open as a checkpoint ({exc}); it was "
            f"kept as {bad}"
        ) from exc
    return path


def is_complete(path: Path) -> bool:
    """A downloaded file, or a model folder with config.json (never a .part or .bad)."""
    if path.name.endswith((".part", ".bad")) or path.name.startswith("."):
        return False
    if path.is_dir():
        return (path / "config.json").is_file()
    return path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES


def partial_bytes(dest: str | Path) -> int:
    """Bytes already downloaded towards `dest` (its .part file or folder), 0 if none."""
    part = part_path(dest)
    if part.is_dir():
        return sum(_size(p) for p in part.iterdir())
    return _size(part)


def fetch(
    entry: CatalogueEntry,
    root: str | Path | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
    retries: int = 5,
    backoff: float | None = None,
    timeout: float = TIMEOUT_S,
    endpoint: str | None = None,
) -> Path:
    """Download a catalogue entry into `root` (default: the model cache) unless it is already
    there, check that it opens (check_opens), and return its path. status(text) hears of
    retries and of the check ("checking that … opens")."""
    from ..paths import models_cache_dir

    root = Path(root) if root is not None else models_cache_dir()
    dest = cached_path(entry, root)
    if is_complete(dest):
        return dest
    if entry.kind == "hub":
        assert entry.repo is not None
        download_hub(
            entry.repo,
            dest,
            entry.files,
            optional=entry.optional_files,
            weights=entry.weights,
            endpoint=endpoint,
            progress=progress,
            cancel=cancel,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            notice=status,
        )
    else:
        download(
            entry.url,
            dest,
            progress,
            cancel,
            retries,
            sha256=entry.sha256,
            md5_prefix=entry.md5_prefix,
            backoff=backoff,
            timeout=timeout,
            notice=status,
        )
    if status is not None:
        status(f"checking that {dest.name} opens…")
    return check_opens(dest)


def source_file(dest: Path) -> Path:
    """The hidden record beside a URL download: `.<name>.source.json`, holding the URL it
    came from (written when the download starts, so a `.part` is tied to its URL too)."""
    return dest.with_name(f".{dest.name}.source.json")


def _source_url(dest: Path) -> str | None:
    """The URL recorded for `dest`, None when there is no (readable) record."""
    record = source_file(dest)
    try:
        if not record.is_file() or record.stat().st_size > 64 * 1024:
            return None
        url = json.loads(record.read_text(encoding="utf-8")).get("url")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return url if isinstance(url, str) else None


def url_destination(url: str, folder: Path) -> tuple[Path, bool]:
    """Where the download of `url` goes in `folder`, and whether it is already complete there.

    The URL's file name when it is free or already holds this URL's download; otherwise
    (another URL with the same file name, e.g. two Hugging Face `.../resolve/main/
    model.safetensors`, or a file of unknown origin) `<stem>-<12 hex digits of the URL's
    sha256><suffix>`. Which URL a file came from is read from its source record, never
    guessed from the name, so a second URL never gets the first one's file."""
    name = url_file_name(url)
    stem, suffix = os.path.splitext(name)
    keyed = f"{stem}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}{suffix}"
    for candidate in (folder / name, folder / keyed):
        recorded = _source_url(candidate)
        if recorded == url:
            return candidate, candidate.is_file()
        taken = candidate.exists() or part_path(candidate).exists() or recorded is not None
        if not taken or candidate.name == keyed:
            return candidate, False
    raise AssertionError("unreachable: the keyed name is always usable")


def _claim(dest: Path, url: str) -> bool:
    """Record that `dest` is `url`'s download; False when another download claimed it first
    (two downloads at once: the record is created exclusively, so only one wins)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if _source_url(dest) == url:
            return True
        fd = os.open(source_file(dest), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return _source_url(dest) == url
    except OSError as exc:
        raise MAEError(f"cannot write into {dest.parent}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"url": url}) + "\n")
    return True


def fetch_url(
    url: str,
    out: str | Path | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
    retries: int = 5,
    backoff: float | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download any http(s) URL into the folder `out` (default: the model cache) under the
    URL's file name (see `url_destination`: a name another URL's download holds is never
    reused), unless this URL's download is already there (`status` says it is reused);
    check that it opens; return it."""
    from ..paths import models_cache_dir

    _check_url(url)
    folder = Path(out if out is not None else models_cache_dir())
    for _ in range(3):  # another download may claim the name between the look and the claim
        dest, complete = url_destination(url, folder)
        if complete:
            if status is not None:
                status(f"{dest.name} was downloaded from this URL before: using it")
            return dest
        if _claim(dest, url):
            break
    else:
        raise MAEError(f"{folder}: other downloads keep taking the name for {url}; try again")
    if status is not None and dest.name != url_file_name(url):
        status(f"{url_file_name(url)} here holds another download: saving as {dest.name}")
    download(url, dest, progress, cancel, retries, backoff=backoff, timeout=timeout, notice=status)
    if status is not None:
        status(f"checking that {dest.name} opens…")
    return check_opens(dest)


@dataclass(frozen=True)
class Downloaded:
    """A complete download in the cache. entry: its catalogue entry, None for other files."""

    path: Path
    size_bytes: int
    entry: CatalogueEntry | None

    @property
    def name(self) -> str:
        return self.entry.name if self.entry is not None else self.path.name


def list_downloaded(
    root: str | Path | None = None, entries: tuple[CatalogueEntry, ...] = CATALOGUE
) -> list[Downloaded]:
    """The complete checkpoints (files and model folders) under `root` (default: the model
    cache), by name; .part and .bad files are never listed. Reads the folder only (no
    network), so it works offline."""
    from ..paths import models_cache_dir

    root = Path(root) if root is not None else models_cache_dir()
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir()):
        if not is_complete(path):
            continue
        size = sum(_size(p) for p in path.iterdir()) if path.is_dir() else _size(path)
        out.append(Downloaded(path, size, by_file_name(path.name, entries)))
    return out


def catalogue_listing(root: str | Path, entries: tuple[CatalogueEntry, ...] = CATALOGUE) -> str:
    """The catalogue as text for `mae-desktop download --list`: per entry its name,
    approximate size and state in `root` (downloaded, partial, or not), title, contents and
    licence; then other checkpoints found in `root`."""
    root = Path(root)
    lines = []
    for e in entries:
        dest = cached_path(e, root)
        if is_complete(dest):
            state = "downloaded"
        elif have := partial_bytes(dest):
            state = f"partial: {format_bytes(have)} so far"
        else:
            state = "not downloaded"
        lines += [
            f"{e.name:<30} ~{format_bytes(e.size_bytes):<8} {state}",
            f"    {e.title}",
            f"    contents: {e.contents}",
            f"    licence:  {e.licence}",
        ]
    others = [d for d in list_downloaded(root, entries) if d.entry is None]
    if others:
        lines.append("also downloaded:")
        lines += [f"    {d.path.name} ({format_bytes(d.size_bytes)})" for d in others]
    lines.append(
        f"Saved in {root}. Sizes are approximate. 'mae-desktop download NAME' downloads one."
    )
    return "\n".join(lines)
