"""The exported figure shows, in each panel, the array that panel is titled with: checked by
the pixels of each panel, not by its title.

Guards engine/figure.py (PNG, SVG, PDF) and the window's figure (core/figures.py, what
File > Export figure writes). The PNG is cut into its six panels at the documented layout (two
rows of three: original, masked input, reconstruction / composite, error map, attention); the
SVG's embedded PNGs and the PDF's image XObjects are decoded and placed where the file puts
them. Each panel is compared with its expected image, computed here from the arrays of the
same state (clipping, the grey fill of "no value", the colormap over the finite min/max, the
attention blended over the original), resampled to the panel's size. Two panels swapped under
their titles, a panel drawn from the wrong array, the wrong colormap, range or blend, or a
flipped panel all fail.

The helpers here are also used by tests/cli/test_png_twins.py (the CLI's --figure).
"""

from __future__ import annotations

import base64
import functools
import io
import math
import queue
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "mae_desktop" / "resources" / "samples"
MODEL = ROOT / "models" / "default.safetensors"
NAMES = ("original", "masked input", "reconstruction", "composite", "error map", "attention")
GREY = 0.5  # "no value" (a masked patch, a NaN cell) is plain mid grey in every panel
ALPHA = 0.6  # attention over the image, as figure.py's docstring and the app's overlay say


# -- the expected images, from the arrays alone ---------------------------------------------
def cells_to_pixels(grid: np.ndarray, patch: int) -> np.ndarray:
    """(gh, gw, ...) per-patch values -> (gh * patch, gw * patch, ...), each cell a block."""
    return np.repeat(np.repeat(np.asarray(grid), patch, axis=0), patch, axis=1)


def through_colormap(values: np.ndarray, cmap: str, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch values -> (RGB float (H, W, 3) by matplotlib's `cmap` over the finite
    values' min..max, finite bool (H, W)). NaN cells come back unset (black)."""
    import matplotlib

    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    lo, hi = values[finite].min(), values[finite].max()
    span = hi - lo if hi > lo else 1.0  # one value only: the low end of the map
    t = np.where(finite, (values - lo) / span, 0.0)
    rgb = np.asarray(matplotlib.colormaps[cmap](t))[..., :3]
    rgb[~finite] = 0.0
    return cells_to_pixels(rgb, patch), cells_to_pixels(finite, patch)


def grey_where(image: np.ndarray, cover: np.ndarray) -> np.ndarray:
    out = np.array(image, dtype=np.float64)
    out[cover] = GREY
    return out


def expected_panels(
    original: np.ndarray,
    mask: np.ndarray,
    reconstruction: np.ndarray,
    composite: np.ndarray,
    error: np.ndarray,
    attention: np.ndarray | None,
    patch: int,
    cmap_error: str = "inferno",
    cmap_attention: str = "inferno",
) -> list[np.ndarray]:
    """The six panels as they should look, float (H, W, 3) in [0, 1], in panel order."""
    under = np.clip(np.asarray(original, dtype=np.float64), 0.0, 1.0)
    heat, finite = through_colormap(error, cmap_error, patch)
    panels = [
        under,
        grey_where(under, cells_to_pixels(mask, patch)),
        np.clip(reconstruction, 0.0, 1.0),
        np.clip(composite, 0.0, 1.0),
        grey_where(heat, ~finite),
    ]
    if attention is None:
        panels.append(under)
    else:
        heat, finite = through_colormap(attention, cmap_attention, patch)
        panels.append(grey_where((1 - ALPHA) * under + ALPHA * heat, ~finite))
    return panels


def resample(image: np.ndarray, h: int, w: int, phase: float = 0.5) -> np.ndarray:
    """Nearest neighbour to (h, w): each output pixel takes the input pixel under the point
    `phase` of the way across it (0.5: its centre, 0: its top left corner)."""
    rows = ((np.arange(h) + phase) * image.shape[0] / h).astype(int)
    cols = ((np.arange(w) + phase) * image.shape[1] / w).astype(int)
    return image[rows][:, cols]


def check_panels(shown: list[np.ndarray], expected: list[np.ndarray], where: str) -> None:
    """Panel k (reading order) must be expected[k]: closer to it than to every other panel's
    image wherever the two differ, and close to it overall. Resampling is registered first,
    to within a pixel: a raster may sit a fraction of a pixel off the panel's edge, and a
    renderer may sample a pixel at its centre or at its corner."""
    assert len(shown) == len(expected) == 6, f"{where}: {len(shown)} panels"
    for k, pixels in enumerate(shown):
        h, w = pixels.shape[:2]
        edge = max(2, round(0.01 * min(h, w)))  # resampling may differ at the very border
        inner = (slice(edge, h - edge), slice(edge, w - edge))
        # registered on a random tenth of the pixels (a regular grid of them could alias
        # with the scale and see every shift alike)
        some = np.random.default_rng(0).random((h - 2 * edge, w - 2 * edge)) < 0.1
        fits = []
        for phase in (0.5, 0.0):
            own = resample(expected[k], h, w, phase)[inner][some]
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    got = pixels[edge + dy : h - edge + dy, edge + dx : w - edge + dx]
                    fits.append((float(np.abs(got[some] - own).mean()), phase, dy, dx))
        _, phase, dy, dx = min(fits)
        got = pixels[edge + dy : h - edge + dy, edge + dx : w - edge + dx]
        refs = [resample(e, h, w, phase)[inner] for e in expected]
        mad = float(np.abs(got - refs[k]).mean())
        closest = NAMES[int(np.argmin([np.abs(got - ref).mean() for ref in refs]))]
        for j, ref in enumerate(refs):
            differ = np.abs(refs[k] - ref).max(axis=-1) > 0.15
            if j == k or differ.mean() < 0.01:  # these two panels look alike: nothing to tell
                continue
            to_own = np.abs(got - refs[k]).max(axis=-1)[differ].mean()
            to_other = np.abs(got - ref).max(axis=-1)[differ].mean()
            assert to_own < 0.5 * to_other, (
                f"{where}: the {NAMES[k]} panel looks like the {NAMES[j]} where those differ "
                f"(off by {to_own:.3f} from its own image, {to_other:.3f} from the {NAMES[j]}); "
                f"it is closest to the {closest}"
            )
        assert mad < 0.02, (
            f"{where}: the {NAMES[k]} panel is off by {mad:.3f} on average; "
            f"it is closest to the {closest}"
        )


# -- what a file shows, and where ------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    """An image as a viewer sees it: box (left, top, right, bottom) in fractions of the page
    from its top left corner; rgb float (h, w, 3) upright."""

    box: tuple[float, float, float, float]
    rgb: np.ndarray

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def decode(data: bytes, alpha: bytes | None = None) -> np.ndarray:
    """PNG bytes -> float RGB (h, w, 3) as shown over the white page; `alpha`: a separate
    PNG of the coverage (a PDF's soft mask). Only the outermost rows and columns may be part
    covered (a raster that does not end on a whole pixel)."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        cover = np.asarray(im.getchannel("A"), np.float64) / 255 if im.mode == "RGBA" else None
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    if alpha is not None:
        with Image.open(io.BytesIO(alpha)) as im:
            cover = np.asarray(im.convert("L"), np.float64) / 255
    if cover is None:
        return rgb
    assert (cover[1:-1, 1:-1] == 1).all(), "a panel image is not opaque"
    return rgb * cover[..., None] + (1 - cover[..., None])


def _svg_matrix(transform: str) -> np.ndarray:
    """An SVG transform list -> 3x3 matrix (the kinds matplotlib writes)."""
    out = np.eye(3)
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", transform):
        v = [float(a) for a in re.split(r"[\s,]+", args.strip()) if a]
        m = np.eye(3)
        if name == "matrix":
            m[:2] = np.array(v).reshape(3, 2).T
        elif name == "translate":
            m[:2, 2] = (v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale":
            m[0, 0], m[1, 1] = v[0], v[1] if len(v) > 1 else v[0]
        elif name == "rotate":  # rotate(angle [cx cy]), as matplotlib writes it on text
            a, (cx, cy) = np.radians(v[0]), (v[1:] or [0.0, 0.0])
            c, s = np.cos(a), np.sin(a)
            m[:2] = [[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy]]
        else:
            raise AssertionError(f"unexpected SVG transform {name}")
        out = out @ m
    return out


def svg_images(path: Path) -> list[Placed]:
    """Every <image> of an SVG, in document (drawing) order, decoded and placed."""
    root = ET.parse(path).getroot()
    _, _, vw, vh = (float(v) for v in root.get("viewBox", "").split())
    found: list[Placed] = []

    def walk(el: ET.Element, ctm: np.ndarray) -> None:
        ctm = ctm @ _svg_matrix(el.get("transform", ""))
        if el.tag.endswith("}image"):
            href = el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or ""
            assert href.startswith("data:image/png;base64,"), href[:40]
            rgb = decode(base64.b64decode(href.split(",", 1)[1]))
            x, y = float(el.get("x", 0)), float(el.get("y", 0))
            w, h = float(el.get("width")), float(el.get("height"))
            corners = ctm @ np.array([[x, x + w], [y, y + h], [1.0, 1.0]])
            if ctm[0, 0] < 0:
                rgb = rgb[:, ::-1]
            if ctm[1, 1] < 0:  # the data is stored bottom row first and flipped back
                rgb = rgb[::-1]
            xs, ys = sorted(corners[0]), sorted(corners[1])
            found.append(Placed((xs[0] / vw, ys[0] / vh, xs[1] / vw, ys[1] / vh), rgb))
        for child in el:
            walk(child, ctm)

    walk(root, np.eye(3))
    return found


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def xobject_png(xobj) -> bytes:
    """A PDF image XObject (Flate, RGB/grey/indexed RGB, as matplotlib writes them) as PNG
    bytes for Pillow: PDF's PNG predictor rows are a PNG's IDAT data. (pypdf's own decoder
    misreads 4-bit indexed images with a predictor, which matplotlib writes for few colours.)"""
    w, h, bpc = int(xobj["/Width"]), int(xobj["/Height"]), int(xobj["/BitsPerComponent"])
    assert xobj.get("/Filter") == "/FlateDecode", xobj.get("/Filter")
    assert "/Decode" not in xobj
    space = xobj["/ColorSpace"]
    extra = b""
    if space == "/DeviceRGB":
        kind, channels = 2, 3
    elif space == "/DeviceGray":
        kind, channels = 0, 1
    else:
        assert space[0] == "/Indexed" and space[1] == "/DeviceRGB", space
        lookup = space[3].get_object()  # a string, or a stream
        lookup = lookup.get_data() if hasattr(lookup, "get_data") else lookup
        kind, channels, extra = 3, 1, _chunk(b"PLTE", bytes(lookup))
    raw = xobj._data  # the stream as stored (still deflated)
    parms = xobj.get("/DecodeParms") or {}
    if int(parms.get("/Predictor", 1)) < 10:  # plain rows: give each one PNG's "none" filter
        rows = zlib.decompress(raw)
        n = (w * channels * bpc + 7) // 8
        raw = zlib.compress(b"".join(b"\0" + rows[i * n : (i + 1) * n] for i in range(h)))
    head = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bpc, kind, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + extra + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def pdf_images(path: Path) -> list[Placed]:
    """Every image XObject drawn on the PDF's page, in drawing order, decoded and placed by
    the transformation matrix in force where the content stream draws it."""
    import pypdf
    from pypdf.generic import ContentStream

    reader = pypdf.PdfReader(path)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    pw, ph = x1 - x0, y1 - y0
    ctm, stack, found = np.eye(3), [], []
    for operands, op in ContentStream(page.get_contents(), reader).operations:
        if op == b"q":
            stack.append(ctm)
        elif op == b"Q":
            ctm = stack.pop()
        elif op == b"cm":
            a, b, c, d, e, f = (float(v) for v in operands)
            ctm = np.array([[a, c, e], [b, d, f], [0, 0, 1.0]]) @ ctm
        elif op == b"Do":
            name = str(operands[0])
            xobj = page["/Resources"]["/XObject"][name].get_object()
            if xobj["/Subtype"] != "/Image":
                continue
            smask = xobj.get("/SMask")
            rgb = decode(xobject_png(xobj), smask and xobject_png(smask.get_object()))
            # image space: the unit square, first row of samples at the top (y = 1)
            corners = ctm @ np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
            if ctm[0, 0] < 0:
                rgb = rgb[:, ::-1]
            if ctm[1, 1] < 0:
                rgb = rgb[::-1]
            xs, ys = sorted(corners[0] - x0), sorted(corners[1] - y0)
            found.append(Placed((xs[0] / pw, 1 - ys[1] / ph, xs[1] / pw, 1 - ys[0] / ph), rgb))
    return found


@functools.lru_cache(maxsize=16)
def _layout(shape: tuple[int, int]):
    from mae_desktop.engine.figure import FigureData, build_figure

    h, w = shape
    zeros = np.zeros((h, w, 3), np.float32)
    cells = np.ones((h, w), np.float32)  # one pixel a patch: any image size will do
    dummy = FigureData(zeros, zeros, zeros, zeros, cells, cells, 1, "e", "a", "t", None, 0.5)
    fig = build_figure(dummy)
    boxes = []
    for ax in fig.axes:
        x, y, bw, bh = ax.get_position().bounds
        boxes.append((x, 1 - y - bh, x + bw, 1 - y))
    return tuple(float(v) for v in fig.get_size_inches()), tuple(boxes)


def layout(shape: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    """The six panel boxes (left, top, right, bottom; fractions from the top left) of a figure
    of images of this shape, from figure.py's layout (which does not depend on the content)."""
    return list(_layout(tuple(shape))[1])


def figure_inches(shape: tuple[int, int]) -> tuple[float, float]:
    return _layout(tuple(shape))[0]


def png_panels(path: Path, shape: tuple[int, int]) -> list[Placed]:
    """The PNG cut at the layout's six panel boxes."""
    with Image.open(path) as im:
        im.load()
        png = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    height, width = png.shape[:2]
    out = []
    for box in layout(shape):
        # matplotlib starts an image at the nearest pixel edge, halves rounding up
        left, right = (math.floor(v * width + 0.5 + 1e-6) for v in (box[0], box[2]))
        top, bottom = (math.floor(v * height + 0.5 + 1e-6) for v in (box[1], box[3]))
        ring = np.concatenate(
            [
                png[top - 3, left:right].ravel(),
                png[bottom + 2, left:right].ravel(),
                png[top:bottom, left - 3].ravel(),
            ]
        )
        assert ring.min() > 0.97, f"{path.name}: a panel reaches beyond its box {box}"
        out.append(Placed(box, png[top:bottom, left:right]))
    return out


def reading_order(placed: list[Placed]) -> list[Placed]:
    """Top row left to right, then the bottom row."""
    return sorted(placed, key=lambda p: (round(p.box[1], 2), p.box[0]))


def panels_of(path: Path, shape: tuple[int, int]) -> list[Placed]:
    """The six panels of a figure file in reading order; for SVG and PDF, the six largest
    images (the colorbars are narrow), which must also be drawn in reading order."""
    if path.suffix == ".png":
        found = png_panels(path, shape)
    else:
        found = svg_images(path) if path.suffix == ".svg" else pdf_images(path)
        biggest = max(p.area for p in found)
        found = [p for p in found if p.area > 0.5 * biggest]
        assert found == reading_order(found), f"{path.name}: panels drawn out of order"
    ordered = reading_order(found)
    check_layout([p.box for p in ordered], path.name)
    return ordered


def check_layout(boxes: list[tuple[float, float, float, float]], where: str) -> None:
    """Two rows of three panels of equal size."""
    assert len(boxes) == 6, f"{where}: {len(boxes)} panels"
    b = np.array(boxes)
    sizes = b[:, 2:] - b[:, :2]
    # vector files snap each image to whole pixels of their resolution: a few thousandths
    np.testing.assert_allclose(sizes, np.broadcast_to(sizes[0], sizes.shape), atol=5e-3)
    rows = [b[:3, 1], b[3:, 1]]
    assert all(np.ptp(r) < 5e-3 for r in rows) and rows[0][0] < rows[1][0], where
    assert (np.diff(b[:3, 0]) > 0).all() and (np.diff(b[3:, 0]) > 0).all(), where


def colorbars_of(path: Path) -> list[Placed]:
    """The narrow images of an SVG or PDF figure (the colorbars), left to right."""
    found = svg_images(path) if path.suffix == ".svg" else pdf_images(path)
    biggest = max(p.area for p in found)
    return sorted((p for p in found if p.area < 0.2 * biggest), key=lambda p: p.box[0])


def check_colorbar(bar: Placed, cmap: str, where: str) -> None:
    """A colorbar runs through the whole colormap from its bottom (low) to its top (high)."""
    import matplotlib

    column = bar.rgb[::-1, bar.rgb.shape[1] // 2]  # bottom to top
    want = np.asarray(matplotlib.colormaps[cmap](np.linspace(0, 1, len(column))))[:, :3]
    err = np.abs(column - want).max(axis=-1).mean()
    assert err < 0.03, f"{where}: the colorbar is not {cmap} from low to high (off by {err:.3f})"


# -- a state whose six panels all look different ---------------------------------------------
def sample(name: str, size: tuple[int, int]) -> np.ndarray:
    """A sample photo resized to (h, w): float (h, w, 3) in [0, 1]."""
    with Image.open(SAMPLES / name) as im:
        small = im.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(small, dtype=np.float32) / 255.0


@dataclass(frozen=True)
class State:
    original: np.ndarray
    mask: np.ndarray
    reconstruction: np.ndarray
    composite: np.ndarray
    error: np.ndarray
    attention: np.ndarray | None
    patch: int

    def figure_data(self, **kw):
        from mae_desktop.engine.figure import FigureData

        masked = grey_where(self.original, cells_to_pixels(self.mask, self.patch))
        return FigureData(
            original=self.original,
            masked=masked.astype(np.float32),
            reconstruction=self.reconstruction,
            composite=self.composite,
            error=self.error,
            attention=self.attention,
            patch=self.patch,
            error_label="Per-patch error (pixel MSE)",
            attention_label="Attention: encoder layer 6, mean of heads, CLS",
            title="chelsea.png · test",
            masked_psnr=18.5,
            mask_ratio=float(self.mask.mean()),
            **kw,
        )

    def expected(self, cmap_error: str = "inferno", cmap_attention: str = "inferno"):
        return expected_panels(
            self.original,
            self.mask,
            self.reconstruction,
            self.composite,
            self.error,
            self.attention,
            self.patch,
            cmap_error,
            cmap_attention,
        )


def distinct_state(grid: tuple[int, int], patch: int = 16, seed: int = 0) -> State:
    """A photo, a mask of about a third of the cells, a reconstruction that is another photo
    (partly out of [0, 1]), its composite, a per-patch error with one NaN cell and an
    attention map that is NaN on the masked cells."""
    rng = np.random.default_rng(seed)
    size = (grid[0] * patch, grid[1] * patch)
    original = sample("chelsea.png", size)
    mask = rng.random(grid) < 0.35
    mask.flat[rng.permutation(mask.size)[:2]] = (True, False)  # both kinds, always
    reconstruction = (1.3 * sample("coffee.png", size)[::-1] - 0.15).astype(np.float32)
    cover = cells_to_pixels(mask, patch)[..., None]
    composite = np.where(cover, reconstruction, original).astype(np.float32)
    error = rng.uniform(0.02, 0.05, grid).astype(np.float32)  # far from 0: a range from
    error[tuple(np.argwhere(~mask)[0])] = np.nan
    attention = rng.uniform(0.05, 0.2, grid).astype(np.float32)  # 0 would show
    attention[mask] = np.nan
    return State(original, mask, reconstruction, composite, error, attention, patch)


@pytest.fixture(scope="module")
def state() -> State:
    return distinct_state((14, 14))


# -- engine/figure.py --------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_png_panels_show_their_arrays(state, tmp_path, scale):
    from mae_desktop.engine.figure import render_figure

    data = state.figure_data(cmap_attention="viridis")
    path = render_figure(data, tmp_path / "fig.png", scale)
    with Image.open(path) as im:  # the known scale: 100 dpi times it
        assert im.size == tuple(round(v * 100 * scale) for v in figure_inches((224, 224)))
    panels = panels_of(path, state.original.shape[:2])
    assert panels[0].rgb.shape[0] == round(2.4 * 100 * scale)  # a 2.4 inch panel at 100 dpi
    check_panels([p.rgb for p in panels], state.expected("inferno", "viridis"), path.name)


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_vector_figures_embed_the_panels_in_place(state, tmp_path, suffix):
    from mae_desktop.engine.figure import render_figure

    data = state.figure_data(cmap_error="viridis", cmap_attention="inferno")
    path = render_figure(data, tmp_path / f"fig{suffix}")
    panels = panels_of(path, state.original.shape[:2])
    check_panels([p.rgb for p in panels], state.expected("viridis", "inferno"), path.name)
    np.testing.assert_allclose(
        [p.box for p in panels], layout(state.original.shape[:2]), atol=2e-3
    )  # where the PNG has them too
    bars = colorbars_of(path)
    assert len(bars) == 2
    for bar, panel, cmap in zip(bars, panels[4:], ("viridis", "inferno"), strict=True):
        assert panel.box[2] < bar.box[0] < panel.box[2] + 0.1 * (panel.box[2] - panel.box[0])
        check_colorbar(bar, cmap, path.name)


def test_no_attention_map_shows_the_original_in_the_last_panel(state, tmp_path):
    from dataclasses import replace

    from mae_desktop.engine.figure import render_figure

    bare = replace(state, attention=None)
    path = render_figure(bare.figure_data(), tmp_path / "fig.svg")
    panels = panels_of(path, state.original.shape[:2])
    check_panels([p.rgb for p in panels], bare.expected(), path.name)


# a figure takes about a second: no shrinking (a failure is reported as found)
@settings(max_examples=4, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    grid=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    patch=st.sampled_from([8, 16]),
    seed=st.integers(0, 1000),
    suffix=st.sampled_from([".png", ".svg", ".pdf"]),
)
def test_any_shape_of_image_keeps_each_panel_in_its_place(grid, patch, seed, suffix):
    import tempfile

    from mae_desktop.engine.figure import render_figure

    s = distinct_state(grid, patch, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = render_figure(s.figure_data(), Path(tmp) / f"fig{suffix}")
        panels = panels_of(path, s.original.shape[:2])
        check_panels([p.rgb for p in panels], s.expected(), f"{grid} x {patch} px, {suffix}")


# -- the window's figure (core/figures.py, File > Export figure) ------------------------------
@dataclass(frozen=True)
class Window:
    editor: object
    shown: object


def _live_window(layer: int, head: int, colormap: str) -> Iterator[Window]:
    from mae_desktop.core.editor import EditorState
    from mae_desktop.core.live import LiveController
    from mae_desktop.engine.images import read_image

    editor = EditorState()
    items: queue.Queue = queue.Queue()
    ctl = LiveController(editor, items.put)
    try:
        ctl.open_model(str(MODEL))
        editor.set_source(read_image(SAMPLES / "astronaut.png"), str(SAMPLES / "astronaut.png"))
        while ctl.busy or ctl.shown is None:
            ctl.handle(items.get(timeout=60))
        rng = np.random.default_rng(5)
        editor.set_mask(rng.random(editor.grid) < 0.3)
        editor.set_attention(layer=layer, head=head, colormap=colormap)
        while ctl.busy or not (ctl.shown.request.mask == editor.mask).all():
            ctl.handle(items.get(timeout=60))
        yield Window(editor, ctl.shown)
    finally:
        ctl.close()


@pytest.fixture(scope="module")
def window() -> Iterator[Window]:
    yield from _live_window(layer=1, head=2, colormap="viridis")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_the_window_figure_shows_the_window_arrays(window, tmp_path, suffix):
    from mae_desktop.core.figures import figure_of
    from mae_desktop.engine.figure import render_figure

    editor, shown = window.editor, window.shown
    analysis = shown.outcome.analysis
    rec = analysis.reconstruction
    assert rec.mode == "plain"  # shown as predicted, no display stretch
    path = render_figure(figure_of(editor, shown), tmp_path / f"figure{suffix}")
    expected = expected_panels(
        editor.image,
        editor.mask,
        rec.prediction,
        rec.composite,
        rec.patch_error,
        analysis.attention.maps[1, 2],  # the options: layer 2, head 3 (0-based 1, 2)
        editor.patch_size,
        "inferno",
        "viridis",
    )
    panels = panels_of(path, editor.image.shape[:2])
    check_panels([p.rgb for p in panels], expected, f"window figure{suffix}")
