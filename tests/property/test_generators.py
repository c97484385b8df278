"""Properties of the mask generators for any seed, ratio and grid shape (non-square, 1 x N).

Guards: every mode gives a bool mask of the grid's shape, the same for the same seed and
independent of numpy's global random state; the masked count follows masked_count's
documented rule (the nearest whole patch to ratio * N), checked in exact arithmetic; random
masks differ between seeds and cover the grid evenly; the grid mask is its documented
stride pattern; the centre mask a centred box of the grid's shape; coarse masks unions of
block x block cells; block masks never overshoot; describe_generation speaks up exactly when
the share drawn is not the ratio, with the count actually drawn; invert, clear and mask_all.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mae_desktop.engine import MAEError, masks
from mae_desktop.engine.masks import MASK_MODES

Grid = tuple[int, int]

grids = st.one_of(
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just(1), st.integers(1, 30)),  # a single row
    st.tuples(st.integers(1, 30), st.just(1)),  # a single column
)
ratios = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.25, 0.5, 0.75, 0.9, 1.0]))
seeds = st.integers(0, 2**32 - 1)
SETTINGS = settings(max_examples=60, deadline=None)


def nearest_counts(grid: Grid, ratio: float) -> set[int]:
    """The whole numbers nearest to ratio * N, exactly (Fraction): one, or both neighbours
    of an exact half (either is right; Python rounds halves to even)."""
    exact = Fraction(ratio) * grid[0] * grid[1]
    low = math.floor(exact)
    frac = exact - low
    if abs(frac - Fraction(1, 2)) < Fraction(1, 10**9):
        return {low, low + 1}
    return {low + 1} if frac > Fraction(1, 2) else {low}


def official_mae_masked(grid: Grid, ratio: float) -> int:
    """Official MAE (models_mae.random_masking): len_keep = int(L * (1 - mask_ratio))."""
    n = grid[0] * grid[1]
    return n - int(n * (1 - ratio))


# -- the count ------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(grid=grids, ratio=ratios)
@example(grid=(2, 5), ratio=0.33)  # 3.3 -> 3 (official MAE: 10 - int(6.7) = 4)
@example(grid=(1, 7), ratio=0.5)  # 3.5: a half
def test_masked_count_is_the_nearest_whole_patch(grid: Grid, ratio: float) -> None:
    assert masks.masked_count(grid, ratio) in nearest_counts(grid, ratio)


@pytest.mark.parametrize("grid", [(14, 14), (1, 7), (3, 5), (8, 12), (16, 1)])
def test_every_count_k_of_n_is_reached_exactly(grid: Grid) -> None:
    """ratio k/N asks for exactly k patches; float truncation (official MAE's formula taken
    literally) misses some k, the documented rounding misses none."""
    n = grid[0] * grid[1]
    for k in range(n + 1):
        assert masks.masked_count(grid, k / n) == k
        assert masks.random_mask(grid, k / n, seed=k).sum() == k


def test_masked_count_differs_from_official_mae_where_documented() -> None:
    """The documented rule is the nearest count, not official MAE's: they agree on MAE's
    own setting (75% of 14x14) and differ where rounding and truncation part."""
    assert masks.masked_count((14, 14), 0.75) == official_mae_masked((14, 14), 0.75) == 147
    assert masks.masked_count((2, 5), 0.33) == 3 != official_mae_masked((2, 5), 0.33)


@pytest.mark.parametrize("mode", ["random", "block", "coarse", "center"])
@pytest.mark.parametrize("ratio", [-0.01, 1.01, float("nan")])
def test_ratios_outside_0_1_are_refused(mode: str, ratio: float) -> None:
    with pytest.raises(MAEError):
        masks.generate(mode, (4, 6), ratio, 0)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(MAEError, match="unknown mask mode"):
        masks.generate("stripes", (4, 6), 0.5, 0)


# -- every mode -----------------------------------------------------------------------------------
@SETTINGS
@given(mode=st.sampled_from(MASK_MODES), grid=grids, ratio=ratios, seed=seeds)
def test_every_mode_gives_a_bool_grid_the_same_for_the_same_seed(
    mode: str, grid: Grid, ratio: float, seed: int
) -> None:
    np.random.seed(1)
    a = masks.generate(mode, grid, ratio, seed)
    masks.generate(mode, grid, ratio, seed + 1)  # no state carried from call to call
    np.random.seed(2)  # numpy's global random state plays no part
    b = masks.generate(mode, grid, ratio, seed)
    assert a.dtype == bool and a.shape == grid
    np.testing.assert_array_equal(a, b)


# the defining property of each mode, checked below; a mode added later must get one here
DEFINED = {"random", "block", "grid", "coarse", "center"}


def test_every_mode_has_its_defining_property_checked() -> None:
    assert set(MASK_MODES) == DEFINED


# -- random ---------------------------------------------------------------------------------------
@SETTINGS
@given(grid=grids, ratio=ratios, seed=seeds)
def test_random_masks_exactly_the_count(grid: Grid, ratio: float, seed: int) -> None:
    for m in (masks.random_mask(grid, ratio, seed), masks.generate("random", grid, ratio, seed)):
        assert m.dtype == bool and m.shape == grid
        assert m.sum() in nearest_counts(grid, ratio)
        assert m.sum() == masks.masked_count(grid, ratio)
    np.testing.assert_array_equal(
        masks.random_mask(grid, ratio, seed), masks.generate("random", grid, ratio, seed)
    )


@pytest.mark.parametrize("mode", ["random", "coarse", "block"])
def test_different_seeds_give_different_masks(mode: str) -> None:
    """A fixed set of seeds (deterministic, not flaky): 20 seeds, 20 different masks."""
    drawn = {masks.generate(mode, (8, 10), 0.5, seed).tobytes() for seed in range(20)}
    assert len(drawn) == 20


def test_random_masks_cover_the_grid_evenly_over_seeds() -> None:
    """300 fixed seeds on 4 x 5 at 40%: each cell masked 40% of the time, give or take 5
    standard deviations (0.028): no corner or row favoured."""
    freq = np.mean([masks.random_mask((4, 5), 0.4, seed) for seed in range(300)], axis=0)
    assert np.all(np.abs(freq - 0.4) < 0.15), freq


# -- grid -----------------------------------------------------------------------------------------
@SETTINGS
@given(grid=grids, stride=st.integers(1, 5), ratio=ratios, seed=seeds)
def test_grid_mask_is_its_stride_pattern(grid: Grid, stride: int, ratio: float, seed: int) -> None:
    """One visible patch, the top-left, per stride x stride cell; 'grid' mode uses stride 2
    whatever the ratio."""
    want = np.ones(grid, dtype=bool)
    for r in range(0, grid[0], stride):
        for c in range(0, grid[1], stride):
            want[r, c] = False
    np.testing.assert_array_equal(masks.grid_mask(grid, stride), want)
    if stride == 2:
        np.testing.assert_array_equal(masks.generate("grid", grid, ratio, seed), want)


# -- center ---------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(grid=grids, ratio=ratios, seed=seeds)
@example(grid=(14, 14), ratio=0.25, seed=0)
@example(grid=(8, 12), ratio=0.5, seed=0)
def test_center_mask_is_a_centred_box_of_the_grids_shape(
    grid: Grid, ratio: float, seed: int
) -> None:
    m = masks.generate("center", grid, ratio, seed)
    np.testing.assert_array_equal(m, masks.center_mask(grid, ratio))  # no randomness
    gh, gw = grid
    k = int(m.sum())
    if k:
        rows, cols = np.nonzero(m)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        h, w = bottom - top + 1, right - left + 1
        assert k == h * w  # a solid box
        # centred: the margins differ by the parity of what is left over, at most one
        assert abs(top - (gh - 1 - bottom)) == (gh - h) % 2
        assert abs(left - (gw - 1 - right)) == (gw - w) % 2
        if (gh - h) % 2 == 0 and (gw - w) % 2 == 0:
            np.testing.assert_array_equal(np.rot90(m, 2), m)  # symmetric under a half turn
    else:
        h = w = 0
    # the grid's shape scaled by sqrt(ratio), each side to within a patch
    if k:
        assert abs(h - gh * math.sqrt(ratio)) <= 1 and abs(w - gw * math.sqrt(ratio)) <= 1
    else:  # nothing: one side rounds to no patch
        assert min(gh, gw) * math.sqrt(ratio) < 1
    # so about the ratio: within the strips that rounding the sides can add or take
    assert abs(k - ratio * gh * gw) <= (gh + gw) / 2 + 0.25 + 1e-9


# -- coarse ---------------------------------------------------------------------------------------
@SETTINGS
@given(grid=grids, ratio=ratios, seed=seeds, block=st.integers(1, 4))
@example(grid=(5, 7), ratio=0.5, seed=0, block=2)
def test_coarse_masks_are_unions_of_block_cells(
    grid: Grid, ratio: float, seed: int, block: int
) -> None:
    m = masks.coarse_mask(grid, ratio, seed, block)
    assert m.dtype == bool and m.shape == grid
    cells = (math.ceil(grid[0] / block), math.ceil(grid[1] / block))  # edge cells cut off
    masked_cells = 0
    for r in range(cells[0]):
        for c in range(cells[1]):
            cell = m[r * block : (r + 1) * block, c * block : (c + 1) * block]
            assert cell.all() or not cell.any()  # all or nothing per cell
            masked_cells += bool(cell.all())
    assert masked_cells in nearest_counts(cells, ratio)  # random over the cells, exactly
    if block == 2:
        np.testing.assert_array_equal(masks.generate("coarse", grid, ratio, seed), m)


# -- block ----------------------------------------------------------------------------------------
@SETTINGS
@given(grid=grids, seed=seeds, data=st.data())
def test_block_masks_never_overshoot(grid: Grid, seed: int, data) -> None:
    n = grid[0] * grid[1]
    want = data.draw(st.integers(0, n))
    m = masks.block_mask(grid, want, seed)
    assert m.dtype == bool and m.shape == grid
    assert m.sum() <= want
    if want == 0:
        assert not m.any()


@pytest.mark.parametrize("bad", [-1, 25])
def test_block_mask_refuses_impossible_counts(bad: int) -> None:
    with pytest.raises(MAEError):
        masks.block_mask((4, 6), bad, 0)


# -- what describe_generation says ------------------------------------------------------------
NOTE_COUNT = re.compile(r"(\d+\.\d)% \((\d+) of (\d+) patches\)")


@settings(max_examples=150, deadline=None)
@given(mode=st.sampled_from(MASK_MODES), grid=grids, ratio=ratios, seed=seeds)
@example(mode="grid", grid=(14, 14), ratio=0.5, seed=0)
@example(mode="center", grid=(1, 30), ratio=0.5, seed=0)
@example(mode="coarse", grid=(3, 3), ratio=0.5, seed=0)
def test_describe_generation_tells_when_the_ratio_was_not_drawn(
    mode: str, grid: Grid, ratio: float, seed: int
) -> None:
    m = masks.generate(mode, grid, ratio, seed)
    n, k = grid[0] * grid[1], int(m.sum())
    note = masks.describe_generation(mode, grid, ratio, m, seed)
    assert note == masks.describe_generation(mode, grid, ratio, None, seed)  # draws the same
    if mode == "random":
        assert note is None  # always the count asked for
    if mode == "block":
        assert k <= masks.masked_count(grid, ratio)  # short, never over
    distance = abs(Fraction(k) - Fraction(ratio) * n)
    if abs(distance - Fraction(1, 2)) < Fraction(1, 10**9):
        return  # half a patch away, up to float error in ratio * N: either answer is right
    off = distance > Fraction(1, 2)
    if not off:
        assert note is None
        return
    assert note is not None, (mode, grid, ratio, k)
    share, count, total = NOTE_COUNT.search(note).groups()
    assert (int(count), int(total)) == (k, n)  # the count it actually drew
    assert share == f"{100 * k / n:.1f}"
    assert mode in note
    if mode == "grid":
        assert "ignored" in note


# -- invert, clear, all ---------------------------------------------------------------------------
@SETTINGS
@given(grid=grids, data=st.data())
def test_invert_clear_and_mask_all(grid: Grid, data) -> None:
    cells = data.draw(
        st.lists(st.booleans(), min_size=grid[0] * grid[1], max_size=grid[0] * grid[1])
    )
    m = np.array(cells, dtype=bool).reshape(grid)
    before = m.copy()
    inv = masks.invert(m)
    np.testing.assert_array_equal(m, before)  # the input is left alone
    assert inv.dtype == bool and inv.shape == grid
    for (r, c), v in np.ndenumerate(before):
        assert inv[r, c] == (not v)
    np.testing.assert_array_equal(masks.invert(inv), before)
    for made, value in ((masks.clear(grid), False), (masks.mask_all(grid), True)):
        assert made.dtype == bool and made.shape == grid
        assert all(v == value for v in made.flat)
