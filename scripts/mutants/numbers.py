"""Numbers computed by hand: evaluate's masked PSNR and its baselines, training's best
checkpoint, the sin-cos position tables, int8's per-channel weight scales."""

from __future__ import annotations

EVAL = "mae_desktop/training/evaluate.py"
TRAIN = "mae_desktop/training/train.py"
MODEL = "mae_desktop/engine/model.py"
QUANT = "mae_desktop/engine/quantize.py"

T_HAND = "tests/training/test_evaluate_hand.py"
T_EVAL = T_HAND + "::test_evaluate_scores_masked_pixels_per_pair_then_averages"
T_CLI = T_HAND + "::test_cli_evaluate_reports_the_masked_psnr_of_the_checkpoint"
T_VAL = T_HAND + "::test_validation_is_the_masked_psnr_of_the_validation_images"
T_BEST = T_HAND + "::test_best_checkpoint_is_the_highest_validation_psnr"
T_SINCOS = "tests/engine/test_sincos_formula.py"
T_INT8 = "tests/engine/test_int8_channels.py"

MUTANTS = [
    # -- evaluate ---------------------------------------------------------------------------
    (
        "numbers-evaluate-visible-pixels",
        EVAL,
        'scores.setdefault("MAE", []).append(masked_psnr(pred, images[i], pm))',
        'scores.setdefault("MAE", []).append(masked_psnr(pred, images[i], ~pm))',
        (T_EVAL, T_CLI, T_VAL),
    ),
    (
        "numbers-evaluate-all-pixels",
        EVAL,
        'scores.setdefault("MAE", []).append(masked_psnr(pred, images[i], pm))',
        'scores.setdefault("MAE", []).append(masked_psnr(pred, images[i], pm | True))',
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-prediction-unclipped",
        EVAL,
        "diff = np.clip(pred, 0.0, 1.0)[pixel_mask] - truth[pixel_mask]",
        "diff = pred[pixel_mask] - truth[pixel_mask]",
        (T_EVAL,),
    ),
    (
        "numbers-evaluate-psnr-of-mean-mse",
        EVAL,
        "psnr={k: float(np.mean(v)) for k, v in scores.items()},",
        "psnr={k: float(-10 * np.log10(np.mean(10 ** (-np.asarray(v) / 10))))"
        " for k, v in scores.items()},",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-median-not-mean",
        EVAL,
        "psnr={k: float(np.mean(v)) for k, v in scores.items()},",
        "psnr={k: float(np.median(v)) for k, v in scores.items()},",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-input-not-normalised",
        EVAL,
        "x = (torch.from_numpy(images).to(device) - mean) / std",
        "x = torch.from_numpy(images).to(device)",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-prediction-mean-not-added-back",
        EVAL,
        "return (normed * std + mean).cpu().numpy()",
        "return (normed * std).cpu().numpy()",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-model-given-masked-patches",
        EVAL,
        "np.flatnonzero(~m.ravel())",
        "np.flatnonzero(m.ravel())",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-evaluate-mask-ratio-ignored",
        EVAL,
        "random_mask(grid, mask_ratio, mask_seed(seed, *pk))",
        "random_mask(grid, 0.75, mask_seed(seed, *pk))",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-mean-colour-of-all-pixels",
        EVAL,
        "visible = image[~pixel_mask]",
        "visible = image.reshape(-1, image.shape[-1])",
        (T_EVAL, T_CLI),
    ),
    (
        "numbers-telea-scored-on-visible-pixels",
        EVAL,
        "masked_psnr(telea, images[i], pm)",
        "masked_psnr(telea, images[i], ~pm)",
        (T_EVAL,),
    ),
    (
        "numbers-telea-radius-3",
        EVAL,
        "5, cv2.INPAINT_TELEA)",
        "3, cv2.INPAINT_TELEA)",
        (T_EVAL,),
    ),
    (
        "numbers-telea-mask-inverted",
        EVAL,
        "pixel_mask.astype(np.uint8) * 255",
        "(~pixel_mask).astype(np.uint8) * 255",
        (T_EVAL,),
    ),
    # -- training's validation and best checkpoint -----------------------------------------
    (
        "numbers-best-checkpoint-lowest-psnr",
        TRAIN,
        "if psnr > self.best_psnr:",
        "if psnr < self.best_psnr or self.best_psnr == -math.inf:",
        (T_BEST,),
    ),
    (
        "numbers-best-checkpoint-is-the-last",
        TRAIN,
        "if psnr > self.best_psnr:",
        "if True:",
        (T_BEST,),
    ),
    (
        "numbers-best-psnr-never-raised",
        TRAIN,
        "self.best_psnr = psnr",
        "self.best_psnr = max(self.best_psnr, -1e9)",
        (T_BEST,),
    ),
    (
        "numbers-validation-metric-is-the-std",
        TRAIN,
        'return res.psnr["MAE"]',
        'return res.psnr_std["MAE"]',
        (T_VAL,),
    ),
    (
        "numbers-validation-one-mask-per-image",
        TRAIN,
        "masks_per_image=self.opts.val_masks,",
        "masks_per_image=1,",
        (T_VAL,),
    ),
    # -- sin-cos position tables -----------------------------------------------------------
    (
        "numbers-sincos-rows-cols-swapped",
        MODEL,
        "ang_w = cols.reshape(-1, 1) * omega\n    ang_h = rows.reshape(-1, 1) * omega",
        "ang_w = rows.reshape(-1, 1) * omega\n    ang_h = cols.reshape(-1, 1) * omega",
        (T_SINCOS,),
    ),
    (
        "numbers-sincos-meshgrid-xy",
        MODEL,
        'indexing="ij",',
        'indexing="xy",',
        (T_SINCOS,),
    ),
    (
        "numbers-sincos-cos-before-sin",
        MODEL,
        "ang_w.sin(), ang_w.cos(), ang_h.sin(), ang_h.cos()",
        "ang_w.cos(), ang_w.sin(), ang_h.cos(), ang_h.sin()",
        (T_SINCOS,),
    ),
    (
        "numbers-sincos-omega-over-half-not-quarter",
        MODEL,
        "torch.float64) / quarter)",
        "torch.float64) / (2 * quarter))",
        (T_SINCOS,),
    ),
    (
        "numbers-sincos-base-1000",
        MODEL,
        "10000 **",
        "1000 **",
        (T_SINCOS,),
    ),
    (
        "numbers-sincos-cls-slot-ones",
        MODEL,
        "torch.zeros(1, embed_dim",
        "torch.ones(1, embed_dim",
        (T_SINCOS,),
    ),
    # -- int8 ------------------------------------------------------------------------------
    (
        "numbers-int8-per-tensor-scale",
        QUANT,
        "scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0",
        "scale = w.abs().amax().clamp(min=1e-12).expand(w.shape[0]) / 127.0",
        (T_INT8,),
    ),
    (
        "numbers-int8-clamp-126",
        QUANT,
        ".clamp_(-127, 127)",
        ".clamp_(-127, 126)",
        (T_INT8,),
    ),
    (
        "numbers-int8-step-over-128",
        QUANT,
        "/ 127.0",
        "/ 128.0",
        (T_INT8,),
    ),
    (
        "numbers-int8-weights-truncated",
        QUANT,
        "q = torch.round(w / scale[:, None])",
        "q = torch.trunc(w / scale[:, None])",
        (T_INT8,),
    ),
    (
        # 255 steps would be harmless (round() keeps [lo, hi] within [-128, 127.5]); 256
        # puts the largest value of most tokens on 128, which wraps to -128 in int8
        "numbers-int8-activations-256-steps",
        QUANT,
        "inv = 254.0 /",
        "inv = 256.0 /",
        (T_INT8,),
    ),
    (
        "numbers-int8-activations-truncated",
        QUANT,
        "xq = torch.round(torch.addcmul(zero, x2, inv))",
        "xq = torch.trunc(torch.addcmul(zero, x2, inv))",
        (T_INT8,),
    ),
]
