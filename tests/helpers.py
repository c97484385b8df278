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


# -- independent references for derived outputs (never the engine's own functions) ----------
def to_patches(image: np.ndarray, patch: int) -> np.ndarray:
    """(H, W, C) -> (N, patch * patch * C) as official MAE's patchify: einsum nchpwq->nhwpqc."""
    h, w, c = image.shape
    x = image.reshape(h // patch, patch, w // patch, patch, c)
    return np.einsum("hpwqc->hwpqc", x).reshape((h // patch) * (w // patch), -1)


def from_patches(patches: np.ndarray, grid: tuple[int, int], patch: int) -> np.ndarray:
    """Inverse of to_patches: (N, patch * patch * C) -> (H, W, C)."""
    gh, gw = grid
    x = patches.reshape(gh, gw, patch, patch, -1)
    return np.einsum("hwpqc->hpwqc", x).reshape(gh * patch, gw * patch, -1)


def norm_pix_stats(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch mean and sqrt(var + 1e-6) as the official norm_pix loss computes them
    (torch.var, unbiased): float64 (N, 1) each."""
    t = torch.from_numpy(np.asarray(patches, dtype=np.float64))
    mean = t.mean(dim=-1, keepdim=True)
    var = t.var(dim=-1, keepdim=True)
    return mean.numpy(), (var + 1.0e-6).sqrt().numpy()


def inverse_distance_fill(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The README's `estimate`: each hidden patch gets the average of the visible patches'
    values weighted by 1 / (squared grid distance); visible patches keep theirs. values:
    (N, k); mask (gh, gw). Written as plain loops over the grid."""
    gh, gw = mask.shape
    out = np.asarray(values, dtype=np.float64).copy()
    visible = [(r, c) for r in range(gh) for c in range(gw) if not mask[r, c]]
    for r in range(gh):
        for c in range(gw):
            if not mask[r, c]:
                continue
            total, weight = 0.0, 0.0
            for vr, vc in visible:
                w = 1.0 / ((r - vr) ** 2 + (c - vc) ** 2)
                total = total + w * out[vr * gw + vc]
                weight += w
            out[r * gw + c] = total / weight
    return out


def boundary_length(mask: np.ndarray) -> int:
    """Number of 4-neighbour patch pairs where masked meets visible (low for blocks)."""
    m = np.asarray(mask, dtype=bool)
    return int((m[1:] != m[:-1]).sum() + (m[:, 1:] != m[:, :-1]).sum())


def pil_image_processor(size: tuple[int, int], normalize: bool, mean=None, std=None):
    """transformers' ViT image processor on its Pillow backend, built here with explicit
    arguments (bicubic like facebook/vit-mae-*'s preprocessor_config.json; no hub).

    transformers 5 names the Pillow one ViTImageProcessorPil (ViTImageProcessor is the
    torchvision backend there); in 4.x ViTImageProcessor itself is the Pillow one.
    """
    try:
        from transformers import ViTImageProcessorPil as Processor
    except ImportError:  # transformers 4.x
        from transformers import ViTImageProcessor as Processor
    from transformers.image_utils import PILImageResampling

    kw = {}
    if normalize:
        kw = {"image_mean": list(mean), "image_std": list(std)}
    return Processor(
        do_resize=True,
        size={"height": size[0], "width": size[1]},
        resample=PILImageResampling.BICUBIC,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=normalize,
        **kw,
    )


def hf_decoder_attentions(model, pixel_values: torch.Tensor, mask: np.ndarray) -> list[np.ndarray]:
    """The eager attention weights of every decoder layer of a ViTMAEForPreTraining, for one
    image and mask: a list of (heads, 1 + N, 1 + N), tokens in patch index order.

    `output_attentions` returns the encoder's only, so they are read off the decoder's own
    attention modules (which return their weights with attn_implementation="eager")."""
    noise, ratio = hf_noise(mask)
    model.config.mask_ratio = ratio
    got: list[np.ndarray] = []
    hooks = [
        layer.attention.register_forward_hook(
            lambda _m, _i, out: got.append(out[1][0].detach().numpy().copy())
        )
        for layer in model.decoder.decoder_layers
    ]
    try:
        with torch.no_grad():
            model(pixel_values=pixel_values, noise=noise)
    finally:
        for h in hooks:
            h.remove()
    return got
