"""vit-pytorch's MAE as the reference for the vit-pytorch format (tests only).

The pinned release (VERSION, installed with --no-deps: see pyproject's dev extra) is imported
module by module: the package's `__init__` imports its DINO code, which needs torchvision,
and no torchvision is installed (pip's would bring another torch).

Older releases are not installed. Their state dicts are made from a pinned-release MAE by
renaming keys the way each release named them, and the reference for them is the pinned
release's modules with what that release did not have replaced by nn.Identity (the math of
the remaining parts is the same in every release). The layouts were checked against the
released wheels of 0.40.2, 1.0.0, 1.2.0, 1.6.5 and 1.16.0 (same keys, same shapes, same
reconstructions from their own `MAE.forward`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from tests.helpers import perturb_

VERSION = "1.26.14"


def vit_pytorch() -> tuple[types.ModuleType, types.ModuleType]:
    """(vit_pytorch.vit, vit_pytorch.mae) of the pinned release; skips the test without it."""
    try:
        installed = importlib.metadata.version("vit-pytorch")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"vit-pytorch {VERSION} is not installed (pip install --no-deps)")
    if installed != VERSION:
        pytest.skip(f"these tests are written for vit-pytorch {VERSION}, not {installed}")
    if importlib.util.find_spec("einops") is None:
        pytest.skip("einops (vit-pytorch's one dependency) is not installed")
    if "vit_pytorch" not in sys.modules:
        # the package without running its __init__ (which imports torchvision)
        spec = importlib.util.find_spec("vit_pytorch")
        package = types.ModuleType("vit_pytorch")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["vit_pytorch"] = package
    return importlib.import_module("vit_pytorch.vit"), importlib.import_module("vit_pytorch.mae")


def make_mae(
    seed: int = 0,
    pool: str = "mean",
    image: int = 64,
    patch: int = 16,
    dim: int = 64,
    heads: int = 2,
    dim_head: int = 64,
    decoder_dim: int = 48,
    decoder_heads: int = 2,
    decoder_dim_head: int = 64,
    num_classes: int = 10,
) -> nn.Module:
    """A small pinned-release MAE, every tensor perturbed (LayerNorms too), in eval mode."""
    vit, mae = vit_pytorch()
    torch.manual_seed(seed)
    encoder = vit.ViT(
        image_size=image,
        patch_size=patch,
        num_classes=num_classes,
        dim=dim,
        depth=2,
        heads=heads,
        dim_head=dim_head,
        mlp_dim=96,
        pool=pool,
    )
    model = mae.MAE(
        encoder=encoder,
        decoder_dim=decoder_dim,
        decoder_depth=2,
        decoder_heads=decoder_heads,
        decoder_dim_head=decoder_dim_head,
    )
    perturb_(model, seed, scale=0.1)
    return model.eval()


# -- the reference forward -------------------------------------------------------------------
def image_tensor(img: np.ndarray) -> torch.Tensor:
    """float32 (H, W, 3) -> (1, 3, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


@torch.no_grad()
def reference_forward(
    mae: nn.Module, img: torch.Tensor, mask: np.ndarray, attn: list | None = None
):
    """`MAE.forward` of vit-pytorch with a fixed mask instead of a random one, on its own
    modules, step by step. img (1, 3, H, W) as the model sees it; mask bool (gh, gw), True =
    masked. Returns the prediction of every patch (1, N, patch_dim), in vit-pytorch's patch
    order (the decoder output of visible tokens goes through `to_pixels` too; MAE.forward
    projects the masked ones only). With `attn` (a list), each attention softmax (encoder
    layers, then decoder layers) is appended to it."""
    hooks = []
    if attn is not None:
        for module in mae.modules():
            if isinstance(module, nn.Softmax):
                hooks.append(module.register_forward_hook(lambda _m, _i, out: attn.append(out)))
    try:
        flat = mask.ravel()
        masked = torch.from_numpy(np.flatnonzero(flat))[None]
        unmasked = torch.from_numpy(np.flatnonzero(~flat))[None]
        patches = mae.to_patch(img)
        batch, num_patches, *_ = patches.shape
        tokens = mae.patch_to_emb(patches)
        # the position rows of the patches: the table's last N (past its CLS row, if any)
        width = tokens.shape[-1]
        tokens = tokens + mae.encoder.pos_embedding.reshape(-1, width)[-num_patches:]
        batch_range = torch.arange(batch)[:, None]
        tokens = tokens[batch_range, unmasked]
        encoded = mae.encoder.transformer(tokens)
        decoder_tokens = mae.enc_to_dec(encoded)
        unmasked_tokens = decoder_tokens + mae.decoder_pos_emb(unmasked)
        mask_tokens = mae.mask_token.expand(batch, masked.shape[1], -1)
        mask_tokens = mask_tokens + mae.decoder_pos_emb(masked)
        full = torch.zeros(batch, num_patches, decoder_tokens.shape[-1])
        full[batch_range, unmasked] = unmasked_tokens
        full[batch_range, masked] = mask_tokens
        return mae.to_pixels(mae.decoder(full))
    finally:
        for hook in hooks:
            hook.remove()


# -- older releases' state dicts -------------------------------------------------------------
def _renamed(sd: dict, pairs: list[tuple[str, str]]) -> dict:
    out = {}
    for key, value in sd.items():
        for old, new in pairs:
            key = key.replace(old, new)
        out[key] = value
    return out


def layout_1_4(sd: dict) -> dict:
    """1.4.0-1.16.1 (e.g. 1.6.5): the same names, but a 3-D position table (1, rows, dim) and
    CLS token (1, c, dim)."""
    out = dict(sd)
    out["encoder.pos_embedding"] = sd["encoder.pos_embedding"].unsqueeze(0)
    out["encoder.cls_token"] = sd["encoder.cls_token"].unsqueeze(0)
    return out


def layout_1_2(sd: dict) -> dict:
    """1.0.2-1.2.x: PreNorm layers (`.0.fn.to_qkv`, `.1.norm`, `.1.fn.net.0/.3`), no final
    Transformer norms, `mlp_head` = (LayerNorm, Linear); the patch LayerNorms already there."""
    out = _renamed(
        layout_1_4(sd),
        [
            (".0.to_qkv.", ".0.fn.to_qkv."),
            (".0.to_out.", ".0.fn.to_out."),
            (".1.net.0.", ".1.norm."),
            (".1.net.1.", ".1.fn.net.0."),
            (".1.net.4.", ".1.fn.net.3."),
            ("encoder.mlp_head.", "encoder.mlp_head.1."),
        ],
    )
    for key in ("encoder.transformer.norm.", "decoder.norm."):
        for param in ("weight", "bias"):
            del out[key + param]
    dim = out["encoder.mlp_head.1.weight"].shape[1]
    out["encoder.mlp_head.0.weight"] = torch.full((dim,), 1.5)
    out["encoder.mlp_head.0.bias"] = torch.full((dim,), 0.25)
    return out


def layout_0_40(sd: dict) -> dict:
    """0.26.4-0.40.2: as 1.2.x, but the patch embedding is the Linear alone
    (`encoder.to_patch_embedding.1`, and `patch_to_emb` itself)."""
    out = layout_1_2(sd)
    for param in ("weight", "bias"):
        for gone in (
            "encoder.to_patch_embedding.1.",
            "encoder.to_patch_embedding.3.",
            "patch_to_emb.0.",
            "patch_to_emb.2.",
        ):
            del out[gone + param]
        out[f"encoder.to_patch_embedding.1.{param}"] = out.pop(
            f"encoder.to_patch_embedding.2.{param}"
        )
        out[f"patch_to_emb.{param}"] = out.pop(f"patch_to_emb.1.{param}")
    return out


def layout_1_0(sd: dict) -> dict:
    """1.0.0-1.0.1: the ViT of 1.2.x, but the MAE held only the first patch LayerNorm as
    `patch_to_emb` (and embedded with it alone)."""
    out = layout_1_2(sd)
    for param in ("weight", "bias"):
        out[f"patch_to_emb.{param}"] = out.pop(f"patch_to_emb.0.{param}")
        del out[f"patch_to_emb.1.{param}"], out[f"patch_to_emb.2.{param}"]
    return out


def as_release(mae: nn.Module, layout: str) -> nn.Module:
    """The pinned-release MAE with what `layout`'s release did not have replaced by
    nn.Identity (in place), so that `reference_forward` computes what that release did."""
    if layout in ("1.2", "0.40", "1.0"):
        mae.encoder.transformer.norm = nn.Identity()
        mae.decoder.norm = nn.Identity()
    if layout == "0.40":
        mae.patch_to_emb = nn.Sequential(nn.Identity(), mae.patch_to_emb[1], nn.Identity())
    if layout == "1.0":
        mae.patch_to_emb = mae.patch_to_emb[0]
    return mae


LAYOUTS = {"1.4": layout_1_4, "1.2": layout_1_2, "0.40": layout_0_40, "1.0": layout_1_0}
