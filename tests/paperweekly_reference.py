"""The PaperWeekly article's ViT/MAE classes (indentation restored), as an independent
reference.

Only change from the article: `predict_with` takes the masked/visible indices instead of
drawing a random shuffle, so a test can feed the same mask to both implementations.
"""

from __future__ import annotations

import torch
from torch import nn


class PreNorm(nn.Module):
    def __init__(self, dim, net):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.net = net

    def forward(self, x):
        return self.net(self.norm(x))


class SelfAttention(nn.Module):
    def __init__(self, dim, num_heads=8, dim_per_head=64):
        super().__init__()
        self.num_heads = num_heads
        self.scale = dim_per_head**-0.5
        inner = dim_per_head * num_heads
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        project_out = not (num_heads == 1 and dim_per_head == dim)
        self.out = (
            nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.0)) if project_out else nn.Identity()
        )

    def forward(self, x):
        b, n, _ = x.shape
        qkv = self.to_qkv(x).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        z = (attn @ v).transpose(1, 2).reshape(b, n, -1)
        return self.out(z)


class FFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(0.0),
            nn.Linear(hidden, dim),
            nn.Dropout(0.0),
        )

    def forward(self, x):
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, dim, mlp_dim, depth, num_heads, dim_per_head):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(dim, SelfAttention(dim, num_heads, dim_per_head)),
                    PreNorm(dim, FFN(dim, mlp_dim)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x):
        for attn, ffn in self.layers:
            x = x + attn(x)
            x = x + ffn(x)
        return x


class ViT(nn.Module):
    def __init__(
        self,
        image_size,
        patch_size,
        num_classes=10,
        dim=64,
        depth=2,
        num_heads=2,
        mlp_dim=96,
        dim_per_head=32,
    ):
        super().__init__()
        self.patch_h = self.patch_w = patch_size
        n = (image_size // patch_size) ** 2
        self.patch_embed = nn.Linear(3 * patch_size * patch_size, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim))
        self.transformer = Transformer(dim, mlp_dim, depth, num_heads, dim_per_head)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))


class MAE(nn.Module):
    def __init__(
        self, encoder, decoder_dim, decoder_depth=1, num_decoder_heads=8, decoder_dim_per_head=64
    ):
        super().__init__()
        self.encoder = encoder
        self.patch_h, self.patch_w = encoder.patch_h, encoder.patch_w
        n_plus_1, encoder_dim = encoder.pos_embed.shape[-2:]
        pixels = encoder.patch_embed.weight.size(1)
        self.enc_to_dec = (
            nn.Linear(encoder_dim, decoder_dim) if encoder_dim != decoder_dim else nn.Identity()
        )
        self.mask_embed = nn.Parameter(torch.randn(decoder_dim))
        self.decoder = Transformer(
            decoder_dim, decoder_dim * 4, decoder_depth, num_decoder_heads, decoder_dim_per_head
        )
        self.decoder_pos_embed = nn.Embedding(n_plus_1 - 1, decoder_dim)
        self.head = nn.Linear(decoder_dim, pixels)

    @torch.no_grad()
    def predict_with(self, x, mask_ind, unmask_ind):
        """x (1, 3, H, W) raw [0, 1]; index tensors (1, M) and (1, K) -> predicted pixel
        values of every patch (1, N, P): the article's `recons_patches` before un-patchify,
        with the visible patches also predicted (by the same head) for comparison."""
        b, c, h, w = x.shape
        ph, pw = self.patch_h, self.patch_w
        n = (h // ph) * (w // pw)
        patches = x.view(b, c, h // ph, ph, w // pw, pw).permute(0, 2, 4, 3, 5, 1).reshape(b, n, -1)
        batch_ind = torch.arange(b).unsqueeze(-1)
        unmask_patches = patches[batch_ind, unmask_ind]
        tokens = self.encoder.patch_embed(unmask_patches)
        tokens = tokens + self.encoder.pos_embed.repeat(b, 1, 1)[batch_ind, unmask_ind + 1]
        encoded = self.encoder.transformer(tokens)
        enc_to_dec = self.enc_to_dec(encoded)
        num_masked = mask_ind.shape[1]
        mask_tokens = self.mask_embed[None, None, :].repeat(b, num_masked, 1)
        mask_tokens = mask_tokens + self.decoder_pos_embed(mask_ind)
        concat = torch.cat([mask_tokens, enc_to_dec], dim=1)
        shuffle = torch.cat([mask_ind, unmask_ind], dim=1)
        dec_in = torch.empty_like(concat)
        dec_in[batch_ind, shuffle] = concat
        decoded = self.decoder(dec_in)
        return self.head(decoded)
