"""Device and precision choice; the CUDA paths run only where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mae_desktop.engine import MAEError, ModelSession, masks, resolve_device, resolve_dtype
from mae_desktop.engine.device import available_devices


def test_auto_prefers_cuda_then_cpu():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else dev.type)
    assert resolve_device("cpu") == torch.device("cpu")
    assert "cpu" in available_devices()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(MAEError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_bad_device_and_dtype():
    with pytest.raises(MAEError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(MAEError, match="fp16 is not available on cpu"):
        resolve_dtype("fp16", torch.device("cpu"))
    with pytest.raises(MAEError, match="unknown precision"):
        resolve_dtype("int4", torch.device("cpu"))


@pytest.mark.cuda
def test_cuda_matches_cpu_and_same_seed_same_mask(hf_pair):
    session = ModelSession.open(hf_pair[1], "cuda")
    assert session.device.type == "cuda"
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    mask = masks.random_mask((4, 4), 0.75, 11)
    assert (mask == masks.random_mask((4, 4), 0.75, 11)).all()  # generated on the CPU
    got = session.predict(img, mask)
    ref = ModelSession.open(hf_pair[1], "cpu").predict(img, mask)
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_cuda_reduced_precision(hf_pair, dtype):
    session = ModelSession.open(hf_pair[1], "cuda", dtype)
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert rec.dtype == dtype and np.isfinite(rec.prediction).all()


@pytest.mark.cuda
def test_cuda_out_of_memory_falls_back_to_cpu(hf_pair, monkeypatch):
    session = ModelSession.open(hf_pair[1], "cuda")
    calls = {"n": 0}
    real = session.model.forward

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(session.model, "forward", flaky)
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert session.device.type == "cpu" and rec.device == "cpu"
    assert any("ran out of memory" in m for m in session.messages)
