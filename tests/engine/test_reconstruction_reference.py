"""Every derived output of a reconstruction against an expectation computed here: the
composite, each norm_pix display mode, the masked-patch loss and the per-patch error.

The references (tests/helpers.py) patchify the official way, take patch statistics with
torch.var as the official loss does, and fill hidden patches by explicit loops.
"""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.engine import MAEConfig, decode
from tests.helpers import from_patches, inverse_distance_fill, norm_pix_stats, to_patches

P = 8
# A 4 x 6 grid (non-square, so rows and columns cannot be swapped unnoticed).
CFG = MAEConfig(image_size=(32, 48), patch_size=P, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
GRID = CFG.grid_size
MEAN = np.asarray(CFG.mean)
STD = np.asarray(CFG.std)
MASK = np.array(
    [
        [1, 0, 0, 1, 1, 0],
        [0, 1, 0, 0, 1, 1],
        [1, 1, 0, 1, 0, 0],
        [0, 0, 1, 1, 0, 1],
    ],
    dtype=bool,
)


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((32, 48, 3), dtype=np.float32)


def _prediction(seed: int = 1, scale: float = 2.0) -> np.ndarray:
    """A model-space prediction large enough to leave [0, 1] once in pixel space."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, scale, (CFG.num_patches, P * P * 3))).astype(np.float32)


def _cover(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of masked patches."""
    return np.kron(mask, np.ones((P, P), dtype=int)).astype(bool)


def _to_pixels(normed_patches: np.ndarray) -> np.ndarray:
    """Normalised patches (N, P*P*3) -> an (H, W, 3) pixel image (times std, plus mean)."""
    return from_patches(normed_patches, GRID, P) * STD + MEAN


def _normalised_patches(img: np.ndarray) -> np.ndarray:
    return to_patches((img.astype(np.float64) - MEAN) / STD, P)


def test_composite_is_the_prediction_under_the_mask_and_the_input_elsewhere_unclipped():
    img, pred = _image(), _prediction()
    rec = decode(pred, img, MASK, CFG)  # pixel target: mode plain
    expected_pred = _to_pixels(pred)
    cover = _cover(MASK)
    expected = np.where(cover[..., None], expected_pred, img)
    assert expected[cover].min() < -0.2 and expected[cover].max() > 1.2  # clipping would show
    np.testing.assert_allclose(rec.prediction, expected_pred, atol=1e-5)
    np.testing.assert_allclose(rec.composite, expected, atol=1e-5)
    # per-patch error: MSE of the clipped prediction against the input, every patch
    err = (np.clip(expected_pred, 0, 1) - img) ** 2
    per_patch = err.reshape(GRID[0], P, GRID[1], P, 3).mean(axis=(1, 3, 4))
    np.testing.assert_allclose(rec.patch_error, per_patch, rtol=1e-5)
    assert rec.masked_mse == pytest.approx(per_patch[MASK].mean(), rel=1e-5)


def _expected_norm_pix(mode: str, pred: np.ndarray, img: np.ndarray):
    """(prediction image, composite image) for a norm_pix model, computed independently."""
    normed = _normalised_patches(img)
    mean, scale = norm_pix_stats(normed)
    hidden = MASK.ravel()[:, None]
    if mode == "raw":
        target = (normed - mean) / scale
        return from_patches(pred, GRID, P), from_patches(np.where(hidden, pred, target), GRID, P)
    if mode == "plain":
        shown = pred
    elif mode == "gt-stats":
        shown = pred * scale + mean
    else:  # estimate: hidden patches borrow mean and scale from the visible ones
        shown = pred * inverse_distance_fill(scale, MASK) + inverse_distance_fill(mean, MASK)
    px = _to_pixels(shown)
    return px, np.where(_cover(MASK)[..., None], px, img)


@pytest.mark.parametrize("mode", ["estimate", "gt-stats", "plain", "raw"])
def test_norm_pix_display_modes_against_hand_computation(mode):
    cfg = CFG.replace(norm_pix_loss=True)
    img, pred = _image(2), _prediction(3, scale=1.0)
    rec = decode(pred, img, MASK, cfg, mode)
    want_pred, want_composite = _expected_norm_pix(mode, pred, img)
    np.testing.assert_allclose(rec.prediction, want_pred, atol=1e-4)
    np.testing.assert_allclose(rec.composite, want_composite, atol=1e-4)
    # the loss is the official one whatever is displayed: masked patches, norm_pix target
    normed = _normalised_patches(img)
    mean, scale = norm_pix_stats(normed)
    per_patch = ((pred - (normed - mean) / scale) ** 2).mean(axis=-1)
    assert rec.loss == pytest.approx(per_patch[MASK.ravel()].mean(), rel=1e-4)
    assert rec.uses_ground_truth == (mode == "gt-stats")
    assert rec.is_estimate == (mode == "estimate")
    assert rec.target == "norm_pix"


def test_auto_is_estimate_for_norm_pix_and_plain_for_pixels():
    img, pred = _image(4), _prediction(5, scale=1.0)
    assert decode(pred, img, MASK, CFG.replace(norm_pix_loss=True)).mode == "estimate"
    assert decode(pred, img, MASK, CFG).mode == "plain"


def test_estimate_on_a_2x2_grid_by_hand():
    """Patch 0 hidden; patches 1 and 2 are 1 away, patch 3 is sqrt(2) away: weights 1, 1,
    1/2, i.e. 0.4, 0.4, 0.2. Visible patch i (raw pixels) alternates a_i + d_i, a_i - d_i:
    mean a_i, unbiased var d_i^2 * 192/191. The hidden patch itself is noisy with another
    mean and spread, which the estimate must not look at."""
    cfg = MAEConfig(
        image_size=(16, 16),
        patch_size=8,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        norm_pix_loss=True,
    )
    a, d = {1: 0.2, 2: 0.6, 3: 0.9}, {1: 0.05, 2: 0.1, 3: 0.2}
    signs = np.where(np.arange(192) % 2 == 0, 1.0, -1.0)
    patches = np.zeros((4, 192))
    for i in (1, 2, 3):
        patches[i] = a[i] + d[i] * signs
    patches[0] = 0.05 + 0.9 * np.random.default_rng(0).random(192)
    img = from_patches(patches, (2, 2), 8).astype(np.float32)
    mask = np.array([[True, False], [False, False]])
    pred = np.zeros((4, 192), np.float32)
    pred[0] = signs  # predict "+1 standard deviation, -1 standard deviation" alternately
    rec = decode(pred, img, mask, cfg, "estimate")
    w = {1: 0.4, 2: 0.4, 3: 0.2}
    est_mean = sum(w[i] * a[i] for i in w)
    est_scale = sum(w[i] * np.sqrt(d[i] ** 2 * 192 / 191 + 1e-6) for i in w)
    assert est_mean == pytest.approx(0.5)
    got = to_patches(rec.prediction, 8)[0]
    np.testing.assert_allclose(got, est_mean + est_scale * signs, atol=1e-6)
    np.testing.assert_allclose(to_patches(rec.composite, 8)[0], got)


def _hidden_changed(img: np.ndarray) -> np.ndarray:
    """The same image with new content (another mean and spread) under the mask only."""
    other = 0.7 + 0.25 * np.random.default_rng(9).random(img.shape, dtype=np.float32) ** 2
    return np.where(_cover(MASK)[..., None], other, img).astype(np.float32)


@pytest.mark.parametrize(
    "mode,norm_pix", [("estimate", True), ("raw", True), ("plain", True), ("plain", False)]
)
def test_modes_without_ground_truth_ignore_the_pixels_under_the_mask(mode, norm_pix):
    """`estimate` promises it does not use the hidden patches: changing them must change
    nothing the user sees (the prediction itself is fixed here, as the encoder never sees
    the hidden patches)."""
    cfg = CFG.replace(norm_pix_loss=norm_pix)
    img, pred = _image(6), _prediction(7, scale=1.0)
    a = decode(pred, img, MASK, cfg, mode)
    b = decode(pred, _hidden_changed(img), MASK, cfg, mode)
    np.testing.assert_array_equal(a.prediction, b.prediction)
    np.testing.assert_array_equal(a.composite, b.composite)


def test_gt_stats_does_use_the_pixels_under_the_mask():
    cfg = CFG.replace(norm_pix_loss=True)
    img, pred = _image(6), _prediction(7, scale=1.0)
    a = decode(pred, img, MASK, cfg, "gt-stats")
    b = decode(pred, _hidden_changed(img), MASK, cfg, "gt-stats")
    cover = _cover(MASK)
    assert np.abs(a.prediction[cover] - b.prediction[cover]).mean() > 0.05
    np.testing.assert_array_equal(a.prediction[~cover], b.prediction[~cover])
