"""Reading clips for the video models (VideoMAE): videos, animated GIFs and folders of frames.

A clip is uint8 (frames, H, W, 3) RGB. Three kinds of input are read:

- a video file: MP4/MOV/M4V, WebM/MKV or AVI, decoded with PyAV (FFmpeg);
- an animated GIF, decoded the same way; its frames' own durations give their times;
- a folder of images (PNG, JPEG, ... as `images.read_image` reads them), one frame each, in
  natural name order (frame2 before frame10); every frame must have the same size.

What a file is, is told by its content (its first bytes), never by its name, and only the
containers named above are opened: FFmpeg can read many more, playlists and network streams
among them, and some of those open other files or URLs. The file is opened by Python and
handed to FFmpeg as a stream, so FFmpeg never interprets the name (no `concat:`, `pipe:`,
`http://` ...); a name that looks like a URL or an FFmpeg protocol is refused outright.

The sampling rule (`read_clip`), which is VideoMAE's for Kinetics (16 frames, stride 4, i.e.
a window of 61 frames, about 2 s at 30 fps): the clip's first frame is the first frame shown
at or after `start_s` (times counted from the video's first frame), and it takes every
`stride`-th frame from there, `frames` in all: source frames first, first + stride, ...,
first + (frames - 1) * stride, so it needs (frames - 1) * stride + 1 frames from `start_s` on.
Frames are counted as the file stores them (a GIF frame shown twice as long is still one
frame), as VideoMAE's own loader (decord) counts them. A folder holding exactly `frames`
images is used as it is, whatever the stride (the clip's notes say so). Decoding starts at
the key frame before `start_s` (a seek), not at the beginning, and stops once the clip is
complete. GIFs and folders have no seek; a GIF is decoded from its start.

Before any pixels are decoded the clip's size is checked: frames larger than MAX_FRAME_SIDE
pixels a side are refused, and so is a clip of more than MAX_CLIP_BYTES unless `max_side`
shrinks its frames enough. Every problem a user's file can have is an MAEError naming it.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MAEError
from .files import regular_file, regular_folder

KINDS = ("video", "frames-folder", "gif")
CONTAINERS_READ = "MP4/MOV/M4V, WebM/MKV, AVI, GIF"
MAX_CLIP_BYTES = 2 * 1024**3  # a decoded clip (frames x H x W x 3) larger than this is refused
MAX_FRAME_SIDE = 8192  # frames wider or taller than this are not decoded at all
KINETICS_FRAMES, KINETICS_STRIDE = 16, 4  # VideoMAE's sampling for Kinetics-400 (30 fps)
# files an operating system leaves in folders; a frames folder may hold them
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})

_HEAD_BYTES = 64
# the QuickTime / ISO base media boxes a movie file starts with
_MOV_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
# ftyp brands of still images stored in the same boxes (HEIF, AVIF)
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif")


@dataclass(frozen=True)
class _Container:
    demuxer: str  # the FFmpeg demuxer forced when it is opened (FFmpeg never guesses)
    label: str  # what a user calls it


_MOV = _Container("mov", "MP4/MOV")
_MKV = _Container("matroska", "WebM/MKV")
_AVI = _Container("avi", "AVI")
_GIF = _Container("gif", "GIF")


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a clip source without decoding it.

    kind: 'video', 'gif' or 'frames-folder'. frames: the number of frames, exact when
    `frames_exact` (the container's index says so, or the folder was counted), else an
    estimate from duration x fps (0 when neither is known). fps and duration_s: None when
    the source has no timing (a folder). size: (width, height) in pixels. codec: the
    decoder's name ('h264', 'vp9', 'gif') or, for a folder, the first image's format
    ('PNG'). container: 'MP4/MOV', 'WebM/MKV', 'AVI', 'GIF', or None for a folder.
    """

    path: Path
    kind: str
    frames: int
    frames_exact: bool
    fps: float | None
    duration_s: float | None
    size: tuple[int, int]
    codec: str | None
    container: str | None

    def describe(self) -> str:
        """One line for a user: 'MP4/MOV video (h264), 64x48, 40 frames, 30 fps, 1.33 s'."""
        what = {"video": f"{self.container} video", "gif": "animated GIF"}.get(
            self.kind, "folder of frames"
        )
        if self.codec:
            what += f" ({self.codec})"
        count = f"{self.frames} frames" if self.frames_exact else f"about {self.frames} frames"
        if not self.frames_exact and self.frames == 0:
            count = "frame count unknown"
        parts = [what, f"{self.size[0]}x{self.size[1]}", count]
        if self.fps:
            parts.append(f"{self.fps:g} fps")
        if self.duration_s is not None:
            parts.append(f"{self.duration_s:.2f} s")
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class Clip:
    """A sampled clip: frames uint8 (T, H, W, 3); indices: each frame's number in the source
    (0 is its first frame; after a seek, computed from the frame's time x fps); times_s:
    each frame's time from the source's start (None for a folder); notes: what a user should
    know about how it was sampled (a stride that was ignored, a downscale)."""

    frames: np.ndarray
    info: VideoInfo
    indices: tuple[int, ...]
    times_s: tuple[float, ...] | None
    notes: tuple[str, ...] = field(default=())


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders the numbers inside names by value: frame2 < frame10 < Frame11
    (letters without regard to case; names equal but for leading zeros keep a fixed order)."""
    parts = re.split(r"(\d+)", name)
    key = tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts))
    return (key, name)


def _av() -> Any:
    try:
        import av
    except ImportError:  # pragma: no cover - a dependency of the package
        raise MAEError(
            "reading and writing videos needs PyAV, which is not installed (pip install av)"
        ) from None
    return av


def _refuse_url(path: str | Path) -> None:
    text = os.fspath(path)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", text):
        raise MAEError(
            f"video {text!r} looks like a URL or a stream address; only a file on this "
            "computer is read (a path, not http://, file:, concat:, pipe: ...)"
        )


def _sniff(head: bytes) -> _Container | None:
    """The container a file's first bytes announce, among those read; None otherwise."""
    if len(head) >= 12 and head[4:8] in _MOV_BOXES:
        return _MOV
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _MKV
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _AVI
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    return None


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_options(frames: int, stride: int, start_s: float, max_side: int | None) -> None:
    if not _whole(frames) or frames < 1:
        raise MAEError(f"a clip needs at least 1 frame, got {frames!r}")
    if not _whole(stride) or stride < 1:
        raise MAEError(f"the frame stride must be a whole number of at least 1, got {stride!r}")
    if not isinstance(start_s, numbers.Real) or not math.isfinite(start_s) or start_s < 0:
        raise MAEError(f"the start time must be 0 s or later, got {start_s!r}")
    if max_side is not None and (not _whole(max_side) or max_side < 1):
        raise MAEError(f"the largest frame side must be a whole number of pixels, got {max_side!r}")


def _out_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) once the longer side is at most max_side (never enlarged)."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _check_size(
    what: str, name: str, size: tuple[int, int], frames: int, max_side: int | None
) -> tuple[int, int]:
    """The clip's output (width, height), once its frames and its total bytes are allowed."""
    w, h = size
    if w > MAX_FRAME_SIDE or h > MAX_FRAME_SIDE:
        raise MAEError(
            f"{what} {name} is {w}x{h} pixels; frames larger than {MAX_FRAME_SIDE} px a side "
            "are not read"
        )
    ow, oh = _out_size(size, max_side)
    need = frames * ow * oh * 3
    if need > MAX_CLIP_BYTES:
        fits = int(math.sqrt(MAX_CLIP_BYTES / (frames * 3) * max(ow, oh) / min(ow, oh)))
        raise MAEError(
            f"{what} {name}: {frames} frames of {ow}x{oh} pixels need {need / 1024**3:.1f} GiB, "
            f"more than the {MAX_CLIP_BYTES / 1024**3:g} GiB a clip may take; read it "
            f"downscaled (a longest side of at most {fits} px) or take fewer frames"
        )
    return ow, oh


def _too_short(
    what: str, name: str, have: int, frames: int, stride: int, start_s: float, longer: str
) -> MAEError:
    span = (frames - 1) * stride + 1
    after = f" from {start_s:g} s on" if start_s > 0 else ""
    if have < frames:
        return MAEError(
            f"{what} {name} holds {have} frames{after}; a clip of {frames} frames needs at "
            f"least {frames}: use {longer}"
        )
    best = (have - 1) // (frames - 1)
    return MAEError(
        f"{what} {name} holds {have} frames{after}; {frames} frames with stride {stride} need "
        f"{span}: use a smaller stride (--frame-stride {best}) or {longer}"
    )


# -- folders of frames ---------------------------------------------------------------------------


def _folder_label(folder: Path) -> str:
    return f"{folder.name or folder.resolve().name or folder}/"


def _folder_images(folder: Path) -> list[Path]:
    """The folder's images in natural name order; MAEError for a subfolder or anything
    else that is not an image file (hidden files and IGNORED_NAMES are passed over)."""
    try:
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    except OSError as exc:
        raise MAEError(f"cannot list folder {folder}: {exc.strerror or exc}") from None
    entries = [e for e in entries if e.name.casefold() not in IGNORED_NAMES]
    entries.sort(key=lambda e: natural_key(e.name))
    for entry in entries:
        if entry.is_dir():
            raise MAEError(
                f"frames folder {_folder_label(folder)} holds a folder, {entry.name}; a frames "
                "folder holds only images"
            )
    return [folder / e.name for e in entries]


def _image_header(path: Path, folder: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and format of an image, from its header; MAEError otherwise."""
    from PIL import Image, UnidentifiedImageError

    from .images import TRUSTED_FORMATS

    regular_file(path, "frame")
    try:
        with Image.open(path, formats=TRUSTED_FORMATS) as im:
            return im.size, im.format or "image"
    except UnidentifiedImageError:
        raise MAEError(
            f"frames folder {_folder_label(folder)} holds {path.name}, which is not an image of "
            f"a kind MAE Desktop reads ({', '.join(TRUSTED_FORMATS)})"
        ) from None
    except Exception as exc:  # Pillow raises many kinds on damaged headers
        raise MAEError(f"cannot read frame {path.name} in {_folder_label(folder)}: {exc}") from None


def _probe_folder(folder: Path) -> tuple[VideoInfo, list[Path]]:
    images = _folder_images(folder)
    if not images:
        raise MAEError(f"frames folder {_folder_label(folder)} holds no images (zero frames)")
    size, fmt = _image_header(images[0], folder)
    for path in images[1:]:
        other, _ = _image_header(path, folder)
        if other != size:
            raise MAEError(
                f"frames folder {_folder_label(folder)}: {path.name} is {other[0]}x{other[1]} but "
                f"{images[0].name} is {size[0]}x{size[1]}; every frame must have one size"
            )
    info = VideoInfo(folder, "frames-folder", len(images), True, None, None, size, fmt, None)
    return info, images


def _read_folder(
    info: VideoInfo, images: list[Path], frames: int, stride: int, start_s: float,
    max_side: int | None,
) -> Clip:  # fmt: skip
    from PIL import Image

    from .images import read_image

    folder = info.path
    name = _folder_label(folder)
    notes: list[str] = []
    if start_s > 0:
        raise MAEError(
            f"frames folder {name} has no timing, so a clip from it cannot start at "
            f"{start_s:g} s; start at 0 s (or leave out the images before)"
        )
    if len(images) == frames:
        indices = list(range(frames))
        if stride != 1:
            notes.append(
                f"the folder holds exactly {frames} images, so all are used in order and "
                f"the stride ({stride}) is ignored"
            )
    else:
        if len(images) < (frames - 1) * stride + 1:
            raise _too_short("frames folder", name, len(images), frames, stride, 0.0, "more images")
        indices = [i * stride for i in range(frames)]
    ow, oh = _check_size("frames folder", name, info.size, frames, max_side)
    out = np.empty((frames, oh, ow, 3), dtype=np.uint8)
    for k, index in enumerate(indices):
        img = read_image(images[index])
        if img.size != info.size:  # an EXIF orientation can turn a frame on its side
            raise MAEError(
                f"frames folder {name}: {images[index].name} is {img.size[0]}x{img.size[1]} "
                f"but {images[0].name} is {info.size[0]}x{info.size[1]}; every frame must have "
                "one size"
            )
        if (ow, oh) != img.size:
            img = img.resize((ow, oh), Image.Resampling.BICUBIC)
        out[k] = np.asarray(img, dtype=np.uint8)
    if (ow, oh) != info.size:
        notes.append(f"frames downscaled from {info.size[0]}x{info.size[1]} to {ow}x{oh}")
    return Clip(out, info, tuple(indices), None, tuple(notes))


# -- videos and GIFs ---------------------------------------------------------------------------


@contextlib.contextmanager
def _open_container(path: Path) -> Iterator[tuple[Any, Any, _Container]]:
    """(container, video stream, kind) of a video file known by its content; MAEError for
    anything that is not one of the containers read, or that FFmpeg cannot open."""
    av = _av()
    path = regular_file(path, "video")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise MAEError(f"cannot open video {path.name}: {exc.strerror or exc}") from None
    with fh:
        head = fh.read(_HEAD_BYTES)
        fh.seek(0)
        kind = _sniff(head)
        if kind is None:
            raise MAEError(
                f"{path.name} is not a video of a kind MAE Desktop reads ({CONTAINERS_READ}): "
                "its content is something else"
            )
        if kind is _MOV and head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
            raise MAEError(f"{path.name} is a still image (HEIF/AVIF), not a video")
        try:
            container = av.open(fh, mode="r", format=kind.demuxer, metadata_errors="replace")
        except av.error.EOFError:
            raise MAEError(
                f"video {path.name} holds no frames: the {kind.label} file ends before any"
            ) from None
        except av.FFmpegError as exc:
            raise MAEError(
                f"cannot read video {path.name}: the {kind.label} file is damaged or incomplete "
                f"({_reason(exc)})"
            ) from None
        with container:
            if not container.streams.video:
                raise MAEError(f"video {path.name} holds no frames (no picture track)")
            stream = container.streams.video[0]
            if stream.codec_context is None:
                raise MAEError(
                    f"cannot read video {path.name}: the {kind.label} file is damaged or "
                    "incomplete (its picture track has no decoder)"
                )
            yield container, stream, kind


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0]


def _stream_info(path: Path, container: Any, stream: Any, kind: _Container) -> VideoInfo:
    fps = None
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            fps = float(rate)
            break
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    if stream.frames > 0:
        count, exact = int(stream.frames), True
    elif duration and fps:
        count, exact = round(duration * fps), False
    else:
        count, exact = 0, False
    if duration is None and exact and fps:
        duration = count / fps
    if kind is _GIF and exact and duration:
        fps = count / duration  # a GIF's frames each have their own delay: the mean rate
    ctx = stream.codec_context
    return VideoInfo(
        path,
        "gif" if kind is _GIF else "video",
        count,
        exact,
        fps,
        duration,
        (int(ctx.width), int(ctx.height)),
        ctx.name,
        kind.label,
    )


def probe(path: str | Path) -> VideoInfo:
    """What a video, animated GIF or frames folder holds (kind, frame count, fps, duration,
    size, codec, container), read from its header: no frame is decoded (a folder's images
    are identified and measured from their headers). MAEError for a missing file, a URL, a
    file of another kind, or a damaged header."""
    _refuse_url(path)
    path = Path(path)
    if path.is_dir():
        return _probe_folder(regular_folder(path, "frames folder"))[0]
    with _open_container(path) as (container, stream, kind):
        return _stream_info(path, container, stream, kind)


def _has_alpha(frame: Any) -> bool:
    return any(c.is_alpha for c in frame.format.components)


def _frame_rgb(frame: Any, out_size: tuple[int, int]) -> np.ndarray:
    """A decoded frame as uint8 (H, W, 3) at out_size; a transparent GIF frame over white."""
    if _has_alpha(frame):
        rgba = frame.to_ndarray(format="rgba").astype(np.uint16)
        alpha = rgba[..., 3:4]
        rgb = ((rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    else:
        rgb = frame.to_ndarray(format="rgb24")
    if (rgb.shape[1], rgb.shape[0]) != out_size:
        from PIL import Image

        resized = Image.fromarray(rgb).resize(out_size, Image.Resampling.BICUBIC)
        rgb = np.asarray(resized, dtype=np.uint8)
    return rgb


class _Overshot(Exception):
    """The seek landed after start_s: decode from the beginning instead."""


@dataclass
class _Run:
    """What one pass over the stream read."""

    info: VideoInfo
    what: str
    frames: int
    stride: int
    start_s: float
    max_side: int | None
    seeked: bool
    out: np.ndarray | None = None
    out_size: tuple[int, int] = (0, 0)
    first_size: tuple[int, int] | None = None
    indices: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    decoded: int = 0  # frames decoded (since the seek point when seeked)
    seen: int = 0  # frames shown at or after start_s
    last_t: float = -1.0
    error: BaseException | None = None

    def take(self, frame: Any, t: float) -> bool:
        """Count a decoded frame shown at t; keep it when the rule picks it. True once the
        clip is complete."""
        fps, name = self.info.fps, self.info.path.name
        self.decoded += 1
        self.last_t = t
        tol = min(1e-3, 0.25 / fps) if fps else 1e-3
        if self.seeked and self.decoded == 1 and t > self.start_s + tol:
            raise _Overshot
        if t < self.start_s - tol:
            return False
        k = self.seen
        self.seen += 1
        if k % self.stride:
            return False
        size = (frame.width, frame.height)
        if self.first_size is None:
            self.first_size = size
            self.out_size = _check_size(self.what, name, size, self.frames, self.max_side)
            self.out = np.empty(
                (self.frames, self.out_size[1], self.out_size[0], 3), dtype=np.uint8
            )
        elif size != self.first_size:
            was = self.first_size
            raise MAEError(
                f"{self.what} {name} changes size at {t:.2f} s ({size[0]}x{size[1]}, was "
                f"{was[0]}x{was[1]}); it cannot be read as one clip"
            )
        assert self.out is not None
        self.out[len(self.indices)] = _frame_rgb(frame, self.out_size)
        self.indices.append(round(t * fps) if (self.seeked and fps) else self.decoded - 1)
        self.times.append(t)
        return len(self.indices) == self.frames


def _decode(container: Any, stream: Any, run: _Run) -> None:
    """Decode until the clip is complete or the stream ends (a decode error is kept in
    run.error)."""
    av = _av()
    origin = stream.start_time or 0
    time_base = stream.time_base
    fps = run.info.fps
    if run.seeked:
        container.seek(origin + int(run.start_s / time_base), stream=stream, backward=True)
    try:
        for frame in container.decode(stream):
            if frame.pts is not None and time_base:
                t = float((frame.pts - origin) * time_base)
            else:
                t = run.decoded / fps if fps else float(run.decoded)
            if run.take(frame, t):
                return
    except av.FFmpegError as exc:
        run.error = exc


def _read_stream(
    info: VideoInfo, frames: int, stride: int, start_s: float, max_side: int | None
) -> Clip:
    av = _av()
    what = "GIF" if info.kind == "gif" else "video"
    name = info.path.name
    span = (frames - 1) * stride + 1
    if info.size[0] > 0 and info.size[1] > 0:
        _check_size(what, name, info.size, frames, max_side)
    if info.frames_exact and start_s == 0 and info.frames < span:
        if info.frames == 0:
            raise MAEError(f"{what} {name} holds no frames")
        raise _too_short(what, name, info.frames, frames, stride, start_s, "a longer video")
    if info.duration_s is not None and start_s > 0 and start_s >= info.duration_s:
        raise MAEError(
            f"{what} {name} is {info.duration_s:.2f} s long; a clip cannot start at {start_s:g} s"
        )
    seek = start_s > 0 and info.kind == "video"
    args = (info, what, frames, stride, start_s, max_side)
    run = _Run(*args, seeked=seek)
    try:
        try:
            with _open_container(info.path) as (container, stream, _):
                _decode(container, stream, run)
        except (_Overshot, av.FFmpegError):  # a seek that failed or went too far
            run = _Run(*args, seeked=False)
            with _open_container(info.path) as (container, stream, _):
                _decode(container, stream, run)
    except MemoryError:
        raise MAEError(f"{what} {name} needs more memory than there is to decode") from None
    if len(run.indices) < frames:
        _ended_early(run)
    assert run.out is not None and run.first_size is not None
    notes = []
    if run.out_size != run.first_size:
        (w, h), (ow, oh) = run.first_size, run.out_size
        notes.append(f"frames downscaled from {w}x{h} to {ow}x{oh}")
    return Clip(run.out, info, tuple(run.indices), tuple(run.times), tuple(notes))


def _ended_early(run: _Run) -> None:
    """Raise the MAEError for a stream that ended before the clip was complete."""
    info, what, name = run.info, run.what, run.info.path.name
    where = f" from {run.start_s:g} s on" if run.seeked else ""
    if run.error is not None:
        if run.decoded == 0:
            raise MAEError(f"cannot decode {what} {name}: {_reason(run.error)}")
        raise MAEError(
            f"{what} {name} is truncated or damaged: decoding failed after {run.decoded} "
            f"frames{where} ({_reason(run.error)})"
        )
    if run.decoded == 0 and not run.seeked:
        raise MAEError(f"{what} {name} holds no frames")
    fps = info.fps
    if info.frames_exact:
        # frames the stream held up to its end (from the end's time after a seek)
        got = round((run.last_t + 1 / fps) * fps) if (run.seeked and fps) else run.decoded
        if got < info.frames:
            raise MAEError(
                f"{what} {name} is truncated: it announces {info.frames} frames but ends "
                f"after {got}"
            )
    elif info.duration_s and fps and run.last_t + 1.5 / fps < info.duration_s:
        raise MAEError(
            f"{what} {name} is truncated: it announces {info.duration_s:.2f} s but ends after "
            f"{run.last_t + 1 / fps:.2f} s"
        )
    raise _too_short(what, name, run.seen, run.frames, run.stride, run.start_s, "a longer video")


def load_clip(
    path: str | Path,
    frames: int,
    stride: int = 4,
    start_s: float = 0.0,
    max_side: int | None = None,
) -> Clip:
    """`read_clip`, with what was sampled: the source's `VideoInfo`, each frame's index and
    time in the source, and notes (a stride ignored for a folder of exactly `frames`
    images, a downscale)."""
    _check_options(frames, stride, start_s, max_side)
    frames, stride = int(frames), int(stride)
    max_side = None if max_side is None else int(max_side)
    _refuse_url(path)
    path = Path(path)
    if path.is_dir():
        info, images = _probe_folder(regular_folder(path, "frames folder"))
        return _read_folder(info, images, frames, stride, float(start_s), max_side)
    info = probe(path)
    return _read_stream(info, frames, stride, float(start_s), max_side)


def read_clip(
    path: str | Path,
    frames: int,
    stride: int = 4,
    start_s: float = 0.0,
    max_side: int | None = None,
) -> np.ndarray:
    """`frames` frames of a video, animated GIF or frames folder, `stride` frames apart from
    the first frame shown at or after `start_s` -> uint8 (frames, H, W, 3) RGB.

    The rule is the module's (VideoMAE's Kinetics sampling is frames=16, stride=4); a folder
    of exactly `frames` images is used whole. `max_side` shrinks frames whose longer side is
    larger (bicubic, aspect kept; never enlarges). MAEError, naming the file, when it is
    missing, a URL, not a video of a kind read, damaged, truncated, empty, too short for
    the clip, too large (frames over MAX_FRAME_SIDE a side, a clip over MAX_CLIP_BYTES), or a
    folder holding something other than images of one size.
    """
    return load_clip(path, frames, stride, start_s, max_side).frames


__all__ = [
    "CONTAINERS_READ",
    "IGNORED_NAMES",
    "KINDS",
    "KINETICS_FRAMES",
    "KINETICS_STRIDE",
    "MAX_CLIP_BYTES",
    "MAX_FRAME_SIDE",
    "Clip",
    "VideoInfo",
    "load_clip",
    "natural_key",
    "probe",
    "read_clip",
]
