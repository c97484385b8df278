"""Session files keep everything they are meant to keep.

1. Every field of a `Session` survives save_session -> read_session unchanged, and the file
   is laid out as the session_file docstring says (other versions and tools read it).
2. Every part of the editor a session carries (image, mask, generator, display mode,
   resize policy, attention options, head counts, input normalisation, device choice,
   model path/hash/precision) survives editor -> session file -> a fresh editor, whatever
   that editor showed before; the window-only options (opacity, colormap) stay the
   window's. Once with the app's steps done by hand (many cases, any grid), once through
   the real live controller, lane and worker with a small model (a few cases).

The field lists are derived from `dataclasses.fields(Session / GeneratorSettings /
AttentionOptions)` and `vars(EditorState())`: a field added later without a strategy here
(and so without a round trip) fails `test_every_..._field_has_a_strategy`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import queue
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from mae_desktop.core.editor import (
    QUERY_MODES,
    AttentionOptions,
    EditorState,
    GeneratorSettings,
)
from mae_desktop.core.events import Event
from mae_desktop.core.live import LiveController
from mae_desktop.core.sessions import apply_session, read_source, session_from_editor
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.device import DTYPES
from mae_desktop.engine.images import RESIZE_POLICIES, read_image
from mae_desktop.engine.masks import MASK_MODES
from mae_desktop.engine.reconstruction import MODES
from mae_desktop.session_file import Session, read_session, save_session

MAX_SEED = 2**31 - 1
# attention options the window keeps for itself (session_file._attention: "opacity and
# colormap are the window's"); every other AttentionOptions field travels in the session
WINDOW_ONLY = frozenset({"opacity", "colormap"})

# -- strategies shared by both round trips ------------------------------------------------------
GENERATOR: dict[str, st.SearchStrategy] = {  # one per GeneratorSettings field
    "mode": st.sampled_from(MASK_MODES),
    "ratio": st.floats(0.0, 1.0),
    "seed": st.integers(0, MAX_SEED),
}
SHA256 = st.none() | st.text("0123456789abcdef", min_size=64, max_size=64)
PATHS = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=40)
DEVICES = st.sampled_from(("auto", "cpu", "mps", "cuda")) | st.integers(0, 999).map(
    lambda n: f"cuda:{n}"
)
# well inside what a model can normalise with (engine.config.norm_problem)
_NUMBER = st.floats(-100.0, 100.0)
_POSITIVE = st.floats(1e-3, 1e3)


def _side(numbers: st.SearchStrategy) -> st.SearchStrategy:
    """One or three numbers, comma separated (one stands for all three channels)."""
    lists = st.lists(numbers, min_size=1, max_size=1) | st.lists(numbers, min_size=3, max_size=3)
    return lists.map(lambda vs: ",".join(repr(v) for v in vs))


CANONICAL_NORMS = st.sampled_from(("none", "imagenet", "0.5:0.25", "0.1,0.2,0.3:0.5,0.6,0.7"))
INPUT_NORMS = (
    st.none()
    | CANONICAL_NORMS
    | st.sampled_from(("IMAGENET", " None ", "0.5 : 0.25"))
    | st.builds(lambda m, s: f"{m}:{s}", _side(_NUMBER), _side(_POSITIVE))
)


def generator_dicts() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {f.name: GENERATOR[f.name] for f in dataclasses.fields(GeneratorSettings)}
    )


# -- 1. Session <-> file -------------------------------------------------------------------------
@st.composite
def session_attention(draw: st.DrawFn) -> dict[str, Any]:
    """Any attention options a session file may hold (every AttentionOptions field but the
    window's own)."""
    cells = st.lists(st.integers(0, 1023), min_size=2, max_size=2)
    strategies: dict[str, st.SearchStrategy] = {
        "part": st.sampled_from(("encoder", "decoder")),
        "layer": st.integers(-1, 9999),
        "head": st.sampled_from(("mean", "max")) | st.integers(0, 9999),
        "query": st.sampled_from(QUERY_MODES),
        "cell": st.none() | cells,
        "rollout": st.booleans(),
    }
    names = [f.name for f in dataclasses.fields(AttentionOptions) if f.name not in WINDOW_ONLY]
    out = {name: draw(strategies[name]) for name in names}
    if out["query"] == "patch" and out["cell"] is None:  # a picked patch names its cell
        out["cell"] = draw(cells)
    return out


def _masks() -> st.SearchStrategy[np.ndarray]:
    small = st.tuples(st.integers(1, 16), st.integers(1, 16))
    edge = st.tuples(st.just(1), st.integers(1, 1024)) | st.tuples(st.integers(1, 1024), st.just(1))
    return arrays(bool, small | edge)


SESSION: dict[str, st.SearchStrategy] = {  # one per Session field
    "image_path": st.none() | PATHS,
    "checkpoint_path": st.none() | PATHS,
    "mask": _masks(),
    "image_sha256": SHA256,
    "checkpoint_sha256": SHA256,
    "generator": generator_dicts(),
    "device": DEVICES,
    "dtype": st.sampled_from(tuple(DTYPES)),
    "display_mode": st.sampled_from(("auto", *MODES)),
    "resize": st.sampled_from(RESIZE_POLICIES),
    "attention": session_attention(),
    "heads": st.fixed_dictionaries(
        {k: st.none() | st.integers(1, 4096) for k in ("heads", "decoder_heads")}
    ),
    "input_norm": INPUT_NORMS,
}


def sessions() -> st.SearchStrategy[Session]:
    return st.builds(Session, **{f.name: SESSION[f.name] for f in dataclasses.fields(Session)})


def test_every_session_field_has_a_strategy():
    names = {f.name for f in dataclasses.fields(Session)}
    assert names == set(SESSION), f"fields without a strategy: {names - set(SESSION)}"
    generator = {f.name for f in dataclasses.fields(GeneratorSettings)}
    assert generator == set(GENERATOR), f"without a strategy: {generator - set(GENERATOR)}"


def assert_same_session(got: Session, want: Session) -> None:
    for f in dataclasses.fields(Session):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == bool and a.shape == b.shape, f.name
            assert np.array_equal(a, b), f.name
        else:
            assert a == b and type(a) is type(b), f"{f.name}: {a!r} != {b!r}"


@settings(max_examples=150, deadline=None)
@given(session=sessions())
def test_every_session_field_survives_save_and_load(session: Session):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.json"
        save_session(path, session)
        data = json.loads(path.read_text(encoding="utf-8"))
        loaded = read_session(path)
    assert_same_session(loaded, session)
    # the layout the session_file docstring promises, written out by hand
    gh, gw = session.mask.shape
    assert data == {
        "format": "mae-desktop-session",
        "version": 1,
        "image": {"path": session.image_path, "sha256": session.image_sha256},
        "checkpoint": {"path": session.checkpoint_path, "sha256": session.checkpoint_sha256},
        "mask": ["".join("1" if session.mask[r, c] else "0" for c in range(gw)) for r in range(gh)],
        "generator": session.generator,
        "device": session.device,
        "dtype": session.dtype,
        "display_mode": session.display_mode,
        "resize": session.resize,
        "attention": session.attention,
        "heads": session.heads,
        "input_norm": session.input_norm,
    }


# -- 2. editor -> session file -> editor ----------------------------------------------------------
@dataclasses.dataclass
class Case:
    """What the user set up in an editor: a model (as the worker describes it), an image and
    every option a session carries, plus the window-only attention options."""

    config: MAEConfig
    path: str
    sha256: str | None
    dtype: str
    input_norm: str | None
    device_choice: str
    head_overrides: dict[str, int | None]
    image: Path
    resize: str
    generator: dict[str, Any]
    display_mode: str
    attention: dict[str, Any]
    mask: np.ndarray

    def info(self, generation: int = 1) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "generation": generation,
            "path": self.path,
            "sha256": self.sha256,
            "dtype": self.dtype,
            "input_norm": self.input_norm,
        }


def attention_strategies(cfg: MAEConfig) -> dict[str, st.SearchStrategy]:
    """One per AttentionOptions field, valid for this model."""
    gh, gw = cfg.grid_size
    return {
        "part": st.sampled_from(("encoder", "decoder") if cfg.has_decoder else ("encoder",)),
        "layer": st.integers(-1, cfg.depth - 1),
        "head": st.sampled_from(("mean", "max")) | st.integers(0, cfg.num_heads - 1),
        "query": st.sampled_from(QUERY_MODES),
        "cell": st.none() | st.tuples(st.integers(0, gh - 1), st.integers(0, gw - 1)),
        "rollout": st.booleans(),
        "opacity": st.floats(0.0, 1.0),
        "colormap": st.sampled_from(("inferno", "viridis", "magma")),
    }


def display_modes(cfg: MAEConfig) -> st.SearchStrategy[str]:
    """The display modes the window offers for this model (README: norm_pix models add
    estimate and gt-stats to plain and raw)."""
    if cfg.has_decoder and cfg.norm_pix_loss:
        return st.sampled_from(("auto", "estimate", "gt-stats", "raw", "plain"))
    return st.sampled_from(("auto", "plain", "raw"))


@st.composite
def configs(draw: st.DrawFn) -> MAEConfig:
    """Small models with square and non-square grids, with and without a decoder."""
    patch = draw(st.sampled_from((8, 16)))
    gh, gw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    has_decoder = draw(st.booleans())
    return MAEConfig(
        image_size=(gh * patch, gw * patch),
        patch_size=patch,
        depth=draw(st.integers(1, 4)),
        num_heads=draw(st.sampled_from((1, 2, 3, 4))),
        has_decoder=has_decoder,
        norm_pix_loss=has_decoder and draw(st.booleans()),
    )


@st.composite
def cases(draw: st.DrawFn, images: tuple[Path, ...], config: MAEConfig | None = None) -> Case:
    cfg = config or draw(configs())
    names = [f.name for f in dataclasses.fields(AttentionOptions)]
    strategies = attention_strategies(cfg)
    attention = {name: draw(strategies[name]) for name in names}
    return Case(
        config=cfg,
        path=draw(PATHS.map(lambda p: "/models/" + p)),
        sha256=draw(SHA256),
        dtype=draw(st.sampled_from(tuple(DTYPES))),
        input_norm=draw(INPUT_NORMS),
        device_choice=draw(st.sampled_from(("auto", "cpu", "cuda:0", "cuda:1", "mps"))),
        head_overrides=draw(
            st.fixed_dictionaries({k: st.none() | st.integers(1, 16) for k in SESSION_HEADS})
        ),
        image=draw(st.sampled_from(images)),
        resize=draw(st.sampled_from(RESIZE_POLICIES)),
        generator=draw(generator_dicts()),
        display_mode=draw(display_modes(cfg)),
        attention=attention,
        mask=draw(arrays(bool, cfg.grid_size)),
    )


SESSION_HEADS = ("heads", "decoder_heads")


def build_editor(case: Case) -> EditorState:
    """An editor set up as the user would (the model as the worker reports it)."""
    e = EditorState()
    e.set_model(case.info(), case.device_choice, dict(case.head_overrides))
    e.set_source(read_image(case.image), str(case.image))
    e.set_resize(case.resize)
    e.set_generator(**case.generator)
    e.set_display_mode(case.display_mode)
    e.set_attention(**case.attention)
    e.set_mask(case.mask)
    return e


# EditorState attributes a session carries (compared by `carried`), and those it does not:
# the undo history starts afresh, the image id and the worker generation are counters, the
# comparison model is not part of a session. Events are found by type.
CARRIED = frozenset(
    {
        "source",
        "image_path",
        "image",
        "_mask",
        "resize",
        "generator",
        "display_mode",
        "attention",
        "model",
        "config",
        "device_choice",
        "head_overrides",
        "input_norm",
    }
)
NOT_CARRIED = frozenset({"image_id", "history", "_stroke_base", "generation", "compare"})
MODEL_INFO_CARRIED = ("path", "sha256", "dtype")  # the worker reports the rest


def test_every_editor_attribute_is_known_to_be_carried_or_not():
    e = EditorState()
    state = {k for k, v in vars(e).items() if not isinstance(v, Event)}
    unknown = state - CARRIED - NOT_CARRIED
    assert not unknown, f"EditorState attributes no round trip checks: {unknown}"
    assert state == CARRIED | NOT_CARRIED  # and none listed here has gone
    strategies = attention_strategies(MAEConfig())
    names = {f.name for f in dataclasses.fields(AttentionOptions)}
    assert names == set(strategies), f"without a strategy: {names - set(strategies)}"


def carried(e: EditorState) -> dict[str, Any]:
    """What a session carries, read off the editor (arrays as bytes and shape)."""
    assert e.source is not None and e.image is not None and e.model is not None

    def array(a: np.ndarray) -> tuple:
        return a.dtype.str, a.shape, a.tobytes()

    return {
        "source": array(np.asarray(e.source)),
        "image_path": e.image_path,
        "image": array(e.image),
        "_mask": array(e.mask),
        "resize": e.resize,
        "generator": {
            f.name: getattr(e.generator, f.name) for f in dataclasses.fields(GeneratorSettings)
        },
        "display_mode": e.display_mode,
        "attention": {
            f.name: getattr(e.attention, f.name)
            for f in dataclasses.fields(AttentionOptions)
            if f.name not in WINDOW_ONLY
        },
        "model": {k: e.model.get(k) for k in MODEL_INFO_CARRIED},
        "config": e.config,
        "device_choice": e.device_choice,
        "head_overrides": dict(e.head_overrides),
        "input_norm": e.input_norm,
    }


def window_only(e: EditorState) -> dict[str, Any]:
    return {name: getattr(e.attention, name) for name in WINDOW_ONLY}


def _gradient(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A non-square image whose every pixel differs, so that each resize policy shows."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    rgb = np.stack(
        [x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), rng.integers(0, 256, (h, w))]
    )
    Image.fromarray(rgb.transpose(1, 2, 0).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, ...]:
    folder = tmp_path_factory.mktemp("images")
    return (
        _gradient(folder / "wide.png", (40, 24), 1),
        _gradient(folder / "tall.png", (18, 44), 2),
    )


def save_and_read(editor: EditorState) -> tuple[Session, bytes]:
    """session_from_editor -> save_session -> read_session, as File > Save/Open Session."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.maesession"
        save_session(path, session_from_editor(editor))
        return read_session(path), path.read_bytes()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_editor_option_survives_a_session_file(images, data: st.DataObject):
    """The app's steps by hand: the worker's part is played by `info` (the model it loads
    is the one the session names, with the session's precision and normalisation) and
    `read_source`; the device is the one the file names (the fallback on machines without
    it is tested in tests/core/test_session_validation.py)."""
    case = data.draw(cases(images), label="saved")
    reload = data.draw(st.booleans(), label="the session's model is loaded (not open already)")
    before = data.draw(cases(images, None if reload else case.config), label="on screen before")
    if not reload:  # the session's model is the one open (as the worker reports it)
        before = dataclasses.replace(
            before,
            **{
                k: getattr(case, k)
                for k in ("path", "sha256", "dtype", "input_norm", "device_choice")
            },
            head_overrides=dict(case.head_overrides),
        )
    editor = build_editor(case)
    want = carried(editor)
    loaded, _ = save_and_read(editor)
    assert loaded.image_sha256 == hashlib.sha256(case.image.read_bytes()).hexdigest()

    fresh = build_editor(before)
    keep = window_only(fresh)
    if reload:
        info = {
            "config": case.config.to_dict(),  # what the session's checkpoint holds
            "generation": 2,
            "path": loaded.checkpoint_path,
            "sha256": loaded.checkpoint_sha256,
            "dtype": loaded.dtype,
            "input_norm": loaded.input_norm,
        }
        heads = {"heads": None, "decoder_heads": None, **loaded.heads}
        apply_session(fresh, loaded, read_source(loaded), info, loaded.device, heads)
    else:
        apply_session(fresh, loaded, read_source(loaded))
    got = carried(fresh)
    for name in CARRIED:
        assert got[name] == want[name], name
    assert window_only(fresh) == keep
    assert not fresh.history.can_undo and not fresh.history.can_redo


# -- the same through the real live controller, lane and worker --------------------------------
class Live:
    """An editor with its controller and a real worker; items pumped by hand."""

    def __init__(self) -> None:
        self.editor = EditorState()
        self.items: queue.Queue = queue.Queue()
        self.ctl = LiveController(self.editor, self.items.put)
        self.errors: list[str] = []
        self.ctl.error.connect(self.errors.append)

    def settle(self) -> None:
        while self.ctl.busy:
            self.ctl.handle(self.items.get(timeout=30))
        assert not self.errors, self.errors


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_session_reopens_whole_through_the_worker(hf_pair, images, data: st.DataObject):
    """The small HF model (64x64, 4x4 grid of 16, 4 encoder / 2 decoder heads, pixel
    target): head counts (its own or none), normalisation and options set through the
    controller, saved, and reopened by another window's controller."""
    folder = hf_pair[1]
    cfg = MAEConfig(image_size=(64, 64), patch_size=16, depth=2, num_heads=4)
    case = data.draw(cases(images, cfg), label="saved")
    heads = data.draw(st.sampled_from((None, 4)), label="heads")
    decoder_heads = data.draw(st.sampled_from((None, 2)), label="decoder heads")
    norm = data.draw(st.none() | CANONICAL_NORMS, label="input_norm")
    device = data.draw(st.sampled_from(("auto", "cpu")), label="device")
    dtype = data.draw(st.sampled_from(("fp32", "bf16")), label="precision")
    source, other = Live(), Live()
    try:
        source.ctl.open_model(str(folder), device, dtype, heads, decoder_heads)
        source.ctl.set_input_norm(norm)
        source.editor.set_source(read_image(case.image), str(case.image))
        source.settle()
        e = source.editor
        e.set_resize(case.resize)
        e.set_generator(**case.generator)
        e.set_display_mode(case.display_mode)
        e.set_attention(**case.attention)
        e.set_mask(case.mask)
        source.settle()
        want = carried(e)
        assert e.input_norm == norm and e.head_overrides == {
            "heads": heads,
            "decoder_heads": decoder_heads,
        }
        loaded, _ = save_and_read(e)
        other.ctl.open_session(loaded)
        other.settle()
        got = carried(other.editor)
        for name in CARRIED:
            assert got[name] == want[name], name
        assert other.editor.model["sha256"] == _folder_sha256(folder)
    finally:
        source.ctl.close()
        other.ctl.close()


def _folder_sha256(folder: Path) -> str:
    """sha256 of the folder's files' bytes in name order (what the app stores)."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()
