"""Video input and export for the video models (engine/video.py, engine/video_export.py).

Guards what a user relies on when a clip is read: `probe` reports what the file holds; the
sampling rule (first frame shown at or after start_s, then every stride-th frame) picks
exactly the frames it documents, with a seek, for every container; a frames folder is read in
natural name order, and a folder of exactly `frames` images is used whole; GIF frame
durations give the times; every bad input (missing, a URL, not a video whatever its name,
truncated, empty, too short, too large, a folder of mixed or non-images) is one MAEError
naming the file; a clip too large for memory is refused before any frame is decoded, and
decoding stops once the clip is complete. The writers' files read back with the frames,
size and colours written, and a failed write leaves nothing behind.

The test videos are tiny (64x48) and made here with PyAV: frame i is flat grey 16 + 5 i
(grey survives the RGB -> YUV conversion within +-1 and lossless / near-lossless coding), so
the frame a clip holds is read back from its pixels, independently of the reader's notion of
indices.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

av = pytest.importorskip("av")

from mae_desktop.engine import video, video_export  # noqa: E402
from mae_desktop.engine.errors import MAEError  # noqa: E402
from mae_desktop.engine.video import VideoInfo, load_clip, probe, read_clip  # noqa: E402
from mae_desktop.engine.video_export import write_gif, write_mp4  # noqa: E402

N, W, H, FPS = 40, 64, 48, 30


def grey(i: int) -> int:
    return 16 + 5 * i


def frame_number(frame: np.ndarray) -> int:
    """Which test frame this is, from its pixels (the inverse of grey)."""
    return round((float(frame.mean()) - 16) / 5)


# the containers read, each with a codec that keeps grey levels within +-1
FORMATS: dict[str, dict[str, Any]] = {
    "mp4": dict(fmt="mp4", codec="libx264", pix="yuv420p", opts={"crf": "0", "g": "8"}),
    "webm": dict(fmt="webm", codec="libvpx-vp9", pix="yuv420p", opts={"lossless": "1"}),
    "mkv": dict(fmt="matroska", codec="ffv1", pix="yuv444p", opts={}),
    "avi": dict(fmt="avi", codec="utvideo", pix="gbrp", opts={}),
}
CODEC_NAME = {"libx264": "h264", "libvpx-vp9": "vp9", "ffv1": "ffv1", "utvideo": "utvideo"}
LABEL = {"mp4": "MP4/MOV", "webm": "WebM/MKV", "mkv": "WebM/MKV", "avi": "AVI"}


def make_video(
    path: Path,
    kind: str = "mp4",
    n: int = N,
    size: tuple[int, int] = (W, H),
    fps: int = FPS,
    faststart: bool = True,
) -> Path:
    spec = FORMATS[kind]
    options = {"movflags": "+faststart"} if (kind == "mp4" and faststart) else {}
    with av.open(str(path), "w", format=spec["fmt"], options=options) as out:
        stream = out.add_stream(spec["codec"], rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], spec["pix"]
        stream.options = dict(spec["opts"])
        out.start_encoding()
        for i in range(n):
            array = np.full((size[1], size[0], 3), grey(i), np.uint8)
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


GIF_MS = [100, 50, 50, 200, 50, 50, 60, 40, 50, 50]  # each frame's delay


def make_gif(path: Path, delays: list[int] = GIF_MS) -> Path:
    frames = [Image.new("RGB", (W, H), (grey(i),) * 3) for i in range(len(delays))]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=delays)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {kind: make_video(folder / f"clip.{kind}", kind) for kind in FORMATS}
    made["gif"] = make_gif(folder / "clip.gif")
    return made


class Spy:
    """Stands in for a PyAV input container: counts the frames decoded and the seeks."""

    def __init__(self, container: Any, log: dict[str, int]) -> None:
        self._c, self._log = container, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def __enter__(self) -> Spy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._c.close()

    def seek(self, *args: Any, **kw: Any) -> None:
        self._log["seeks"] += 1
        self._c.seek(*args, **kw)

    def decode(self, *args: Any, **kw: Any) -> Any:
        for frame in self._c.decode(*args, **kw):
            self._log["decoded"] += 1
            yield frame


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    log = {"decoded": 0, "seeks": 0, "opened": 0}
    real = av.open

    def open_(*args: Any, **kw: Any) -> Any:
        container = real(*args, **kw)
        if kw.get("mode", "r") == "r":
            log["opened"] += 1
            return Spy(container, log)
        return container

    monkeypatch.setattr(av, "open", open_)
    return log


# -- probe ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*FORMATS, "gif"])
def test_probe_reports_what_the_file_holds(clips: dict[str, Path], kind: str) -> None:
    path = clips[kind]
    if kind == "gif":
        expected = dict(
            path=path,
            kind="gif",
            frames=len(GIF_MS),
            frames_exact=True,
            fps=len(GIF_MS) / (sum(GIF_MS) / 1000),
            duration_s=sum(GIF_MS) / 1000,
            size=(W, H),
            codec="gif",
            container="GIF",
        )
    else:
        exact = kind in ("mp4", "avi")  # Matroska has no frame count, only a duration
        expected = dict(
            path=path,
            kind="video",
            frames=N,
            frames_exact=exact,
            fps=float(FPS),
            duration_s=N / FPS,
            size=(W, H),
            codec=CODEC_NAME[FORMATS[kind]["codec"]],
            container=LABEL[kind],
        )
    info = probe(path)
    for f in dataclasses.fields(VideoInfo):
        want, got = expected[f.name], getattr(info, f.name)
        if isinstance(want, float):
            assert got == pytest.approx(want, abs=2e-3), f.name
        else:
            assert got == want, f.name
    assert ("about" not in info.describe()) == info.frames_exact


def test_probe_decodes_nothing(clips: dict[str, Path], spy: dict[str, int]) -> None:
    probe(clips["mp4"])
    assert spy["opened"] == 1 and spy["decoded"] == 0


# -- the sampling rule --------------------------------------------------------------------------


def expected_frames(first: int, frames: int, stride: int) -> list[int]:
    return [first + i * stride for i in range(frames)]


@pytest.mark.parametrize("kind", list(FORMATS))
def test_default_sampling_from_the_start(clips: dict[str, Path], kind: str) -> None:
    clip = read_clip(clips[kind], frames=8, stride=4)  # frames 0, 4, ..., 28
    assert clip.shape == (8, H, W, 3) and clip.dtype == np.uint8
    assert [frame_number(f) for f in clip] == [0, 4, 8, 12, 16, 20, 24, 28]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(list(FORMATS)),
    frames=st.integers(1, 8),
    stride=st.integers(1, 5),
    data=st.data(),
)
def test_sampling_picks_the_documented_frames(
    clips: dict[str, Path], kind: str, frames: int, stride: int, data: st.DataObject
) -> None:
    span = (frames - 1) * stride + 1
    first = data.draw(st.integers(0, N - span), label="first")
    # on a frame's own time, or anywhere after the previous frame was shown
    between = data.draw(st.sampled_from([0.0, 0.3, 0.9]), label="fraction before")
    start_s = max(0.0, (first - between) / FPS)
    clip = load_clip(clips[kind], frames, stride, start_s=start_s)
    want = expected_frames(first, frames, stride)
    assert [frame_number(f) for f in clip.frames] == want
    assert list(clip.indices) == want
    assert clip.times_s == pytest.approx([i / FPS for i in want], abs=2e-3)


@pytest.mark.parametrize("kind", ["mp4", "mkv", "gif"])
def test_a_clip_that_needs_every_frame_to_the_last(clips: dict[str, Path], kind: str) -> None:
    # 40 frames: 14 with stride 3 need 40 (0 .. 39); 10 GIF frames: 4 with stride 3 need 10
    frames, stride, last = (4, 3, 9) if kind == "gif" else (14, 3, 39)
    clip = read_clip(clips[kind], frames=frames, stride=stride)
    assert [frame_number(f) for f in clip] == list(range(0, last + 1, stride))


def test_a_folder_that_is_just_long_enough(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", NAMES)  # 10 images: 4 with stride 3 need 10
    assert [frame_number(f) for f in read_clip(tmp_path / "f", 4, 3)] == [0, 3, 6, 9]


def test_start_seeks_instead_of_decoding_from_the_beginning(
    clips: dict[str, Path], spy: dict[str, int]
) -> None:
    clip = read_clip(clips["mp4"], frames=3, stride=2, start_s=1.0)  # frames 30, 32, 34
    assert [frame_number(f) for f in clip] == [30, 32, 34]
    assert spy["seeks"] >= 1
    # key frames at least every 8 frames: at most 8 frames before 30 are decoded
    assert spy["decoded"] <= 8 + 5


def test_decoding_stops_once_the_clip_is_complete(
    clips: dict[str, Path], spy: dict[str, int]
) -> None:
    read_clip(clips["mp4"], frames=4, stride=2)  # frames 0, 2, 4, 6: seven decoded
    assert spy["decoded"] == 7
    assert spy["seeks"] == 0


def test_gif_times_come_from_its_frame_durations(clips: dict[str, Path]) -> None:
    starts = [sum(GIF_MS[:i]) / 1000 for i in range(len(GIF_MS))]  # 0, .1, .15, .2, .4 ...
    clip = load_clip(clips["gif"], frames=3, stride=2, start_s=0.3)
    first = next(i for i, t in enumerate(starts) if t >= 0.3)  # frame 4, shown at 0.4 s
    want = expected_frames(first, 3, 2)
    assert [frame_number(f) for f in clip.frames] == want
    assert list(clip.indices) == want
    assert clip.times_s == pytest.approx([starts[i] for i in want], abs=1e-6)


def test_gif_frames_are_exact(clips: dict[str, Path]) -> None:
    clip = read_clip(clips["gif"], frames=len(GIF_MS), stride=1)
    want = np.stack([np.full((H, W, 3), grey(i), np.uint8) for i in range(len(GIF_MS))])
    np.testing.assert_array_equal(clip, want)


def test_transparent_gif_pixels_are_shown_over_white(tmp_path: Path) -> None:
    index = np.zeros((H, W), np.uint8)
    index[:, W // 2 :] = 1  # right half: colour 1 (red); left half: colour 0, transparent
    image = Image.fromarray(index, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    path = tmp_path / "see-through.gif"
    image.save(path, format="GIF", transparency=0)
    clip = read_clip(path, frames=1, stride=1)
    assert (clip[:, :, : W // 2] == 255).all()
    assert (clip[:, :, W // 2 :] == (255, 0, 0)).all()


def test_transparent_video_pixels_are_shown_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((H, W, 4), np.uint8)  # left: fully transparent black
    rgba[:, W // 2 :] = (255, 0, 0, 255)  # right: opaque red
    rgba[:8, : W // 2] = (0, 0, 255, 128)  # top left: half-transparent blue
    path = tmp_path / "alpha.mov"
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("png", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "rgba"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")))
        out.mux(stream.encode(None))
    clip = read_clip(path, frames=1, stride=1)[0]
    assert (clip[8:, : W // 2] == 255).all()
    assert (clip[:, W // 2 :] == (255, 0, 0)).all()
    # 128/255 of blue over white: 255 * 127/255 = 127 in red and green, 255 in blue
    assert (np.abs(clip[:8, : W // 2].astype(int) - (127, 127, 255)) <= 1).all()


def test_max_side_downscales_keeping_the_aspect(clips: dict[str, Path]) -> None:
    clip = load_clip(clips["mp4"], frames=2, stride=1, max_side=32)
    assert clip.frames.shape == (2, 24, 32, 3)
    assert [frame_number(f) for f in clip.frames] == [0, 1]
    assert any("downscaled" in note for note in clip.notes)
    # never enlarged
    assert read_clip(clips["mp4"], frames=1, stride=1, max_side=500).shape == (1, H, W, 3)


# -- frames folders ------------------------------------------------------------------------------


def make_folder(folder: Path, names: list[str], size: tuple[int, int] = (W, H)) -> list[str]:
    """Images named `names`, written in shuffled order; returns the names in natural order,
    and image k of that order is grey(k)."""
    folder.mkdir(parents=True, exist_ok=True)
    ordered = sorted(names, key=lambda n: int(re.search(r"\d+", n).group()))
    shuffled = list(ordered)
    random.Random(0).shuffle(shuffled)
    for name in shuffled:
        k = ordered.index(name)
        Image.new("RGB", size, (grey(k),) * 3).save(folder / name)
    return ordered


NAMES = [f"frame{i}.png" for i in (1, 2, 3, 10, 11, 20, 100, 101, 200, 1000)]


def test_folder_is_read_in_natural_name_order(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", NAMES)
    (tmp_path / "f" / ".DS_Store").write_bytes(b"\x00\x01junk")  # hidden: passed over
    info = probe(tmp_path / "f")
    assert (info.kind, info.frames, info.frames_exact, info.size) == (
        "frames-folder",
        10,
        True,
        (W, H),
    )
    assert (info.fps, info.duration_s, info.container) == (None, None, None)
    clip = load_clip(tmp_path / "f", frames=4, stride=3)
    assert [frame_number(f) for f in clip.frames] == [0, 3, 6, 9]
    assert list(clip.indices) == [0, 3, 6, 9]
    assert clip.notes == ()


def test_folder_of_exactly_the_frames_is_used_whole(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", NAMES)
    clip = load_clip(tmp_path / "f", frames=10, stride=4)  # stride 4 would need 37
    assert [frame_number(f) for f in clip.frames] == list(range(10))
    assert any("stride (4) is ignored" in note for note in clip.notes)


@given(
    names=st.lists(
        st.tuples(st.text("abcXYZ", min_size=1, max_size=3), st.integers(0, 10_000)),
        min_size=1,
        max_size=12,
        unique=True,
    )
)
def test_natural_key_orders_numbers_by_value(names: list[tuple[str, int]]) -> None:
    files = [f"{prefix}{number}.png" for prefix, number in names]
    reference = sorted(names, key=lambda p: (p[0].casefold(), p[1], f"{p[0]}{p[1]}"))
    assert sorted(files, key=video.natural_key) == [f"{p}{n}.png" for p, n in reference]


def test_folder_with_a_file_that_is_not_an_image(tmp_path: Path) -> None:
    make_folder(tmp_path / "f", NAMES[:4])
    (tmp_path / "f" / "frame5.png").write_text("not an image\n")
    with pytest.raises(MAEError, match=r"frame5\.png, which is not an image"):
        read_clip(tmp_path / "f", frames=2, stride=1)


def test_folder_with_mixed_sizes_names_the_first_odd_frame(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    make_folder(folder, ["a1.png", "a2.png"])
    make_folder(folder, ["a10.png", "a3.png"], size=(32, 32))  # a3 comes before a10
    with pytest.raises(MAEError, match=r"a3\.png is 32x32 but a1\.png is 64x48"):
        probe(folder)
    with pytest.raises(MAEError, match=r"a3\.png is 32x32"):
        read_clip(folder, frames=2, stride=1)


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MAEError, match=r"empty/ holds no images"):
        read_clip(tmp_path / "empty", frames=1, stride=1)
    make_folder(tmp_path / "f", NAMES[:5])
    with pytest.raises(MAEError, match=r"f/ has no timing"):
        read_clip(tmp_path / "f", frames=2, stride=1, start_s=0.5)
    with pytest.raises(
        MAEError, match=re.escape("f/ holds 5 frames; 3 frames with stride 3 need 7")
    ):
        read_clip(tmp_path / "f", frames=3, stride=3)
    (tmp_path / "f" / "sub").mkdir()
    with pytest.raises(MAEError, match=r"holds a folder, sub"):
        read_clip(tmp_path / "f", frames=2, stride=1)


# -- what a file is: its content, not its name ------------------------------------------------


def test_container_is_known_by_content_not_by_name(clips: dict[str, Path], tmp_path: Path) -> None:
    gif_as_mp4 = tmp_path / "really_a_gif.mp4"
    gif_as_mp4.write_bytes(clips["gif"].read_bytes())
    assert probe(gif_as_mp4).kind == "gif"
    mp4_as_gif = tmp_path / "really_an_mp4.gif"
    mp4_as_gif.write_bytes(clips["mp4"].read_bytes())
    assert probe(mp4_as_gif).container == "MP4/MOV"
    assert [frame_number(f) for f in read_clip(mp4_as_gif, 2, 1)] == [0, 1]
    no_suffix = tmp_path / "clip"
    no_suffix.write_bytes(clips["mkv"].read_bytes())
    assert probe(no_suffix).container == "WebM/MKV"


@pytest.mark.parametrize(
    "content",
    [
        b"just some text\n" * 10,
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        b"<!DOCTYPE html><html><body><video src='a.mp4'></video></body></html>",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\nhttp://example.invalid/a.ts\n",  # a playlist
        b"ffconcat version 1.0\nfile '/etc/passwd'\n",  # FFmpeg's concat list
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    ],
    ids=["text", "eps", "html", "m3u8", "ffconcat", "png"],
)
@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".avi", ".gif"])
def test_other_content_named_as_a_video_is_refused(
    tmp_path: Path, content: bytes, suffix: str
) -> None:
    path = tmp_path / f"clip{suffix}"
    path.write_bytes(content)
    for call in (lambda: probe(path), lambda: read_clip(path, 1, 1)):
        with pytest.raises(MAEError, match=rf"clip\{suffix} is not a video of a kind"):
            call()


@pytest.mark.parametrize(
    "name",
    [
        "http://example.invalid/a.mp4",
        "https://example.invalid/a.mp4",
        "file:clip.mp4",
        "concat:a.mp4|b.mp4",
        "pipe:0",
        "rtmp://example.invalid/live",
        "subfile:clip.mp4",
    ],
)
def test_urls_and_protocols_are_refused(name: str, spy: dict[str, int]) -> None:
    for call in (lambda: probe(name), lambda: read_clip(name, 1, 1)):
        with pytest.raises(MAEError, match=r"looks like a URL"):
            call()
    assert spy["opened"] == 0


def test_missing_file_and_pipe(tmp_path: Path) -> None:
    with pytest.raises(MAEError, match=r"not found: .*nothing\.mp4"):
        read_clip(tmp_path / "nothing.mp4", 1, 1)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.mp4"
        os.mkfifo(fifo)
        with pytest.raises(MAEError, match=r"fifo\.mp4 is a pipe"):
            probe(fifo)


# -- damaged, empty, short and huge files ------------------------------------------------------


def frames_decodable(path: Path) -> int:
    """How many frames plain PyAV decodes before the file's damage stops it (reference)."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.FFmpegError:
            pass
    return count


def test_truncated_mp4_says_how_many_frames_were_read(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    data = clips["mp4"].read_bytes()
    media = data.find(b"mdat")  # the index comes first ('faststart'): cut the frames' data
    assert 0 < data.find(b"moov") < media
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: media + (len(data) - media) // 2])
    got = frames_decodable(cut)
    assert 4 < got < N
    with pytest.raises(MAEError, match=rf"cut\.mp4 is truncated.* after {got} frames"):
        read_clip(cut, frames=16, stride=2)
    # a clip that ends before the damage is read: decoding stopped once it was complete
    assert [frame_number(f) for f in read_clip(cut, frames=2, stride=2)] == [0, 2]


def test_mp4_cut_between_frames_is_truncated_not_short(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # cut right after the 20th frame's data: no decode error, the stream simply ends early
    with av.open(str(clips["mp4"])) as container:
        ends = sorted(p.pos + p.size for p in container.demux(video=0) if p.size)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clips["mp4"].read_bytes()[: ends[19]])
    assert frames_decodable(cut) == 20
    with pytest.raises(MAEError, match=r"cut\.mp4 is truncated: it announces 40 frames.* 20"):
        read_clip(cut, frames=16, stride=2)


def test_truncated_mp4_without_its_index(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mp4", faststart=False)  # index ('moov') at the end
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    assert data.find(b"mdat") < data.find(b"moov")
    cut.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(MAEError, match=r"cut\.mp4: the MP4/MOV file is damaged or incomplete"):
        probe(cut)


def test_truncated_matroska_is_not_reported_as_short(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    data = clips["mkv"].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    got = frames_decodable(cut)
    assert 4 < got < N
    with pytest.raises(MAEError, match=r"cut\.mkv is truncated"):
        read_clip(cut, frames=N, stride=1)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from([*FORMATS, "gif"]),
    cut=st.none() | st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=12),
    frames=st.integers(1, 10),
    stride=st.integers(1, 4),
    start_s=st.sampled_from([0.0, 0.3]),
)
def test_damaged_files_fail_with_one_clear_line(
    clips: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    cut: float | None,
    flips: list[tuple[float, int]],
    frames: int,
    stride: int,
    start_s: float,
) -> None:
    data = bytearray(clips[kind].read_bytes())
    if cut is not None:
        data = data[: int(len(data) * cut)]
    for where, value in flips:
        if data:
            data[min(len(data) - 1, int(len(data) * where))] = value
    path = tmp_path_factory.mktemp("damaged") / f"damaged.{kind}"
    path.write_bytes(bytes(data))
    try:
        clip = read_clip(path, frames, stride, start_s=start_s)
    except MAEError as exc:
        assert "damaged." in str(exc) and "\n" not in str(exc)
    else:
        assert clip.shape[0] == frames and clip.shape[3] == 3 and clip.dtype == np.uint8


def test_zero_frames(tmp_path: Path) -> None:
    for kind in ("mp4", "mkv"):
        path = make_video(tmp_path / f"empty.{kind}", kind, n=0)
        with pytest.raises(MAEError, match=rf"empty\.{kind} holds no frames"):
            read_clip(path, 1, 1)


def test_too_short_for_the_stride_says_what_to_do(tmp_path: Path) -> None:
    path = make_video(tmp_path / "short.mp4", n=20)
    message = (
        "short.mp4 holds 20 frames; 16 frames with stride 4 need 61: use a smaller stride "
        "(--frame-stride 1) or a longer video"
    )
    with pytest.raises(MAEError, match=re.escape(message)):
        read_clip(path, frames=16, stride=4)
    with pytest.raises(MAEError, match=r"holds 20 frames; a clip of 24 frames needs at least 24"):
        read_clip(path, frames=24, stride=1)
    assert read_clip(path, frames=16, stride=1).shape[0] == 16


def test_too_short_after_the_start(clips: dict[str, Path]) -> None:
    # 40 frames, start at frame 15: 25 frames left, 16 frames with stride 2 need 31
    for kind in ("mkv", "mp4"):
        with pytest.raises(
            MAEError, match=re.escape("holds 25 frames from 0.5 s on; 16 frames with stride 2")
        ):
            read_clip(clips[kind], frames=16, stride=2, start_s=0.5)
    with pytest.raises(MAEError, match=r"1\.33 s long; a clip cannot start at 5 s"):
        read_clip(clips["mp4"], frames=1, stride=1, start_s=5.0)


def test_frames_too_large_a_side_are_refused(tmp_path: Path, spy: dict[str, int]) -> None:
    path = make_video(tmp_path / "wide.mp4", n=1, size=(8200, 16))
    with pytest.raises(MAEError, match=r"wide\.mp4 is 8200x16 pixels; frames larger than 8192"):
        read_clip(path, frames=1, stride=1, max_side=64)  # refused even when shrunk
    assert spy["decoded"] == 0


def test_clip_too_large_for_memory_is_refused_before_decoding(
    clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch, spy: dict[str, int]
) -> None:
    monkeypatch.setattr(video, "MAX_CLIP_BYTES", 8 * W * H * 3 - 1)  # 8 full frames: 1 too many
    with pytest.raises(MAEError, match=r"clip\.mp4: 8 frames of 64x48 pixels need"):
        read_clip(clips["mp4"], frames=8, stride=1)
    assert spy["decoded"] == 0
    clip = read_clip(clips["mp4"], frames=8, stride=1, max_side=32)  # 8 x 32 x 24 fits
    assert clip.shape == (8, 24, 32, 3)
    assert read_clip(clips["mp4"], frames=7, stride=1).shape == (7, H, W, 3)


@pytest.mark.parametrize(
    "frames, stride, start_s, max_side",
    [(0, 1, 0.0, None), (1, 0, 0.0, None), (1, 1, -1.0, None), (1, 1, float("nan"), None),
     (1, 1, 0.0, 0), (True, 1, 0.0, None)],
)  # fmt: skip
def test_bad_options(
    clips: dict[str, Path], frames: int, stride: int, start_s: float, max_side: int | None
) -> None:
    with pytest.raises(MAEError):
        read_clip(clips["mp4"], frames, stride, start_s, max_side)


# -- export ------------------------------------------------------------------------------------


def block_frames(t: int, h: int, w: int) -> np.ndarray:
    """Frames of large flat colour blocks (they survive lossy coding), different each frame."""
    out = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        out[i, : h // 2, : w // 2] = (200, 30 + 10 * i, 40)
        out[i, : h // 2, w // 2 :] = (20, 180, 10 * i)
        out[i, h // 2 :, :] = (10 * i, 60, 220)
    return out


def inner(frames: np.ndarray, margin: int = 4) -> np.ndarray:
    """The blocks away from their edges (where chroma subsampling and palettes blur)."""
    _, h, w, _ = frames.shape
    keep = np.ones((h, w), bool)
    for y in (0, h // 2, h):
        keep[max(0, y - margin) : y + margin] = False
    for x in (0, w // 2, w):
        keep[: h // 2, max(0, x - margin) : x + margin] = False
    return frames[:, keep]


def test_mp4_round_trip(tmp_path: Path) -> None:
    frames = block_frames(12, 48, 64)
    path = write_mp4(frames, tmp_path / "out.mp4", fps=25)
    info = probe(path)
    assert (info.frames, info.frames_exact, info.size, info.container) == (
        12,
        True,
        (64, 48),
        "MP4/MOV",
    )
    assert info.fps == pytest.approx(25)
    back = read_clip(path, frames=12, stride=1)
    assert back.shape == frames.shape
    diff = np.abs(inner(back).astype(int) - inner(frames).astype(int))
    assert diff.mean() < 2 and diff.max() <= 12
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_mp4_odd_size_is_padded_with_the_last_row_and_column(tmp_path: Path) -> None:
    frames = block_frames(3, 47, 63)
    back = read_clip(write_mp4(frames, tmp_path / "odd.mp4", fps=30), frames=3, stride=1)
    assert back.shape == (3, 48, 64, 3)
    diff = np.abs(back[:, -4:, -4:].astype(int) - frames[:, -1:, -1:].astype(int))
    assert diff.mean() < 3


def test_mp4_fractional_fps(tmp_path: Path) -> None:
    path = write_mp4(block_frames(4, 16, 16), tmp_path / "ntsc.mp4", fps=30000 / 1001)
    assert probe(path).fps == pytest.approx(29.97, abs=1e-3)


def test_mp4_encoder_is_h264_with_this_ffmpeg() -> None:
    assert video_export.mp4_codec() == "libx264"


def test_gif_round_trip(tmp_path: Path) -> None:
    frames = block_frames(10, 48, 64)
    path = write_gif(frames, tmp_path / "out.gif", fps=25)
    clip = load_clip(path, frames=10, stride=1)
    assert clip.frames.shape == frames.shape
    assert clip.times_s == pytest.approx([i * 0.04 for i in range(10)], abs=1e-6)
    diff = np.abs(clip.frames.astype(int) - frames.astype(int))
    assert diff.max() <= 2  # flat blocks: few colours, each in the palette
    assert probe(path).duration_s == pytest.approx(0.4)


@given(count=st.integers(1, 200), fps=st.floats(0.5, 50))
def test_gif_delays_keep_the_timeline(count: int, fps: float) -> None:
    delays = video_export.gif_delays_ms(count, fps)
    assert len(delays) == count
    assert all(d % 10 == 0 for d in delays)
    for i in range(1, count + 1):  # frame i starts within 5 ms of i / fps
        assert abs(sum(delays[:i]) - 1000 * i / fps) <= 5 + 1e-6
    if fps <= 50:
        assert min(delays) >= 20


@pytest.mark.parametrize("writer", [write_gif, write_mp4])
def test_failed_export_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Any
) -> None:
    old = tmp_path / "out.mp4"
    old.write_bytes(b"an older export")
    calls = {"n": 0}
    real_from_ndarray = av.VideoFrame.from_ndarray

    def failing(real: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(28, "No space left on device")
            return real(*args, **kw)

        return call

    if writer is write_gif:

        def save(self: Image.Image, fp: Any, *args: Any, **kw: Any) -> None:
            Path(fp).write_bytes(b"GIF89a partial")  # half a file, then the disk is full
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Image.Image, "save", save)
    else:
        monkeypatch.setattr(av.VideoFrame, "from_ndarray", failing(real_from_ndarray))
    with pytest.raises(MAEError, match=r"out\.mp4: the disk is full"):
        writer(block_frames(6, 16, 16), old, fps=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    assert old.read_bytes() == b"an older export"


def test_export_errors(tmp_path: Path) -> None:
    frames = block_frames(2, 16, 16)
    with pytest.raises(MAEError, match=r"out\.mp4"):
        write_mp4(frames, tmp_path / "missing" / "out.mp4", fps=10)
    with pytest.raises(MAEError, match=r"at most 50"):
        write_gif(frames, tmp_path / "fast.gif", fps=60)
    for fps in (0, -1, float("inf"), float("nan")):
        with pytest.raises(MAEError):
            write_mp4(frames, tmp_path / "x.mp4", fps=fps)
    with pytest.raises(ValueError):
        write_mp4(frames.astype(np.float32), tmp_path / "x.mp4", fps=10)
    assert list(tmp_path.iterdir()) == []
