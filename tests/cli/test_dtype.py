"""--dtype on the command line: int8 (CPU), auto (measured and remembered), refusals."""

from __future__ import annotations

import json

import pytest
import torch

from mae_desktop import cli
from mae_desktop.engine import precision as prec
from mae_desktop.engine.device import PRECISIONS
from mae_desktop.engine.quantize import int8_available


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _reconstruct(folder, photo, out, *extra):
    return ["reconstruct", photo, "--checkpoint", folder, "--out", out, *extra]


def test_the_option_offers_every_precision(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reconstruct", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(PRECISIONS) + "}" in text and "default fp32" in text


@pytest.mark.skipif(not int8_available(), reason="torch runs no int8 products here")
def test_int8_reconstructs_and_says_so(hf_pair, photo, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(
        _reconstruct(hf_pair[1], photo, out, "--device", "cpu", "--dtype", "int8"), capsys
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dtype"] == "int8" and metrics["device"] == "cpu"
    assert isinstance(metrics["masked_psnr_db"], float)


def test_auto_says_what_it_chose(hf_pair, photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(prec.CACHE_ENV, str(tmp_path / "precision.json"))
    out = tmp_path / "out"
    code, _, err = run(
        _reconstruct(hf_pair[1], photo, out, "--device", "cpu", "--dtype", "auto"), capsys
    )
    assert code == 0, err
    chosen = json.loads((out / "metrics.json").read_text())["dtype"]
    assert chosen in prec.candidates(torch.device("cpu"))
    assert f"note: precision auto chose {chosen}: " in err
    assert (tmp_path / "precision.json").is_file()


def test_int8_on_a_gpu_is_refused_clearly(hf_pair, photo, tmp_path, capsys, monkeypatch):
    """No GPU needed: the device is faked as present, and the refusal comes before any
    tensor goes there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    code, _, err = run(
        _reconstruct(hf_pair[1], photo, tmp_path / "o", "--device", "cuda", "--dtype", "int8"),
        capsys,
    )
    assert code != 0
    assert "int8 runs on the CPU only, not on cuda:0" in err
