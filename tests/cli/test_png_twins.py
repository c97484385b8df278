"""Every picture `mae-desktop reconstruct --save-arrays` writes shows the arrays it writes
beside it, and --figure shows them too, panel by panel.

Each PNG is decoded with Pillow and compared with what the README and the code's docstrings
promise, computed here from the .npy twins and the input alone: uint8 of clip(x, 0, 1) * 255
for the images, the masked cells in the fill grey for masked.png, the per-patch pixel MSE of
the clipped reconstruction through matplotlib's inferno over its min..max for error.png, and
the last encoder layer's mean over heads blended over the photo for attention.png. A masked
cell has no attention: NaN in attention.npy, the photo dimmed (render.overlay: 0.35 x the
photo) in attention.png, never a colour of the map. The bundled model runs in-process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from mae_desktop import cli
from tests.engine.test_figure_pixels import (
    MODEL,
    SAMPLES,
    cells_to_pixels,
    check_panels,
    expected_panels,
    panels_of,
)

PATCH = 16
GRID = (14, 14)  # the bundled model: 224 x 224 pixels, 16-pixel patches (models/MODEL_CARD.md)
ALPHA = 0.6  # attention.png: 0.4 x the photo + 0.6 x the colour (render.overlay)
DIM = 0.35  # attention.png on a masked cell: the photo dimmed (render.overlay)
FILL = 0.5  # masked.png: masked cells in mid grey (reconstruction.masked_view)
MAP_STEP = 6  # uint8 levels: two steps of a 256-colour map, plus rounding


def to_u8(x: np.ndarray) -> np.ndarray:
    """The documented PNG mapping, written out: round(clip(x, 0, 1) * 255)."""
    return np.floor(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5)


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG" and im.mode == "RGB", (path.name, im.format, im.mode)
        return np.asarray(im, dtype=np.float64)


def colormap(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """Per-cell values -> float RGB (gh, gw, 3) by matplotlib's `cmap` over the finite values'
    min..max; NaN cells come back NaN."""
    import matplotlib

    finite = np.isfinite(values)
    lo, hi = values[finite].min(), values[finite].max()
    rgb = np.asarray(matplotlib.colormaps[cmap](np.where(finite, (values - lo) / (hi - lo), 0)))
    rgb = rgb[..., :3]
    rgb[~finite] = np.nan
    return rgb


def assert_close_u8(got: np.ndarray, want: np.ndarray, tol: float, what: str) -> None:
    off = np.abs(got - want).max(axis=-1) if got.ndim == 3 else np.abs(got - want)
    bad = off > tol
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} pixels off by up to {off.max():.0f} levels "
        f"(first at row, col {tuple(np.argwhere(bad)[0])})"
    )


# -- one run of the CLI: a 224 x 224 photo (no resizing), a mask file ------------------------
class Run:
    def __init__(self, folder: Path, photo: np.ndarray, mask: np.ndarray) -> None:
        self.folder, self.photo, self.mask = folder, photo, mask
        self.cover = cells_to_pixels(mask, PATCH)  # bool (224, 224): masked pixels

    def png(self, name: str) -> np.ndarray:
        return read_png(self.folder / f"{name}.png")

    def npy(self, name: str) -> np.ndarray:
        return np.load(self.folder / f"{name}.npy")

    def patch_error(self) -> np.ndarray:
        """Per-patch pixel MSE of the clipped reconstruction, from reconstruction.npy."""
        diff = (np.clip(self.npy("reconstruction"), 0, 1) - self.photo) ** 2
        return diff.reshape(GRID[0], PATCH, GRID[1], PATCH, 3).mean(axis=(1, 3, 4))

    def attention_shown(self) -> np.ndarray:
        """What attention.png shows: the last encoder layer, mean of heads (README)."""
        return self.npy("attention")[-1].mean(axis=0)


def photo_file(folder: Path, left: int, top: int) -> tuple[Path, np.ndarray]:
    """A 224 x 224 crop of a sample photo (the model's size: loaded without resampling)."""
    with Image.open(SAMPLES / "chelsea.png") as im:
        crop = im.convert("RGB").crop((left, top, left + 224, top + 224))
    path = folder / "photo.png"
    crop.save(path)
    return path, np.asarray(crop, dtype=np.float64) / 255.0


def reconstruct(folder: Path, mask: np.ndarray, *extra: str, left=110, top=30) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    image, photo = photo_file(folder, left, top)
    np.save(folder / "mask-in.npy", mask)
    out = folder / "out"
    argv = ["reconstruct", image, "--checkpoint", MODEL, "--mask", folder / "mask-in.npy"]
    code = cli.main([str(a) for a in [*argv, "--out", out, "--save-arrays", *extra]])
    assert code == 0
    return Run(out, photo, mask)


MASK = np.random.default_rng(3).random(GRID) < 0.3  # about a third masked, no pattern


@pytest.fixture(scope="module")
def png_run(tmp_path_factory) -> Run:
    return reconstruct(tmp_path_factory.mktemp("cli"), MASK, "--figure", "figure.png")


@pytest.fixture(scope="module", params=[".png", ".svg", ".pdf"])
def run(request, tmp_path_factory) -> Run:
    """A run with --figure of each format (the PNG one is png_run)."""
    if request.param == ".png":
        return request.getfixturevalue("png_run")
    return reconstruct(tmp_path_factory.mktemp("cli"), MASK, "--figure", f"figure{request.param}")


# -- the PNGs against their twins -------------------------------------------------------------
def test_mask_npy_is_the_mask_given(png_run):
    mask = png_run.npy("mask")
    assert mask.dtype == bool and (mask == MASK).all()


def test_original_png_is_the_photo(png_run):
    assert_close_u8(png_run.png("original"), to_u8(png_run.photo), 0, "original.png")


def test_masked_png_greys_exactly_the_masked_cells(png_run):
    want = to_u8(png_run.photo)
    want[png_run.cover] = to_u8(np.full(3, FILL))
    assert_close_u8(png_run.png("masked"), want, 0, "masked.png")


@pytest.mark.parametrize("name", ["reconstruction", "composite"])
def test_image_pngs_are_their_arrays(png_run, name):
    arr = png_run.npy(name)
    assert arr.dtype == np.float32 and arr.shape == (224, 224, 3)
    assert_close_u8(png_run.png(name), to_u8(arr), 1, f"{name}.png vs {name}.npy")


def test_the_arrays_are_the_model_result_unclipped(png_run):
    from mae_desktop.engine.session import ModelSession

    rec = ModelSession.open(MODEL).reconstruct(png_run.photo.astype(np.float32), MASK)
    assert rec.prediction.min() < 0 or rec.prediction.max() > 1  # something to clip
    np.testing.assert_allclose(png_run.npy("reconstruction"), rec.prediction, atol=1e-5)
    np.testing.assert_allclose(png_run.npy("composite"), rec.composite, atol=1e-5)


def test_composite_is_the_photo_where_visible_and_the_reconstruction_where_masked(png_run):
    comp, rec, cover = png_run.npy("composite"), png_run.npy("reconstruction"), png_run.cover
    np.testing.assert_allclose(comp[~cover], png_run.photo[~cover], atol=1e-6)
    np.testing.assert_array_equal(comp[cover], rec[cover])
    # the visible cells tell the two apart: a composite.png drawn from the prediction shows
    assert np.abs(to_u8(rec) - to_u8(comp))[~cover].max() > 20


def test_error_png_is_the_patch_error_through_inferno(png_run):
    want = cells_to_pixels(to_u8(colormap(png_run.patch_error())), PATCH)
    assert_close_u8(png_run.png("error"), want, MAP_STEP, "error.png")


def test_attention_png_is_the_last_layer_map_and_masked_cells_are_absent(png_run):
    got, photo, cover = png_run.png("attention"), png_run.photo, png_run.cover
    att = png_run.attention_shown()
    assert (np.isnan(att) == MASK).all()
    colour = cells_to_pixels(colormap(att), PATCH)
    blended = to_u8((1 - ALPHA) * photo + ALPHA * colour)
    assert_close_u8(got[~cover], blended[~cover], MAP_STEP, "attention.png, visible cells")
    # masked: no attention, so not the map's lowest colour over the photo but the photo dimmed
    low = to_u8((1 - ALPHA) * photo + ALPHA * colormap(np.array([[0.0, 1.0]]))[0, 0])
    assert (np.abs(got - low).max(axis=-1)[cover] > 1).mean() > 0.5, "masked cells drawn as 0"
    assert_close_u8(got[cover], to_u8(DIM * photo)[cover], 1, "attention.png, masked cells")


def test_attention_npy_is_nan_exactly_on_the_masked_cells(png_run):
    att = png_run.npy("attention")
    assert att.dtype == np.float32 and att.shape[2:] == GRID
    assert (np.isnan(att) == MASK[None, None]).all()
    assert ((att[:, :, ~MASK] >= 0) & (att[:, :, ~MASK] <= 1)).all()


# -- the figure of the same run, panel by panel ---------------------------------------------
def test_the_figure_shows_the_arrays_written_beside_it(run):
    path = next(run.folder.glob("figure.*"))
    expected = expected_panels(
        run.photo,
        run.npy("mask"),
        run.npy("reconstruction"),
        run.npy("composite"),
        run.patch_error(),
        run.attention_shown(),
        PATCH,
    )
    panels = panels_of(path, (224, 224))
    check_panels([p.rgb for p in panels], expected, f"reconstruct --figure {path.name}")


# -- any mask: masked cells never get an attention colour ----------------------------------
@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    mask=st.lists(st.booleans(), min_size=196, max_size=196).filter(lambda m: 0 < sum(m) < 190),
    left=st.integers(0, 227),
)
def test_any_mask_leaves_its_cells_without_attention(tmp_path_factory, mask, left):
    grid = np.array(mask).reshape(GRID)
    r = reconstruct(tmp_path_factory.mktemp("any"), grid, left=left, top=left % 77)
    att = r.npy("attention")
    assert (np.isnan(att) == grid[None, None]).all()
    got = r.png("attention")
    assert_close_u8(got[r.cover], to_u8(DIM * r.photo)[r.cover], 1, "attention.png, masked")
