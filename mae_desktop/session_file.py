"""Session files: the JSON that reopens what the user was looking at (Qt-free).

{"format": "mae-desktop-session", "version": 1,
 "image": {"path": ..., "sha256": ...}, "checkpoint": {"path": ..., "sha256": ...},
 "mask": ["0110...", ...] (one string per grid row, 1 = masked),
 "generator": {"mode": ..., "ratio": ..., "seed": ...}, "device": ..., "dtype": ...,
 "display_mode": ..., "resize": ..., "attention": {...},
 "heads": {"heads": n or null, "decoder_heads": n or null},   (head counts set by the user)
 "input_norm": "none" | "imagenet" | "MEAN:STD" | null}   (set by the user; null: the file's)
Files written before input_norm existed read as null.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .engine.checkpoints import sha256_files
from .engine.config import parse_input_norm
from .engine.errors import MAEError

FORMAT = "mae-desktop-session"
VERSION = 1


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file, or of a folder's weight files; None if it cannot be read."""
    p = Path(path)
    try:
        return sha256_files([f for f in p.iterdir() if f.is_file()] if p.is_dir() else [p])
    except OSError:
        return None


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


def _heads(d: dict) -> dict[str, int | None]:
    """{"heads": n, "decoder_heads": n}: positive ints or None; raises ValueError."""
    out: dict[str, int | None] = {}
    for key in ("heads", "decoder_heads"):
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{key} must be a positive integer or null, got {v!r}")
        out[key] = v
    return out


def _input_norm(v: Any) -> str | None:
    """A stored input normalisation: None or a spec parse_input_norm accepts."""
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"input_norm must be a string or null, got {v!r}")
    parse_input_norm(v)  # raises ValueError
    return v


def save_session(path: str | Path, session: Session) -> None:
    Path(path).write_text(session.to_json() + "\n", encoding="utf-8")


def load_session(path: str | Path) -> tuple[Session, list[str]]:
    """Read a session file -> (Session, warnings). Warnings name files whose content changed
    since the session was saved. Raises MAEError for unreadable or malformed files."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MAEError(f"cannot read session {p.name}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MAEError(f"{p.name} is not an MAE Desktop session file")
    if data.get("version") != VERSION:
        raise MAEError(f"{p.name}: session version {data.get('version')!r} is not supported")
    try:
        rows = data["mask"]
        if not rows or any(set(r) - {"0", "1"} or len(r) != len(rows[0]) for r in rows):
            raise ValueError("mask rows must be equal-length strings of 0 and 1")
        mask = np.array([[c == "1" for c in r] for r in rows], dtype=bool)
        session = Session(
            image_path=data["image"]["path"],
            checkpoint_path=data["checkpoint"]["path"],
            mask=mask,
            image_sha256=data["image"].get("sha256"),
            checkpoint_sha256=data["checkpoint"].get("sha256"),
            generator=dict(data.get("generator", {})),
            device=str(data.get("device", "auto")),
            dtype=str(data.get("dtype", "fp32")),
            display_mode=str(data.get("display_mode", "auto")),
            resize=str(data.get("resize", "stretch")),
            attention=dict(data.get("attention", {})),
            heads=_heads(data.get("heads") or {}),
            input_norm=_input_norm(data.get("input_norm")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MAEError(f"{p.name}: the session file is damaged ({exc})") from exc
    warnings = []
    for what, fpath, digest in (
        ("image", session.image_path, session.image_sha256),
        ("checkpoint", session.checkpoint_path, session.checkpoint_sha256),
    ):
        if fpath and not Path(fpath).exists():
            raise MAEError(f"the session's {what} is missing: {fpath}")
        if fpath and digest and file_sha256(fpath) != digest:
            warnings.append(f"the {what} {Path(fpath).name} changed since the session was saved")
    return session, warnings
