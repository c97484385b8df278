"""The fixed 2-D sin-cos position tables against the official MAE formula, written out here.

What a user relies on: a model trained by `mae-desktop train` (and every official or Hugging
Face MAE it is compared with) sees each patch's position the way facebookresearch/mae
encodes it, so the encoder's and the decoder's tables must be exactly the official ones,
also on non-square grids, where a swap of rows and columns changes what each row of the
table means without changing its size.

The reference is facebookresearch/mae `util/pos_embed.py` `get_2d_sincos_pos_embed`, with
its one square `grid_size` generalised to (gh, gw):

    grid_h = arange(gh); grid_w = arange(gw)
    grid = meshgrid(grid_w, grid_h)            # numpy's default 'xy': w goes first,
                                                # each of shape (gh, gw)
    emb_h = 1d(D/2, grid[0]); emb_w = 1d(D/2, grid[1]); emb = concat(emb_h, emb_w)
    1d(d, pos): omega = 1 / 10000 ** (arange(d/2) / (d/2)); out = outer(pos, omega)
                return concat(sin(out), cos(out))
    CLS slot: a zeros row in front

So the first half of the channels encodes the column index (grid[0] is grid_w spread over
the rows), the second half the row index, and patches are in row-major order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.model import MAEModel, init_weights, sincos_pos_embed
from tests.helpers import hf_small_config


def _official_1d(embed_dim: int, pos: np.ndarray) -> np.ndarray:
    """get_1d_sincos_pos_embed_from_grid, as in facebookresearch/mae."""
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def official_table(embed_dim: int, grid: tuple[int, int], cls_token: bool) -> np.ndarray:
    """get_2d_sincos_pos_embed of facebookresearch/mae for a (gh, gw) grid: (1? + gh*gw, D)."""
    gh, gw = grid
    grid_h = np.arange(gh, dtype=np.float64)
    grid_w = np.arange(gw, dtype=np.float64)
    mesh = np.meshgrid(grid_w, grid_h)  # here w goes first
    mesh = np.stack(mesh, axis=0).reshape(2, 1, gh, gw)
    emb_h = _official_1d(embed_dim // 2, mesh[0])
    emb_w = _official_1d(embed_dim // 2, mesh[1])
    emb = np.concatenate([emb_h, emb_w], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)
    return emb


def _ours(embed_dim: int, grid: tuple[int, int], cls_slot: bool) -> np.ndarray:
    got = sincos_pos_embed(embed_dim, grid, cls_slot)
    assert got.dtype == torch.float32 and got.shape[0] == 1
    return got[0].numpy()


@pytest.mark.parametrize("grid", [(4, 4), (3, 5), (5, 3), (2, 7), (1, 6)])
@pytest.mark.parametrize("dim", [8, 16, 64, 192])
def test_table_is_the_official_formula(grid: tuple[int, int], dim: int) -> None:
    for cls in (True, False):
        want = official_table(dim, grid, cls)
        got = _ours(dim, grid, cls)
        assert got.shape == want.shape == (cls + grid[0] * grid[1], dim)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    gh=st.integers(1, 9),
    gw=st.integers(1, 9),
    quarter=st.integers(1, 24),
    cls=st.booleans(),
)
def test_table_is_the_official_formula_on_any_grid(
    gh: int, gw: int, quarter: int, cls: bool
) -> None:
    dim = 4 * quarter
    np.testing.assert_allclose(
        _ours(dim, (gh, gw), cls), official_table(dim, (gh, gw), cls), rtol=0, atol=1e-6
    )


def test_a_non_square_grid_spells_the_column_first_then_the_row() -> None:
    """On a 3x5 grid the patch at row 2, column 4 (index 2*5 + 4): channel 0 is sin(col)
    and channel D/4 is cos(col) at the lowest frequency 1; channels D/2 and 3D/4 the row."""
    dim, grid = 16, (3, 5)
    table = _ours(dim, grid, False)
    row, col = 2, 4
    vec = table[row * 5 + col]
    q = dim // 4
    assert vec[0] == pytest.approx(np.sin(col), abs=1e-6)
    assert vec[q] == pytest.approx(np.cos(col), abs=1e-6)
    assert vec[2 * q] == pytest.approx(np.sin(row), abs=1e-6)
    assert vec[3 * q] == pytest.approx(np.cos(row), abs=1e-6)
    # the highest frequency index q-1: omega = 1 / 10000 ** ((q - 1) / q)
    omega = 1.0 / 10000 ** ((q - 1) / q)
    assert vec[q - 1] == pytest.approx(np.sin(col * omega), abs=1e-6)
    assert vec[3 * q - 1] == pytest.approx(np.sin(row * omega), abs=1e-6)


def test_a_fresh_model_uses_the_official_tables_in_encoder_and_decoder() -> None:
    """init_weights (what `mae-desktop train` starts from) fills both tables, frozen, on a
    non-square image: encoder with its CLS slot, decoder with one exactly when the model
    uses a CLS token."""
    for use_cls in (True, False):
        cfg = MAEConfig(
            image_size=(24, 40),
            patch_size=8,
            embed_dim=32,
            depth=1,
            num_heads=2,
            attn_dim=32,
            mlp_hidden=64,
            decoder_embed_dim=16,
            decoder_depth=1,
            decoder_num_heads=2,
            decoder_attn_dim=16,
            decoder_mlp_hidden=32,
            use_cls_token=use_cls,
        )
        model = MAEModel(cfg)
        init_weights(model)
        assert cfg.grid_size == (3, 5)
        enc = model.pos_embed.detach()[0].numpy()
        dec = model.decoder_pos_embed.detach()[0].numpy()
        np.testing.assert_allclose(enc, official_table(32, (3, 5), True), rtol=0, atol=1e-6)
        np.testing.assert_allclose(dec, official_table(16, (3, 5), use_cls), rtol=0, atol=1e-6)
        assert not model.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad


def _transformers_tables(hidden: int, decoder_hidden: int, image: int, patch: int):
    """The (encoder, decoder) tables transformers' ViTMAE initialises itself with."""
    from transformers.models.vit_mae import modeling_vit_mae as hf

    cfg = hf_small_config(
        hidden_size=hidden,
        decoder_hidden_size=decoder_hidden,
        image_size=image,
        patch_size=patch,
        num_attention_heads=2,
        decoder_num_attention_heads=2,
    )
    n = (image // patch) ** 2
    emb = hf.ViTMAEEmbeddings(cfg)
    emb.initialize_weights()
    dec = hf.ViTMAEDecoder(cfg, num_patches=n)
    dec.initialize_weights(n)
    return emb.position_embeddings.detach()[0].numpy(), dec.decoder_pos_embed.detach()[0].numpy()


@pytest.mark.parametrize(
    ("hidden", "decoder_hidden", "image", "patch"), [(64, 32, 64, 16), (48, 24, 56, 8)]
)
def test_square_tables_match_transformers_vitmae(
    hidden: int, decoder_hidden: int, image: int, patch: int
) -> None:
    enc, dec = _transformers_tables(hidden, decoder_hidden, image, patch)
    g = image // patch
    assert np.abs(enc).sum() > 0  # it really initialised them
    np.testing.assert_allclose(_ours(hidden, (g, g), True), enc, rtol=0, atol=1e-6)
    np.testing.assert_allclose(_ours(decoder_hidden, (g, g), True), dec, rtol=0, atol=1e-6)
    # and the written-out formula agrees with transformers too (the reference is right)
    np.testing.assert_allclose(official_table(hidden, (g, g), True), enc, rtol=0, atol=1e-6)


def test_a_width_not_divisible_by_four_is_refused() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pos_embed(18, (2, 2), True)
