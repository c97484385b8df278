"""The checkpoint formats are records in one list: each format's file is detected by its
own record and by no record before it (the loader takes the first that accepts), every
record names itself in words users know, and what `info` reports comes from the records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mae_desktop.engine import formats
from mae_desktop.engine.checkpoints import (
    FORMAT_NAMES,
    FORMATS,
    _open,
    format_name,
    load_checkpoint,
    save_checkpoint,
)
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.training.train import PRESETS
from tests.helpers import hf_to_official


def _sample(kind: str, tmp_path: Path, hf_pair) -> Path:
    """A small checkpoint of the format `kind`, made the way its own tools save it."""
    if kind == "mae-desktop":
        torch.manual_seed(0)
        model = MAEModel(MAEConfig(**PRESETS["test"], norm_pix_loss=False))
        init_weights(model)
        return save_checkpoint(tmp_path / "ours.safetensors", model)
    if kind == "huggingface":
        return hf_pair[1]
    if kind == "official":
        torch.save({"model": hf_to_official(hf_pair[0].state_dict())}, tmp_path / "off.pth")
        return tmp_path / "off.pth"
    if kind == "paperweekly":
        from tests.engine.test_equivalence import _paperweekly_model

        torch.save(_paperweekly_model().state_dict(), tmp_path / "pw.pth")
        return tmp_path / "pw.pth"
    from tests.vit_pytorch_reference import make_mae

    torch.save(make_mae().state_dict(), tmp_path / "vp.pth")
    return tmp_path / "vp.pth"


KINDS = ["mae-desktop", "huggingface", "official", "paperweekly", "vit-pytorch"]


def test_every_format_has_a_record_and_the_list_is_the_one_source():
    ids = [r.id for r in formats.RECORDS]
    assert sorted(ids) == sorted(KINDS) and len(set(ids)) == len(ids)
    assert {r.id: r.description for r in formats.RECORDS} == FORMATS
    assert {r.id: r.name for r in formats.RECORDS} == FORMAT_NAMES
    for r in formats.RECORDS:
        assert r.name and r.description and r.family and r.norm_source
        assert format_name(r.id) == r.name
        for alias in r.aliases:
            assert format_name(alias) == r.name and formats.by_id(alias) is r
    assert format_name("seed") == "PaperWeekly from-scratch MAE"  # metrics.json of old runs
    assert format_name("no-such") == "no-such"


@pytest.mark.parametrize("kind", KINDS)
def test_each_file_is_taken_by_its_own_record_first(kind, tmp_path, hf_pair):
    path = _sample(kind, tmp_path, hf_pair)
    opened = _open(path)
    accepting = [r.id for r in formats.RECORDS if r.detect(opened)]
    assert accepting[:1] == [kind], accepting
    ckpt = load_checkpoint(path, heads=2, decoder_heads=2)
    assert ckpt.format == kind
    record = formats.by_id(kind)
    if kind not in ("huggingface", "mae-desktop"):  # these read their normalisation
        assert ckpt.norm_source == record.norm_source
