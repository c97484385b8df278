"""A loopback HTTP server for download tests: serves bytes by path, with Range and faults.

    with Loopback({"/a.bin": data}) as server:
        server.drop_after_bytes = 1000      # the first response stops after 1000 bytes
        download(server.url("/a.bin"), dest)

Options (attributes, changeable while it runs):
  drop_after_bytes  close the connection after this many body bytes, for the next `drops`
                    responses (None: never)
  ignore_range      answer 200 with the whole file even when asked for a range
  status            answer every request with this status (e.g. 404, 503) and no body
  chunk, chunk_delay  body written `chunk` bytes at a time, sleeping `chunk_delay` s after each
  rate              bytes per second to throttle the body to (None: as fast as it goes)
  hold_after_bytes, release   pause the body after that many bytes until `release` (an Event)
                              is set: lets a test act mid-download without sleeping
`requests` lists (path, Range header or None) of every request, in order.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Loopback:
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.drop_after_bytes: int | None = None
        self.drops = 1
        self.ignore_range = False
        self.status: int | None = None
        self.chunk = 16 * 1024
        self.chunk_delay = 0.0
        self.rate: float | None = None
        self.hold_after_bytes: int | None = None
        self.release = threading.Event()
        self.requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content ---------------------------------------------------------------------------
    def add_folder(self, prefix: str, folder: str | Path) -> None:
        """Serve every file of `folder` under `prefix` + its name."""
        for path in sorted(Path(folder).iterdir()):
            if path.is_file():
                self.files[f"{prefix.rstrip('/')}/{path.name}"] = path.read_bytes()

    def url(self, path: str) -> str:
        return f"{self.endpoint}{path}"

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _take_drop(self) -> int | None:
        with self._lock:
            if self.drop_after_bytes is None or self.drops <= 0:
                return None
            self.drops -= 1
            return self.drop_after_bytes

    # -- life ------------------------------------------------------------------------------
    def start(self) -> Loopback:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()  # let a held response end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """'bytes=N-' or 'bytes=N-M' -> (first, last) inclusive; None when absent or invalid."""
    if not value or not value.startswith("bytes="):
        return None
    first, _, last = value[6:].partition("-")
    if not first.isdigit():
        return None
    return int(first), (int(last) if last.isdigit() else size - 1)


def _handler_for(srv: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            path = self.path.split("?")[0]
            asked = self.headers.get("Range")
            srv.requests.append((path, asked))
            if srv.status is not None:
                self._empty(srv.status)
                return
            data = srv.files.get(path)
            if data is None:
                self._empty(404)
                return
            size = len(data)
            span = None if srv.ignore_range else _parse_range(asked, size)
            if span is not None and span[0] >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if span is None:
                first, last = 0, size - 1
                self.send_response(200)
            else:
                first, last = span[0], min(span[1], size - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(last - first + 1))
            self.send_header("Accept-Ranges", "none" if srv.ignore_range else "bytes")
            self.end_headers()
            if body:
                self._body(data[first : last + 1])

        def _empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body(self, payload: bytes) -> None:
            drop = srv._take_drop()
            held = False
            sent, start = 0, time.monotonic()
            try:
                while sent < len(payload):
                    n = srv.chunk
                    if drop is not None:
                        n = min(n, drop - sent)
                    if srv.hold_after_bytes is not None and not held:
                        n = min(n, max(0, srv.hold_after_bytes - sent)) or n
                    piece = payload[sent : sent + n]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    sent += len(piece)
                    if drop is not None and sent >= drop:
                        self._drop()
                        return
                    hold = srv.hold_after_bytes
                    if not held and hold is not None and sent >= hold:
                        held = True
                        srv.release.wait(30)
                    if srv.chunk_delay:
                        time.sleep(srv.chunk_delay)
                    if srv.rate:
                        ahead = sent / srv.rate - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close_connection = True

        def _drop(self) -> None:
            """Close the connection mid-body, as a failing network does."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
