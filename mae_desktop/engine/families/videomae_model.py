"""VideoMAE / VideoMAE V2 pretraining models: the architecture and the nn.Module.

Both papers' models (MCG-NJU/VideoMAE, OpenGVLab/VideoMAEv2, and transformers'
`VideoMAEForPreTraining`) are one network: a Conv3d tubelet embedding (kernel = stride =
(tubelet, patch, patch)), a fixed 1-D sinusoid position table over the N tokens (row-major over
(time slot, row, column), as the Conv3d output flattens), pre-norm blocks whose qkv projection
has a query and a value bias but no key bias, an encoder LayerNorm (absent when transformers'
`use_mean_pooling` is set), a bias-free `encoder_to_decoder` Linear, a mask token, a second
sinusoid table for the decoder, decoder blocks, a decoder LayerNorm and a Linear head that
predicts tubelet*patch*patch*3 values per token.

Here the tubelet embedding is an nn.Linear on tubelet vectors in (time, pixel row, pixel
column, channel) order (the converters reshape the Conv3d weight), so only the visible tokens
are embedded. The decoder runs on [visible tokens, mask tokens] like VideoMAE's; its outputs
(and attention weights) are put back in token order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import IMAGENET_MEAN, IMAGENET_STD, config_from_dict

Pause = Callable[[], None] | None


@dataclass(frozen=True)
class VideoMAEConfig:
    """Everything needed to build a `VideoMAEModel` and feed it.

    image_size (H, W) and patch_size in pixels, num_frames and tubelet_size in frames, widths
    in channels. `norm_eps` is the LayerNorm eps of the blocks and the encoder norm;
    `decoder_norm_eps` that of the decoder's final norm (transformers builds it with PyTorch's
    default 1e-5, the official code with 1e-6). `use_mean_pooling` True means the encoder has
    no final LayerNorm (transformers' VideoMAEModel drops it then). `mean`/`std` normalise
    [0, 1] RGB frames before the model sees them. Defaults: the official ViT-B model.
    """

    image_size: tuple[int, int] = (224, 224)
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 2
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_hidden: int = 3072
    qkv_bias: bool = True
    decoder_embed_dim: int = 384
    decoder_depth: int = 4
    decoder_num_heads: int = 6
    decoder_mlp_hidden: int = 1536
    norm_eps: float = 1e-6
    decoder_norm_eps: float = 1e-6
    activation: str = "gelu"
    use_mean_pooling: bool = False
    norm_pix_loss: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """(T', H', W'): time slots, rows and columns of tokens."""
        h, w = self.image_size
        p = self.patch_size
        return self.num_frames // self.tubelet_size, h // p, w // p

    @property
    def num_tokens(self) -> int:
        t, h, w = self.token_grid
        return t * h * w

    @property
    def patch_dim(self) -> int:
        """Values of one tubelet vector: tubelet * patch * patch * channels."""
        return self.tubelet_size * self.patch_size * self.patch_size * self.in_chans

    @property
    def has_decoder(self) -> bool:
        """Always: only pretraining checkpoints (with their decoder) are read."""
        return True

    @property
    def use_cls_token(self) -> bool:
        return False

    @property
    def encoder_norm(self) -> bool:
        """Whether the encoder ends in a LayerNorm (not when use_mean_pooling)."""
        return not self.use_mean_pooling

    @property
    def geometry(self):
        """The family-independent shape (engine.geometry.Geometry): tubelets are both the
        tokens and the mask units."""
        from ..geometry import Geometry

        cell = (self.tubelet_size, self.patch_size, self.patch_size)
        return Geometry(self.num_frames, self.in_chans, tuple(self.image_size), cell, cell, False)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoMAEConfig:
        return config_from_dict(cls, d)

    def replace(self, **changes: Any) -> VideoMAEConfig:
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line, e.g. 'VideoMAE encoder 768x12 (12 heads), tubelet 2x16x16, 16 frames of
        224x224; decoder 384x4 (6 heads), norm_pix target'."""
        h, w = self.image_size
        p = self.patch_size
        target = "norm_pix" if self.norm_pix_loss else "pixel"
        return (
            f"VideoMAE encoder {self.embed_dim}x{self.depth} ({self.num_heads} heads), "
            f"tubelet {self.tubelet_size}x{p}x{p}, {self.num_frames} frames of {h}x{w}; "
            f"decoder {self.decoder_embed_dim}x{self.decoder_depth} "
            f"({self.decoder_num_heads} heads), {target} target"
        )


def expected_shapes(cfg: VideoMAEConfig) -> dict[str, tuple[int, ...]]:
    """The state dict VideoMAEModel(cfg) holds, name -> shape, worked out without building
    anything (the position tables are not in it: they are fixed and rebuilt)."""
    d, dd, pd = cfg.embed_dim, cfg.decoder_embed_dim, cfg.patch_dim
    out: dict[str, tuple[int, ...]] = {"patch_embed.weight": (d, pd), "patch_embed.bias": (d,)}

    def blocks(prefix: str, n: int, width: int, hidden: int) -> None:
        for i in range(n):
            b = f"{prefix}{i}."
            out[b + "norm1.weight"] = out[b + "norm1.bias"] = (width,)
            out[b + "attn.qkv.weight"] = (3 * width, width)
            if cfg.qkv_bias:
                out[b + "attn.q_bias"] = out[b + "attn.v_bias"] = (width,)
            out[b + "attn.proj.weight"] = (width, width)
            out[b + "attn.proj.bias"] = (width,)
            out[b + "norm2.weight"] = out[b + "norm2.bias"] = (width,)
            out[b + "mlp.fc1.weight"] = (hidden, width)
            out[b + "mlp.fc1.bias"] = (hidden,)
            out[b + "mlp.fc2.weight"] = (width, hidden)
            out[b + "mlp.fc2.bias"] = (width,)

    blocks("blocks.", cfg.depth, d, cfg.mlp_hidden)
    if cfg.encoder_norm:
        out["norm.weight"] = out["norm.bias"] = (d,)
    out["encoder_to_decoder.weight"] = (dd, d)
    out["mask_token"] = (1, 1, dd)
    blocks("decoder_blocks.", cfg.decoder_depth, dd, cfg.decoder_mlp_hidden)
    out["decoder_norm.weight"] = out["decoder_norm.bias"] = (dd,)
    out["decoder_pred.weight"] = (pd, dd)
    out["decoder_pred.bias"] = (pd,)
    return out


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """VideoMAE's 1-D position table: float32 (1, n, dim), entry (pos, j) =
    sin (j even) or cos (j odd) of pos / 10000 ** (2 * (j // 2) / dim), in float64 first."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.from_numpy(table).float().unsqueeze(0)


class QVAttention(nn.Module):
    """Self-attention with one qkv projection whose bias is [q_bias, 0, v_bias]."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = None
            self.v_bias = None
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, L, dim) -> (B, L, dim), and float32 (B, heads, L, L) weights if asked."""
        b, n, dim = x.shape
        bias = None
        if self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        weights = None
        if need_weights:
            scores = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)
            weights = scores.float().softmax(dim=-1)
            out = weights.to(v.dtype) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, dim)), weights


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh" if activation == "gelu_tanh" else "none")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(
        self, dim: int, heads: int, hidden: int, qkv_bias: bool, eps: float, activation: str
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = QVAttention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden, activation)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.attn(self.norm1(x), need_weights)
        x = x + out
        return x + self.mlp(self.norm2(x)), weights


def _masked_ids(ids_keep: torch.Tensor, n: int) -> torch.Tensor:
    """(B, N - K) indices of the tokens not in ids_keep, ascending (VideoMAE's order)."""
    visible = torch.zeros(ids_keep.shape[0], n, dtype=torch.int8, device=ids_keep.device)
    visible.scatter_(1, ids_keep, 1)
    order = torch.argsort(visible, dim=1, stable=True)  # hidden (0) first, each ascending
    return order[:, : n - ids_keep.shape[1]]


class VideoMAEModel(nn.Module):
    """VideoMAE pretraining network. Tensor names follow the official code's with the
    `encoder.` prefix dropped, `decoder.blocks` -> `decoder_blocks`, `decoder.norm` ->
    `decoder_norm`, `decoder.head` -> `decoder_pred`, and `patch_embed` a Linear (weight
    (embed_dim, patch_dim)). The position tables are non-persistent buffers."""

    def __init__(self, cfg: VideoMAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, dd, n = cfg.embed_dim, cfg.decoder_embed_dim, cfg.num_tokens
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.register_buffer("pos_embed", sinusoid_table(n, d), persistent=False)
        self.blocks = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.mlp_hidden, cfg.qkv_bias, cfg.norm_eps, cfg.activation)
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(d, eps=cfg.norm_eps) if cfg.encoder_norm else nn.Identity()
        self.encoder_to_decoder = nn.Linear(d, dd, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.register_buffer("decoder_pos_embed", sinusoid_table(n, dd), persistent=False)
        self.decoder_blocks = nn.ModuleList(
            Block(
                dd,
                cfg.decoder_num_heads,
                cfg.decoder_mlp_hidden,
                cfg.qkv_bias,
                cfg.norm_eps,
                cfg.activation,
            )
            for _ in range(cfg.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(dd, eps=cfg.decoder_norm_eps)
        self.decoder_pred = nn.Linear(dd, cfg.patch_dim)

    def forward_encoder(
        self,
        tokens: torch.Tensor,
        ids_keep: torch.Tensor,
        need_weights: bool = False,
        pause: Pause = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode the visible tokens.

        tokens: (B, N, patch_dim) normalised tubelet vectors; ids_keep: (B, K) int64 indices of
        the visible tokens. Returns the latent (B, K, embed_dim) in ids_keep's order and, if
        asked, each block's attention weights (B, heads, K, K). `pause` is called after every
        block (it may raise to stop).
        """
        idx = ids_keep.unsqueeze(-1)
        x = tokens.gather(1, idx.expand(-1, -1, tokens.shape[-1]))
        x = self.patch_embed(x)
        pos = self.pos_embed.to(x.dtype).expand(x.shape[0], -1, -1)
        x = x + pos.gather(1, idx.expand(-1, -1, x.shape[-1]))
        weights: list[torch.Tensor] = []
        for blk in self.blocks:
            x, w = blk(x, need_weights)
            if w is not None:
                weights.append(w)
            if pause is not None:
                pause()
        return self.norm(x), weights

    def forward_decoder(
        self,
        latent: torch.Tensor,
        ids_keep: torch.Tensor,
        need_weights: bool = False,
        pause: Pause = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Predict every token from the latent.

        latent: (B, K, embed_dim) as forward_encoder returns it; ids_keep: (B, K). The decoder
        runs on [visible tokens, mask tokens] (the hidden ones ascending), as VideoMAE's does.
        Returns the prediction (B, N, patch_dim) in token order (the hidden positions are
        VideoMAE's logits) and, if asked, each decoder block's attention weights
        (B, heads, N, N), rows and columns in token order.
        """
        n = self.cfg.num_tokens
        b = latent.shape[0]
        y = self.encoder_to_decoder(latent)
        dd = y.shape[-1]
        ids_mask = _masked_ids(ids_keep, n)
        pos = self.decoder_pos_embed.to(y.dtype).expand(b, -1, -1)
        pos_vis = pos.gather(1, ids_keep.unsqueeze(-1).expand(-1, -1, dd))
        pos_mask = pos.gather(1, ids_mask.unsqueeze(-1).expand(-1, -1, dd))
        x = torch.cat([y + pos_vis, self.mask_token.to(y.dtype) + pos_mask], dim=1)
        order = torch.cat([ids_keep, ids_mask], dim=1)  # sequence position -> token index
        where = torch.argsort(order, dim=1)  # token index -> sequence position
        weights: list[torch.Tensor] = []
        for blk in self.decoder_blocks:
            x, w = blk(x, need_weights)
            if w is not None:
                h = w.shape[1]
                rows = where[:, None, :, None].expand(b, h, n, n)
                cols = where[:, None, None, :].expand(b, h, n, n)
                weights.append(w.gather(2, rows).gather(3, cols))
            if pause is not None:
                pause()
        out = self.decoder_pred(self.decoder_norm(x))
        pred = out.gather(1, where.unsqueeze(-1).expand(-1, -1, out.shape[-1]))
        return pred, weights

    def forward(self, tokens: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, patch_dim), ids_keep (B, K) -> prediction (B, N, patch_dim)."""
        latent, _ = self.forward_encoder(tokens, ids_keep)
        return self.forward_decoder(latent, ids_keep)[0]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
