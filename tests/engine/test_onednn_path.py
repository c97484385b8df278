"""The float32 CPU inference path through oneDNN (fused bias, GELU and residual additions,
reordered weights) gives the plain layers' results, follows every change of the weights,
and stays out of training, other dtypes and int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mae_desktop.engine import masks
from mae_desktop.engine import model as model_mod
from mae_desktop.engine.session import ModelSession
from tests.helpers import perturb_

pytestmark = pytest.mark.skipif(
    not model_mod.onednn_linear_works(), reason="no oneDNN Linear in this torch build"
)


def _inputs(session: ModelSession, seed: int = 0):
    cfg = session.config
    image = np.random.default_rng(seed).random((*cfg.image_size, 3), dtype=np.float32)
    mask = masks.random_mask(cfg.grid_size, 0.75, seed=seed)
    return session._inputs(image, mask)


def _fast(model, x, ids) -> torch.Tensor:
    with torch.inference_mode():
        return model(x, ids)


def _plain(model, x, ids) -> torch.Tensor:
    """The same pass on the plain layers (the oneDNN path is for inference only)."""
    with torch.enable_grad():
        return model(x, ids).detach()


def _packed_layers(model) -> int:
    return sum("_onednn_weight" in m.__dict__ for m in model.modules())


@pytest.fixture
def session(hf_pair):
    return ModelSession.open(hf_pair[1], "cpu", "fp32")


def test_fused_pass_matches_the_plain_layers(session):
    model = session.model
    x, ids = _inputs(session)
    fast = _fast(model, x, ids)
    assert _packed_layers(model) == sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    torch.testing.assert_close(fast, _plain(model, x, ids), rtol=0, atol=1e-5)


@pytest.mark.parametrize("pack", [True, False], ids=["reordered", "plain-weights"])
def test_both_weight_forms_match(session, pack):
    model = session.model
    model.pack = pack
    for m in model.modules():
        if isinstance(m, (model_mod.Attention, model_mod.Mlp)):
            m.pack = pack
    x, ids = _inputs(session, 1)
    torch.testing.assert_close(_fast(model, x, ids), _plain(model, x, ids), rtol=0, atol=1e-5)
    assert (_packed_layers(model) > 0) == pack


def test_reordered_weights_follow_in_place_changes(session):
    model = session.model
    x, ids = _inputs(session)
    before = _fast(model, x, ids)
    perturb_(model, seed=5)  # in place, as load_state_dict and optimisers change weights
    after = _fast(model, x, ids)
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, _plain(model, x, ids), rtol=0, atol=1e-5)


def test_reordered_weights_are_dropped_on_moves(session):
    """.to() keeps each weight's object and version (and may reuse an address): the copies
    go, and a round trip through bf16 gives the rounded weights' results, not the old."""
    model = session.model
    x, ids = _inputs(session)
    _fast(model, x, ids)
    model.to(torch.bfloat16)
    assert _packed_layers(model) == 0
    model.to(torch.float32)  # the bf16-rounded weights, in float32
    torch.testing.assert_close(_fast(model, x, ids), _plain(model, x, ids), rtol=0, atol=1e-5)


def test_training_and_bf16_use_the_plain_layers(session):
    model = session.model
    x, ids = _inputs(session)
    with torch.enable_grad():
        model(x, ids).square().mean().backward()  # autograd through the plain layers
    assert model.blocks[0].mlp.fc1.weight.grad is not None
    assert _packed_layers(model) == 0
    reference = _plain(model, x, ids)
    session.to("cpu", "bf16")
    bf16 = session.predict(*_image_and_mask(session))
    assert bf16.dtype == np.float32 and np.isfinite(bf16).all()
    session.to("cpu", "fp32")
    torch.testing.assert_close(_fast(session.model, x, ids), reference, rtol=0, atol=1e-5)


def test_int8_and_back(session):
    from mae_desktop.engine.quantize import int8_available, is_quantized

    if not int8_available():
        pytest.skip("no int8 product in this torch build")
    x, ids = _inputs(session)
    reference = _fast(session.model, x, ids)
    session.to("cpu", "int8")
    assert is_quantized(session.model) and _packed_layers(session.model) == 0
    assert np.isfinite(session.predict(*_image_and_mask(session))).all()
    session.to("cpu", "fp32")  # plain Linear layers again, with the checkpoint's weights
    torch.testing.assert_close(_fast(session.model, x, ids), reference, rtol=0, atol=1e-5)
    assert _packed_layers(session.model) > 0


def _image_and_mask(session: ModelSession):
    cfg = session.config
    image = np.random.default_rng(0).random((*cfg.image_size, 3), dtype=np.float32)
    return image, masks.random_mask(cfg.grid_size, 0.75, seed=0)


def test_large_models_run_on_the_plain_weights(monkeypatch, hf_pair):
    """Past PACK_LIMIT_BYTES of Linear weights no reordered copy is kept (memory)."""
    monkeypatch.setattr(model_mod, "PACK_LIMIT_BYTES", 1024)
    session = ModelSession.open(hf_pair[1], "cpu", "fp32")
    assert session.model.pack is False
    x, ids = _inputs(session)
    torch.testing.assert_close(
        _fast(session.model, x, ids), _plain(session.model, x, ids), rtol=0, atol=1e-5
    )
    assert _packed_layers(session.model) == 0


def test_a_model_made_in_inference_mode_runs_on_its_plain_weights(session):
    """Inference tensors keep no version, so changes could not be followed: no copy."""
    x, ids = _inputs(session)
    reference = _fast(session.model, x, ids)
    with torch.inference_mode():
        twin = model_mod.MAEModel(session.config)
        twin.load_state_dict(session.model.state_dict())
        out = twin.eval()(x, ids)
    assert _packed_layers(twin) == 0
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-5)
