"""Writing clips (uint8 (T, H, W, 3) RGB) as animated GIFs and MP4 videos, whole or not at all.

Both writers go through `files.atomic_write`: the file appears under its name only once it is
complete, an older file of that name survives a failed write, and nothing is left behind.

MP4: H.264 (libx264, 4:2:0, CRF 18 unless told otherwise, 'faststart' so players can begin
before the whole file is read) when the installed FFmpeg has that encoder, as PyAV's wheels
do; else OpenH264; else MPEG-4 part 2, which every FFmpeg build can encode. 4:2:0 needs even
sizes: an odd width or height gets one more column or row, a copy of the last. The file is
handed to FFmpeg as a stream, so its name is never read as a protocol.

GIF: written with Pillow, one adaptive 256-colour palette per frame. GIF stores delays in
hundredths of a second, so each frame's delay is rounded such that the running total stays
on the exact timeline (30 fps -> 3, 3, 4, 3, 3, 4 ... hundredths); players show at most 50
frames a second (shorter delays are slowed down), so fps above 50 is refused. Consecutive
identical frames are stored once, shown for their summed duration (Pillow does this).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import MAEError
from .files import atomic_write

GIF_MAX_FPS = 50
MP4_CODECS = ("libx264", "libopenh264", "mpeg4")  # in order of preference
MAX_FPS = 1000


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}"
        )
    if min(frames.shape[:3]) < 1:
        raise ValueError(f"frames must hold at least one pixel, got {tuple(frames.shape)}")
    return frames


def _check_fps(fps: float, top: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps):
        raise MAEError(f"frames per second must be a number, got {fps!r}")
    if not 0 < fps <= top:
        raise MAEError(f"frames per second must be above 0 and at most {top:g}, got {fps:g}")
    return float(fps)


def gif_delays_ms(count: int, fps: float) -> list[int]:
    """Each of `count` frames' delay in ms, whole hundredths of a second, rounded so that
    frame i starts at round(i * 100 / fps) hundredths (no drift over a long clip)."""
    starts = [round(i * 100 / fps) for i in range(count + 1)]
    return [10 * (b - a) for a, b in itertools.pairwise(starts)]


def write_gif(frames: np.ndarray, path: str | Path, fps: float) -> Path:
    """Save uint8 (T, H, W, 3) frames as an animated GIF at `fps` (at most GIF_MAX_FPS) that
    loops forever; returns `path`. MAEError naming the file when it cannot be written (the
    disk is full, the folder is missing); no partial file is left."""
    from PIL import Image

    frames = _check_frames(frames)
    fps = _check_fps(fps, GIF_MAX_FPS)
    if max(frames.shape[1:3]) > 65535:
        raise MAEError(f"a GIF is at most 65535 px a side; these frames are {frames.shape[1:3]}")
    path = Path(path)
    images = [Image.fromarray(f) for f in frames]
    with atomic_write(path, "GIF") as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=gif_delays_ms(len(images), fps),
            loop=0,
        )
    return path


def mp4_codec() -> str:
    """The encoder `write_mp4` uses with the installed FFmpeg: the first of MP4_CODECS it
    has ('libx264' with PyAV's wheels)."""
    import av

    have = av.codecs_available
    for name in MP4_CODECS:
        if name in have:
            try:
                av.Codec(name, "w")
            except Exception:  # listed but not an encoder
                continue
            return name
    raise MAEError("this FFmpeg has no encoder for MP4 video (H.264 or MPEG-4)")


def _even(frames: np.ndarray) -> np.ndarray:
    """frames with an odd height or width given one more row / column (a copy of the last)."""
    _, h, w, _ = frames.shape
    pad = ((0, 0), (0, h % 2), (0, w % 2), (0, 0))
    return np.pad(frames, pad, mode="edge") if (h % 2 or w % 2) else frames


def write_mp4(frames: np.ndarray, path: str | Path, fps: float, crf: int = 18) -> Path:
    """Save uint8 (T, H, W, 3) frames as an MP4 video at `fps`, H.264 when available (see
    the module; `crf`: H.264's quality, 0 lossless in luma .. 51 worst; 18 looks lossless);
    returns `path`. Odd sizes are padded to even. MAEError naming the file when it cannot be
    written; no partial file is left."""
    import av

    frames = _even(_check_frames(frames))
    fps = _check_fps(fps, MAX_FPS)
    if not 0 <= crf <= 51:
        raise MAEError(f"the H.264 quality (CRF) is 0 to 51, got {crf}")
    codec = mp4_codec()
    rate = Fraction(fps).limit_denominator(1001)
    path = Path(path)
    _, h, w, _ = frames.shape
    with atomic_write(path, "video") as tmp:
        try:
            with (
                open(tmp, "w+b") as fh,
                av.open(fh, mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
            ):
                stream = out.add_stream(codec, rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(crf), "preset": "medium"}
                elif codec == "mpeg4":
                    stream.options = {"qscale": "2"}
                for i, array in enumerate(frames):
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), "rgb24")
                    frame.pts = i
                    out.mux(stream.encode(frame))
                out.mux(stream.encode(None))
        except av.FFmpegError as exc:
            reason = str(getattr(exc, "strerror", None) or exc).strip().splitlines()[0]
            raise MAEError(f"cannot write video {path}: {reason}") from exc
    return path


__all__ = ["GIF_MAX_FPS", "MP4_CODECS", "gif_delays_ms", "mp4_codec", "write_gif", "write_mp4"]
