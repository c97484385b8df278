"""Reference models and converters used by the tests (never by the product)."""

from __future__ import annotations

import numpy as np
import torch


def perturb_(module: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> None:
    """Push every tensor away from its initial value so a skipped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.state_dict().values():
            if p.dtype.is_floating_point:
                p.add_(torch.randn(p.shape, generator=g) * scale)


def hf_small_config(**overrides):
    from transformers import ViTMAEConfig

    kw = dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=48,
        image_size=64,
        patch_size=16,
        qkv_bias=True,
        layer_norm_eps=1e-12,
        norm_pix_loss=False,
    )
    kw.update(overrides)
    return ViTMAEConfig(**kw)


def hf_model(seed: int = 0, **overrides):
    """A small random ViTMAEForPreTraining with perturbed weights, eager attention, eval."""
    from transformers import ViTMAEForPreTraining

    torch.manual_seed(seed)
    cfg = hf_small_config(**overrides)
    cfg._attn_implementation = "eager"
    model = ViTMAEForPreTraining(cfg).eval()
    perturb_(model, seed)
    return model


def hf_noise(mask: np.ndarray) -> tuple[torch.Tensor, float]:
    """Noise and mask_ratio that make HF's random_masking pick exactly this mask.

    Visible patches get the smallest noise (in index order), and the ratio is set half a patch
    away from the count so int() truncation cannot drop one.
    """
    flat = mask.ravel()
    n = flat.size
    noise = flat.astype(np.float32) + np.arange(n, dtype=np.float32) / (2 * n)
    keep = int((~flat).sum())
    ratio = 1.0 - (keep + 0.5) / n
    return torch.from_numpy(noise)[None], ratio


def hf_to_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Independent converter: a transformers 5.x ViTMAEForPreTraining state dict (in-memory
    names) -> the official facebookresearch/mae layout (qkv rows: query, key, value)."""
    out: dict[str, torch.Tensor] = {}
    out["cls_token"] = sd["vit.embeddings.cls_token"]
    out["pos_embed"] = sd["vit.embeddings.position_embeddings"]
    out["patch_embed.proj.weight"] = sd["vit.embeddings.patch_embeddings.projection.weight"]
    out["patch_embed.proj.bias"] = sd["vit.embeddings.patch_embeddings.projection.bias"]

    def layers(src_prefix: str, dst_prefix: str) -> None:
        i = 0
        while f"{src_prefix}{i}.attention.q_proj.weight" in sd:
            s, d = f"{src_prefix}{i}.", f"{dst_prefix}{i}."
            for t in ("weight", "bias"):
                out[d + f"attn.qkv.{t}"] = torch.cat(
                    [sd[s + f"attention.{c}_proj.{t}"] for c in "qkv"]
                )
                out[d + f"attn.proj.{t}"] = sd[s + f"attention.o_proj.{t}"]
                out[d + f"norm1.{t}"] = sd[s + f"layernorm_before.{t}"]
                out[d + f"norm2.{t}"] = sd[s + f"layernorm_after.{t}"]
                out[d + f"mlp.fc1.{t}"] = sd[s + f"mlp.fc1.{t}"]
                out[d + f"mlp.fc2.{t}"] = sd[s + f"mlp.fc2.{t}"]
            i += 1

    layers("vit.layers.", "blocks.")
    out["norm.weight"], out["norm.bias"] = sd["vit.layernorm.weight"], sd["vit.layernorm.bias"]
    for k in (
        "decoder_embed.weight",
        "decoder_embed.bias",
        "mask_token",
        "decoder_pos_embed",
        "decoder_norm.weight",
        "decoder_norm.bias",
        "decoder_pred.weight",
        "decoder_pred.bias",
    ):
        out[k] = sd["decoder." + k]
    layers("decoder.decoder_layers.", "decoder_blocks.")
    return {k: v.clone() for k, v in out.items()}


def hf_reconstruct(model, pixel_values: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """HF logits for one image and mask: (N, patch_dim) float32."""
    noise, ratio = hf_noise(mask)
    model.config.mask_ratio = ratio
    with torch.no_grad():
        out = model(pixel_values=pixel_values, noise=noise)
    got = out.mask[0].numpy().astype(bool)
    assert (got == mask.ravel()).all(), "HF did not take the intended mask"
    return out.logits[0].numpy()
