"""One MAE model class for every supported checkpoint format.

The patch embedding is a Linear map on patch vectors in (pixel row, pixel column, channel)
order. A Conv2d with kernel = stride = patch size (official MAE, Hugging Face) is exactly such
a map; the loaders reshape its weight. Only visible patches are embedded, so a 75% mask costs a
quarter of the embedding work.

Inference in float32 on the CPU runs every Linear layer through oneDNN with the bias, the
MLP's GELU and the residual additions done inside the matrix product, and (for models whose
Linear weights take up to PACK_LIMIT_BYTES) with each weight reordered once into oneDNN's
blocked layout, kept beside the weight and redone whenever the weight changes. On an
AVX-512 CPU a ViT-B pass then reaches about 90% of the machine's fp32 matmul roofline
instead of about 67% with `F.linear` (MKL sgemm repacks each weight on every call, and
writes the bias and every GELU and residual sum in passes of their own); see
benchmarks/bench_fp32_profile.py. The products are float32 like F.linear's, summed in
another order (about 1e-6 relative apart). Training, other dtypes, other devices and
builds without oneDNN use the plain layers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import MAEConfig

# Linear weights up to this size (float32 bytes, the whole model) get a reordered copy: ViT-B
# (0.45 GB) does; ViT-L and larger run oneDNN on the plain weights (no extra memory, about
# half the gain).
PACK_LIMIT_BYTES = 1 << 30
_PACK_HINT = 64  # rows the layout is chosen for; inputs of any row count run on it


@functools.cache
def onednn_linear_works() -> bool:
    """Whether this torch build has oneDNN's fused Linear and it agrees with F.linear (checked
    once, on a small product with each post-operation used here)."""
    try:
        ops = torch.ops.mkldnn
        if not torch.backends.mkldnn.is_available():
            return False
        with torch.inference_mode():
            gen = torch.Generator().manual_seed(0)
            x, r = torch.randn(2, 3, 8, generator=gen), torch.randn(2, 3, 5, generator=gen)
            w, b = torch.randn(5, 8, generator=gen), torch.randn(5, generator=gen)
            packed = ops._reorder_linear_weight(w, _PACK_HINT)
            ref = F.linear(x, w, b)
            got = (
                ops._linear_pointwise(x, packed, b, "none", [], ""),
                ops._linear_pointwise(x, w, b, "gelu", [], "none"),
                ops._linear_pointwise.binary(x, r, packed, b, "add"),
            )
            want = (ref, F.gelu(ref), ref + r)
            pairs = zip(got, want, strict=True)
            return all(torch.allclose(g, e, rtol=1e-5, atol=1e-5) for g, e in pairs)
    except (AttributeError, RuntimeError):
        return False


def _onednn_weight(layer: nn.Module, x: torch.Tensor, pack: bool) -> torch.Tensor | None:
    """The weight to run a plain float32 nn.Linear with through oneDNN (reordered when
    `pack`), when this call is a float32 CPU inference (no autograd, no autocast); None
    otherwise: the layer then runs as it is (Int8Linear, bf16, CUDA, training)."""
    if (
        type(layer) is not nn.Linear
        or x.dtype != torch.float32
        or x.device.type != "cpu"
        or layer.weight.dtype != torch.float32
        or layer.weight.device.type != "cpu"
        or torch.is_grad_enabled()
        or torch.is_autocast_enabled("cpu")
        or not onednn_linear_works()
    ):
        return None
    w = layer.weight
    if not pack or w.is_inference():  # (made in inference mode: no version to follow)
        return w
    # the weight's storage and version: load_state_dict (in place), .to() and optimiser
    # steps each change one of them
    key = (w.data_ptr(), w._version, w.shape)
    cached = layer.__dict__.get("_onednn_weight")
    if cached is None or cached[0] != key:
        cached = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach(), _PACK_HINT))
        layer.__dict__["_onednn_weight"] = cached  # a plain attribute: not in the state dict
    return cached[1]


def linear(
    layer: nn.Module, x: torch.Tensor, gelu: str | None = None, pack: bool = True
) -> torch.Tensor:
    """layer(x), then GELU when asked (gelu: 'none' for erf, 'tanh'), fused on oneDNN."""
    w = _onednn_weight(layer, x, pack)
    if w is None:
        y = layer(x)
        return y if gelu is None else F.gelu(y, approximate=gelu)
    attr, algorithm = ("none", "") if gelu is None else ("gelu", gelu)
    return torch.ops.mkldnn._linear_pointwise(x, w, layer.bias, attr, [], algorithm)


def linear_add(
    layer: nn.Module, x: torch.Tensor, residual: torch.Tensor, pack: bool = True
) -> torch.Tensor:
    """residual + layer(x), the addition fused into the product on oneDNN."""
    w = _onednn_weight(layer, x, pack)
    if w is None:
        return residual + layer(x)
    return torch.ops.mkldnn._linear_pointwise.binary(x, residual, w, layer.bias, "add")


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (query, key, value row blocks)."""

    def __init__(self, dim: int, attn_dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        if attn_dim % num_heads:
            raise ValueError(f"attention width {attn_dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = attn_dim // num_heads
        self.qkv = nn.Linear(dim, 3 * attn_dim, bias=qkv_bias)
        self.proj = nn.Linear(attn_dim, dim)
        self.pack = True  # reorder the weights for oneDNN (MAEModel sets it per model)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, L, dim) -> (B, L, dim), and (B, heads, L, L) float32 weights if asked."""
        out, weights = self.mix(x, need_weights)
        return self.proj(out), weights

    def mix(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The heads' outputs before the output projection: (B, L, attn_dim), and the
        weights if asked (see forward)."""
        b, n, _ = x.shape
        qkv = linear(self.qkv, x, pack=self.pack)
        qkv = qkv.reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        weights = None
        if need_weights:
            # Eager path: fused kernels never materialise the weights.
            scores = (q @ k.transpose(-2, -1)) * (self.head_dim**-0.5)
            weights = scores.float().softmax(dim=-1)
            out = weights.to(v.dtype) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim)
        return out, weights


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh" if activation == "gelu_tanh" else "none")
        self.fc2 = nn.Linear(hidden, dim)
        self.pack = True  # as Attention.pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """act(fc1(x)), fused where it can be."""
        return linear(self.fc1, x, self.act.approximate, self.pack)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(
        self,
        dim: int,
        attn_dim: int,
        num_heads: int,
        mlp_hidden: int,
        qkv_bias: bool,
        eps: float,
        activation: str,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, attn_dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden, activation)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.attn.mix(self.norm1(x), need_weights)
        x = linear_add(self.attn.proj, out, x, self.attn.pack)
        x = linear_add(self.mlp.fc2, self.mlp.hidden(self.norm2(x)), x, self.mlp.pack)
        return x, weights


def _norm(enabled: bool, dim: int, eps: float) -> nn.Module:
    return nn.LayerNorm(dim, eps=eps) if enabled else nn.Identity()


class MAEModel(nn.Module):
    """Masked autoencoder: ViT encoder over visible patches, light decoder over all patches.

    Tensor names follow the official facebookresearch/mae model, except `patch_embed` which is
    a Linear (weight (embed_dim, patch_dim)) instead of a Conv2d, and the optional patch
    LayerNorms `patch_norm_pre` (over patch_dim) and `patch_norm_post` (over embed_dim).
    """

    def __init__(self, cfg: MAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # Called after every encoder and decoder block when set: a cooperative pause point
        # (the app's worker serves an urgent request there, or stops a long job).
        self.between_blocks: Callable[[], None] | None = None
        n = cfg.num_patches
        c = 1 if cfg.use_cls_token else 0
        d = cfg.embed_dim
        # vit-pytorch's ViT normalises the patch vector and the embedded token (absent: no
        # tensors, so other formats' state dicts are unchanged)
        self.patch_norm_pre = _norm(cfg.patch_norm_pre, cfg.patch_dim, cfg.norm_eps)
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.patch_norm_post = _norm(cfg.patch_norm_post, d, cfg.norm_eps)
        if cfg.use_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        # The encoder position table always has a CLS slot (the PaperWeekly MAE's too, unused).
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
        self.blocks = nn.ModuleList(
            Block(
                d,
                cfg.attn_dim,
                cfg.num_heads,
                cfg.mlp_hidden,
                cfg.qkv_bias,
                cfg.norm_eps,
                cfg.activation,
            )
            for _ in range(cfg.depth)
        )
        self.norm = _norm(cfg.encoder_norm, d, cfg.norm_eps)
        if cfg.has_decoder:
            dd = cfg.decoder_embed_dim
            self.decoder_embed = nn.Linear(d, dd)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
            self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n + c, dd))
            self.decoder_blocks = nn.ModuleList(
                Block(
                    dd,
                    cfg.decoder_attn_dim,
                    cfg.decoder_num_heads,
                    cfg.decoder_mlp_hidden,
                    cfg.decoder_qkv_bias,
                    cfg.norm_eps,
                    cfg.activation,
                )
                for _ in range(cfg.decoder_depth)
            )
            self.decoder_norm = _norm(cfg.decoder_norm, dd, cfg.norm_eps)
            self.decoder_pred = nn.Linear(dd, cfg.patch_dim)
        # oneDNN-ordered copies of the Linear weights for fp32 CPU inference: for models
        # up to PACK_LIMIT_BYTES of them (see the module docstring)
        linear_bytes = 4 * sum(
            m.in_features * m.out_features for m in self.modules() if isinstance(m, nn.Linear)
        )
        self.pack = linear_bytes <= PACK_LIMIT_BYTES
        for m in self.modules():
            if isinstance(m, (Attention, Mlp)):
                m.pack = self.pack

    def _apply(self, fn, recurse=True):
        """Under .to(), .float(), .cpu() and the like: drop the oneDNN copies of the weights
        (a moved weight keeps its object and version, and may reuse an old address)."""
        for m in self.modules():
            m.__dict__.pop("_onednn_weight", None)
        return super()._apply(fn, recurse)

    # -- encoder -------------------------------------------------------------------------
    def forward_encoder(
        self, patches: torch.Tensor, ids_keep: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode the visible patches.

        patches: (B, N, patch_dim) normalised patch vectors; ids_keep: (B, K) int64 indices of
        the visible patches. Returns the latent (B, [1 +] K, embed_dim) (CLS first when the
        model has one) and, if asked, each layer's attention weights (B, heads, L, L).
        """
        b = patches.shape[0]
        idx = ids_keep.unsqueeze(-1)
        x = patches.gather(1, idx.expand(-1, -1, patches.shape[-1]))
        x = linear(self.patch_embed, self.patch_norm_pre(x), pack=self.pack)
        x = self.patch_norm_post(x)
        pos = self.pos_embed[:, 1:].expand(b, -1, -1)
        x = x + pos.gather(1, idx.expand(-1, -1, x.shape[-1]))
        if self.cfg.use_cls_token:
            cls = (self.cls_token + self.pos_embed[:, :1]).expand(b, -1, -1)
            x = torch.cat([cls, x], dim=1)
        weights: list[torch.Tensor] = []
        for blk in self.blocks:
            x, w = blk(x, need_weights)
            if w is not None:
                weights.append(w)
            if self.between_blocks is not None:
                self.between_blocks()
        return self.norm(x), weights

    # -- decoder -------------------------------------------------------------------------
    def forward_decoder(
        self, latent: torch.Tensor, ids_keep: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Predict every patch from the latent.

        latent: (B, [1 +] K, embed_dim); ids_keep: (B, K). Returns the prediction
        (B, N, patch_dim) in the model's target space and, if asked, each decoder layer's
        attention weights (B, heads, [1 +] N, [1 +] N).
        """
        cfg = self.cfg
        b = latent.shape[0]
        n = cfg.num_patches
        y = linear(self.decoder_embed, latent, pack=self.pack)
        c = 1 if cfg.use_cls_token else 0
        y_vis = y[:, c:]
        dd = y.shape[-1]
        idx = ids_keep.unsqueeze(-1).expand(-1, -1, dd)
        full = self.mask_token.to(y.dtype).expand(b, n, dd).scatter(1, idx, y_vis)
        pos = self.decoder_pos_embed[:, c:]
        if cfg.decoder_pos_on_visible:
            full = full + pos
        else:
            masked = torch.ones(b, n, 1, dtype=y.dtype, device=y.device)
            masked = masked.scatter(1, ids_keep.unsqueeze(-1), 0.0)
            full = full + pos * masked
        if c:
            full = torch.cat([y[:, :1] + self.decoder_pos_embed[:, :1], full], dim=1)
        weights: list[torch.Tensor] = []
        for blk in self.decoder_blocks:
            full, w = blk(full, need_weights)
            if w is not None:
                weights.append(w)
            if self.between_blocks is not None:
                self.between_blocks()
        pred = linear(self.decoder_pred, self.decoder_norm(full), pack=self.pack)
        return pred[:, c:], weights

    def forward(self, patches: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """patches (B, N, patch_dim), ids_keep (B, K) -> prediction (B, N, patch_dim)."""
        latent, _ = self.forward_encoder(patches, ids_keep)
        pred, _ = self.forward_decoder(latent, ids_keep)
        return pred

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def sincos_pos_embed(embed_dim: int, grid: tuple[int, int], cls_slot: bool) -> torch.Tensor:
    """Fixed 2-D sin-cos position table in the official MAE layout.

    Returns float32 (1, [1 +] gh*gw, embed_dim); the first half of the channels encodes the
    column (the official code's meshgrid puts w first), the second half the row; each half is
    [sin | cos] over geometric frequencies 1/10000**(i/(D/4)). The CLS slot is zeros.
    """
    if embed_dim % 4:
        raise ValueError("sin-cos position embeddings need a width divisible by 4")
    gh, gw = grid
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(gh, dtype=torch.float64),
        torch.arange(gw, dtype=torch.float64),
        indexing="ij",
    )
    ang_w = cols.reshape(-1, 1) * omega
    ang_h = rows.reshape(-1, 1) * omega
    table = torch.cat([ang_w.sin(), ang_w.cos(), ang_h.sin(), ang_h.cos()], dim=1)
    if cls_slot:
        table = torch.cat([torch.zeros(1, embed_dim, dtype=torch.float64), table])
    return table.float().unsqueeze(0)


def init_weights(model: MAEModel) -> None:
    """Initialise a fresh model the way official MAE pretraining does.

    Fixed sin-cos position tables (frozen), xavier-uniform Linear layers, N(0, 0.02) CLS and
    mask tokens, LayerNorm weight 1 and bias 0.
    """
    cfg = model.cfg
    with torch.no_grad():
        model.pos_embed.copy_(sincos_pos_embed(cfg.embed_dim, cfg.grid_size, True))
        model.pos_embed.requires_grad_(False)
        if cfg.has_decoder:
            model.decoder_pos_embed.copy_(
                sincos_pos_embed(cfg.decoder_embed_dim, cfg.grid_size, cfg.use_cls_token)
            )
            model.decoder_pos_embed.requires_grad_(False)
            nn.init.normal_(model.mask_token, std=0.02)
        if cfg.use_cls_token:
            nn.init.normal_(model.cls_token, std=0.02)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
