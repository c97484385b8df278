"""Resumable downloads of checkpoints into the per-user model cache (no Qt; stdlib urllib).

A file is written to `<dest>.part` and renamed to `<dest>` only when it is complete (and, when
a checksum is known, verified), so a complete-looking name is never a partial file. A later
call resumes a `.part` with an HTTP Range request; a server that ignores Range (200 instead of
206) makes it start again from zero. Dropped connections are retried with exponential
back-off. A Hugging Face repository is fetched file by file the same way into
`<folder>.part/`, renamed to `<folder>` once every file is there.

Every function here blocks: call them from a background thread (the app) or the main thread
(the CLI). `cancel` (a threading.Event) is checked between chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .. import __version__
from .catalogue import (
    CATALOGUE,
    CatalogueEntry,
    by_file_name,
    cached_path,
    hub_file_url,
    url_file_name,
)
from .errors import MAEError

ProgressFn = Callable[[int, int | None, float], None]
"""progress(done_bytes, total_bytes or None when unknown, bytes_per_second)."""

CHUNK = 64 * 1024  # bytes per read: cancel and progress are checked this often
TIMEOUT_S = 30.0  # a connection silent for this long counts as dropped
BACKOFF_S = 1.0  # first retry after this many seconds, then doubling
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".tar")


class DownloadCancelled(MAEError):
    """The download was cancelled; its `.part` file stays for a later resume."""


class NotFound(MAEError):
    """The server has no such file (HTTP 404 or 410)."""


class _Retry(Exception):
    """A failure worth another try (dropped connection, timeout, 5xx)."""


def part_path(dest: str | Path) -> Path:
    """`<dest>.part`: where a file (or a Hub folder) is written until it is complete."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def format_bytes(n: float) -> str:
    """'512 B', '12.3 MB', '1.2 GB' (decimal units, as download sizes are usually given)."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000.0
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if n < 100 else f"{n:.0f} {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """'45 s', '2 min', '1 h 05 min'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def format_progress(done: int, total: int | None, rate: float) -> str:
    """'12.3 MB of 1.2 GB · 8.1 MB/s · 2 min left' (parts left out while unknown)."""
    parts = [f"{format_bytes(done)} of {format_bytes(total)}" if total else format_bytes(done)]
    if rate > 0:
        parts.append(f"{format_bytes(rate)}/s")
        if total and total > done:
            parts.append(f"{format_duration((total - done) / rate)} left")
    return " · ".join(parts)


class _Meter:
    """Turns byte counts into progress calls with a rate over the last few seconds."""

    WINDOW_S = 3.0

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.samples: deque[tuple[float, int]] = deque()
        self.total: int | None = None

    def start(self, done: int, total: int | None) -> None:
        self.total = total
        self.samples.clear()
        self.samples.append((time.monotonic(), done))
        self._emit(done, 0.0)

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.samples[-1][0] >= 0.1:  # one sample per 100 ms is plenty for a rate
            self.samples.append((now, done))
            while len(self.samples) > 2 and now - self.samples[0][0] > self.WINDOW_S:
                self.samples.popleft()
        t0, b0 = self.samples[0]
        self._emit(done, (done - b0) / (now - t0) if now - t0 > 0.05 else 0.0)

    def _emit(self, done: int, rate: float) -> None:
        if self.progress is not None:
            self.progress(done, self.total, rate)


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _open(url: str, have: int, timeout: float):
    headers = {"User-Agent": f"mae-desktop/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    ctx = _ssl_context() if url.startswith("https:") else None
    return urllib.request.urlopen(request, timeout=timeout, context=ctx)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """'bytes 100-199/1000' -> (100, 1000); 'bytes */1000' -> (None, 1000)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, size = value[6:].partition("/")
    start = int(span.split("-")[0]) if span and span != "*" else None
    return start, int(size) if size.isdigit() else None


def _host(url: str) -> str:
    return urlparse(url).netloc or url


def _check_url(url: str) -> None:
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise MAEError(f"not an http(s) URL: {url}")


def _disk_error(exc: OSError, path: Path) -> MAEError:
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return MAEError(f"the disk is full: cannot write {path} ({format_bytes(_size(path))} kept)")
    return MAEError(f"cannot write {path}: {exc.strerror or exc}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _Transfer:
    """One file, tried until it is complete, cancelled or out of retries."""

    def __init__(self, url, dest, progress, cancel, retries, backoff, timeout, notice) -> None:
        self.url, self.dest, self.part = url, Path(dest), part_path(dest)
        self.notice: Callable[[str], None] | None = notice
        self.meter = _Meter(progress)
        self.cancel: threading.Event | None = cancel
        self.retries, self.timeout = retries, timeout
        self.backoff = BACKOFF_S if backoff is None else backoff  # read now: tests shorten it
        self.ignored_range = False

    def cancelled(self) -> DownloadCancelled:
        return DownloadCancelled(
            f"download of {self.url} cancelled; {self.part.name} is kept "
            f"({format_bytes(_size(self.part))}) and the next download resumes from it"
        )

    def run(self) -> None:
        failures, best = 0, _size(self.part)
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise self.cancelled()
            try:
                self._once()
                return
            except _Retry as exc:
                have = _size(self.part)
                if have > best:  # it got further: a fresh set of tries
                    best, failures = have, 0
                failures += 1
                if failures > self.retries:
                    raise self._gave_up(str(exc)) from None
                delay = self.backoff * 2 ** (failures - 1)
                if self.notice is not None:
                    self.notice(
                        f"{exc}; trying again in {delay:g} s ({failures} of {self.retries})"
                    )
                if self.cancel is not None:
                    if self.cancel.wait(delay):
                        raise self.cancelled() from None
                else:
                    time.sleep(delay)

    def _gave_up(self, reason: str) -> MAEError:
        if self.ignored_range:
            return MAEError(
                f"{self.url}: the server cannot resume downloads (it ignores Range requests) "
                f"and the connection kept dropping ({reason})"
            )
        kept = f"; {self.part} is kept: try again to resume" if _size(self.part) else ""
        return MAEError(
            f"download of {self.url} failed after {self.retries} retries: {reason}{kept}"
        )

    def _once(self) -> None:
        have = _size(self.part)
        try:
            resp = _open(self.url, have, self.timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                self._http_error(exc, have)
            return  # a 416 for a .part that was already complete
        except ssl.SSLCertVerificationError as exc:
            raise MAEError(f"{self.url}: the server's certificate is not trusted ({exc})") from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            reason = getattr(exc, "reason", None) or exc
            raise _Retry(f"cannot reach {_host(self.url)}: {reason}") from exc
        with resp:
            self._receive(resp, have)

    def _http_error(self, exc: urllib.error.HTTPError, have: int) -> None:
        if exc.code == 416 and have:
            _, total = _content_range(exc.headers.get("Content-Range"))
            if total == have:  # the .part already holds the whole file
                self.meter.start(have, total)
                return
            self.part.unlink(missing_ok=True)
            raise _Retry("the partial file does not match the server's file; starting again")
        if exc.code in (404, 410):
            raise NotFound(f"{self.url}: not found (HTTP {exc.code})")
        if exc.code in _RETRY_STATUS:
            raise _Retry(f"HTTP {exc.code} {exc.reason}")
        raise MAEError(f"{self.url}: HTTP {exc.code} {exc.reason}")

    def _receive(self, resp, have: int) -> None:
        if resp.status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != have:  # a server that resumes somewhere else: start again
                self.part.unlink(missing_ok=True)
                raise _Retry(f"the server resumed at byte {start}, not {have}; starting again")
            mode = "ab"
        else:
            if have:
                self.ignored_range = True  # the whole file comes again: write it from zero
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        self.meter.start(have, total)
        try:
            out = open(self.part, mode)  # noqa: SIM115 (closed below, errors mapped)
        except OSError as exc:
            raise _disk_error(exc, self.part) from exc
        with out:
            while True:
                if self.cancel is not None and self.cancel.is_set():
                    raise self.cancelled()
                try:
                    data = resp.read1(CHUNK)  # what has arrived: cancel stays prompt
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retry(f"the connection dropped ({type(exc).__name__})") from exc
                if not data:
                    break
                try:
                    out.write(data)
                except OSError as exc:
                    raise _disk_error(exc, self.part) from exc
                have += len(data)
                self.meter.update(have)
        if total is not None and have < total:
            raise _Retry(f"the connection dropped after {have:,} of {total:,} bytes")
        if total is not None and have > total:
            self.part.unlink(missing_ok=True)
            raise MAEError(f"{self.url}: the server sent more bytes than it announced")


def _verify(part: Path, url: str, sha256: str | None, md5_prefix: str | None) -> None:
    if not sha256 and not md5_prefix:
        return
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(part, "rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
            md5.update(block)
    problems = []
    if sha256 and sha.hexdigest() != sha256.lower():
        problems.append(f"sha256 {sha.hexdigest()}, expected {sha256.lower()}")
    if md5_prefix and not md5.hexdigest().startswith(md5_prefix.lower()):
        problems.append(f"md5 {md5.hexdigest()}, expected {md5_prefix.lower()}…")
    if problems:
        part.unlink(missing_ok=True)
        raise MAEError(
            f"{url}: the downloaded file is corrupt ({'; '.join(problems)}); it was deleted, "
            "download it again"
        )


def download(
    url: str,
    dest: str | Path,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    retries: int = 5,
    *,
    sha256: str | None = None,
    md5_prefix: str | None = None,
    backoff: float | None = None,
    timeout: float = TIMEOUT_S,
    notice: Callable[[str], None] | None = None,
) -> Path:
    """Download `url` to the file `dest` and return `dest`.

    Writes `<dest>.part` (resumed with HTTP Range when it exists) and renames it atomically
    once complete and, if `sha256`/`md5_prefix` are given, verified (a mismatch deletes it).
    progress(done_bytes, total_bytes | None, bytes_per_s) is called after every chunk (64 KiB).
    A dropped connection, timeout or 5xx is retried up to `retries` times in a row, after
    `backoff` (default BACKOFF_S), 2×, 4×… seconds; any progress starts a fresh count.
    `timeout`: seconds of silence that count as a dropped connection; notice(text) hears of
    each retry. Raises
    DownloadCancelled (a MAEError; the .part stays) when `cancel` is set, NotFound for HTTP
    404/410, MAEError for every other failure, each naming the URL or the file.
    """
    _check_url(url)
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MAEError(f"cannot create the folder {dest.parent}: {exc.strerror or exc}") from exc
    _Transfer(url, dest, progress, cancel, retries, backoff, timeout, notice).run()
    part = part_path(dest)
    _verify(part, url, sha256, md5_prefix)
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise MAEError(f"cannot rename {part} to {dest.name}: {exc.strerror or exc}") from exc
    return dest


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
    URL's file name, unless that file is already there; check that it opens; return it."""
    from ..paths import models_cache_dir

    _check_url(url)
    dest = Path(out if out is not None else models_cache_dir()) / url_file_name(url)
    if dest.is_file():
        return dest
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
