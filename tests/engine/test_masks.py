"""Mask generators and mask files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mae_desktop.engine import MAEError, masks
from tests.helpers import boundary_length

GRID = (14, 14)


@pytest.mark.parametrize("ratio,count", [(0.75, 147), (0.0, 0), (1.0, 196), (0.5, 98), (0.9, 176)])
def test_random_mask_has_exact_count(ratio, count):
    m = masks.random_mask(GRID, ratio, seed=1)
    assert m.shape == GRID and m.dtype == bool and m.sum() == count


def test_every_count_is_reachable_on_14x14():
    """HF's float truncation drops a patch for some counts; ours hits all 197."""
    for k in range(197):
        assert masks.random_mask(GRID, k / 196, seed=0).sum() == k


def test_random_mask_is_deterministic_per_seed():
    a, b = masks.random_mask(GRID, 0.75, 7), masks.random_mask(GRID, 0.75, 7)
    assert (a == b).all()
    assert (a != masks.random_mask(GRID, 0.75, 8)).any()


def test_block_mask_is_blocky_and_never_overshoots():
    m = masks.block_mask(GRID, 75, seed=3)
    assert 60 <= m.sum() <= 75
    # blocks: most masked patches have a masked 4-neighbour
    padded = np.pad(m, 1)
    neighbours = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    assert (neighbours[m]).mean() > 0.9
    assert (masks.block_mask(GRID, 75, seed=3) == m).all()


def test_grid_mask_keeps_one_per_2x2():
    m = masks.grid_mask(GRID)
    assert m.sum() == 147
    assert not m[0, 0] and not m[2, 4] and m[1, 1] and m[0, 1]


def test_coarse_mask_works_in_2x2_cells():
    m = masks.coarse_mask(GRID, 0.5, seed=2, block=2)
    cells = m.reshape(7, 2, 7, 2)
    assert (cells.all(axis=(1, 3)) | ~cells.any(axis=(1, 3))).all()
    assert m.sum() == 4 * round(0.5 * 49)


def test_center_mask_is_a_centred_box():
    m = masks.center_mask(GRID, 0.25)
    rows, cols = np.nonzero(m)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 9, 3, 9)


def test_generate_dispatch_and_errors():
    for mode in masks.MASK_MODES:
        assert masks.generate(mode, GRID, 0.75, 0).shape == GRID
    with pytest.raises(MAEError, match="unknown mask mode"):
        masks.generate("spiral", GRID)
    with pytest.raises(MAEError, match="between 0 and 1"):
        masks.random_mask(GRID, 1.5)


def test_invert_clear_all_and_describe():
    m = masks.random_mask(GRID, 0.75, 0)
    assert (masks.invert(m) == ~m).all()
    assert masks.clear(GRID).sum() == 0 and masks.mask_all(GRID).sum() == 196
    assert masks.describe(m) == "147 / 196 masked (75.0%)"


@pytest.mark.parametrize("name,patch", [("m.npy", None), ("m.png", None), ("m.png", 16)])
def test_save_load_round_trip(tmp_path, name, patch):
    m = masks.random_mask(GRID, 0.6, 4)
    masks.save_mask(tmp_path / name, m, patch)
    assert (masks.load_mask(tmp_path / name, GRID) == m).all()


def test_image_sized_png_uses_majority_per_patch(tmp_path):
    img = np.zeros((224, 224), np.uint8)
    img[0:16, 0:16] = 255  # patch (0, 0) fully white
    img[0:16, 16:22] = 255  # patch (0, 1) only 6 of 16 columns
    Image.fromarray(img).save(tmp_path / "m.png")
    m = masks.load_mask(tmp_path / "m.png", GRID)
    assert m[0, 0] and not m[0, 1] and m.sum() == 1


def test_bad_mask_files(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((5, 7), bool))
    with pytest.raises(MAEError, match="expected the patch grid"):
        masks.load_mask(tmp_path / "wrong.npy", GRID)
    np.save(tmp_path / "values.npy", np.full(GRID, 3))
    with pytest.raises(MAEError, match="other than 0 and 1"):
        masks.load_mask(tmp_path / "values.npy", GRID)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(MAEError, match="not a plain .npy"):
        masks.load_mask(tmp_path / "obj.npy", GRID)
    (tmp_path / "junk.png").write_bytes(b"nope")
    with pytest.raises(MAEError, match="cannot read mask"):
        masks.load_mask(tmp_path / "junk.png", GRID)
    with pytest.raises(MAEError, match="use .npy or .png"):
        masks.load_mask(_touch(tmp_path / "m.txt"), GRID)
    with pytest.raises(MAEError, match="not found"):
        masks.load_mask(tmp_path / "none.npy", GRID)


def _touch(path):
    path.write_text("x")
    return path


# -- each generator's defining property, through generate() (what the app and CLI call) ------
def test_generate_random_exact_count_and_uniform_over_seeds():
    grid = (4, 4)
    hits = np.zeros(grid)
    for seed in range(400):
        m = masks.generate("random", grid, 0.5, seed)
        assert m.sum() == 8
        hits += m
    # every patch is masked about half the time (4 standard deviations: +-0.1)
    assert np.abs(hits / 400 - 0.5).max() < 0.1


@pytest.mark.parametrize("seed", range(5))
def test_generate_block_gives_blocks_not_scattered_patches(seed):
    """BEiT blocks: rectangles, so little boundary between masked and visible patches. A
    random 40% mask of 14x14 has a boundary of about 175 patch edges (never under 150 over
    200 seeds); blocks of the same count about 48 (never over 75)."""
    m = masks.generate("block", GRID, 0.4, seed)
    assert m.sum() == round(0.4 * 196)
    assert boundary_length(m) < 110


def test_generate_grid_keeps_exactly_the_top_left_of_each_2x2():
    rows, cols = np.mgrid[0:5, 0:7]
    visible = (rows % 2 == 0) & (cols % 2 == 0)
    for ratio in (0.3, 0.75):  # the ratio does not apply
        np.testing.assert_array_equal(masks.generate("grid", (5, 7), ratio, 3), ~visible)


@pytest.mark.parametrize("grid", [(6, 8), (5, 7)])
def test_generate_coarse_masks_whole_2x2_cells(grid):
    m = masks.generate("coarse", grid, 0.5, 1)
    rows, cols = np.mgrid[0 : grid[0], 0 : grid[1]]
    cell = (rows // 2) * 10 + cols // 2
    for c in np.unique(cell):
        assert len(set(m[cell == c].tolist())) == 1  # all or nothing per cell
    cells = len(np.unique(cell))
    assert len(np.unique(cell[m])) == round(0.5 * cells)
    assert (m != masks.generate("coarse", grid, 0.5, 2)).any()


@pytest.mark.parametrize("grid,ratio", [((14, 14), 0.25), ((8, 12), 0.5), ((9, 9), 0.75)])
def test_generate_center_is_a_centred_box_of_about_the_ratio(grid, ratio):
    m = masks.generate("center", grid, ratio, 5)
    rows, cols = np.nonzero(m)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    assert m[top : bottom + 1, left : right + 1].all()  # a solid rectangle
    assert m.sum() == (bottom - top + 1) * (right - left + 1)
    assert abs(top - (grid[0] - 1 - bottom)) <= 1 and abs(left - (grid[1] - 1 - right)) <= 1
    assert abs(m.mean() - ratio) < 0.1
    assert (m == masks.generate("center", grid, ratio, 6)).all()  # no randomness


# -- mask images must be black and white; .npy masks bool or 0/1 --------------------------------
def _save(tmp_path, name, array, mode=None):
    path = tmp_path / name
    (Image.fromarray(array).convert(mode) if mode else Image.fromarray(array)).save(path)
    return path


def _quadrant(grid=GRID):
    m = np.zeros(grid, bool)
    m[: grid[0] // 2, : grid[1] // 2] = True
    return m


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA"])
def test_black_and_white_images_of_every_mode_load(tmp_path, mode):
    img = _quadrant().astype(np.uint8) * 255
    path = _save(tmp_path, f"m-{mode}.png", img, mode)
    with Image.open(path) as im:
        assert im.mode == mode
    np.testing.assert_array_equal(masks.load_mask(path, GRID), _quadrant())


def test_near_black_and_near_white_count_as_black_and_white(tmp_path):
    """<= 8 is black, >= 247 is white: the slack a resampled or softly painted mask needs."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, masks.NEAR_BLACK + 1, (224, 224)).astype(np.uint8)
    white = np.repeat(np.repeat(_quadrant(), 16, 0), 16, 1)
    img[white] = rng.integers(masks.NEAR_WHITE, 256, int(white.sum()))
    rgb = np.stack([img, img, np.clip(img.astype(int) - 3, 0, 255).astype(np.uint8)], -1)
    np.testing.assert_array_equal(masks.load_mask(_save(tmp_path, "n.png", rgb), GRID), _quadrant())
    dark = rng.integers(0, masks.NEAR_BLACK + 1, (224, 224)).astype(np.uint8)  # nothing masked
    assert not masks.load_mask(_save(tmp_path, "dark.png", dark), GRID).any()


def test_two_level_images_mask_the_brighter_level(tmp_path):
    """An array of 0 and 1 saved as is looks black, but two levels are unambiguous."""
    img = _quadrant().astype(np.uint8)  # 0 and 1
    np.testing.assert_array_equal(
        masks.load_mask(_save(tmp_path, "01.png", img), GRID), _quadrant()
    )
    img16 = _quadrant().astype(np.uint16) * 65535
    path = tmp_path / "16.png"
    Image.fromarray(img16).save(path)
    np.testing.assert_array_equal(masks.load_mask(path, GRID), _quadrant())


def test_a_photo_is_not_a_mask(tmp_path):
    y, x = np.mgrid[0:224, 0:224]
    img = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
    path = _save(tmp_path, "photo.png", img)
    with pytest.raises(
        MAEError,
        match=r"^mask image photo\.png is not black and white: \d+ distinct colours; a mask "
        "has white = masked, black = visible$",
    ):
        masks.load_mask(path, GRID)


def test_a_grey_picture_is_not_a_mask(tmp_path):
    img = np.tile(np.linspace(0, 255, 224).astype(np.uint8), (224, 1))  # a gradient
    with pytest.raises(MAEError, match=r"grey\.png is not black and white: 224 distinct grey"):
        masks.load_mask(_save(tmp_path, "grey.png", img), GRID)
    img = _quadrant().astype(np.uint8) * 255
    img[0, 5] = 128  # one mid-grey patch among black and white: three levels
    with pytest.raises(MAEError, match="3 distinct grey levels"):
        masks.load_mask(_save(tmp_path, "three.png", img), GRID)
    with pytest.raises(MAEError, match="one mid-grey level"):
        masks.load_mask(_save(tmp_path, "flat.png", np.full(GRID, 128, np.uint8)), GRID)


@pytest.mark.parametrize(
    "array", [_quadrant(), _quadrant().astype(np.float32), _quadrant().astype(np.int64)]
)
def test_npy_masks_are_bool_or_zero_one(tmp_path, array):
    np.save(tmp_path / "m.npy", array)
    np.testing.assert_array_equal(masks.load_mask(tmp_path / "m.npy", GRID), _quadrant())


def test_npy_with_fractions_is_refused(tmp_path):
    soft = _quadrant().astype(np.float32)
    soft[5, 5] = 0.3
    np.save(tmp_path / "soft.npy", soft)
    with pytest.raises(
        MAEError, match=r"soft\.npy holds values other than 0 and 1 \(1 of 196, e\.g\. 0\.3\)"
    ):
        masks.load_mask(tmp_path / "soft.npy", GRID)


# -- describe_generation: the note when a generator does not give the ratio ----------------------
def test_grid_note_says_the_ratio_was_ignored():
    assert masks.describe_generation("grid", GRID, 0.5, ratio_label="--mask-ratio 0.5") == (
        "the grid generator keeps one patch of every 2x2 cell visible: it masks 75.0% "
        "(147 of 196 patches); --mask-ratio 0.5 was ignored"
    )
    assert masks.describe_generation("grid", GRID, 0.75) is None


def test_no_note_within_half_a_patch():
    for k in range(197):  # random is exact for every count
        assert masks.describe_generation("random", GRID, k / 196, seed=k) is None
    m = masks.clear((2, 2))
    m[0, 0] = True  # 1 of 4 for 0.375 (1.5 patches): half a patch off, still no note
    assert masks.describe_generation("center", (2, 2), 0.375, m) is None
    assert masks.describe_generation("center", (2, 2), 0.125, m) is None
    assert masks.describe_generation("center", (2, 2), 0.38, m) is not None
    assert masks.describe_generation("center", (2, 2), 0.12, m) is not None


def test_rounding_generators_give_the_actual_share():
    assert masks.describe_generation("coarse", GRID, 0.5, seed=0) == (
        "the coarse generator masks 49.0% (96 of 196 patches) for ratio 0.5: it masks whole "
        "2x2-patch cells"
    )
    note = masks.describe_generation("center", GRID, 0.5)
    assert note is not None and note.startswith("the center generator masks 51.0% (100 of 196")


def test_block_shortfall_is_reported_with_the_count_it_reached():
    """Blocks never overshoot; for the last patch or two no block may fit (seed 0: 195)."""
    m = masks.generate("block", GRID, 1.0, 0)
    assert m.sum() == 195
    assert masks.describe_generation("block", GRID, 1.0, m) == (
        "the block generator masks 99.5% (195 of 196 patches) for ratio 1: its rectangles "
        "could not fill the requested count exactly"
    )
    assert masks.describe_generation("block", GRID, 0.5, seed=0) is None  # 98 of 196
