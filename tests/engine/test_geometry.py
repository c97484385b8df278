"""Geometry: the grids of tokens and mask units, for images, videos and units coarser than
patches, against counts worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.geometry import Geometry


def test_a_vit_b_image():
    g = MAEConfig().geometry
    assert (g.frames, g.size, g.patch, g.unit, g.cls_token) == (
        1,
        (224, 224),
        (1, 16, 16),
        (1, 16, 16),
        True,
    )
    assert g.patch_grid == g.mask_grid == (1, 14, 14) and g.num_patches == 196
    assert g.patch_dim == 768 and not g.is_video


def test_videomae_b_16_frames_tubelets_of_2():
    g = Geometry(16, 3, (224, 224), (2, 16, 16), (2, 16, 16), False)
    assert g.patch_grid == (8, 14, 14) and g.num_patches == 1568 and g.patch_dim == 1536
    assert g.is_video and g.units_per_cell == (1, 1, 1)


def test_hiera_units_of_32_px_over_16_px_predictions():
    g = Geometry(1, 3, (224, 224), (1, 16, 16), (1, 32, 32), False)
    assert g.mask_grid == (1, 7, 7) and g.patch_grid == (1, 14, 14) and g.num_units == 49


@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
)
def test_a_unit_mask_covers_exactly_its_patches(tu, hu, wu, t, h, w, seed):
    """Each patch is masked exactly when the unit holding it is (by index arithmetic)."""
    g = Geometry(t * tu, 3, (h * hu * 4, w * wu * 4), (1, 4, 4), (tu, 4 * hu, 4 * wu), False)
    units = np.random.default_rng(seed).random(g.mask_grid) < 0.5
    patches = g.patch_mask(units)
    assert patches.shape == g.patch_grid
    for (pt, ph, pw), v in np.ndenumerate(patches):
        assert v == units[pt // tu, ph // hu, pw // wu]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"size": (225, 224)}, "does not divide"),
        ({"frames": 3, "patch": (2, 16, 16), "unit": (2, 16, 16)}, "does not divide"),
        ({"unit": (1, 24, 24), "size": (48, 48)}, "whole patches"),
    ],
)
def test_shapes_that_do_not_fit_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        Geometry(**kw)
