"""Bugs a stranger might write in the VideoMAE family (token layout, attention biases, the
position tables, the decoder's order, targets, display modes, converters and their checks);
tests/engine/test_videomae_reference.py must catch each (see scripts/mutants/README.md)."""

MODEL = "mae_desktop/engine/families/videomae_model.py"
FAMILY = "mae_desktop/engine/families/videomae.py"
T_VM = "tests/engine/test_videomae_reference.py"

MUTANTS = [
    # -- layout -----------------------------------------------------------------------------------
    (
        "videomae-token-order-column-major",
        FAMILY,
        "x = frames.reshape(t, ts, h, p, w, p, c).transpose(0, 2, 4, 1, 3, 5, 6)",
        "x = frames.reshape(t, ts, h, p, w, p, c).transpose(0, 4, 2, 1, 3, 5, 6)",
        (T_VM,),
    ),
    (
        "videomae-tubelet-vector-rows-cols-swapped",
        FAMILY,
        "x = frames.reshape(t, ts, h, p, w, p, c).transpose(0, 2, 4, 1, 3, 5, 6)",
        "x = frames.reshape(t, ts, h, p, w, p, c).transpose(0, 2, 4, 1, 5, 3, 6)",
        (T_VM,),
    ),
    (
        "videomae-conv3d-weight-permuted-wrong",
        FAMILY,
        "return w.permute(0, 2, 3, 4, 1).reshape(w.shape[0], -1)",
        "return w.permute(0, 1, 2, 3, 4).reshape(w.shape[0], -1)",
        (T_VM,),
    ),
    # -- attention --------------------------------------------------------------------------------
    (
        "videomae-q-v-bias-swapped",
        MODEL,
        "torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])",
        "torch.cat([self.v_bias, torch.zeros_like(self.v_bias), self.q_bias])",
        (T_VM,),
    ),
    (
        # (a key bias would be no bug: q.(k + b) shifts every score of a query alike, which
        # softmax ignores)
        "videomae-value-bias-dropped",
        MODEL,
        "torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])",
        "torch.cat([self.q_bias, torch.zeros_like(self.v_bias), 0 * self.v_bias])",
        (T_VM,),
    ),
    (
        "videomae-hf-qkv-rows-in-wrong-order",
        FAMILY,
        'for x in ("query", "key", "value")',
        'for x in ("key", "query", "value")',
        (T_VM,),
    ),
    # -- position tables --------------------------------------------------------------------------
    (
        "videomae-pos-table-off-by-one",
        MODEL,
        "pos = np.arange(n, dtype=np.float64)[:, None]",
        "pos = np.arange(1, n + 1, dtype=np.float64)[:, None]",
        (T_VM,),
    ),
    (
        "videomae-pos-table-sin-cos-swapped",
        MODEL,
        "np.where(j % 2 == 0, np.sin(angle), np.cos(angle))",
        "np.where(j % 2 == 0, np.cos(angle), np.sin(angle))",
        (T_VM,),
    ),
    (
        "videomae-pos-table-frequency-per-channel",
        MODEL,
        "angle = pos / np.power(10000.0, 2 * (j // 2) / dim)",
        "angle = pos / np.power(10000.0, j / dim)",
        (T_VM,),
    ),
    # -- decoder order ----------------------------------------------------------------------------
    (
        "videomae-decoder-predictions-not-scattered-back",
        MODEL,
        "pred = out.gather(1, where.unsqueeze(-1).expand(-1, -1, out.shape[-1]))",
        "pred = out",
        (T_VM,),
    ),
    (
        "videomae-decoder-weights-left-in-sequence-order",
        MODEL,
        "weights.append(w.gather(2, rows).gather(3, cols))",
        "weights.append(w)",
        (T_VM,),
    ),
    (
        "videomae-hidden-ids-are-the-visible-ones",
        MODEL,
        "order = torch.argsort(visible, dim=1, stable=True)",
        "order = torch.argsort(visible, dim=1, descending=True, stable=True)",
        (T_VM,),
    ),
    (
        "videomae-decoder-mask-token-without-position",
        MODEL,
        "self.mask_token.to(y.dtype) + pos_mask",
        "self.mask_token.to(y.dtype) + 0 * pos_mask",
        (T_VM,),
    ),
    (
        "videomae-encoder-norm-despite-mean-pooling",
        MODEL,
        "        return not self.use_mean_pooling",
        "        return True",
        (T_VM,),
    ),
    (
        "videomae-hf-decoder-norm-eps-as-the-blocks",
        FAMILY,
        "decoder_norm_eps=1e-5,  # transformers'",
        "decoder_norm_eps=_read(c, 'layer_norm_eps', 1e-12, 'float', name),  # transformers'",
        (T_VM,),
    ),
    # -- targets ----------------------------------------------------------------------------------
    (
        "videomae-norm-pix-biased-variance",
        FAMILY,
        "scale = np.sqrt(v.var(axis=1, ddof=1)) + NORM_PIX_EPS",
        "scale = np.sqrt(v.var(axis=1, ddof=0)) + NORM_PIX_EPS",
        (T_VM,),
    ),
    (
        "videomae-norm-pix-eps-inside-the-root",
        FAMILY,
        "scale = np.sqrt(v.var(axis=1, ddof=1)) + NORM_PIX_EPS",
        "scale = np.sqrt(v.var(axis=1, ddof=1) + NORM_PIX_EPS)",
        (T_VM,),
    ),
    (
        "videomae-norm-pix-over-all-channels",
        FAMILY,
        "v = vectors.reshape(vectors.shape[0], -1, 3).astype(np.float64)\n"
        "    mean = v.mean(axis=1)",
        "v = vectors.reshape(vectors.shape[0], -1, 3).astype(np.float64)\n"
        "    mean = v.mean(axis=(1, 2))[:, None].repeat(3, 1)",
        (T_VM,),
    ),
    (
        "videomae-targets-ignore-the-input-normalisation",
        FAMILY,
        "    if _imagenet_normalised(cfg):\n        return x\n",
        "    if True:\n        return x\n",
        (T_VM,),
    ),
    (
        "videomae-loss-over-every-token",
        FAMILY,
        "diff = pred[hidden].astype(np.float64) - target[hidden].astype(np.float64)",
        "diff = pred.astype(np.float64) - target.astype(np.float64)",
        (T_VM,),
    ),
    # -- display ----------------------------------------------------------------------------------
    (
        "videomae-gt-stats-inverse-wrong",
        FAMILY,
        "out = v * scale[:, None] + mean[:, None] if inverse",
        "out = (v + mean[:, None]) * scale[:, None] if inverse",
        (T_VM,),
    ),
    (
        "videomae-estimate-ignores-time",
        "mae_desktop/engine/reconstruction.py",  # the estimate every family shares
        "d2 = ((ch[:, None, :] - cv[None, :, :]) ** 2).sum(axis=-1)",
        "d2 = ((ch[:, None, 1:] - cv[None, :, 1:]) ** 2).sum(axis=-1) + 1",
        (T_VM,),
    ),
    (
        "videomae-estimate-uses-ground-truth",
        FAMILY,
        "pred_t = _apply_stats(pred, *estimate_stats(tmean, tscale, mask), inverse=True)",
        "pred_t = _apply_stats(pred, tmean, tscale, inverse=True)",
        (T_VM,),
    ),
    (
        "videomae-masked-mse-unclipped",
        FAMILY,
        "err = ((np.clip(pred_px, 0.0, 1.0) - pixels) ** 2).mean(axis=-1).astype(np.float32)",
        "err = ((pred_px - pixels) ** 2).mean(axis=-1).astype(np.float32)",
        (T_VM,),
    ),
    # -- converters and checks --------------------------------------------------------------------
    (
        "videomae-compiled-prefix-kept",
        FAMILY,
        'for prefix in ("module.", _COMPILED):',
        'for prefix in ("module.",):',
        (T_VM,),
    ),
    (
        "videomae-model-name-heads-swapped",
        FAMILY,
        "value, why = _MCG_HEADS[word.group(1)][idx]",
        "value, why = _MCG_HEADS[word.group(1)][1 - idx]",
        (T_VM,),
    ),
    (
        "videomae-tubelet-must-divide-frames-unchecked",
        FAMILY,
        "    if frames % ts:",
        "    if False:",
        (T_VM,),
    ),
    (
        "videomae-heads-must-divide-width-unchecked",
        FAMILY,
        "        if width % heads:",
        "        if False:",
        (T_VM,),
    ),
    (
        "videomae-mean-pooling-claim-unchecked",
        FAMILY,
        "    if has_norm == cfg.use_mean_pooling:",
        "    if False:",
        (T_VM,),
    ),
    (
        "videomae-kernel-not-checked-against-the-config",
        FAMILY,
        "        if f in declared:\n            _differ(",
        "        if False:\n            _differ(",
        (T_VM,),
    ),
    (
        "videomae-token-limit-unchecked",
        FAMILY,
        "    if cfg.num_tokens > MAX_TOKENS:",
        "    if False:",
        (T_VM,),
    ),
]
