"""Format detection, our own format, and every way a checkpoint file can be bad."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mae_desktop.engine import MAEError, ModelSession, load_checkpoint, masks, save_checkpoint
from mae_desktop.engine.checkpoints import build_model
from tests.helpers import hf_model, hf_to_official


@pytest.fixture(scope="module")
def official_sd():
    return hf_to_official(hf_model(seed=3, layer_norm_eps=1e-6).state_dict())


def test_official_training_checkpoint_reads_args(tmp_path, official_sd):
    args = argparse.Namespace(
        model="mae_vit_base_patch16",
        norm_pix_loss=True,
        input_size=64,
        mask_ratio=0.75,
        output_dir="./out",
    )
    path = tmp_path / "checkpoint-10.pth"
    torch.save(
        {
            "model": official_sd,
            "optimizer": {"state": {}, "param_groups": []},
            "epoch": 10,
            "scaler": {"scale": 65536.0},
            "args": args,
        },
        path,
    )
    ckpt = load_checkpoint(path, heads=4, decoder_heads=2)
    assert ckpt.format == "official"
    assert ckpt.config.norm_pix_loss is True
    assert ckpt.target_source == "args.norm_pix_loss"
    assert ckpt.metadata["args"]["model"] == "mae_vit_base_patch16"


def test_official_bare_state_dict_and_ddp_prefix(tmp_path, official_sd):
    path = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in official_sd.items()}, path)
    ckpt = load_checkpoint(path, heads=4, decoder_heads=2)
    assert ckpt.format == "official" and ckpt.config.has_decoder
    assert ckpt.config.norm_pix_loss is False
    assert "unknown" in ckpt.target_source


def test_head_counts_are_assumed_and_said(tmp_path, official_sd):
    path = tmp_path / "m.pth"
    torch.save({"model": official_sd}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.config.num_heads == 1  # 64 wide: one 64-channel head
    assert any("encoder heads" in n for n in ckpt.notes)


def test_encoder_only_opens_for_attention_but_refuses_reconstruction(tmp_path, official_sd):
    enc = {
        k: v for k, v in official_sd.items() if not k.startswith("decoder") and k != "mask_token"
    }
    path = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": enc}, path)
    session = ModelSession.open(path, "cpu", heads=4)
    assert not session.config.has_decoder
    img = np.zeros((64, 64, 3), np.float32)
    mask = masks.random_mask((4, 4), 0.75)
    maps = session.attention(img, mask).maps
    assert maps.shape == (2, 4, 4, 4)
    with pytest.raises(MAEError, match="no decoder"):
        session.reconstruct(img, mask)


def test_partial_decoder_lists_missing_tensors(tmp_path, official_sd):
    sd = dict(official_sd)
    del sd["decoder_blocks.1.mlp.fc2.bias"]
    path = tmp_path / "broken.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(MAEError, match=r"missing tensor.*decoder_blocks\.1\.mlp\.fc2\.bias"):
        build_model(load_checkpoint(path, heads=4, decoder_heads=2))


def test_unexpected_tensors_are_listed(tmp_path, official_sd):
    sd = dict(official_sd, **{"head.weight": torch.zeros(10, 64)})
    path = tmp_path / "extra.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(MAEError, match=r"unexpected tensors: head\.weight"):
        load_checkpoint(path, heads=4, decoder_heads=2)


def test_wrong_shapes_are_listed(tmp_path, official_sd):
    sd = dict(official_sd)
    sd["blocks.0.mlp.fc2.weight"] = torch.zeros(64, 95)
    path = tmp_path / "shape.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(MAEError, match=r"wrong shape: blocks\.0\.mlp\.fc2\.weight"):
        build_model(load_checkpoint(path, heads=4, decoder_heads=2))


def test_unknown_layout_names_known_formats(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(3), "fc.bias": torch.zeros(2)}, path)
    with pytest.raises(MAEError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "unrecognised checkpoint layout" in msg and "conv1.weight" in msg
    assert "Hugging Face" in msg and "PaperWeekly" in msg and "facebookresearch" in msg


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": _Exploit(str(marker))}, path)
    with pytest.raises(MAEError, match="refusing to load evil.pth"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken"])
def test_garbage_torch_files(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(MAEError, match="cannot read bad.pth"):
        load_checkpoint(path)


def test_garbage_safetensors(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(MAEError, match="not a valid safetensors file"):
        load_checkpoint(path)


def test_missing_path_and_folder_without_config(tmp_path):
    with pytest.raises(MAEError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pth")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "weights.bin").write_bytes(b"x")
    with pytest.raises(MAEError, match="no config.json"):
        load_checkpoint(tmp_path / "folder")


def test_hf_folder_without_weights(tmp_path, hf_pair):
    _, folder = hf_pair
    target = tmp_path / "noweights"
    target.mkdir()
    (target / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(MAEError, match="no model.safetensors"):
        load_checkpoint(target)


def _hf_copy(tmp_path, folder, **config_changes):
    """A copy of a Hugging Face folder with some config.json entries changed."""
    target = tmp_path / "copy"
    target.mkdir(exist_ok=True)
    cfg = json.loads((folder / "config.json").read_text())
    (target / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    (target / "config.json").write_text(json.dumps(dict(cfg, **config_changes)))
    return target


def test_hf_config_activation_and_type_checked(tmp_path, hf_pair):
    with pytest.raises(MAEError, match="activation 'relu'"):
        load_checkpoint(_hf_copy(tmp_path, hf_pair[1], hidden_act="relu"))
    with pytest.raises(MAEError, match="not vit_mae"):
        load_checkpoint(_hf_copy(tmp_path, hf_pair[1], model_type="bert"))


def test_hf_norm_pix_from_config(tmp_path, hf_pair):
    ckpt = load_checkpoint(_hf_copy(tmp_path, hf_pair[1], norm_pix_loss=True))
    assert ckpt.config.norm_pix_loss and ckpt.target_source == "config.json norm_pix_loss"


@pytest.mark.parametrize("half", [False, True])
def test_own_format_round_trip(tmp_path, hf_pair, half):
    _, folder = hf_pair
    src = ModelSession.open(folder, "cpu")
    path = save_checkpoint(tmp_path / "own.safetensors", src.model, {"data": "test"}, half=half)
    back = ModelSession.open(path, "cpu")
    assert back.checkpoint.format == "mae-desktop"
    assert back.config == src.config
    assert back.checkpoint.metadata == {"data": "test"}
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    mask = masks.random_mask((4, 4), 0.75)
    tol = 2e-2 if half else 0.0
    np.testing.assert_allclose(back.predict(img, mask), src.predict(img, mask), atol=tol)


def test_own_format_damaged_metadata(tmp_path, hf_pair):
    _, folder = hf_pair
    path = save_checkpoint(tmp_path / "own.safetensors", ModelSession.open(folder).model)
    tensors = load_file(path)
    save_file(tensors, str(path), metadata={"mae_desktop": json.dumps({"format_version": 1})})
    with pytest.raises(MAEError, match="metadata is damaged"):
        load_checkpoint(path)
    save_file(tensors, str(path), metadata={"mae_desktop": json.dumps({"format_version": 99})})
    with pytest.raises(MAEError, match="version 99"):
        load_checkpoint(path)


def test_sha256_is_of_the_file(tmp_path, official_sd):
    import hashlib

    path = tmp_path / "m.pth"
    torch.save({"model": official_sd}, path)
    expected = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert load_checkpoint(path, heads=4, decoder_heads=2).sha256() == expected


def _official_base_width() -> dict[str, torch.Tensor]:
    """An official-layout dict 768 wide (ViT-B's width; one block, small MLPs) with a 512-wide
    decoder: the widths of mae_vit_base_patch16, at a fraction of its size."""
    model = hf_model(
        seed=6,
        hidden_size=768,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=64,
        decoder_hidden_size=512,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=16,
        decoder_intermediate_size=64,
        layer_norm_eps=1e-6,
    )
    return hf_to_official(model.state_dict())


def test_args_model_of_a_training_checkpoint_gives_the_head_counts(tmp_path):
    sd = _official_base_width()
    path = tmp_path / "checkpoint-1.pth"
    args = argparse.Namespace(model="mae_vit_base_patch16_dec512d8b", norm_pix_loss=False)
    torch.save({"model": sd, "args": args}, path)
    ckpt = load_checkpoint(path)
    assert (ckpt.config.num_heads, ckpt.config.decoder_num_heads) == (12, 16)
    assert ckpt.assumed_heads == {} and not any("assumed" in n for n in ckpt.notes)
    info = ModelSession(ckpt, build_model(ckpt), torch.device("cpu"), torch.float32).info()
    assert info["assumed_heads"] == {} and info["heads"] == 12

    # a name that does not fit the tensors is not believed: the counts are assumed, and said
    args.model = "mae_vit_large_patch16"
    torch.save({"model": sd, "args": args}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.assumed_heads == {"heads": 12, "decoder_heads": 16}
    assert any("ignored" in n for n in ckpt.notes)
    # explicit counts beat both
    assert load_checkpoint(path, heads=6, decoder_heads=8).assumed_heads == {}


def test_unknown_widths_assume_64_channels_per_head_and_32_in_the_decoder(tmp_path):
    """An official-layout file of widths that no standard size has (128 and 64): the head
    counts are assumed at 64 channels per encoder head and 32 per decoder head, and said."""
    model = hf_model(
        seed=6,
        hidden_size=128,
        num_attention_heads=2,
        decoder_hidden_size=64,
        decoder_num_attention_heads=2,
        layer_norm_eps=1e-6,
    )
    path = tmp_path / "odd-widths.pth"
    torch.save({"model": hf_to_official(model.state_dict())}, path)
    ckpt = load_checkpoint(path)
    assert (ckpt.config.embed_dim, ckpt.config.decoder_embed_dim) == (128, 64)
    assert (ckpt.config.num_heads, ckpt.config.decoder_num_heads) == (2, 2)
    assert ckpt.assumed_heads == {"heads": 2, "decoder_heads": 2}
    assert any("encoder heads: 2" in n for n in ckpt.notes)
    assert any("decoder heads: 2" in n for n in ckpt.notes)
