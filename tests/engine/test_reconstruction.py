"""Reconstruction outputs, metrics and the norm_pix display modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mae_desktop.engine import MAEConfig, MAEError, ModelSession, decode, masks
from mae_desktop.engine.patches import patchify, unpatchify
from mae_desktop.engine.reconstruction import estimate_stats, masked_view, psnr

CFG = MAEConfig(image_size=(32, 32), patch_size=8, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
GRID = CFG.grid_size


def _image(seed=0):
    return np.random.default_rng(seed).random((32, 32, 3), dtype=np.float32)


def _normed(img):
    return patchify((img - np.float32(CFG.mean)) / np.float32(CFG.std), 8)


def _norm_pix_target(img):
    x = _normed(img)
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, ddof=1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-6)


def test_perfect_pixel_prediction_gives_input_back():
    img = _image()
    mask = masks.random_mask(GRID, 0.75, 1)
    rec = decode(_normed(img), img, mask, CFG)
    assert rec.mode == "plain" and rec.target == "pixel"
    np.testing.assert_allclose(rec.prediction, img, atol=1e-5)
    np.testing.assert_allclose(rec.composite, img, atol=1e-5)
    assert rec.loss == pytest.approx(0.0, abs=1e-10)
    assert rec.masked_psnr > 90


def test_composite_keeps_visible_patches_and_loss_is_official():
    img = _image(1)
    mask = masks.random_mask(GRID, 0.5, 2)
    pred = _normed(img) + np.random.default_rng(3).normal(0, 0.1, (16, 192)).astype(np.float32)
    rec = decode(pred, img, mask, CFG)
    vis = ~np.repeat(np.repeat(mask, 8, 0), 8, 1)
    np.testing.assert_array_equal(rec.composite[vis], img[vis])
    per_patch = ((pred - _normed(img)) ** 2).mean(-1)
    assert rec.loss == pytest.approx((per_patch * mask.ravel()).sum() / mask.sum(), rel=1e-6)
    # pixel-space metrics on the clipped prediction, masked patches only
    err = (np.clip(rec.prediction, 0, 1) - img) ** 2
    hidden = ~vis
    assert rec.masked_mse == pytest.approx(float(err[hidden].mean()), rel=1e-5)
    assert rec.masked_psnr == pytest.approx(10 * math.log10(1 / rec.masked_mse), rel=1e-9)
    assert rec.patch_error.shape == GRID


def test_nothing_masked_has_no_loss_or_psnr():
    img = _image()
    rec = decode(_normed(img), img, masks.clear(GRID), CFG)
    assert rec.loss is None and rec.masked_mse is None and rec.masked_psnr is None


def test_norm_pix_modes():
    cfg = CFG.replace(norm_pix_loss=True)
    img = _image(4)
    mask = masks.random_mask(GRID, 0.75, 5)
    pred = _norm_pix_target(img)  # a perfect norm_pix prediction
    gt = decode(pred, img, mask, cfg, "gt-stats")
    assert gt.uses_ground_truth and "uses ground truth" in gt.mode_label
    np.testing.assert_allclose(gt.prediction, img, atol=1e-4)
    est = decode(pred, img, mask, cfg)  # auto -> estimate
    assert est.mode == "estimate" and est.is_estimate and "estimate" in est.mode_label
    assert not est.uses_ground_truth
    vis = ~np.repeat(np.repeat(mask, 8, 0), 8, 1)
    np.testing.assert_allclose(est.composite[vis], img[vis])
    raw = decode(pred, img, mask, cfg, "raw")
    np.testing.assert_allclose(raw.prediction, unpatchify(pred, GRID, 8))
    assert raw.masked_psnr is None and np.isnan(raw.patch_error).all()
    assert raw.loss == pytest.approx(0.0, abs=1e-8)


def test_pixel_models_refuse_norm_pix_only_modes():
    img = _image()
    with pytest.raises(MAEError, match="norm_pix checkpoints only"):
        decode(_normed(img), img, masks.clear(GRID), CFG, "gt-stats")
    with pytest.raises(MAEError, match="unknown display mode"):
        decode(_normed(img), img, masks.clear(GRID), CFG, "magic")
    # ... unless the caller says the model is norm_pix
    rec = decode(_normed(img), img, masks.clear(GRID), CFG, "gt-stats", norm_pix=True)
    assert rec.target == "norm_pix"


def test_estimate_uses_only_visible_neighbours():
    mean = np.arange(16, dtype=np.float32).reshape(16, 1)
    scale = np.ones((16, 1), np.float32)
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    em, es = estimate_stats(mean, scale, mask)
    assert em[0, 0] != 0.0  # not its own (hidden) value
    assert 1.0 < em[0, 0] < 5.0  # dominated by neighbours 1 and 4
    np.testing.assert_array_equal(em[1:], mean[1:])
    em, es = estimate_stats(mean, scale, np.ones((4, 4), bool))
    assert (em == 0).all() and (es == 1).all()


def test_psnr_and_masked_view():
    assert psnr(0.01) == pytest.approx(20.0)
    assert psnr(0.0) == math.inf and psnr(None) is None
    img = np.zeros((32, 32, 3), np.float32)
    view = masked_view(img, masks.grid_mask(GRID), 8)
    assert (view[:8, :8] == 0).all() and (view[:8, 8:16] == 0.5).all()


def test_session_reconstruct_reports_device_and_latency(hf_pair):
    _, folder = hf_pair
    session = ModelSession.open(folder, "cpu")
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert rec.device == "cpu" and rec.dtype == "fp32" and rec.latency_ms > 0
    assert rec.prediction.shape == (64, 64, 3) and rec.prediction.dtype == np.float32
    with pytest.raises(MAEError, match="mask is"):
        session.reconstruct(img, np.zeros((3, 3), bool))
    with pytest.raises(MAEError, match="image is"):
        session.reconstruct(img[:32], masks.clear((4, 4)))


def test_everything_masked_still_reconstructs(hf_pair):
    _, folder = hf_pair
    session = ModelSession.open(folder, "cpu")
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.mask_all((4, 4)))
    assert np.isfinite(rec.prediction).all() and rec.masked_psnr is not None


def test_bf16_on_cpu_is_close_to_fp32(hf_pair):
    _, folder = hf_pair
    session = ModelSession.open(folder, "cpu")
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    mask = masks.random_mask((4, 4), 0.75, 0)
    ref = session.predict(img, mask)
    session.to("cpu", "bf16")
    got = session.predict(img, mask)
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max()
