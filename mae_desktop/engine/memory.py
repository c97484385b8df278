"""How much memory one pass needs, estimated from the config before anything runs (no Qt).

A small checkpoint can declare an in-range architecture whose pass needs tens of GB: with
4,096 tokens, the attention maps the app keeps (every layer's, to show any layer) are
layers x heads x tokens² floats. The estimate is the worst case the user can reach (nothing
masked, so every patch is a token), counted as:

- the attention maps kept: per branch, layers x heads x L² x 4 bytes (float32 copies);
- the largest transient of one block: the attention matrix being computed (heads x L² in the
  compute precision, twice: scores and softmax) plus the block's activations (L x (3 x
  attention width + MLP width + 4 x width));

with L = patches + the CLS token. `check_pass_fits` refuses a model whose estimate exceeds
the memory this machine has free (CPU: MemAvailable; CUDA: the device's free memory), saying
what would fit. Where free memory cannot be read, nothing is refused.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .config import MAEConfig
from .errors import MAEError

FLOAT = 4
MEMINFO = Path("/proc/meminfo")
# the share of the free memory one pass may take (the rest: the app, the OS, other programs)
USABLE_SHARE = 0.8


def _branch_bytes(
    tokens: int, layers: int, heads: int, width: int, attn: int, mlp: int, act_bytes: int
) -> tuple[int, int]:
    """(attention maps kept, largest transient of one block) for one branch."""
    kept = layers * heads * tokens * tokens * FLOAT
    transient = 2 * heads * tokens * tokens * act_bytes
    transient += tokens * (3 * attn + mlp + 4 * width) * act_bytes
    return kept, transient


def pass_bytes(cfg: MAEConfig, act_bytes: int = FLOAT) -> int:
    """Bytes one pass can need at most (nothing masked, attention of every layer kept)."""
    tokens = cfg.num_patches + (1 if cfg.use_cls_token else 0)
    kept, transient = _branch_bytes(
        tokens, cfg.depth, cfg.num_heads, cfg.embed_dim, cfg.attn_dim, cfg.mlp_hidden, act_bytes
    )
    if cfg.has_decoder:
        dk, dt = _branch_bytes(
            tokens,
            cfg.decoder_depth,
            cfg.decoder_num_heads,
            cfg.decoder_embed_dim,
            cfg.decoder_attn_dim,
            cfg.decoder_mlp_hidden,
            act_bytes,
        )
        kept, transient = max(kept, dk), max(transient, dt)  # one branch's maps at a time
    return kept + transient


def free_bytes(device: str = "cpu") -> int | None:
    """Memory free for a pass on `device` ('cpu' or 'cuda:N'), None when unknown."""
    if device.startswith("cuda"):
        try:
            import torch

            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except Exception:  # no driver, another kind of GPU: unknown, not an error
            return None
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_pass_fits(cfg: MAEConfig, name: str, device: str = "cpu") -> None:
    """Refuse (MAEError) a model whose pass would not fit in this machine's free memory,
    naming what it needs, what is free and the token count that would fit."""
    free = free_bytes(device)
    if free is None:
        return
    need = pass_bytes(cfg)
    budget = free * USABLE_SHARE
    if need <= budget:
        return
    tokens = cfg.num_patches + (1 if cfg.use_cls_token else 0)
    fits = tokens
    while fits > 1 and pass_bytes(_with_tokens(cfg, fits)) > budget:
        fits = int(fits * 0.9)
    side = int(math.sqrt(max(fits - 1, 1))) * cfg.patch_size
    raise MAEError(
        f"{name} needs about {_gb(need)} for one pass ({tokens:,} tokens: attention maps of "
        f"{cfg.depth} layer{'s' * (cfg.depth != 1)} x {cfg.num_heads} "
        f"head{'s' * (cfg.num_heads != 1)}), more than the {_gb(free)} free on "
        f"{'the CPU' if device == 'cpu' else device}; about {fits:,} tokens would fit "
        f"(e.g. a {side}x{side} input at patch {cfg.patch_size})"
    )


def _with_tokens(cfg: MAEConfig, tokens: int) -> MAEConfig:
    """cfg with a square grid of about `tokens` tokens (for 'what would fit')."""
    side = max(1, int(math.sqrt(max(tokens - 1, 1))))
    return cfg.replace(image_size=(side * cfg.patch_size, side * cfg.patch_size))


__all__ = ["check_pass_fits", "free_bytes", "pass_bytes"]
