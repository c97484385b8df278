"""Files named on the command line as plain arguments (`mae-desktop FILE...`, what a file
manager's "Open with" and a desktop entry's %F pass): what each one is, and what the app
opens at start (Qt-free, so the rules are tested without a window).

What a file is: a folder with a config.json is a Hugging Face checkpoint folder; a file is
told by its extension (the ones File ▸ Open image and File ▸ Open checkpoint take, .json
for sessions: only one whose "format" is "mae-desktop-session"); a file with another or no
extension by its first bytes (PNG, JPEG, GIF, BMP, TIFF, WebP; a PyTorch or safetensors
checkpoint; a session's JSON). Only ordinary files are read, and only their first bytes (a
session: at most 8 MiB of JSON); nothing in them is run.

What opens (`plan_launch`), the same rules wherever the files come from:
- the window holds one image, one model and one session at a time: of each kind the first
  file given opens, the others are counted in a note for the status bar;
- a session opens its own image and checkpoint: given with images or checkpoints, the
  session opens and they do not (the note says so);
- --image or --checkpoint together with a plain file of the same kind, or with a session,
  is a usage error (`LaunchConflict`): the command line says which one to open;
- a file that does not exist or is of no known kind is a problem: the app starts all the
  same and tells the user which file and why.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..engine.files import CHECKPOINT_SUFFIXES, IMAGE_SUFFIXES
from ..session_file import session_problem

IMAGE, CHECKPOINT, SESSION = "image", "checkpoint", "session"
KINDS = (IMAGE, CHECKPOINT, SESSION)
SESSION_SUFFIXES = frozenset({".json"})
HEAD_BYTES = 64  # what is read of a file to tell its kind by its first bytes
_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
# torch.save: a zip whose first entry is NAME/data.pkl, or (before PyTorch 1.6) a pickle
# that starts with torch's magic number
_TORCH_LEGACY = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
UNKNOWN_KIND = (
    "not a file MAE Desktop opens (an image such as .png or .jpg, a checkpoint: .pth, .pt, "
    ".bin, .safetensors or a Hugging Face model folder, or a session .json)"
)
NOT_ORDINARY = "not an ordinary file (a pipe, a device or a socket): only ordinary files are opened"


class LaunchConflict(ValueError):
    """Files and options that ask for two things where the window holds one (a usage
    error: the message says what to give instead)."""


@dataclass(frozen=True)
class LaunchFile:
    """One file from the command line: its kind (IMAGE, CHECKPOINT, SESSION), or None and
    the reason it cannot be opened."""

    path: str
    kind: str | None
    problem: str = ""


@dataclass(frozen=True)
class LaunchPlan:
    """What the app opens at start besides (or instead of) the bundled model and sample:
    at most one image, checkpoint and session; `problems`: (file, reason) for each file
    that cannot be opened; `note`: a line for the status bar about files that were fine
    but not opened (empty when none)."""

    image: str | None = None
    checkpoint: str | None = None
    session: str | None = None
    problems: tuple[tuple[str, str], ...] = ()
    left_out: tuple[str, ...] = ()
    note: str = ""

    @property
    def messages(self) -> list[str]:
        """One line per problem, naming the file and the reason."""
        return [f"cannot open {path}: {reason}" for path, reason in self.problems]


def local_path(token: str) -> str:
    """A command-line token as a path: a file:// URL (some launchers pass them) becomes the
    local path it names; anything else is returned as it is."""
    if token.startswith("file://"):
        parsed = urlparse(token)
        if parsed.netloc in ("", "localhost"):
            return unquote(parsed.path)
    return token


def looks_like_path(token: str) -> bool:
    """Is a token that is not a command a file to open? Yes when it exists, or is clearly a
    path: it has a folder separator or a file extension ('photos/cat', 'cat.png'). A bare
    word that exists nowhere ('reconstrct') is not: it is a mistyped command."""
    path = local_path(token)
    if not path or path.startswith("-"):
        return False
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if any(sep in path for sep in seps) or Path(path).suffix:
        return True
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _head(path: Path, size: int) -> bytes:
    """The first `size` bytes of an ordinary file (opened without blocking)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        return fh.read(size)


def _is_session(path: Path) -> bool:
    """Whether a file holds a session (see `session_file.session_problem`)."""
    return session_problem(path) is None


def _sniff(path: Path) -> str | None:
    """The kind of a file by its first bytes, or None."""
    head = _head(path, HEAD_BYTES)
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return IMAGE
    if head.startswith(_TORCH_LEGACY):
        return CHECKPOINT
    if head.startswith(b"PK\x03\x04"):
        name_len = int.from_bytes(head[26:28], "little")
        if head[30 : 30 + name_len].endswith(b"/data.pkl"):
            return CHECKPOINT
    # safetensors: an 8-byte little-endian header length, then the JSON header
    header_len = int.from_bytes(head[:8], "little")
    if head[8:10] == b'{"' and header_len <= path.stat().st_size - 8:
        return CHECKPOINT
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{" and _is_session(path):
        return SESSION
    return None


def kind_of(token: str | os.PathLike[str]) -> LaunchFile:
    """What a command-line file is. Looks at the path (stat, which never blocks) and reads
    at most the first bytes of an ordinary file (a whole session .json): a pipe or a device
    is never opened."""
    path = local_path(os.fspath(token))
    p = Path(path)
    try:
        mode = os.stat(p).st_mode  # follows links
    except (FileNotFoundError, NotADirectoryError):
        return LaunchFile(path, None, "no such file or folder")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        return LaunchFile(path, None, getattr(exc, "strerror", None) or str(exc))
    if stat.S_ISDIR(mode):
        if (p / "config.json").is_file():
            return LaunchFile(path, CHECKPOINT)
        return LaunchFile(
            path, None, "a folder, but not a Hugging Face model folder (no config.json)"
        )
    if not stat.S_ISREG(mode):
        return LaunchFile(path, None, NOT_ORDINARY)
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return LaunchFile(path, IMAGE)
    if suffix in CHECKPOINT_SUFFIXES:
        return LaunchFile(path, CHECKPOINT)
    try:
        if suffix in SESSION_SUFFIXES:
            problem = session_problem(p)
            if problem is None:
                return LaunchFile(path, SESSION)
            return LaunchFile(path, None, problem)
        kind = _sniff(p)
    except OSError as exc:
        return LaunchFile(path, None, exc.strerror or str(exc))
    return LaunchFile(path, kind, "" if kind else UNKNOWN_KIND)


ONE_AT_A_TIME = {
    SESSION: "one session opens at a time",
    IMAGE: "the window shows one image at a time",
    CHECKPOINT: "the window runs one model at a time",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(n: int, kind: str) -> str:
    return f"{n} other {kind}{'' if n == 1 else 's'}"


def plan_launch(
    files: Sequence[str | os.PathLike[str]],
    checkpoint: str | None = None,
    image: str | None = None,
) -> LaunchPlan:
    """What to open for the plain `files` when --checkpoint/--image (`checkpoint`,
    `image`) were also given; the rules are the module's. Raises LaunchConflict for a
    usage error."""
    found = [kind_of(f) for f in files]
    by_kind = {k: [f.path for f in found if f.kind == k] for k in KINDS}
    problems = tuple((f.path, f.problem) for f in found if f.kind is None)
    for option, given, kind in (
        ("--image", image, IMAGE),
        ("--checkpoint", checkpoint, CHECKPOINT),
    ):
        if given is not None and by_kind[kind]:
            raise LaunchConflict(
                f"{option} {given} and the {kind} {by_kind[kind][0]}: give one {kind} to open"
            )
    sessions = by_kind[SESSION]
    if sessions and (image is not None or checkpoint is not None):
        raise LaunchConflict(
            f"the session {sessions[0]} opens its own image and checkpoint: give it without "
            "--image and --checkpoint"
        )
    notes, left_out = [], []
    if sessions:
        others = by_kind[IMAGE] + by_kind[CHECKPOINT]
        if others:
            notes.append(
                f"{_count(len(others), 'file')} not opened: the session "
                f"{Path(sessions[0]).name} opens its own image and checkpoint"
            )
            left_out += others
        chosen = {SESSION: sessions[0]}
    else:
        chosen = {k: by_kind[k][0] for k in (IMAGE, CHECKPOINT) if by_kind[k]}
    for kind, why in ONE_AT_A_TIME.items():
        if kind in chosen and len(by_kind[kind]) > 1:
            extra = by_kind[kind][1:]
            notes.append(
                f"{_count(len(extra), kind)} not opened: {why} ({Path(chosen[kind]).name} is open)"
            )
            left_out += extra
    return LaunchPlan(
        image=chosen.get(IMAGE),
        checkpoint=chosen.get(CHECKPOINT),
        session=chosen.get(SESSION),
        problems=problems,
        left_out=tuple(left_out),
        note=_sentence("; ".join(notes)),
    )
