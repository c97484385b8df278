"""Resumable downloads of one file over HTTP(S) (no Qt; stdlib urllib).

A file is written to `<dest>.part` and renamed to `<dest>` only when it is complete (and, when
a checksum is known, verified), so a complete-looking name is never a partial file. A later
call resumes a `.part` with an HTTP Range request; a server that ignores Range (200 instead of
206) makes it start again from zero. Dropped connections are retried with exponential
back-off. Catalogue entries, Hugging Face folders and the model cache: engine/fetch.py.

Every function here blocks: call them from a background thread (the app) or the main thread
(the CLI). `cancel` (a threading.Event) is checked between chunks.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from .. import __version__
from .errors import MAEError

ProgressFn = Callable[[int, int | None, float], None]
"""progress(done_bytes, total_bytes or None when unknown, bytes_per_second)."""

CHUNK = 64 * 1024  # bytes per read: cancel and progress are checked this often
TIMEOUT_S = 30.0  # a connection silent for this long counts as dropped
BACKOFF_S = 1.0  # first retry after this many seconds, then doubling
STALL_S = 120.0  # no new byte for this long, over all tries: give up (the .part stays)
TRICKLE_WINDOW_S = 60.0  # a transfer slower than MIN_RATE_BPS over this long is given up
MIN_RATE_BPS = 1024.0
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


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
        last_progress = time.monotonic()
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
                    last_progress = time.monotonic()
                failures += 1
                if failures > self.retries:
                    raise self._gave_up(f"failed after {self.retries} retries: {exc}") from None
                silent = time.monotonic() - last_progress
                if silent > STALL_S:  # a server that accepts and never answers
                    raise self._gave_up(
                        f"given up: no data from {_host(self.url)} for {silent:.0f} s ({exc})"
                    ) from None
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
        return MAEError(f"download of {self.url} {reason}{kept}")

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
        window_start, window_bytes = time.monotonic(), have
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
                now = time.monotonic()
                if now - window_start >= TRICKLE_WINDOW_S:  # a trickle never times out
                    rate = (have - window_bytes) / (now - window_start)
                    if rate < MIN_RATE_BPS:
                        raise MAEError(
                            f"download of {self.url} given up: the server sent "
                            f"{format_bytes(rate)}/s for {now - window_start:.0f} s; "
                            f"{self.part} is kept: try again to resume"
                        )
                    window_start, window_bytes = now, have
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
