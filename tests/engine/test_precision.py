"""int8 on the CPU and the 'auto' precision: accuracy, the choice rule, the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from mae_desktop.engine import MAEError, ModelSession, masks, resolve_dtype
from mae_desktop.engine import precision as prec
from mae_desktop.engine.device import PRECISIONS, dtype_name, supported_dtypes
from mae_desktop.engine.quantize import Int8Linear, int8_available, is_quantized

# what a measurement asks for: the candidates take turns, one pass each, round after round
ROUNDS = ["fp32", "bf16", "int8"] * (prec.WARMUP_PASSES + prec.TIMED_PASSES)

pytestmark = pytest.mark.skipif(not int8_available(), reason="torch runs no int8 products here")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Every test remembers its choices in its own file."""
    path = tmp_path / "precision.json"
    monkeypatch.setenv(prec.CACHE_ENV, str(path))
    return path


def _inputs():
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    return img, masks.random_mask((4, 4), 0.75, 0)


def test_int8_linear_is_close_to_the_float_layer():
    torch.manual_seed(0)
    lin = nn.Linear(96, 40)
    x = torch.randn(2, 7, 96) * 3 + 1  # off-centre activations: the zero point matters
    got, ref = Int8Linear(lin)(x), lin(x)
    assert got.shape == ref.shape and got.dtype == torch.float32
    # measured 0.5-1% of the output's range
    assert (got - ref).abs().max() <= 0.02 * ref.abs().max()
    no_bias = nn.Linear(96, 40, bias=False)
    assert (Int8Linear(no_bias)(x) - no_bias(x)).abs().max() <= 0.02 * no_bias(x).abs().max()


def test_int8_session_is_close_to_fp32_and_goes_back_exactly(hf_pair):
    """Tolerances: prediction within 3% of its largest value (measured 1.3%), masked PSNR
    within 0.02 dB (measured 0.0002), attention maps within 0.01 (measured 0.002)."""
    session = ModelSession.open(hf_pair[1], "cpu")
    img, mask = _inputs()
    ref = session.analyse(img, mask)
    pred = session.predict(img, mask)
    session.to("cpu", "int8")
    assert is_quantized(session.model) and session.info()["dtype"] == "int8"
    got = session.analyse(img, mask)
    assert got.reconstruction.dtype == "int8"
    assert np.abs(session.predict(img, mask) - pred).max() <= 0.03 * np.abs(pred).max()
    assert abs(got.reconstruction.masked_psnr - ref.reconstruction.masked_psnr) <= 0.02
    assert np.nanmax(np.abs(got.attention.maps - ref.attention.maps)) <= 0.01
    session.to("cpu", "bf16")  # from int8 to bf16, then back: the checkpoint's weights again
    session.to("cpu", "fp32")
    assert not is_quantized(session.model)
    np.testing.assert_array_equal(session.predict(img, mask), pred)


def test_int8_is_a_cpu_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert "int8" in supported_dtypes(torch.device("cpu"))
    assert resolve_dtype("int8", torch.device("cpu")) == torch.int8
    for device in (torch.device("cuda", 0), torch.device("mps")):
        assert "int8" not in supported_dtypes(device)
        with pytest.raises(MAEError, match=f"int8 runs on the CPU only, not on {device}"):
            resolve_dtype("int8", device)
    assert PRECISIONS == ("auto", "fp32", "fp16", "bf16", "int8")


def _pass(ms, psnr=None, weights=None):
    return prec.Pass(ms, psnr, weights)


def test_pick_takes_the_fastest_within_a_tenth_of_a_db():
    trials = prec.compare(
        {
            "fp32": _pass(100, 20.0),
            "bf16": _pass(50, 19.95),  # 2x, -0.05 dB: allowed
            "int8": _pass(40, 19.85),  # 2.5x but -0.15 dB: not allowed
        }
    )
    assert prec.pick(trials) == ("bf16", "bf16: 2.0x faster than fp32, -0.05 dB")
    trials = prec.compare({"fp32": _pass(100, 20.0), "int8": _pass(40, 20.05)})
    assert prec.pick(trials) == ("int8", "int8: 2.5x faster than fp32, +0.05 dB")


def test_pick_keeps_fp32_when_nothing_else_is_worth_it():
    trials = prec.compare(
        {"fp32": _pass(100, 20.0), "bf16": _pass(95, 20.0), "int8": _pass(30, 19.5)}
    )
    name, reason = prec.pick(trials)
    assert name == "fp32"
    assert "bf16 not faster (1.05x)" in reason
    assert "int8 changes the results (-0.50 dB, over 0.1 dB)" in reason


def test_encoder_only_models_are_judged_by_their_attention_weights():
    ref = np.full((2, 3, 5, 5), 0.2, np.float32)
    trials = prec.compare(
        {
            "fp32": _pass(100, None, ref),
            "int8": _pass(40, None, ref + 0.03),  # over ATTENTION_TOLERANCE (0.02)
            "bf16": _pass(60, None, ref + 0.01),
        }
    )
    assert {t.name: t.ok for t in trials} == {"fp32": True, "int8": False, "bf16": True}
    assert prec.pick(trials) == (
        "bf16",
        "bf16: 1.7x faster than fp32, attention weights off by up to 0.010",
    )


class FakeMeasure:
    """A fixed timing and PSNR table, keyed by the precision the session is in; records the
    passes it was asked for."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def __call__(self, session):
        name = dtype_name(session.dtype)
        self.calls.append(name)
        ms, psnr = self.table[name]
        return _pass(ms, psnr)


def _fake(monkeypatch, table, offered=("fp32", "bf16", "int8")):
    fake = FakeMeasure(table)
    monkeypatch.setattr(prec, "calibration_measure", lambda session: fake)
    monkeypatch.setattr(prec, "candidates", lambda device: list(offered))
    return fake


def test_auto_measures_chooses_and_remembers(hf_pair, monkeypatch, _cache):
    fake = _fake(monkeypatch, {"fp32": (90, 15.0), "bf16": (60, 14.98), "int8": (30, 14.99)})
    session = ModelSession.open(hf_pair[1], "cpu", "auto")
    assert fake.calls == ROUNDS
    assert session.dtype == torch.int8 and is_quantized(session.model)
    info = session.info()
    assert info["dtype"] == "int8"
    assert info["auto"] == "int8: 3.0x faster than fp32, -0.01 dB"
    entry = next(iter(json.loads(_cache.read_text())["choices"].values()))
    assert entry["dtype"] == "int8" and entry["measured"]["bf16"]["ok"] is True
    # the next start does not measure
    again = ModelSession.open(hf_pair[1], "cpu", "auto")
    assert fake.calls == ROUNDS
    assert again.info()["auto"] == info["auto"] and again.dtype == torch.int8
    # a precision named by the user is not auto's
    again.to("cpu", "fp32")
    assert again.auto is None and "auto" not in again.info()


def test_a_damaged_cache_is_ignored_and_replaced(hf_pair, monkeypatch, _cache):
    fake = _fake(monkeypatch, {"fp32": (90, 15.0), "bf16": (88, 15.0), "int8": (30, 13.0)})
    for damage in ("{not json", '{"version": 1, "choices": []}', "[1, 2]", ""):
        _cache.write_text(damage)
        fake.calls.clear()
        session = ModelSession.open(hf_pair[1], "cpu", "auto")
        assert fake.calls == ROUNDS
        assert session.dtype == torch.float32 and session.auto.startswith("fp32: ")
        assert json.loads(_cache.read_text())["version"] == prec.CACHE_VERSION


def test_a_changed_checkpoint_is_measured_again(hf_pair, monkeypatch, _cache, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(hf_pair[1], folder)
    fake = _fake(monkeypatch, {"fp32": (90, 15.0), "bf16": (80, 15.0), "int8": (30, 15.0)})
    ModelSession.open(folder, "cpu", "auto")
    weights = next(folder.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # same bytes, new modification time
    import os

    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    ModelSession.open(folder, "cpu", "auto")
    assert fake.calls == ROUNDS * 2


def test_auto_for_real_on_the_test_model(hf_pair, _cache):
    """The real measurement: it picks one of the candidates, within the PSNR rule, fast."""
    import time

    t0 = time.perf_counter()
    session = ModelSession.open(hf_pair[1], "cpu", "auto")
    assert time.perf_counter() - t0 < 10
    entry = next(iter(json.loads(_cache.read_text())["choices"].values()))
    chosen = session.info()["dtype"]
    assert chosen in prec.candidates(torch.device("cpu")) and entry["dtype"] == chosen
    assert set(entry["measured"]) == set(prec.candidates(torch.device("cpu")))
    assert abs(entry["measured"][chosen]["psnr_delta_db"]) <= prec.PSNR_TOLERANCE_DB
    assert session.info()["auto"].startswith(f"{chosen}: ")
    img, mask = _inputs()
    assert session.reconstruct(img, mask).dtype == chosen
