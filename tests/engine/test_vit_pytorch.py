"""vit-pytorch MAE files: our model reproduces vit-pytorch's own modules on the same weights
and mask, for the pinned release and the state-dict layouts of older ones; heads and input
normalisation can be set; duplicated and unused tensors are handled."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mae_desktop.cli import main
from mae_desktop.engine import MAEError, ModelSession, load_checkpoint, masks
from mae_desktop.engine.checkpoints import format_name
from mae_desktop.engine.config import IMAGENET_MEAN, IMAGENET_STD
from mae_desktop.engine.patches import patchify, unpatchify
from tests.vit_pytorch_reference import (
    LAYOUTS,
    as_release,
    image_tensor,
    make_mae,
    reference_forward,
)

MASKS = [
    masks.random_mask((4, 4), 0.75, seed=3),
    masks.random_mask((4, 4), 0.5, seed=4),
    masks.grid_mask((4, 4)),
]
ATOL = 1e-5


def _image(seed: int = 0, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size, 3), dtype=np.float32)


def _save(sd: dict, path) -> str:
    torch.save(sd, path)
    return str(path)


def _check(session: ModelSession, mae, img: np.ndarray, model_input: np.ndarray | None = None):
    """Our prediction of every patch equals vit-pytorch's, for each mask."""
    x = image_tensor(img if model_input is None else model_input)
    for mask in MASKS if session.config.grid_size == (4, 4) else [MASKS[0]]:
        ref = reference_forward(mae, x, mask)[0].numpy()
        ours = session.predict(img, mask)
        np.testing.assert_allclose(ours, ref, atol=ATOL, rtol=0)


def test_the_pinned_release_matches_ours(tmp_path):
    """vit-pytorch 1.26.14 (its MAE runs with a mean-pooling ViT: no CLS row)."""
    mae = make_mae(pool="mean")
    session = ModelSession.open(_save(mae.state_dict(), tmp_path / "mae.pt"), "cpu")
    assert session.checkpoint.format == "vit-pytorch"
    cfg = session.config
    assert cfg.image_size == (64, 64) and cfg.patch_size == 16 and not cfg.use_cls_token
    assert cfg.patch_norm_pre and cfg.patch_norm_post and cfg.encoder_norm and cfg.decoder_norm
    _check(session, mae, _image())


def test_its_own_forward_gives_our_loss(tmp_path, monkeypatch):
    """vit-pytorch's MAE.forward itself (its random mask made ours): the loss it returns is
    the mean squared error of our predictions of the masked patches."""
    mae = make_mae(seed=1)
    session = ModelSession.open(_save(mae.state_dict(), tmp_path / "mae.pt"), "cpu")
    img, mask = _image(1), MASKS[0]
    flat = mask.ravel()
    noise = np.where(flat, 0.0, 1000.0) + np.arange(flat.size)  # masked patches sort first
    monkeypatch.setattr(
        torch, "rand", lambda b, n, **_: torch.from_numpy(noise).float()[None].expand(b, -1)
    )
    mae.masking_ratio = (flat.sum() + 0.5) / flat.size
    with torch.no_grad():
        loss = float(mae(image_tensor(img)))
    pred = session.predict(img, mask)
    target = patchify(img, 16)
    ours = float(((pred[flat] - target[flat]) ** 2).mean())
    assert abs(ours - loss) < 1e-6


def test_attention_weights_match(tmp_path):
    mae = make_mae(seed=2)
    session = ModelSession.open(_save(mae.state_dict(), tmp_path / "mae.pt"), "cpu")
    img, mask = _image(2), MASKS[1]
    softmaxes: list[torch.Tensor] = []
    reference_forward(mae, image_tensor(img), mask, softmaxes)
    x, ids = session._inputs(img, mask)
    with torch.no_grad():
        latent, enc = session.model.forward_encoder(x, ids, need_weights=True)
        _, dec = session.model.forward_decoder(latent, ids, need_weights=True)
    assert len(softmaxes) == len(enc) + len(dec) == 4
    for ours, ref in zip(enc + dec, softmaxes, strict=True):
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("layout", "pool"),
    [("1.4", "cls"), ("1.4", "mean"), ("1.2", "cls"), ("0.40", "cls"), ("1.0", "cls")],
    ids=["1.6.5", "1.16.0-mean", "1.2-prenorm", "0.40-prenorm", "1.0-norm-only"],
)
def test_older_releases_layouts(tmp_path, layout, pool):
    """Layouts of 1.4.0-1.16.1 (3-D position table), 1.0.2-1.2.x (PreNorm layers), 0.26.4-
    0.40.2 (PreNorm, the patch Linear alone) and 1.0.0-1.0.1 (the MAE embedded patches with
    a LayerNorm alone: it only ran when a patch vector is as wide as the model)."""
    kw = {"image": 16, "patch": 4, "dim": 48} if layout == "1.0" else {}
    mae = make_mae(seed=3, pool=pool, **kw)
    sd = LAYOUTS[layout](mae.state_dict())
    session = ModelSession.open(_save(sd, tmp_path / "old.pt"), "cpu")
    cfg = session.config
    assert session.checkpoint.format == "vit-pytorch"
    assert cfg.encoder_norm == cfg.decoder_norm == (layout == "1.4")
    assert (cfg.patch_norm_pre, cfg.patch_norm_post) == {
        "0.40": (False, False),
        "1.0": (True, False),
    }.get(layout, (True, True))
    old_note = any("before 0.26.4" in n for n in session.checkpoint.notes)
    assert old_note == (layout == "0.40")
    _check(session, as_release(mae, layout), _image(3, cfg.image_size[0]))


def test_norm_only_release_needs_equal_widths(tmp_path):
    mae = make_mae(seed=3, pool="cls")  # patch vectors of 768 values, a 64-wide model
    path = _save(LAYOUTS["1.0"](mae.state_dict()), tmp_path / "old.pt")
    with pytest.raises(MAEError, match="768 values cannot enter a 64-wide model"):
        load_checkpoint(path)


def test_duplicated_patch_tensors_and_the_unused_classifier(tmp_path):
    mae = make_mae(seed=4)
    sd = mae.state_dict()
    img = _image(4)
    base = ModelSession.open(_save(sd, tmp_path / "a.pt"), "cpu").predict(img, MASKS[0])
    # the classifier head of the ViT is never used by the MAE
    other = {**sd, "encoder.mlp_head.weight": torch.randn_like(sd["encoder.mlp_head.weight"])}
    got = ModelSession.open(_save(other, tmp_path / "b.pt"), "cpu").predict(img, MASKS[0])
    np.testing.assert_array_equal(got, base)
    # one copy of the patch embedding is enough (safetensors files cannot hold shared tensors)
    for dropped in ("patch_to_emb.", "encoder.to_patch_embedding."):
        one = {k: v.clone() for k, v in sd.items() if not k.startswith(dropped)}
        save_file(one, tmp_path / "one.safetensors")
        got = ModelSession.open(tmp_path / "one.safetensors", "cpu").predict(img, MASKS[0])
        np.testing.assert_array_equal(got, base)
    # two copies that differ: not a file the MAE wrote
    bad = {k: v.clone() for k, v in sd.items()}
    bad["patch_to_emb.1.weight"] += 1
    with pytest.raises(MAEError, match=r"patch_to_emb.1.weight and .* differ"):
        load_checkpoint(_save(bad, tmp_path / "bad.pt"))
    extra = {**sd, "something.else": torch.zeros(2)}
    with pytest.raises(MAEError, match="unexpected tensors: something.else"):
        load_checkpoint(_save(extra, tmp_path / "extra.pt"))
    # num_classes=0 (1.20 on): no classifier at all
    none = make_mae(seed=4, num_classes=0)
    assert not any(k.startswith("encoder.mlp_head") for k in none.state_dict())
    load_checkpoint(_save(none.state_dict(), tmp_path / "none.pt"))


def test_head_counts_are_assumed_and_can_be_set(tmp_path):
    """Heads are not stored: 64 channels per head is assumed (vit-pytorch's default). A
    model with 4 heads of 32 channels is read as 2 heads until told."""
    mae = make_mae(seed=5, heads=4, dim_head=32, decoder_heads=4, decoder_dim_head=16)
    path = _save(mae.state_dict(), tmp_path / "mae.pt")
    ckpt = load_checkpoint(path)
    assert ckpt.assumed_heads == {"heads": 2, "decoder_heads": 1}
    assert any("64 channels per head" in n for n in ckpt.notes)
    img, mask = _image(5), MASKS[0]
    ref = reference_forward(mae, image_tensor(img), mask)[0].numpy()
    wrong = ModelSession.open(path, "cpu").predict(img, mask)
    assert np.abs(wrong - ref).max() > 1e-3
    right = ModelSession.open(path, "cpu", heads=4, decoder_heads=4)
    assert right.checkpoint.assumed_heads == {}
    np.testing.assert_allclose(right.predict(img, mask), ref, atol=ATOL, rtol=0)


def test_one_head_as_wide_as_the_model_has_no_output_projection(tmp_path):
    """vit-pytorch uses nn.Identity for to_out when one head spans the whole width."""
    mae = make_mae(seed=6, heads=1, dim_head=64, decoder_heads=1, decoder_dim_head=48)
    assert not any("to_out" in k for k in mae.state_dict())
    session = ModelSession.open(_save(mae.state_dict(), tmp_path / "mae.pt"), "cpu")
    assert session.checkpoint.assumed_heads == {"heads": 1, "decoder_heads": 1}
    _check(session, mae, _image(6))


def test_input_normalisation_defaults_to_raw_pixels_and_can_be_set(tmp_path):
    mae = make_mae(seed=7)
    path = _save(mae.state_dict(), tmp_path / "mae.pt")
    raw = ModelSession.open(path, "cpu")
    info = raw.info()
    assert raw.config.raw_pixels and info["input_norm"] is None
    assert info["normalization"] == "none (raw [0, 1] pixels)"
    assert "no input normalisation of its own" in info["normalization_source"]
    img, mask = _image(7), MASKS[0]
    for spec, mean, std in (
        ("imagenet", IMAGENET_MEAN, IMAGENET_STD),
        ("0.5:0.25", (0.5,) * 3, (0.25,) * 3),
    ):
        session = ModelSession.open(path, "cpu", input_norm=spec)
        assert session.config.mean == mean and session.config.std == std
        assert session.info()["input_norm"] == spec
        assert session.info()["normalization_source"] == "set by the user"
        m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        # the model sees the normalised image...
        ref = reference_forward(mae, image_tensor((img - m) / s), mask)[0].numpy()
        np.testing.assert_allclose(session.predict(img, mask), ref, atol=ATOL, rtol=0)
        # ...and its prediction is un-normalised into pixels
        pixels = unpatchify(ref, (4, 4), 16) * s + m
        np.testing.assert_allclose(session.reconstruct(img, mask).prediction, pixels, atol=ATOL)
    with pytest.raises(MAEError, match="std must be positive"):
        load_checkpoint(path, input_norm="0:0")


def test_info_names_the_format_and_the_normalisation(tmp_path, capsys):
    path = _save(make_mae(seed=8).state_dict(), tmp_path / "mae.pt")
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "vit-pytorch MAE (lucidrains)" in out
    assert "none (raw [0, 1] pixels) [assumed: vit-pytorch has no input normalisation" in out
    assert main(["info", path, "--json", "--input-norm", "imagenet", "--heads", "2"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_id"] == "vit-pytorch" and info["input_norm"] == "imagenet"
    assert info["normalization_source"] == "set by the user"
    assert info["assumed_heads"] == {"decoder_heads": 2}
    with pytest.raises(SystemExit) as exit_info:
        main(["info", path, "--input-norm", "0.5,0.5:1"])
    assert exit_info.value.code == 2
    assert "one or three" in capsys.readouterr().err


def test_reconstruct_with_an_input_normalisation(tmp_path, photo):
    path = _save(make_mae(seed=9).state_dict(), tmp_path / "mae.pt")
    out = tmp_path / "out"
    args = ["reconstruct", str(photo), "--checkpoint", path, "--out", str(out), "--save-arrays"]
    assert main([*args, "--input-norm", "imagenet"]) == 0
    session = ModelSession.open(path, "cpu", input_norm="imagenet")
    image = session.load_image(photo)
    mask = masks.generate("random", (4, 4), 0.75, 0)
    expected = session.reconstruct(image, mask).prediction
    np.testing.assert_allclose(np.load(out / "reconstruction.npy"), expected, atol=1e-5)


def test_format_names():
    assert format_name("vit-pytorch") == "vit-pytorch MAE (lucidrains)"
    assert format_name("seed") == format_name("paperweekly") == "PaperWeekly from-scratch MAE"


def test_vit_pytorch_patch_order_is_ours():
    """Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)'): pixel row, column, channel."""
    mae = make_mae()
    img = _image(10)
    theirs = mae.to_patch(image_tensor(img))[0].numpy()
    np.testing.assert_array_equal(theirs, patchify(img, 16))
