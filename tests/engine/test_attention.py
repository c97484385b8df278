"""Attention maps: shapes, NaN placement, queries, rollout."""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.engine import MAEError, ModelSession, masks, reduce_heads
from mae_desktop.engine.attention import grid_maps, rollout


@pytest.fixture(scope="module")
def session(hf_pair):
    return ModelSession.open(hf_pair[1], "cpu")


IMG = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
MASK = masks.random_mask((4, 4), 0.5, 1)


def test_encoder_cls_maps_are_nan_exactly_where_masked(session):
    att = session.attention(IMG, MASK, "encoder", "cls")
    assert att.maps.shape == (2, 4, 4, 4) and att.maps.dtype == np.float32
    assert (np.isnan(att.maps) == MASK[None, None]).all()
    # the CLS row sums to 1 over all tokens; the patch share is below 1, above 0
    sums = np.nansum(att.maps, axis=(2, 3))
    assert ((sums > 0) & (sums < 1 + 1e-6)).all()
    assert att.rollout.shape == (4, 4)
    assert (np.isnan(att.rollout) == MASK).all()


def test_query_patch_and_masked_query(session):
    r, c = np.argwhere(~MASK)[0]
    att = session.attention(IMG, MASK, "encoder", (int(r), int(c)))
    assert (np.isnan(att.maps) == MASK[None, None]).all()
    mr, mc = np.argwhere(MASK)[0]
    with pytest.raises(MAEError, match="is masked"):
        session.attention(IMG, MASK, "encoder", (int(mr), int(mc)))
    with pytest.raises(MAEError, match="outside"):
        session.attention(IMG, MASK, "encoder", (9, 9))


def test_decoder_maps_cover_the_grid(session):
    mr, mc = np.argwhere(MASK)[0]
    att = session.attention(IMG, MASK, "decoder", (int(mr), int(mc)))
    assert att.maps.shape == (2, 2, 4, 4)  # decoder: 2 layers, 2 heads
    assert np.isfinite(att.maps).all() and att.rollout is None


def test_head_reductions():
    maps = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(reduce_heads(maps, "mean"), maps.mean(1))
    np.testing.assert_array_equal(reduce_heads(maps, "max"), maps[:, 2])
    np.testing.assert_array_equal(reduce_heads(maps, 1), maps[:, 1])
    with pytest.raises(MAEError):
        reduce_heads(maps, 5)


def test_grid_maps_scatter_and_rollout_identity():
    # 1 layer, 1 head, CLS + 2 tokens at patches 3 and 0 of a 2x2 grid
    w = np.array([[[[0.2, 0.5, 0.3], [0, 1, 0], [0, 0, 1]]]], np.float32)
    pos = np.array([3, 0])
    m = grid_maps(w, pos, (2, 2), True, "cls")[0, 0]
    assert m[1, 1] == pytest.approx(0.5) and m[0, 0] == pytest.approx(0.3)
    assert np.isnan(m[0, 1]) and np.isnan(m[1, 0])
    # identity attention: rollout of a patch query is itself
    eye = np.eye(3, dtype=np.float32)[None, None]
    r = rollout(np.concatenate([eye, eye]), pos, (2, 2), True, (1, 1))
    assert r[1, 1] == pytest.approx(1.0) and r[0, 0] == pytest.approx(0.0)
    with pytest.raises(MAEError, match="no CLS"):
        grid_maps(w[..., 1:, 1:], pos, (2, 2), False, "cls")
