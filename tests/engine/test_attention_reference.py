"""Attention maps and rollout against a hand computation on small non-trivial attention, and
against transformers' own eager attention weights on a real forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mae_desktop.engine import ModelSession, masks
from mae_desktop.engine.attention import grid_maps, rollout
from mae_desktop.engine.config import IMAGENET_MEAN, IMAGENET_STD
from tests.helpers import hf_decoder_attentions, hf_noise

# Two layers, two heads, [CLS] + 2 patch tokens; the tokens sit at patches 3 and 0 of a 2x2
# grid (a at (1, 1), b at (0, 0)), so a scatter mix-up shows too. Rows sum to 1.
POS = np.array([3, 0])
L1 = [
    [[0, 1, 0], [0, 1, 0], [0, 1, 0]],  # head 0: everyone attends to a
    [[0, 0, 1], [0, 1, 0], [0, 1, 0]],  # head 1: CLS attends to b
]
L2 = [[[0, 0, 1]] * 3, [[0, 0, 1]] * 3]  # both heads: everyone attends to b
WEIGHTS = np.array([L1, L2], dtype=np.float32)  # (layers, heads, 3, 3)

# By hand: head means A1 = [[0, .5, .5], [0, 1, 0], [0, 1, 0]], A2 = rows [0, 0, 1].
# With the residual, 0.5 A + 0.5 I: R1 = [[.5, .25, .25], [0, 1, 0], [0, .5, .5]],
# R2 = [[.5, 0, .5], [0, .5, .5], [0, 0, 1]]. Rollout = R2 @ R1 (later layer on the left):
#   [[.25, .375, .375], [0, .75, .25], [0, .5, .5]]
# (R1 @ R2 would give CLS row [.25, .125, .625]; A2 @ A1 without the residual [0, 1, 0].)
NAN = np.nan


def _grid(a: float, b: float) -> np.ndarray:
    """Values for tokens a (cell (1, 1)) and b (cell (0, 0)) on the 2x2 grid, NaN elsewhere."""
    return np.array([[b, NAN], [NAN, a]])


@pytest.mark.parametrize(
    "query,a,b",
    [
        ("cls", 0.375, 0.375),
        ((1, 1), 0.75, 0.25),  # token a's row
        ((0, 0), 0.5, 0.5),  # token b's row
        ("mean", 0.625, 0.375),  # rows of a and b averaged; the CLS row is not a patch query
    ],
)
def test_rollout_by_hand(query, a, b):
    got = rollout(WEIGHTS, POS, (2, 2), True, query)
    np.testing.assert_allclose(got, _grid(a, b), atol=1e-6)


def test_rollout_by_hand_without_cls():
    """No CLS token (the PaperWeekly article's models use the mean query).

    A1 = [[.5, .5], [1, 0]] (heads [[1, 0], [1, 0]] and [[0, 1], [1, 0]]), A2 = rows [0, 1];
    R1 = [[.75, .25], [.5, .5]], R2 = [[.5, .5], [0, 1]]; R2 @ R1 = [[.625, .375], [.5, .5]];
    the mean of both rows: a .5625, b .4375."""
    w = np.array(
        [
            [[[1, 0], [1, 0]], [[0, 1], [1, 0]]],
            [[[0, 1], [0, 1]], [[0, 1], [0, 1]]],
        ],
        dtype=np.float32,
    )
    got = rollout(w, POS, (2, 2), False, "mean")
    np.testing.assert_allclose(got, _grid(0.5625, 0.4375), atol=1e-6)


def test_grid_maps_mean_query_averages_patch_rows_only():
    maps = grid_maps(WEIGHTS, POS, (2, 2), True, "mean")
    # layer 0: head 0 rows of a and b both attend to a; head 1 too (only its CLS row differs)
    np.testing.assert_allclose(maps[0, 0], _grid(1.0, 0.0))
    np.testing.assert_allclose(maps[0, 1], _grid(1.0, 0.0))
    np.testing.assert_allclose(maps[1, 0], _grid(0.0, 1.0))
    cls = grid_maps(WEIGHTS, POS, (2, 2), True, "cls")
    np.testing.assert_allclose(cls[0, 1], _grid(0.0, 1.0))
    np.testing.assert_allclose(cls[0, 0], _grid(1.0, 0.0))


# -- against transformers on a real forward pass ---------------------------------------------
MASK = masks.random_mask((4, 4), 0.5, seed=4)


def _image() -> np.ndarray:
    return np.random.default_rng(8).random((64, 64, 3), dtype=np.float32)


def _pixel_values(img: np.ndarray) -> torch.Tensor:
    mean, std = np.asarray(IMAGENET_MEAN, np.float32), np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(((img - mean) / std).transpose(2, 0, 1).copy())[None]


@pytest.fixture(scope="module")
def reference(hf_pair):
    """(session, HF encoder attentions, HF decoder attentions) for one image and MASK."""
    model, folder = hf_pair
    img = _image()
    noise, ratio = hf_noise(MASK)
    model.config.mask_ratio = ratio
    with torch.no_grad():
        out = model.vit(pixel_values=_pixel_values(img), noise=noise, output_attentions=True)
    enc = [a[0].numpy() for a in out.attentions]  # (heads, 1 + K, 1 + K), visible in order
    dec = hf_decoder_attentions(model, _pixel_values(img), MASK)
    return ModelSession.open(folder, "cpu"), enc, dec


def _rollout_reference(layers: list[np.ndarray]) -> np.ndarray:
    """Abnar & Zuidema: prod over layers of (0.5 mean_heads(A) + 0.5 I), rows renormalised,
    the last layer leftmost."""
    n = layers[0].shape[-1]
    mixed = []
    for att in layers:
        a = 0.5 * att.astype(np.float64).mean(axis=0) + 0.5 * np.eye(n)
        mixed.append(a / a.sum(axis=-1, keepdims=True))
    return np.linalg.multi_dot(mixed[::-1])


def test_encoder_mean_query_and_rollouts_match_transformers(reference):
    session, enc, _ = reference
    visible = np.flatnonzero(~MASK.ravel())
    att = session.attention(_image(), MASK, "encoder", "mean")
    for layer, a in enumerate(enc):
        want = a[:, 1:, 1:].mean(axis=1)  # every patch query, patch columns
        got = att.maps[layer].reshape(a.shape[0], -1)[:, visible]
        np.testing.assert_allclose(got, want, atol=1e-5)
    joint = _rollout_reference(enc)
    np.testing.assert_allclose(att.rollout.ravel()[visible], joint[1:, 1:].mean(0), atol=1e-5)
    assert np.isnan(att.rollout.ravel()[MASK.ravel()]).all()
    cls = session.attention(_image(), MASK, "encoder", "cls")
    np.testing.assert_allclose(cls.rollout.ravel()[visible], joint[0, 1:], atol=1e-5)


@pytest.mark.parametrize("query", ["cls", "mean", "masked patch", "visible patch"])
def test_decoder_maps_match_transformers(reference, query):
    session, _, dec = reference
    gh, gw = MASK.shape
    if query in ("cls", "mean"):
        q, rows = query, (slice(0, 1) if query == "cls" else slice(1, None))
    else:
        cell = np.argwhere(MASK if query == "masked patch" else ~MASK)[0]
        q = (int(cell[0]), int(cell[1]))
        rows = slice(1 + q[0] * gw + q[1], 2 + q[0] * gw + q[1])
    att = session.attention(_image(), MASK, "decoder", q)
    assert att.maps.shape == (len(dec), dec[0].shape[0], gh, gw)
    for layer, a in enumerate(dec):
        want = a[:, rows, 1:].mean(axis=1).reshape(-1, gh, gw)
        np.testing.assert_allclose(att.maps[layer], want, atol=1e-5)
