"""Device and precision choice; the CUDA paths run only where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mae_desktop.engine import MAEError, ModelSession, masks, resolve_device, resolve_dtype
from mae_desktop.engine.device import available_devices


def _fake_accelerators(monkeypatch, cuda: int, mps: bool, bf16: bool = True) -> None:
    """Pretend this machine has `cuda` CUDA devices (the current one last) and MPS or not."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: cuda - 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    "cuda,mps,expected",
    [
        (2, True, torch.device("cuda", 1)),  # CUDA first, on the current device
        (1, False, torch.device("cuda", 0)),
        (0, True, torch.device("mps")),  # then MPS
        (0, False, torch.device("cpu")),  # then the CPU
    ],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _fake_accelerators(monkeypatch, cuda, mps)
    assert resolve_device("auto") == expected
    assert resolve_device("") == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_device_names_offered_with_faked_accelerators(monkeypatch):
    _fake_accelerators(monkeypatch, 2, True)
    assert available_devices() == ["cpu", "cuda:0", "cuda:1", "mps"]
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("CUDA:0") == torch.device("cuda", 0)
    assert resolve_device("mps") == torch.device("mps")
    with pytest.raises(MAEError, match="does not exist: 2 CUDA device"):
        resolve_device("cuda:2")
    with pytest.raises(MAEError, match="expected cuda:N"):
        resolve_device("cuda:x")
    _fake_accelerators(monkeypatch, 0, False)
    assert available_devices() == ["cpu"]
    with pytest.raises(MAEError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(MAEError, match="CUDA is not available"):
        resolve_device("cuda")


@pytest.mark.parametrize("bf16", [True, False])
def test_precisions_offered_per_device(monkeypatch, bf16):
    _fake_accelerators(monkeypatch, 1, True, bf16=bf16)
    cuda = torch.device("cuda", 0)
    assert resolve_dtype("fp16", cuda) == torch.float16
    if bf16:
        assert resolve_dtype("bf16", cuda) == torch.bfloat16
    else:
        with pytest.raises(MAEError, match="bf16 is not available on cuda:0"):
            resolve_dtype("bf16", cuda)
    mps = torch.device("mps")
    assert resolve_dtype("fp16", mps) == torch.float16
    with pytest.raises(MAEError, match="bf16 is not available on mps"):
        resolve_dtype("bf16", mps)
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16


def test_auto_on_this_machine():
    if torch.cuda.is_available():
        want = "cuda"
    elif torch.backends.mps.is_available():
        want = "mps"
    else:
        want = "cpu"
    assert resolve_device("auto").type == want
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


def _spy(monkeypatch, model, name: str, fail_first_with: BaseException | None = None):
    """Wrap model.<name> (forward_encoder / forward_decoder, what ModelSession runs) and count
    its calls; optionally raise on the first one."""
    calls = {"n": 0}
    real = getattr(model, name)

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1 and fail_first_with is not None:
            raise fail_first_with
        return real(*args, **kwargs)

    monkeypatch.setattr(model, name, wrapped)
    return calls


@pytest.mark.parametrize("name", ["forward_encoder", "forward_decoder"])
def test_reconstruct_runs_through_forward_encoder_and_decoder(hf_pair, monkeypatch, name):
    """What the out-of-memory test below patches is what a reconstruction really calls, so
    that test cannot silently go stale on machines without a GPU."""
    session = ModelSession.open(hf_pair[1], "cpu")
    calls = _spy(monkeypatch, session.model, name)
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert calls["n"] == 1
    # on the CPU an out-of-memory error is not "handled" by moving anywhere: it surfaces
    _spy(monkeypatch, session.model, name, torch.cuda.OutOfMemoryError("simulated"))
    with pytest.raises(torch.cuda.OutOfMemoryError):
        session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))


@pytest.mark.cuda
def test_cuda_matches_cpu_and_same_seed_same_mask(hf_pair):
    from mae_desktop.training.train import batch_masks

    cuda = torch.device("cuda", torch.cuda.current_device())
    # training masks are drawn on the device the run uses: same seed, same masks
    ids_gpu, mask_gpu = batch_masks(7, 3, 4, 16, 0.75, cuda)
    ids_cpu, mask_cpu = batch_masks(7, 3, 4, 16, 0.75, torch.device("cpu"))
    assert ids_gpu.device.type == "cuda" and mask_gpu.device.type == "cuda"
    assert torch.equal(ids_gpu.cpu(), ids_cpu) and torch.equal(mask_gpu.cpu(), mask_cpu)
    # the engine: a seeded mask reconstructed on the GPU is the CPU one, with CPU numbers
    session = ModelSession.open(hf_pair[1], "cuda")
    assert session.device.type == "cuda"
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.generate("random", (4, 4), 0.75, 11))
    ref = ModelSession.open(hf_pair[1], "cpu").reconstruct(
        img, masks.generate("random", (4, 4), 0.75, 11)
    )
    assert rec.device.startswith("cuda") and ref.device == "cpu"
    np.testing.assert_array_equal(rec.mask, ref.mask)
    np.testing.assert_allclose(rec.prediction, ref.prediction, atol=1e-4)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_cuda_reduced_precision(hf_pair, dtype):
    session = ModelSession.open(hf_pair[1], "cuda", dtype)
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert rec.dtype == dtype and np.isfinite(rec.prediction).all()


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["forward_encoder", "forward_decoder"])
def test_cuda_out_of_memory_falls_back_to_cpu(hf_pair, monkeypatch, name):
    session = ModelSession.open(hf_pair[1], "cuda", "fp16")
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
    calls = _spy(monkeypatch, session.model, name, oom)
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    mask = masks.random_mask((4, 4), 0.75, 0)
    rec = session.reconstruct(img, mask)
    assert calls["n"] == 2  # failed on the GPU, ran again on the CPU
    assert session.device.type == "cpu" and session.dtype == torch.float32
    assert rec.device == "cpu" and rec.dtype == "fp32"
    assert next(session.model.parameters()).device.type == "cpu"
    assert any("ran out of memory" in m for m in session.messages)
    # the same reconstruction as on the CPU (up to the fp16 rounding of the weights)
    ref = ModelSession.open(hf_pair[1], "cpu").reconstruct(img, mask)
    np.testing.assert_allclose(rec.prediction, ref.prediction, atol=0.02)
