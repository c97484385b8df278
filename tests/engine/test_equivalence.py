"""Our model reproduces transformers' ViTMAE and the PaperWeekly article's MAE on the same
weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mae_desktop.engine import ModelSession, masks
from mae_desktop.engine.config import IMAGENET_MEAN, IMAGENET_STD
from tests.helpers import hf_model, hf_noise, hf_reconstruct, hf_to_official, perturb_

MASKS = [
    masks.random_mask((4, 4), 0.75, seed=3),
    masks.random_mask((4, 4), 0.5, seed=4),
    masks.grid_mask((4, 4)),
    masks.clear((4, 4)),
]


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((64, 64, 3), dtype=np.float32)


def _pixel_values(img: np.ndarray) -> torch.Tensor:
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(((img - mean) / std).transpose(2, 0, 1).copy())[None]


@pytest.mark.parametrize("mask", MASKS, ids=["random75", "random50", "grid", "none"])
def test_huggingface_folder_matches_transformers(hf_pair, mask):
    model, folder = hf_pair
    img = _image()
    ref = hf_reconstruct(model, _pixel_values(img), mask)
    ours = ModelSession.open(folder, device="cpu").predict(img, mask)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


def test_both_decoder_layouts_load(hf_pair, tmp_path):
    """4.x and hub folders name decoder layers decoder.decoder_layers.N, 5.x save_pretrained
    writes decoder.decoder_encoder.layer.N: whichever this transformers wrote, the other
    layout must give the same numbers too."""
    model, folder = hf_pair
    sd = load_file(folder / "model.safetensors")
    v5, v4 = "decoder.decoder_encoder.layer.", "decoder.decoder_layers."
    src, dst = (v5, v4) if any(k.startswith(v5) for k in sd) else (v4, v5)
    renamed = {k.replace(src, dst): v for k, v in sd.items()}
    assert renamed != sd
    old = tmp_path / "v4"
    old.mkdir()
    save_file(renamed, old / "model.safetensors")
    (old / "config.json").write_text((folder / "config.json").read_text())
    img, mask = _image(1), MASKS[0]
    ref = hf_reconstruct(model, _pixel_values(img), mask)
    np.testing.assert_allclose(ModelSession.open(old, "cpu").predict(img, mask), ref, atol=1e-5)


def test_pytorch_model_bin_and_preprocessor_config(hf_pair, tmp_path):
    model, folder = hf_pair
    target = tmp_path / "bin"
    target.mkdir()
    torch.save(load_file(folder / "model.safetensors"), target / "pytorch_model.bin")
    (target / "config.json").write_text((folder / "config.json").read_text())
    (target / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]})
    )
    session = ModelSession.open(target, "cpu")
    assert session.config.mean == (0.5, 0.5, 0.5) and session.config.std == (0.25,) * 3
    img, mask = _image(2), MASKS[1]
    pv = torch.from_numpy(((img - 0.5) / 0.25).transpose(2, 0, 1).copy())[None]
    ref = hf_reconstruct(model, pv, mask)
    np.testing.assert_allclose(session.predict(img, mask), ref, atol=1e-5)


def test_official_layout_matches_transformers(tmp_path):
    # The official models use LayerNorm eps 1e-6; give the reference the same.
    model = hf_model(seed=1, layer_norm_eps=1e-6)
    path = tmp_path / "checkpoint-799.pth"
    torch.save({"model": hf_to_official(model.state_dict())}, path)
    session = ModelSession.open(path, "cpu", heads=4, decoder_heads=2)
    for mask in MASKS:
        img = _image(3)
        ref = hf_reconstruct(model, _pixel_values(img), mask)
        np.testing.assert_allclose(session.predict(img, mask), ref, atol=1e-5)


def test_bare_vitmae_model_encoder_matches(tmp_path):
    """A ViTMAEModel folder (no vit. prefix, no decoder): the encoder output matches."""
    from transformers import ViTMAEModel

    full = hf_model(seed=2)
    enc = ViTMAEModel(full.config).eval()
    enc.load_state_dict(full.vit.state_dict())
    enc.save_pretrained(tmp_path / "enc")
    session = ModelSession.open(tmp_path / "enc", "cpu")
    assert not session.config.has_decoder
    img, mask = _image(4), MASKS[0]
    noise, ratio = hf_noise(mask)
    enc.config.mask_ratio = ratio
    with torch.no_grad():
        ref = enc(pixel_values=_pixel_values(img), noise=noise).last_hidden_state[0].numpy()
    x, ids = session._inputs(img, mask)
    with torch.no_grad():
        latent, _ = session.model.forward_encoder(x, ids)
    np.testing.assert_allclose(latent[0].numpy(), ref, atol=1e-5)


def test_attention_weights_match_transformers(hf_pair):
    model, folder = hf_pair
    img, mask = _image(5), MASKS[0]
    noise, ratio = hf_noise(mask)
    model.config.mask_ratio = ratio
    with torch.no_grad():
        out = model.vit(pixel_values=_pixel_values(img), noise=noise, output_attentions=True)
    session = ModelSession.open(folder, "cpu")
    maps = session.attention(img, mask, "encoder", "cls").maps
    visible = np.flatnonzero(~mask.ravel())
    for layer, att in enumerate(out.attentions):
        ref = att[0, :, 0, 1:].numpy()  # CLS row, patch columns (HF keeps index order here)
        ours = maps[layer].reshape(maps.shape[1], -1)[:, visible]
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def _paperweekly_model(seed: int = 0, single_head_decoder: bool = False):
    from tests.paperweekly_reference import MAE, ViT

    torch.manual_seed(seed)
    enc = ViT(64, 16, dim=64, depth=2, num_heads=2, mlp_dim=96, dim_per_head=64)
    if single_head_decoder:  # the article uses nn.Identity for out and enc_to_dec here
        mae = MAE(
            enc, decoder_dim=64, decoder_depth=2, num_decoder_heads=1, decoder_dim_per_head=64
        )
    else:
        mae = MAE(
            enc, decoder_dim=48, decoder_depth=2, num_decoder_heads=2, decoder_dim_per_head=64
        )
    mae.eval()
    perturb_(mae, seed)
    return mae


@pytest.mark.parametrize("single", [False, True], ids=["projections", "identities"])
def test_paperweekly_layout_matches_paperweekly_reference(tmp_path, single):
    mae = _paperweekly_model(single_head_decoder=single)
    path = tmp_path / "mae.pth"
    torch.save(mae.state_dict(), path)
    session = ModelSession.open(path, "cpu", heads=2, decoder_heads=1 if single else 2)
    assert session.config.mean == (0.0, 0.0, 0.0) and not session.config.use_cls_token
    for mask in MASKS[:3]:
        img = _image(6)
        flat = mask.ravel()
        x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        ref = mae.predict_with(
            x,
            torch.from_numpy(np.flatnonzero(flat))[None],
            torch.from_numpy(np.flatnonzero(~flat))[None],
        )[0].numpy()
        np.testing.assert_allclose(session.predict(img, mask), ref, atol=1e-5)


def test_paperweekly_layernorm_eps_is_the_articles_on_small_activations(tmp_path):
    """The article's nn.LayerNorm uses eps 1e-5. It only shows when token variance is near
    eps, so the encoder's patch and position embeddings are scaled down (variance ~1e-6)."""
    mae = _paperweekly_model(seed=1)
    with torch.no_grad():
        for p in (mae.encoder.patch_embed.weight, mae.encoder.patch_embed.bias):
            p.mul_(1e-3)
        mae.encoder.pos_embed.mul_(1e-3)
    path = tmp_path / "small.pth"
    torch.save(mae.state_dict(), path)
    session = ModelSession.open(path, "cpu", heads=2, decoder_heads=2)
    img, mask = _image(7), MASKS[0]
    flat = mask.ravel()
    x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    ref = mae.predict_with(
        x,
        torch.from_numpy(np.flatnonzero(flat))[None],
        torch.from_numpy(np.flatnonzero(~flat))[None],
    )[0].numpy()
    np.testing.assert_allclose(session.predict(img, mask), ref, atol=1e-5)
