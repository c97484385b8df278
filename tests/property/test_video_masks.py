"""Video mask generators' defining properties over any (time, rows, columns) grid, ratio and
seed, each against a rule written out here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.masks import MASK_MODES, generate
from mae_desktop.engine.video_masks import (
    VIDEO_MASK_MODES,
    describe_video,
    generate_video,
)

grids = st.tuples(st.integers(1, 8), st.integers(1, 9), st.integers(1, 9))
ratios = st.floats(0.0, 1.0, allow_nan=False)
seeds = st.integers(0, 2**31 - 1)


def nearest(x: float) -> int:
    """Round half to even, as Python's round (the documented 'round(ratio * N)')."""
    return int(round(x))


@settings(max_examples=150)
@given(grids, ratios, seeds, st.sampled_from(VIDEO_MASK_MODES))
def test_every_mode_gives_a_bool_mask_of_the_grid_the_same_for_the_same_seed(g, r, s, mode):
    a, b = generate_video(mode, g, r, s), generate_video(mode, g, r, s)
    assert a.dtype == bool and a.shape == g and np.array_equal(a, b)


@settings(max_examples=150)
@given(grids, ratios, seeds)
def test_tube_masks_are_one_spatial_mask_in_every_slot_with_the_exact_count(g, r, s):
    m = generate_video("tube", g, r, s)
    assert all(np.array_equal(m[0], m[t]) for t in range(g[0]))
    assert m[0].sum() == nearest(r * g[1] * g[2])


@settings(max_examples=150)
@given(grids, ratios, seeds)
def test_cubes_have_the_exact_count_over_the_whole_grid(g, r, s):
    m = generate_video("cubes", g, r, s)
    assert m.sum() == nearest(r * g[0] * g[1] * g[2])


def test_cubes_are_not_tubes_and_seeds_differ():
    g = (8, 14, 14)
    m = generate_video("cubes", g, 0.9, 0)
    assert not all(np.array_equal(m[0], m[t]) for t in range(8))
    masks = {generate_video("cubes", g, 0.9, s).tobytes() for s in range(10)}
    assert len(masks) == 10


@settings(max_examples=150)
@given(grids, ratios)
def test_frame_masks_hide_whole_last_slots(g, r):
    m = generate_video("frames", g, r)
    k = min(g[0], max(1, nearest(r * g[0])))
    assert m[g[0] - k :].all() and not m[: g[0] - k].any()


@settings(max_examples=80)
@given(grids, ratios, seeds, st.sampled_from([m for m in MASK_MODES if m != "random"]))
def test_image_generators_are_repeated_as_tubes(g, r, s, mode):
    m = generate_video(mode, g, r, s)
    spatial = generate(mode, g[1:], r, s)
    assert all(np.array_equal(m[t], spatial) for t in range(g[0]))


def test_videomae_default_tube_mask_counts_as_videomae_does():
    """VideoMAE's TubeMaskingGenerator: int(0.9 * 196) = 176 masked per slot of 8."""
    m = generate_video("tube", (8, 14, 14), 0.9, 0)
    assert (
        m.sum() == 8 * 176 and describe_video(m) == "1408 / 1568 masked (89.8%) over 8 time slots"
    )


@pytest.mark.parametrize(
    ("mode", "grid", "ratio"),
    [
        ("tube", (8, 14), 0.9),
        ("cubes", (0, 4, 4), 0.5),
        ("frames", (4, 4, 4), 1.5),
        ("spiral", (4, 4, 4), 0.5),
    ],
)
def test_bad_requests_are_one_clear_error(mode, grid, ratio):
    with pytest.raises(MAEError):
        generate_video(mode, grid, ratio)
