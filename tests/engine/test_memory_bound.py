"""Memory is bounded before the first pass: a small file whose architecture would need tens
of GB is refused at open with what it needs and what would fit; an allocation that fails
anyway is "not enough memory", never an internal error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mae_desktop import cli
from mae_desktop.engine import memory, save_checkpoint
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.engine.session import ModelSession
from mae_desktop.training.train import PRESETS

SMALL = MAEConfig(**PRESETS["test"], norm_pix_loss=False)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A 9 MB checkpoint with a 4096 x 4096 input at patch 16: 65,537 tokens, whose two
    layers' attention maps alone are 2 x 2 x 65,537² x 4 bytes = 68.7 GB."""
    cfg = SMALL.replace(
        image_size=(4096, 4096),
        patch_size=16,
        depth=2,
        num_heads=2,
        decoder_depth=1,
        decoder_num_heads=2,
    )
    torch.manual_seed(0)
    model = MAEModel(cfg)
    init_weights(model)
    return save_checkpoint(tmp_path_factory.mktemp("wide") / "wide.safetensors", model)


def test_the_estimate_covers_the_attention_maps_a_pass_really_keeps(tmp_path):
    torch.manual_seed(0)
    model = MAEModel(SMALL)
    init_weights(model)
    session = ModelSession.open(save_checkpoint(tmp_path / "s.safetensors", model), "cpu")
    image = np.full((*SMALL.image_size, 3), 0.5, np.float32)
    nothing_masked = np.zeros(SMALL.grid_size, bool)
    for part in ("encoder", "decoder"):
        _, weights = session._forward(image, nothing_masked, True, part)
        # by hand: layers x heads x L x L float32, L = 16 patches + CLS = 17
        layers, heads = (
            (SMALL.depth, SMALL.num_heads)
            if part == "encoder"
            else (SMALL.decoder_depth, SMALL.decoder_num_heads)
        )
        assert weights.nbytes == layers * heads * 17 * 17 * 4
        assert weights.nbytes <= memory.pass_bytes(SMALL)


def test_a_small_file_that_would_need_68_gb_is_refused_at_open(wide, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(memory, "free_bytes", lambda device="cpu": 16 * 10**9)
    sample = Path(__file__).resolve().parents[2] / "mae_desktop/resources/samples/chelsea.png"
    code = cli.main(
        ["reconstruct", str(sample), "--checkpoint", str(wide), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err
    line = err.strip().splitlines()[-1]
    assert "wide.safetensors needs about" in line and "65,537 tokens" in line
    assert "16.0 GB free" in line and "tokens would fit" in line
    gb = float(line.split("needs about ")[1].split(" GB")[0])
    assert gb >= 2 * 2 * 65537**2 * 4 / 1e9  # at least the attention maps, by hand


def test_what_would_fit_does_fit(monkeypatch):
    cfg = SMALL.replace(image_size=(1024, 1024), patch_size=8)
    budget = 2 * 10**9
    monkeypatch.setattr(memory, "free_bytes", lambda device="cpu": budget)
    with pytest.raises(MAEError, match=r"about ([\d,]+) tokens would fit") as err:
        memory.check_pass_fits(cfg, "m")
    fits = int(str(err.value).split("about ")[-1].split(" tokens")[0].replace(",", ""))
    side = int((fits - 1) ** 0.5)
    smaller = cfg.replace(image_size=(side * 8, side * 8))
    assert memory.pass_bytes(smaller) <= budget * memory.USABLE_SHARE
    memory.check_pass_fits(smaller, "m")  # no error


def test_unknown_free_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr(memory, "free_bytes", lambda device="cpu": None)
    memory.check_pass_fits(SMALL.replace(image_size=(4096, 4096), patch_size=1), "m")


def test_a_failed_allocation_is_not_enough_memory(tmp_path):
    torch.manual_seed(0)
    model = MAEModel(SMALL)
    init_weights(model)
    session = ModelSession.open(save_checkpoint(tmp_path / "s.safetensors", model), "cpu")

    def allocate():
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 34359738368 bytes. Error code 12"
        )

    with pytest.raises(MAEError, match=r"not enough memory for one pass of s\.safetensors"):
        session._guarded(allocate)

    def other():
        raise RuntimeError("a shape mismatch")  # other errors stay what they are

    with pytest.raises(RuntimeError, match="shape mismatch"):
        session._guarded(other)


def test_each_layer_adds_its_attention_map_to_the_estimate():
    """By hand: a layer more keeps one more heads x L x L float32 map (L = 65 tokens here),
    and nothing else grows with depth."""
    cfg = SMALL.replace(image_size=(64, 64), num_heads=2, has_decoder=False)  # 8x8 + CLS
    assert cfg.num_patches == 64
    more = memory.pass_bytes(cfg.replace(depth=cfg.depth + 7)) - memory.pass_bytes(cfg)
    assert more == 7 * 2 * 65 * 65 * 4
