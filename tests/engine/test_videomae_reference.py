"""VideoMAE as a model family against transformers' VideoMAEForPreTraining.

Guards: converted Hugging Face folders and official MCG-NJU / VideoMAE V2 state dicts give
the same logits at the hidden tokens and the same loss as transformers for the same weights
and mask (pixel and norm_pix targets, tube and arbitrary masks, batches); the targets equal
the labels transformers' forward makes (written out here as it computes them); the token
layout and its inverse; the display modes against hand computations; attention weights;
the pause point; configs that lie about the tensors are refused with one line naming the
field, before anything large is allocated.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.families import videomae as V
from mae_desktop.engine.families.videomae_model import VideoMAEConfig, VideoMAEModel
from tests.helpers import perturb_

IN_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IN_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TINY = dict(
    image_size=32,
    patch_size=8,
    num_frames=4,
    tubelet_size=2,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=96,
    decoder_hidden_size=32,
    decoder_num_hidden_layers=1,
    decoder_num_attention_heads=2,
    decoder_intermediate_size=48,
    use_mean_pooling=False,
    norm_pix_loss=True,
)
GRID = (2, 4, 4)  # (T', H', W') of TINY
N = 32
PATCH_DIM = 2 * 8 * 8 * 3


# -- references -----------------------------------------------------------------------------------
def hf_videomae(seed: int = 0, **overrides):
    """A small random transformers VideoMAEForPreTraining (perturbed weights, eager, eval)."""
    from transformers import VideoMAEConfig as HFConfig
    from transformers import VideoMAEForPreTraining

    torch.manual_seed(seed)
    cfg = HFConfig(**{**TINY, **overrides})
    cfg._attn_implementation = "eager"
    model = VideoMAEForPreTraining(cfg).eval()
    perturb_(model, seed)
    return model


def saved(model, folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """save_pretrained, then the file's tensors and config.json as they are on disk."""
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    return load_file(str(folder / "model.safetensors")), config


def pixel_values(frames01: np.ndarray, mean=IN_MEAN, std=IN_STD) -> torch.Tensor:
    """(B, T, H, W, 3) in [0, 1] -> transformers' (B, T, 3, H, W) normalised input."""
    x = (frames01.astype(np.float32) - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))


def hf_run(model, frames01: np.ndarray, masks: np.ndarray, **kw):
    """transformers' forward for clips (B, T, H, W, 3) and masks (B, T', H', W')."""
    bool_masked = torch.from_numpy(masks.reshape(masks.shape[0], -1))
    with torch.no_grad():
        return model(pixel_values=pixel_values(frames01, **kw), bool_masked_pos=bool_masked)


def hf_labels(pv: torch.Tensor, ts: int, p: int, norm_pix: bool) -> torch.Tensor:
    """Every token's label as VideoMAEForPreTraining.forward computes it (before it keeps
    the hidden ones): un-normalise with ImageNet, view, permute, optional per-tubelet and
    per-channel normalisation with the unbiased std + 1e-6."""
    mean = torch.tensor(IN_MEAN)[None, None, :, None, None]
    std = torch.tensor(IN_STD)[None, None, :, None, None]
    frames = pv * std + mean
    b, t, c, h, w = frames.shape
    x = frames.view(b, t // ts, ts, c, h // p, p, w // p, p).permute(0, 1, 4, 6, 2, 5, 7, 3)
    x = x.contiguous().view(b, (t // ts) * (h // p) * (w // p), ts * p * p, c)
    if norm_pix:
        x = (x - x.mean(dim=-2, keepdim=True)) / (
            x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
        )
    return x.reshape(b, x.shape[1], ts * p * p * c)


def hf_to_mcg(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The documented key mapping, transformers' file -> the official `{'model': ...}`
    layout: qkv rows query, key, value (no key bias); q_bias/v_bias; Conv3d kept."""
    out: dict[str, torch.Tensor] = {
        "encoder.patch_embed.proj.weight": sd[
            "videomae.embeddings.patch_embeddings.projection.weight"
        ],
        "encoder.patch_embed.proj.bias": sd["videomae.embeddings.patch_embeddings.projection.bias"],
        "encoder.norm.weight": sd["videomae.layernorm.weight"],
        "encoder.norm.bias": sd["videomae.layernorm.bias"],
        "encoder_to_decoder.weight": sd["encoder_to_decoder.weight"],
        "mask_token": sd["mask_token"],
        "decoder.norm.weight": sd["decoder.norm.weight"],
        "decoder.norm.bias": sd["decoder.norm.bias"],
        "decoder.head.weight": sd["decoder.head.weight"],
        "decoder.head.bias": sd["decoder.head.bias"],
    }
    names = {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
    }
    for theirs, ours in (
        ("videomae.encoder.layer.", "encoder.blocks."),
        ("decoder.decoder_layers.", "decoder.blocks."),
    ):
        i = 0
        while f"{theirs}{i}.layernorm_before.weight" in sd:
            s, d = f"{theirs}{i}.", f"{ours}{i}."
            for mine, hf in names.items():
                for t in ("weight", "bias"):
                    out[f"{d}{mine}.{t}"] = sd[f"{s}{hf}.{t}"]
            a = s + "attention.attention."
            out[d + "attn.qkv.weight"] = torch.cat(
                [sd[a + "query.weight"], sd[a + "key.weight"], sd[a + "value.weight"]]
            )
            out[d + "attn.q_bias"] = sd[a + "q_bias"]
            out[d + "attn.v_bias"] = sd[a + "v_bias"]
            i += 1
    return {k: v.clone() for k, v in out.items()}


def tube(seed: int, hidden: int) -> np.ndarray:
    """The same random spatial mask of `hidden` cells in every time slot."""
    spatial = np.zeros(GRID[1] * GRID[2], dtype=bool)
    spatial[np.random.default_rng(seed).permutation(spatial.size)[:hidden]] = True
    return np.broadcast_to(spatial.reshape(GRID[1:]), GRID).copy()


def arbitrary(seed: int, hidden: int) -> np.ndarray:
    m = np.zeros(N, dtype=bool)
    m[np.random.default_rng(seed).permutation(N)[:hidden]] = True
    return m.reshape(GRID)


def ours_batch(model: VideoMAEModel, frames01: np.ndarray, masks: np.ndarray, **kw):
    """Our pass over a batch of clips: (pred (B, N, patch_dim), encoder and decoder weights)."""
    cfg = model.cfg
    tokens = torch.from_numpy(np.stack([V.to_tokens(f, cfg) for f in frames01]))
    ids = torch.from_numpy(np.stack([np.flatnonzero(~m.ravel()) for m in masks]))
    with torch.no_grad():
        latent, enc_w = model.forward_encoder(tokens, ids, **kw)
        pred, dec_w = model.forward_decoder(latent, ids, **kw)
    return pred.numpy(), enc_w, dec_w


def clips(seed: int, b: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).random((b, 4, 32, 32, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> tuple[dict[str, torch.Tensor], dict]:
    """A saved tiny model's tensors and config.json (tests copy before editing)."""
    return saved(hf_videomae(8), tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(transformers model, our converted model) with norm_pix targets."""
    hf = hf_videomae(0)
    sd, config = saved(hf, tmp_path_factory.mktemp("videomae"))
    cfg, ours = V.convert_hf(sd, config, "videomae")
    return hf, V.build_model(cfg, ours, "videomae")


# -- the same predictions and loss as transformers ------------------------------------------------
@pytest.mark.parametrize("norm_pix", [True, False])
@pytest.mark.parametrize("masks", ["tube", "arbitrary"])
@pytest.mark.parametrize("mean_pooling", [False, True])
def test_logits_and_loss_equal_transformers(tmp_path, norm_pix, masks, mean_pooling):
    hf = hf_videomae(1, norm_pix_loss=norm_pix, use_mean_pooling=mean_pooling)
    sd, config = saved(hf, tmp_path)
    cfg, ours = V.convert_hf(sd, config, "hf")
    assert cfg.norm_pix_loss is norm_pix and cfg.use_mean_pooling is mean_pooling
    model = V.build_model(cfg, ours, "hf")
    make = tube if masks == "tube" else arbitrary
    hidden = 12 if masks == "tube" else 23
    m = np.stack([make(3, hidden), make(4, hidden)])
    frames = clips(5)
    out = hf_run(hf, frames, m)
    pred, _, _ = ours_batch(model, frames, m)
    for b in range(2):
        np.testing.assert_allclose(pred[b][m[b].ravel()], out.logits[b].numpy(), atol=1e-5)
    ours_loss = np.mean([V.loss(pred[b], V.targets(frames[b], cfg), m[b]) for b in range(2)])
    assert ours_loss == pytest.approx(out.loss.item(), abs=1e-5)
    one = V.predict(model, frames[1], m[1])  # the one-clip entry point agrees with the batch
    np.testing.assert_allclose(one[m[1].ravel()], out.logits[1].numpy(), atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.integers(1, N - 1))
def test_any_mask_over_time_rows_and_columns(pair, seed, hidden):
    hf, model = pair
    m = arbitrary(seed, hidden)[None]
    frames = clips(seed, 1)
    out = hf_run(hf, frames, m)
    pred = V.predict(model, frames[0], m[0])
    np.testing.assert_allclose(pred[m[0].ravel()], out.logits[0].numpy(), atol=1e-5)
    assert V.loss(pred, V.targets(frames[0], model.cfg), m[0]) == pytest.approx(
        out.loss.item(), abs=1e-5
    )


def test_in_memory_names_and_gelu_tanh(tmp_path):
    """transformers 5.x modules name the biases query.bias / value.bias; tanh GELU."""
    hf = hf_videomae(2, hidden_act="gelu_pytorch_tanh", qkv_bias=True)
    _, config = saved(hf, tmp_path)
    cfg, ours = V.convert_hf(dict(hf.state_dict()), config, "hf")
    assert cfg.activation == "gelu_tanh"
    model = V.build_model(cfg, ours, "hf")
    m = tube(1, 10)[None]
    frames = clips(2, 1)
    np.testing.assert_allclose(
        V.predict(model, frames[0], m[0])[m[0].ravel()],
        hf_run(hf, frames, m).logits[0].numpy(),
        atol=1e-5,
    )


def test_no_query_value_bias(tmp_path):
    hf = hf_videomae(3, qv_bias=False)
    sd, config = saved(hf, tmp_path)
    cfg, ours = V.convert_hf(sd, config, "hf")
    assert cfg.qkv_bias is False and not any("q_bias" in k for k in ours)
    m = arbitrary(2, 20)[None]
    frames = clips(3, 1)
    np.testing.assert_allclose(
        V.predict(V.build_model(cfg, ours, "hf"), frames[0], m[0])[m[0].ravel()],
        hf_run(hf, frames, m).logits[0].numpy(),
        atol=1e-5,
    )


# -- targets --------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_pix", [True, False])
@pytest.mark.parametrize("contrast", [1.0, 1e-3])
def test_targets_are_transformers_labels(norm_pix, contrast):
    """Low-contrast clips make the std tiny, where the eps placement shows."""
    cfg = VideoMAEConfig(image_size=(32, 32), patch_size=8, num_frames=4, tubelet_size=2)
    rng = np.random.default_rng(7)
    frames = (0.5 + contrast * (rng.random((4, 32, 32, 3)) - 0.5)).astype(np.float32)
    want = hf_labels(pixel_values(frames[None]), 2, 8, norm_pix)[0].numpy()
    got = V.targets(frames, cfg, norm_pix)
    assert got.shape == (N, PATCH_DIM)
    np.testing.assert_allclose(got, want, atol=2e-3 if norm_pix and contrast < 1 else 1e-5)


def test_targets_of_a_model_normalised_otherwise(tmp_path):
    """transformers (and the official code) un-normalise with ImageNet's mean/std whatever
    the model's input normalisation: the labels and the logits still agree."""
    hf = hf_videomae(4, norm_pix_loss=False)
    sd, config = saved(hf, tmp_path)
    pre = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}
    cfg, ours = V.convert_hf(sd, config, "hf", pre=pre)
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.25, 0.25, 0.25)
    model = V.build_model(cfg, ours, "hf")
    frames = clips(8, 1)
    m = tube(3, 9)[None]
    out = hf_run(hf, frames, m, mean=np.float32(0.5), std=np.float32(0.25))
    pv = pixel_values(frames, mean=np.float32(0.5), std=np.float32(0.25))
    labels = hf_labels(pv, 2, 8, False)[0].numpy()
    np.testing.assert_allclose(V.targets(frames[0], cfg), labels, atol=1e-5)
    pred = V.predict(model, frames[0], m[0])
    np.testing.assert_allclose(pred[m[0].ravel()], out.logits[0].numpy(), atol=1e-5)
    assert V.loss(pred, labels, m[0]) == pytest.approx(out.loss.item(), abs=1e-5)
    # 'plain' shows pixels: the labels themselves map back to the input frames
    rec = V.decode(labels, frames[0], m[0], cfg, "plain")
    np.testing.assert_allclose(rec.prediction, frames[0], atol=1e-5)


def test_loss_counts_hidden_tokens_only():
    pred = np.zeros((4, 3), dtype=np.float32)
    target = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3], [0, 0, 0]], dtype=np.float32)
    mask = np.array([True, False, True, False])
    assert V.loss(pred, target, mask) == pytest.approx((1 + 9) / 2)
    assert V.loss(pred, target, np.zeros(4, dtype=bool)) is None


# -- official MCG-NJU / VideoMAE V2 layout --------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "_orig_mod.", "module."])
def test_official_layout_gives_the_same_predictions(tmp_path, prefix):
    hf = hf_videomae(5, layer_norm_eps=1e-6)
    hf.decoder.norm.eps = 1e-6  # the official code builds every LayerNorm with eps 1e-6
    sd, _ = saved(hf, tmp_path)
    mcg = {prefix + k: v for k, v in hf_to_mcg(sd).items()}
    assert V.detect_mcg(set(mcg)) and not V.detect_hf(set(mcg))
    assert V.detect_hf(set(sd)) and not V.detect_mcg(set(sd))
    args = argparse.Namespace(
        input_size=32, num_frames=4, tubelet_size=2, decoder_depth=1, normlize_target=True
    )
    notes: list[str] = []
    assumed: dict = {}
    cfg, ours = V.convert_mcg(
        mcg, "ckpt.pth", args, heads=2, decoder_heads=2, notes=notes, assumed=assumed
    )
    assert assumed == {} and cfg.norm_eps == cfg.decoder_norm_eps == 1e-6
    model = V.build_model(cfg, ours, "ckpt.pth")
    m = np.stack([arbitrary(5, 17), arbitrary(6, 17)])
    frames = clips(9)
    out = hf_run(hf, frames, m)
    pred, _, _ = ours_batch(model, frames, m)
    for b in range(2):
        np.testing.assert_allclose(pred[b][m[b].ravel()], out.logits[b].numpy(), atol=1e-5)


def test_official_layout_records_what_it_assumes(tmp_path):
    """Widths 384 / 192 are the official ViT-S: 6 and 3 heads; frame size, frame count and
    the target are not in the tensors."""
    hf = hf_videomae(
        6,
        hidden_size=384,
        num_attention_heads=6,
        num_hidden_layers=1,
        decoder_hidden_size=192,
        decoder_num_attention_heads=3,
        layer_norm_eps=1e-6,
    )
    hf.decoder.norm.eps = 1e-6
    sd, _ = saved(hf, tmp_path)
    mcg = hf_to_mcg(sd)
    notes: list[str] = []
    assumed: dict = {}
    cfg, _ = V.convert_mcg(mcg, "ckpt.pth", notes=notes, assumed=assumed)
    assert assumed == {
        "input_size": 224,
        "num_frames": 16,
        "normlize_target": True,
        "heads": 6,
        "decoder_heads": 3,
    }
    assert len(notes) == 5
    assert (cfg.image_size, cfg.num_frames, cfg.num_heads, cfg.decoder_num_heads) == (
        (224, 224),
        16,
        6,
        3,
    )
    # the training args name the model: its heads are taken from there, nothing assumed
    args = {"input_size": 32, "num_frames": 4, "model": "pretrain_videomae_small_patch16_224"}
    assumed = {}
    cfg, ours = V.convert_mcg(mcg, "ckpt.pth", args, assumed=assumed)
    assert (cfg.num_heads, cfg.decoder_num_heads) == (6, 3)
    assert assumed == {"normlize_target": True}
    m = tube(2, 11)[None]
    frames = clips(1, 1)
    np.testing.assert_allclose(
        V.predict(V.build_model(cfg, ours, "ckpt.pth"), frames[0], m[0])[m[0].ravel()],
        hf_run(hf, frames, m).logits[0].numpy(),
        atol=1e-5,
    )


def test_widths_without_an_official_size_assume_64_channels_a_head(tmp_path):
    sd, _ = saved(hf_videomae(7, hidden_size=128, num_attention_heads=2), tmp_path)
    assumed: dict = {}
    cfg, _ = V.convert_mcg(
        hf_to_mcg(sd), "ckpt.pth", {"input_size": 32, "num_frames": 4}, assumed=assumed
    )
    assert (assumed["heads"], assumed["decoder_heads"]) == (2, 1)
    assert cfg.num_heads == 2 and cfg.decoder_num_heads == 1


# -- token layout ---------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(
    ts=st.sampled_from([1, 2, 3]),
    slots=st.integers(1, 3),
    p=st.sampled_from([1, 2, 4]),
    rows=st.integers(1, 3),
    cols=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_token_layout_and_round_trip(ts, slots, p, rows, cols, seed):
    cfg = VideoMAEConfig(
        image_size=(rows * p, cols * p), patch_size=p, num_frames=slots * ts, tubelet_size=ts
    )
    frames = np.random.default_rng(seed).random(
        (slots * ts, rows * p, cols * p, 3), dtype=np.float32
    )
    raw = V.patchify_video(frames, cfg)
    assert raw.shape == (cfg.num_tokens, cfg.patch_dim) == (slots * rows * cols, ts * p * p * 3)
    # token (t, r, c) row-major; vector (time, pixel row, pixel column, channel)
    t, r, c = (x // 2 for x in (slots, rows, cols))
    dt, i, j, ch = ts - 1, p // 2, p - 1, 2
    tok = (t * rows + r) * cols + c
    val = ((dt * p + i) * p + j) * 3 + ch
    assert raw[tok, val] == frames[t * ts + dt, r * p + i, c * p + j, ch]
    assert np.array_equal(V.unpatchify_video(raw, cfg), frames)
    tokens = V.to_tokens(frames, cfg)
    np.testing.assert_allclose(
        tokens,
        (raw - IN_MEAN[[0, 1, 2] * (raw.shape[1] // 3)]) / IN_STD[[0, 1, 2] * (raw.shape[1] // 3)],
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(V.from_tokens(tokens, cfg), frames, atol=1e-6)


def test_config_shape_properties_and_round_trip():
    cfg = VideoMAEConfig(image_size=(48, 32), patch_size=8, num_frames=6, tubelet_size=3)
    assert cfg.token_grid == (2, 6, 4) and cfg.num_tokens == 48
    assert cfg.patch_dim == 3 * 8 * 8 * 3
    assert cfg.has_decoder and not cfg.use_cls_token
    g = cfg.geometry
    assert (g.frames, g.size, g.patch, g.unit, g.cls_token) == (
        6,
        (48, 32),
        (3, 8, 8),
        (3, 8, 8),
        False,
    )
    changed = {}
    for f in dataclasses.fields(VideoMAEConfig):
        v = f.default
        if isinstance(v, bool):
            changed[f.name] = not v
        elif isinstance(v, int):
            changed[f.name] = v + 1
        elif isinstance(v, float):
            changed[f.name] = v * 2
        elif isinstance(v, tuple):
            changed[f.name] = tuple(x + 1 for x in v)
        else:
            changed[f.name] = "gelu_tanh"
    other = VideoMAEConfig(**changed)
    d = json.loads(json.dumps(other.to_dict()))
    assert set(d) == {f.name for f in dataclasses.fields(VideoMAEConfig)}
    assert VideoMAEConfig.from_dict(d) == other
    assert all(getattr(other, k) != getattr(VideoMAEConfig(), k) for k in changed)
    assert "\n" not in other.describe()
    with pytest.raises(ValueError):
        VideoMAEConfig.from_dict({**d, "depth_typo": 1})


# -- display --------------------------------------------------------------------------------------
def _small() -> tuple[VideoMAEConfig, np.ndarray]:
    cfg = VideoMAEConfig(image_size=(4, 4), patch_size=2, num_frames=4, tubelet_size=2)
    frames = np.random.default_rng(3).random((4, 4, 4, 3), dtype=np.float32)
    return cfg, frames


def _tubelet(frames: np.ndarray, t: int, r: int, c: int) -> np.ndarray:
    """The (2, 2, 2, 3) pixels of token (t, r, c) of _small()'s grid (2, 2, 2)."""
    return frames[2 * t : 2 * t + 2, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2]


def test_plain_mode_is_pixels_and_metrics_clip():
    cfg, frames = _small()
    mask = np.zeros((2, 2, 2), dtype=bool)
    mask[1, 0, 1] = mask[0, 1, 1] = True
    noise = np.random.default_rng(1).normal(0, 0.5, (8, cfg.patch_dim)).astype(np.float32)
    pred = V.patchify_video(frames, cfg) + noise  # pixel targets: the prediction is pixels
    rec = V.decode(pred, frames, mask, cfg, "auto", norm_pix=False)
    assert rec.mode == "plain" and rec.target == "pixel"
    hidden_sq = []
    for t, r, c in zip(*np.nonzero(mask), strict=True):
        tok = (t * 2 + r) * 2 + c
        want = noise[tok].reshape(2, 2, 2, 3) + _tubelet(frames, t, r, c)
        np.testing.assert_allclose(_tubelet(rec.prediction, t, r, c), want, atol=1e-6)
        np.testing.assert_allclose(_tubelet(rec.composite, t, r, c), want, atol=1e-6)
        hidden_sq.append((np.clip(want, 0, 1) - _tubelet(frames, t, r, c)) ** 2)
    visible = ~np.repeat(np.repeat(np.repeat(mask, 2, 0), 2, 1), 2, 2)
    np.testing.assert_array_equal(rec.composite[visible], frames[visible])
    mse = float(np.mean(hidden_sq))
    assert rec.masked_mse == pytest.approx(mse, rel=1e-5)
    assert rec.masked_psnr == pytest.approx(10 * np.log10(1 / mse), rel=1e-5)
    assert rec.loss == pytest.approx(float(np.mean(noise[[3, 5]] ** 2)), rel=1e-5)
    with pytest.raises(MAEError):
        V.decode(pred, frames, mask, cfg, "gt-stats", norm_pix=False)


def _stats(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and unbiased std + 1e-6 of one tubelet (2, 2, 2, 3)."""
    v = block.reshape(-1, 3).astype(np.float64)
    return v.mean(0), v.std(0, ddof=1) + 1e-6


def test_gt_stats_of_the_true_target_gives_back_the_clip():
    cfg, frames = _small()
    mask = np.ones((2, 2, 2), dtype=bool)
    mask[0, 0, 0] = False
    pred = np.zeros((8, cfg.patch_dim), dtype=np.float32)
    for t, r, c in np.ndindex(2, 2, 2):
        block = _tubelet(frames, t, r, c)
        m, s = _stats(block)
        pred[(t * 2 + r) * 2 + c] = ((block - m) / s).ravel()
    rec = V.decode(pred, frames, mask, cfg, "gt-stats")
    assert rec.uses_ground_truth
    np.testing.assert_allclose(rec.prediction, frames, atol=1e-5)
    assert rec.masked_mse == pytest.approx(0.0, abs=1e-10)
    assert rec.loss == pytest.approx(0.0, abs=1e-10)


def test_estimate_borrows_visible_statistics_by_distance():
    """Hidden token (0, 0, 0); visible ones at squared distance 1 (three), 2 (three), 3."""
    cfg, frames = _small()
    mask = np.zeros((2, 2, 2), dtype=bool)
    mask[0, 0, 0] = True
    pred = np.random.default_rng(2).normal(0, 1, (8, cfg.patch_dim)).astype(np.float32)
    means, scales, weights = [], [], []
    for t, r, c in np.ndindex(2, 2, 2):
        if (t, r, c) == (0, 0, 0):
            continue
        m, s = _stats(_tubelet(frames, t, r, c))
        means.append(m)
        scales.append(s)
        weights.append(1.0 / (t * t + r * r + c * c))
    w = np.array(weights) / np.sum(weights)
    em, es = w @ np.array(means), w @ np.array(scales)
    want = pred[0].reshape(2, 2, 2, 3) * es + em
    rec = V.decode(pred, frames, mask, cfg)
    assert rec.mode == "estimate"
    np.testing.assert_allclose(_tubelet(rec.prediction, 0, 0, 0), want, atol=1e-5)
    sq = (np.clip(want, 0, 1) - _tubelet(frames, 0, 0, 0)) ** 2
    assert rec.masked_mse == pytest.approx(float(sq.mean()), rel=1e-4)
    # with nothing visible: ImageNet mean and std (the normalised input's 0 and 1)
    rec = V.decode(pred, frames, np.ones((2, 2, 2), dtype=bool), cfg, "estimate")
    np.testing.assert_allclose(
        _tubelet(rec.prediction, 1, 1, 0), pred[6].reshape(2, 2, 2, 3) * IN_STD + IN_MEAN, atol=1e-5
    )


def test_raw_mode_shows_model_space():
    cfg, frames = _small()
    mask = np.zeros((2, 2, 2), dtype=bool)
    mask[1, 1, 1] = True
    pred = np.full((8, cfg.patch_dim), 7.0, dtype=np.float32)
    rec = V.decode(pred, frames, mask, cfg, "raw")
    assert np.all(rec.prediction == 7.0)
    m, s = _stats(_tubelet(frames, 0, 0, 0))
    want = (_tubelet(frames, 0, 0, 0) - m) / s  # visible tokens show their norm_pix target
    np.testing.assert_allclose(_tubelet(rec.composite, 0, 0, 0), want, atol=1e-4)
    assert np.all(_tubelet(rec.composite, 1, 1, 1) == 7.0)
    assert rec.masked_mse is None and np.isnan(rec.token_error).all()


# -- attention weights and the pause point --------------------------------------------------------
def test_attention_weights_equal_transformers(pair):
    hf, model = pair
    m = arbitrary(11, 20)[None]
    frames = clips(12, 1)
    bool_masked = torch.from_numpy(m.reshape(1, -1))
    seen: list[torch.Tensor] = []
    hook = hf.decoder.decoder_layers[0].attention.attention.register_forward_hook(
        lambda mod, args, out: seen.append(out[1])
    )
    try:
        with torch.no_grad():
            out = hf(pixel_values(frames), bool_masked_pos=bool_masked, output_attentions=True)
    finally:
        hook.remove()
    _, enc_w, dec_w = ours_batch(model, frames, m, need_weights=True)
    assert len(enc_w) == 2 and len(dec_w) == 1
    assert enc_w[0].shape == (1, 2, 12, 12) and dec_w[0].shape == (1, 2, N, N)
    for ours, theirs in zip(enc_w, out.attentions, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)
    # transformers' decoder sequence is [visible, hidden]; ours is in token order
    order = np.concatenate([np.flatnonzero(~m.ravel()), np.flatnonzero(m.ravel())])
    theirs = np.empty((2, N, N), dtype=np.float32)
    theirs[:, order[:, None], order[None, :]] = seen[0][0].numpy()
    np.testing.assert_allclose(dec_w[0][0].numpy(), theirs, atol=1e-5)


def test_pause_after_every_block_and_it_can_stop(pair):
    _, model = pair
    frames = clips(0, 1)
    tokens = torch.from_numpy(V.to_tokens(frames[0], model.cfg))[None]
    ids = torch.arange(0, N, 3)[None]
    calls: list[int] = []
    with torch.no_grad():
        latent, _ = model.forward_encoder(tokens, ids, pause=lambda: calls.append(1))
        model.forward_decoder(latent, ids, pause=lambda: calls.append(2))
    assert calls == [1, 1, 2]

    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    with pytest.raises(Stop), torch.no_grad():
        model.forward_encoder(tokens, ids, pause=stop)


# -- configs that lie -----------------------------------------------------------------------------
LIES = [
    ({"tubelet_size": 3}, "tubelet_size"),  # does not divide 4 frames
    ({"num_frames": 5}, "tubelet_size"),  # 2 does not divide 5 frames
    ({"tubelet_size": 1}, "tubelet_size"),  # divides, but the kernel spans 2 frames
    ({"patch_size": 5}, "patch_size"),  # does not divide 32
    ({"patch_size": 16}, "patch_size"),  # divides, but the kernel is 8
    ({"num_attention_heads": 3}, "num_attention_heads"),  # 64 % 3
    ({"decoder_num_attention_heads": 5}, "decoder_num_attention_heads"),
    ({"hidden_size": 48}, "hidden_size"),
    ({"num_hidden_layers": 3}, "num_hidden_layers"),
    ({"decoder_num_hidden_layers": 2}, "decoder_num_hidden_layers"),
    ({"decoder_hidden_size": 16}, "decoder_hidden_size"),
    ({"intermediate_size": 100}, "intermediate_size"),
    ({"decoder_intermediate_size": 100}, "decoder_intermediate_size"),
    ({"use_mean_pooling": True}, "use_mean_pooling"),
    ({"qv_bias": False}, "qv_bias"),
    ({"num_channels": 1}, "num_channels"),
    ({"hidden_act": "relu"}, "hidden_act"),
    ({"image_size": [4096, 4096], "num_frames": 1024}, "image_size"),
    ({"model_type": "vit_mae"}, "vit_mae"),
]


@pytest.mark.parametrize(("edit", "field"), LIES, ids=[f for _, f in LIES])
def test_lying_config_json_is_refused_naming_the_field(tiny_file, edit, field):
    sd, config = tiny_file
    tracemalloc.start()
    try:
        with pytest.raises(MAEError) as err:
            V.convert_hf(sd, {**config, **edit}, "clip")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert field in msg and "\n" not in msg and msg.startswith("clip: ")
    assert peak < 8 << 20  # refused before any table or model is made


def test_a_classifier_without_decoder_is_refused(tiny_file):
    sd, config = tiny_file
    encoder_only = {k: v for k, v in sd.items() if k.startswith("videomae.")}
    with pytest.raises(MAEError, match="no decoder"):
        V.convert_hf(encoder_only, config, "clip")


MCG_LIES = [
    ({"tubelet_size": 4}, None, "tubelet_size"),
    ({"decoder_depth": 3}, None, "decoder_depth"),
    ({"input_size": 30}, None, "input_size"),  # patch 8 does not divide 30
    ({"num_frames": 5}, None, "tubelet_size"),
    ({"model": "pretrain_videomae_base_patch16_224"}, None, "heads"),  # 12 heads, width 64
    ({}, "encoder.blocks.0.gamma_1", "layer scale"),
    ({}, "decoder.blocks.0.attn.scale", "cosine attention"),
    ({}, "encoder.pos_embed", "position table"),
    ({}, "-encoder_to_decoder.weight", "no decoder"),
    ({}, "-decoder.head.bias", "decoder.head.bias"),
    ({}, "+decoder.head.weight", "decoder head predicts"),
]


@pytest.mark.parametrize(("edit", "tensor", "words"), MCG_LIES, ids=[w for *_, w in MCG_LIES])
def test_lying_official_checkpoints_are_refused(tiny_file, edit, tensor, words):
    sd = tiny_file[0]
    mcg = hf_to_mcg(sd)
    if tensor and tensor[0] == "-":
        del mcg[tensor[1:]]
    elif tensor and tensor[0] == "+":
        mcg[tensor[1:]] = torch.zeros(PATCH_DIM // 2, 32)
    elif tensor:
        mcg[tensor] = torch.ones(64)
    args = {"input_size": 32, "num_frames": 4, **edit}
    heads = None if "model" in edit else 2
    with pytest.raises(MAEError) as err:
        V.convert_mcg(mcg, "ckpt.pth", args, heads=heads, decoder_heads=2)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_declared_heads_that_do_not_divide_are_refused(tiny_file):
    sd = tiny_file[0]
    with pytest.raises(MAEError, match="heads"):
        V.convert_mcg(hf_to_mcg(sd), "ckpt.pth", {"input_size": 32, "num_frames": 4}, heads=3)


def test_visible_tokens_in_any_order_give_the_same_predictions(pair):
    """The seam may pass ids_keep unsorted: the latent follows that order, the predictions
    (in token order) do not change."""
    _, model = pair
    m = arbitrary(21, 18)
    frames = clips(22, 1)
    tokens = torch.from_numpy(V.to_tokens(frames[0], model.cfg))[None]
    ids = torch.from_numpy(np.flatnonzero(~m.ravel()))[None]
    shuffled = ids[:, torch.randperm(ids.shape[1], generator=torch.Generator().manual_seed(0))]
    with torch.no_grad():
        a = model.forward_decoder(model.forward_encoder(tokens, ids)[0], ids)[0]
        b = model.forward_decoder(model.forward_encoder(tokens, shuffled)[0], shuffled)[0]
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
