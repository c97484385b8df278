"""Session files: the JSON that reopens what the user was looking at (Qt-free).

{"format": "mae-desktop-session", "version": 1,
 "image": {"path": ..., "sha256": ...}, "checkpoint": {"path": ..., "sha256": ...},
 "mask": ["0110...", ...] (one string per grid row, 1 = masked),
 "generator": {"mode": ..., "ratio": ..., "seed": ...}, "device": ..., "dtype": ...,
 "display_mode": ..., "resize": ..., "attention": {...},
 "heads": {"heads": n or null, "decoder_heads": n or null},   (head counts set by the user)
 "input_norm": "none" | "imagenet" | "MEAN:STD" | null}   (set by the user; null: the file's)
Files written before a field existed read with its default (input_norm: null).

`read_session` validates every field (types and ranges) and touches no other file;
`check_files` looks at the image and the checkpoint it names (regular files only; sha256
against the saved one). Hashing reads whole files: callers run it off the GUI thread.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .engine import files as files_mod
from .engine.config import parse_input_norm
from .engine.errors import MAEError
from .engine.images import RESIZE_POLICIES
from .engine.masks import MASK_MODES
from .engine.reconstruction import MODES

FORMAT = "mae-desktop-session"
VERSION = 1
MAX_SESSION_BYTES = 8 << 20  # a session is a few kB; its mask at most a 1024x1024 grid (1 MiB)
MAX_GRID = 1024
MAX_SEED = 2**31 - 1
DISPLAY_MODES = ("auto", *MODES)
ATTENTION_PARTS = ("encoder", "decoder")
QUERY_MODES = ("cls", "mean", "patch")  # core.editor.QUERY_MODES
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


# -- files -------------------------------------------------------------------------------------
def regular_file(path: str | Path, what: str, folder: bool = False) -> list[Path]:
    """The files behind `path`: [path] for an ordinary file; with `folder`, a folder's
    ordinary files (sub-folders are skipped). Never opens anything (a pipe or a device would
    block or never end). Raises FileNotFoundError when it is missing (the caller may ask
    the user), MAEError for a device, a pipe, a socket, a folder (unless `folder`) or a
    folder holding one of those (`engine.files` says which)."""
    p = Path(path)
    try:
        mode = p.stat().st_mode  # follows links: a link to /dev/zero is /dev/zero
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(str(p)) from None
    except (OSError, ValueError) as exc:
        raise MAEError(f"{what} {p} cannot be read: {exc}") from exc
    if not (folder and stat.S_ISDIR(mode)):
        return [files_mod.regular_file(p, what)]
    found = []
    try:
        for entry in sorted(p.iterdir()):
            if not entry.is_dir():
                found.append(files_mod.regular_file(entry, f"{what} folder {p.name}: the file"))
    except OSError as exc:
        raise MAEError(f"{what} folder {p} cannot be read: {exc}") from exc
    return found


def sha256_of(files: list[Path], between: Callable[[], None] | None = None) -> str:
    """sha256 (hex) of the files' bytes in name order, read in 1 MiB chunks (the same as
    engine.checkpoints.sha256_files); `between()` runs after every chunk (it may raise to
    stop). Opens only regular files (O_NONBLOCK: a file swapped for a pipe fails at once)."""
    h = hashlib.sha256()
    for f in sorted(files):
        fd = os.open(f, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise MAEError(f"{f} is not an ordinary file")
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                h.update(chunk)
                if between is not None:
                    between()
    return h.hexdigest()


def file_sha256(path: str | Path, between: Callable[[], None] | None = None) -> str | None:
    """sha256 of a regular file, or of a folder's regular files; None if it cannot be read
    or is anything else (a device, a pipe: never opened)."""
    try:
        return sha256_of(regular_file(path, "file", folder=True), between)
    except (OSError, ValueError, MAEError):
        return None


# -- the session ---------------------------------------------------------------------------------
@dataclass
class Session:
    """What a session file holds; paths may be None (a pasted image, no model)."""

    image_path: str | None
    checkpoint_path: str | None
    mask: np.ndarray
    image_sha256: str | None = None
    checkpoint_sha256: str | None = None
    generator: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "fp32"
    display_mode: str = "auto"
    resize: str = "stretch"
    attention: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, int | None] = field(default_factory=dict)
    input_norm: str | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("mask")
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "image": {"path": d.pop("image_path"), "sha256": d.pop("image_sha256")},
                "checkpoint": {
                    "path": d.pop("checkpoint_path"),
                    "sha256": d.pop("checkpoint_sha256"),
                },
                "mask": ["".join("1" if v else "0" for v in row) for row in self.mask],
                **d,
            },
            indent=2,
        )


def save_session(path: str | Path, session: Session) -> None:
    """Write the session file whole or not at all (an older file survives a failed write;
    MAEError names the file)."""
    files_mod.write_bytes(path, (session.to_json() + "\n").encode("utf-8"), "session")


class _Bad(ValueError):
    """A field that is not what a session holds; the message names the field."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and abs(v) < float("inf")


def _dict(data: dict, key: str) -> dict:
    v = data.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _Bad(f"{key} must be an object, got {v!r:.60}")
    return v


def _choice(v: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(v, str) or v not in choices:
        raise _Bad(f"{name} must be one of {', '.join(choices)}, got {v!r:.60}")
    return v


def _file(data: dict, key: str) -> tuple[str | None, str | None]:
    d = _dict(data, key)
    path, digest = d.get("path"), d.get("sha256")
    if path is not None and (not isinstance(path, str) or not path or "\0" in path):
        raise _Bad(f"{key}.path must be a file path or null, got {path!r:.80}")
    if digest is not None and (not isinstance(digest, str) or not _SHA256.match(digest)):
        raise _Bad(f"{key}.sha256 must be 64 hexadecimal digits or null, got {digest!r:.80}")
    return path, digest


def _mask(rows: Any) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise _Bad("mask must be a list of rows of 0 and 1")
    if len(rows) > MAX_GRID or not all(isinstance(r, str) for r in rows):
        raise _Bad(f"mask must be at most {MAX_GRID} strings of 0 and 1")
    width = len(rows[0])
    if not 0 < width <= MAX_GRID or any(len(r) != width or set(r) - {"0", "1"} for r in rows):
        raise _Bad("mask rows must be equal-length strings of 0 and 1")
    return np.array([[c == "1" for c in r] for r in rows], dtype=bool)


def _generator(d: dict) -> dict[str, Any]:
    mode = _choice(d.get("mode", "random"), "generator.mode", MASK_MODES)
    ratio = d.get("ratio", 0.75)
    if not _is_number(ratio) or not 0.0 <= ratio <= 1.0:
        raise _Bad(f"generator.ratio must be a number from 0 to 1, got {ratio!r:.60}")
    seed = d.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise _Bad(f"generator.seed must be a whole number from 0 to {MAX_SEED}, got {seed!r:.60}")
    return {"mode": mode, "ratio": float(ratio), "seed": seed}


def _attention(d: dict) -> dict[str, Any]:
    """part, layer, head, query, cell, rollout (opacity and colormap are the window's). Also
    the first release's {"head": "head 3", "query": [r, c]} spelling."""
    part = _choice(d.get("part", "encoder"), "attention.part", ATTENTION_PARTS)
    layer = d.get("layer", -1)
    if not _is_int(layer) or not -1 <= layer < 10_000:
        raise _Bad(f"attention.layer must be a layer number or -1 (the last), got {layer!r:.60}")
    head = d.get("head", "mean")
    if isinstance(head, str) and head.startswith("head ") and head[5:].isdigit():
        head = int(head[5:])
    if not (head in ("mean", "max") or (_is_int(head) and 0 <= head < 10_000)):
        raise _Bad(f"attention.head must be mean, max or a head number, got {head!r:.60}")
    query, cell = d.get("query", "cls"), d.get("cell")
    if isinstance(query, list):  # the first release stored the picked patch here
        query, cell = "patch", query
    query = _choice(query, "attention.query", QUERY_MODES)
    if cell is not None and not (
        isinstance(cell, list | tuple)
        and len(cell) == 2
        and all(_is_int(v) and 0 <= v < MAX_GRID for v in cell)
    ):
        raise _Bad(f"attention.cell must be [row, column] or null, got {cell!r:.60}")
    if query == "patch" and cell is None:
        raise _Bad("attention.cell is needed when attention.query is patch")
    rollout = d.get("rollout", False)
    if not isinstance(rollout, bool):
        raise _Bad(f"attention.rollout must be true or false, got {rollout!r:.60}")
    opacity = d.get("opacity", 0.7)
    if not _is_number(opacity) or not 0.0 <= opacity <= 1.0:
        raise _Bad(f"attention.opacity must be a number from 0 to 1, got {opacity!r:.60}")
    if not isinstance(d.get("colormap", ""), str):
        raise _Bad("attention.colormap must be a name")
    return {
        "part": part,
        "layer": layer,
        "head": head,
        "query": query,
        "cell": [int(cell[0]), int(cell[1])] if cell is not None else None,
        "rollout": rollout,
    }


def _heads(d: dict) -> dict[str, int | None]:
    """{"heads": n, "decoder_heads": n}: positive whole numbers or null."""
    out: dict[str, int | None] = {}
    for key in ("heads", "decoder_heads"):
        v = d.get(key)
        if v is not None and (not _is_int(v) or not 1 <= v <= 4096):
            raise _Bad(f"heads.{key} must be a positive whole number or null, got {v!r:.60}")
        out[key] = v
    return out


def _input_norm(v: Any) -> str | None:
    """A stored input normalisation: None or a spec parse_input_norm accepts."""
    if v is None:
        return None
    if not isinstance(v, str):
        raise _Bad(f"input_norm must be a string or null, got {v!r:.60}")
    try:
        parse_input_norm(v)
    except ValueError as exc:
        raise _Bad(f"input_norm: {exc}") from None
    return v


def _device(v: Any) -> str:
    if not isinstance(v, str) or not _DEVICE.match(v.strip().lower()):
        raise _Bad(f"device must be auto, cpu, cuda, cuda:N or mps, got {v!r:.60}")
    return v.strip().lower()


def parse_session(data: Any, name: str = "the session") -> Session:
    """A session file's JSON -> a Session whose every field is valid; raises MAEError that
    names the first bad field. Missing fields (files from earlier versions) take defaults."""
    from .engine.device import DTYPES  # (torch: imported only when needed)

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MAEError(f"{name} is not an MAE Desktop session file")
    if data.get("version") != VERSION:
        raise MAEError(f"{name}: session version {data.get('version')!r:.40} is not supported")
    try:
        if "mask" not in data:
            raise _Bad("mask is missing")
        if "image" not in data or "checkpoint" not in data:
            raise _Bad("image or checkpoint is missing")
        image_path, image_sha = _file(data, "image")
        checkpoint_path, checkpoint_sha = _file(data, "checkpoint")
        return Session(
            image_path=image_path,
            checkpoint_path=checkpoint_path,
            mask=_mask(data["mask"]),
            image_sha256=image_sha,
            checkpoint_sha256=checkpoint_sha,
            generator=_generator(_dict(data, "generator")),
            device=_device(data.get("device", "auto")),
            dtype=_choice(data.get("dtype", "fp32"), "dtype", tuple(DTYPES)),
            display_mode=_choice(data.get("display_mode", "auto"), "display_mode", DISPLAY_MODES),
            resize=_choice(data.get("resize", "stretch"), "resize", RESIZE_POLICIES),
            attention=_attention(_dict(data, "attention")),
            heads=_heads(_dict(data, "heads")),
            input_norm=_input_norm(data.get("input_norm")),
        )
    except _Bad as exc:
        raise MAEError(f"{name}: the session file is damaged: {exc}") from None


def read_session(path: str | Path) -> Session:
    """Read and validate a session file (an ordinary file of at most 8 MiB; nothing else is
    opened). Raises MAEError for unreadable, malformed or out-of-range files."""
    p = Path(path)
    try:
        regular_file(p, "session file")
        if p.stat().st_size > MAX_SESSION_BYTES:
            raise MAEError(f"{p.name} is too large for a session file")
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_SESSION_BYTES + 1)
    except FileNotFoundError as exc:
        raise MAEError(f"session file not found: {p}") from exc
    except OSError as exc:
        raise MAEError(f"cannot read session {p.name}: {exc.strerror or exc}") from exc
    return parse_session(session_json(raw, p.name), p.name)


def session_json(raw: bytes, name: str) -> Any:
    """A session file's bytes as JSON: UTF-8, with or without the byte-order mark some
    editors add (Windows Notepad); MAEError saying what is wrong otherwise (not UTF-8, not
    JSON, nested too deeply)."""
    from .engine import jsonfile

    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    return jsonfile.loads(raw, f"session {name}")


def session_problem(path: str | Path) -> str | None:
    """Why the ordinary file `path` is not a session file to open, or None when it is one
    (the format key is checked, not the other fields: `read_session` does that and names
    them). Reads at most MAX_SESSION_BYTES."""
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_SESSION_BYTES:
        return f"{size:,} bytes: too large for a session file (at most {MAX_SESSION_BYTES:,})"
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_SESSION_BYTES + 1)
    try:
        data = session_json(raw, p.name)
    except MAEError as exc:
        return str(exc).removeprefix(f"session {p.name} ").removeprefix("is ")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return "a JSON file, but not an MAE Desktop session"
    return None


# -- the files it names ----------------------------------------------------------------------
@dataclass(frozen=True)
class FilesCheck:
    """What `check_files` found. problems: sentences for the user about a missing or changed
    image or checkpoint (opening anyway is the user's choice); checkpoint_sha256: the
    checkpoint's hash when it was computed."""

    problems: tuple[str, ...] = ()
    image_missing: bool = False
    checkpoint_missing: bool = False
    checkpoint_sha256: str | None = None


def check_files(session: Session, between: Callable[[], None] | None = None) -> FilesCheck:
    """Look at the session's image (a regular file) and checkpoint (a regular file or a
    folder of them); hash them when the session saved a sha256. Raises MAEError for
    anything that is not a regular file (a device, a pipe: never opened). Slow for big
    files: never on the GUI thread."""
    problems, missing, checkpoint_sha = [], {}, None
    for what, path, digest, stays in (
        ("image", session.image_path, session.image_sha256, "the image on screen stays"),
        ("checkpoint", session.checkpoint_path, session.checkpoint_sha256, "the open model stays"),
    ):
        missing[what] = False
        if not path:
            continue
        try:
            files = regular_file(path, f"the session's {what}", folder=what == "checkpoint")
        except FileNotFoundError:
            missing[what] = True
            problems.append(f"The session's {what} is missing: {path} ({stays}).")
            continue
        if not digest:
            continue
        try:
            now = sha256_of(files, between)
        except OSError as exc:
            raise MAEError(f"the session's {what} {path} cannot be read: {exc}") from exc
        if what == "checkpoint":
            checkpoint_sha = now
        if now != digest:
            problems.append(
                f"The session's {what} {Path(path).name} is not the file the session was "
                f"saved with (its contents changed): {path}."
            )
    return FilesCheck(tuple(problems), missing["image"], missing["checkpoint"], checkpoint_sha)


def load_session(path: str | Path) -> tuple[Session, list[str]]:
    """read_session + check_files on this thread (scripts): (Session, the problems with the
    files it names). Raises MAEError for a bad session or a file that is not regular."""
    session = read_session(path)
    return session, list(check_files(session).problems)


# -- the device -------------------------------------------------------------------------------
def _describe(device: Any) -> str:
    return "the CPU" if device.type == "cpu" else str(device)


def session_device(device: str, dtype: str) -> tuple[str, str, str | None]:
    """The device and precision to open a session's model with on this machine, and a
    note when they differ from the saved ones: a device this machine lacks falls back to
    the best present ('auto'), a precision it cannot run there to fp32. The device returned
    is one the Device menu offers ('auto' or an available device's name)."""
    from .engine.device import available_devices, resolve_device, supported_dtypes

    note = []
    try:
        resolved = resolve_device(device)
        choice = device if device == "auto" else str(resolved)
        if choice not in ("auto", *available_devices()):
            raise MAEError(f"no {device}")
    except MAEError:
        resolved, choice = resolve_device("auto"), "auto"
        kind = "CUDA" if device.startswith("cuda") else "MPS" if device == "mps" else device
        if kind == "CUDA" and "cuda:0" in available_devices():
            kind = device
        note.append(
            f"the session was saved on {device}; this machine has no {kind}: "
            f"using {_describe(resolved)}"
        )
    if dtype not in supported_dtypes(resolved):
        note.append(f"{dtype} is not available on {_describe(resolved)}: using fp32")
        dtype = "fp32"
    return choice, dtype, "; ".join(note) or None
