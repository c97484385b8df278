"""int8 weights are scaled per OUTPUT channel: each channel keeps its own 8-bit resolution.

What a user relies on: choosing int8 (the app's precision menu, `--dtype int8`) gives
outputs close to float32 in every channel, also where one layer's output channels differ in
size by orders of magnitude (common in trained ViTs). With one scale for the whole tensor
the small channels round to zero: the result is quietly worse, not broken, so only a bound
per channel shows it.

The expectations are written out from the quantisation the module promises (symmetric
int8 weights per output channel, step max|w_j| / 127; activations per token, asymmetric
over [min, max] in 254 steps), never read from the layer itself:
  - the layer's effective weights, read through its outputs for one-hot inputs (which the
    per-token activation rounding represents exactly), are within half a step of the float
    weights, per channel;
  - each output on random inputs is within the worst-case error of those two roundings,
    computed here per (token, channel), and (fixed cases) per channel within 2% RMS of
    float32 (measured 1.1% at most).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mae_desktop.engine.quantize import Int8Linear, int8_available, quantize_linears

pytestmark = pytest.mark.skipif(not int8_available(), reason="torch runs no int8 products here")


def _linear(in_f: int, exponents: np.ndarray, seed: int, bias: bool = True) -> nn.Linear:
    """A Linear whose output channel j has weights of size about 10 ** exponents[j]."""
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(in_f, len(exponents), bias=bias)
    with torch.no_grad():
        w = torch.randn(len(exponents), in_f, generator=g, dtype=torch.float64)
        w *= torch.from_numpy(10.0 ** np.asarray(exponents, dtype=np.float64))[:, None]
        lin.weight.copy_(w)
        if bias:
            lin.bias.copy_(torch.randn(len(exponents), generator=g))
    return lin


def _effective_weights(layer: nn.Module, lin: nn.Linear) -> np.ndarray:
    """(out, in) float64: the weights the layer multiplies by, read through one-hot inputs.

    A one-hot token spans [0, 1]; 254 steps over that range put 0 and 1 on the grid exactly,
    so the activation rounding adds nothing and the output minus the bias is one column."""
    eye = torch.eye(lin.in_features)
    with torch.no_grad():
        out = layer(eye).double()
    bias = 0.0 if lin.bias is None else lin.bias.detach().double()
    return (out - bias).t().numpy()


def _worst_case(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(tokens, out): the largest |int8 output - float output| the two roundings allow.

    Weight step s_j = max|w_j| / 127 (error <= s_j / 2 each), activation step a_t =
    (max x_t - min x_t) / 254 (error <= a_t / 2 each); |x'w' - xw| <= |x||dw| + |dx||w| +
    |dx||dw| summed over the inputs."""
    s = np.abs(w).max(axis=1) / 127.0  # (out,)
    a = (x.max(axis=1) - x.min(axis=1)) / 254.0  # (tokens,)
    ax, aw = np.abs(x), np.abs(w)
    return (
        ax.sum(axis=1)[:, None] * s[None, :] / 2
        + a[:, None] * aw.sum(axis=1)[None, :] / 2
        + x.shape[1] * a[:, None] * s[None, :] / 4
    )


def _check_weights(lin: nn.Linear, layer: nn.Module) -> None:
    w = lin.weight.detach().double().numpy()
    got = _effective_weights(layer, lin)
    step = np.abs(w).max(axis=1) / 127.0
    err = np.abs(got - w).max(axis=1)
    # half a step of the channel's own range; slack for float32: 1% of that for the
    # scales, and the rounding of output = bias + column (a few ulps of the bias)
    bias = 0.0 if lin.bias is None else np.abs(lin.bias.detach().double().numpy())
    bound = 0.5 * step * 1.01 + 1e-6 * bias + 1e-30
    bad = np.flatnonzero(err > bound)
    assert bad.size == 0, (
        f"channels {bad.tolist()}: weight error {err[bad]} above half their own step "
        f"{0.5 * step[bad]} (per-tensor scale?)"
    )


def _check_outputs(
    lin: nn.Linear, layer: nn.Module, x: torch.Tensor, rms: float | None = 0.02
) -> None:
    """Every output within its worst case; with rms, each channel's RMS error within that
    fraction of its float output's RMS (for fixed cases: a random channel can cancel to
    almost nothing, which no fixed fraction fits)."""
    w = lin.weight.detach().double().numpy()
    xd = x.double().numpy().reshape(-1, lin.in_features)
    with torch.no_grad():
        got = layer(x).double().numpy().reshape(-1, lin.out_features)
    bias = 0.0 if lin.bias is None else lin.bias.detach().double().numpy()
    exact = xd @ w.T  # float64, without the bias
    err = np.abs(got - bias - exact)
    # float32 arithmetic on top of the roundings: relative to the sizes that are added up
    slop = 1e-5 * (
        np.abs(xd) @ np.abs(w).T
        + 128 * np.abs(xd).max(axis=1, keepdims=True) * np.abs(w).sum(axis=1)[None, :] / 127
    ) + 1e-6 * np.abs(bias)
    bound = _worst_case(w, xd) + slop
    over = err > bound
    assert not over.any(), (
        f"channels {sorted(set(np.nonzero(over)[1].tolist()))} exceed the per-channel "
        f"worst case: worst ratio {(err / bound).max():.2f}"
    )
    if rms is None:
        return
    rms_err = np.sqrt((err**2).mean(axis=0))
    rms_out = np.sqrt((exact**2).mean(axis=0))
    live = rms_out > 0
    rel = rms_err[live] / rms_out[live]
    assert rel.max() <= rms, f"per-channel RMS error up to {rel.max():.3%} of the channel"


def _inputs(tokens: int, in_f: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(tokens, in_f, generator=g) * 3 + 1  # off-centre: the zero point matters


def test_channels_six_orders_of_magnitude_apart_each_keep_their_resolution() -> None:
    exps = np.linspace(-3, 3, 13)
    lin = _linear(64, exps, seed=0)
    layer = Int8Linear(lin)
    _check_weights(lin, layer)
    _check_outputs(lin, layer, _inputs(50, 64, 1))


def test_a_channel_of_zeros_gives_exactly_its_bias() -> None:
    exps = np.array([0.0, 2.0, -2.0, 0.0])
    lin = _linear(16, exps, seed=2)
    with torch.no_grad():
        lin.weight[3] = 0.0
    layer = Int8Linear(lin)
    with torch.no_grad():
        out = layer(_inputs(9, 16, 3))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 3], lin.bias[3].expand(9), rtol=0, atol=1e-6)
    _check_weights(lin, layer)


def test_batched_inputs_keep_their_shape_and_the_bound() -> None:
    lin = _linear(24, np.array([-2.0, 0.0, 1.5, -0.5, 3.0]), seed=4, bias=False)
    layer = Int8Linear(lin)
    x = _inputs(2 * 7, 24, 5).reshape(2, 7, 24)
    with torch.no_grad():
        assert layer(x).shape == (2, 7, 5)
    _check_outputs(lin, layer, x)


@settings(max_examples=25, deadline=None)
@given(
    in_f=st.integers(2, 48),
    exps=st.lists(st.floats(-4, 4), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
    bias=st.booleans(),
)
def test_any_channel_sizes_stay_within_their_own_bound(
    in_f: int, exps: list[float], seed: int, bias: bool
) -> None:
    lin = _linear(in_f, np.array(exps), seed=seed, bias=bias)
    layer = Int8Linear(lin)
    _check_weights(lin, layer)
    _check_outputs(lin, layer, _inputs(12, in_f, seed + 1), rms=None)


def test_quantising_a_model_keeps_each_layer_per_channel() -> None:
    """quantize_linears (what int8 does to a loaded model) replaces every Linear, and each
    replaced layer meets its own channels' bounds."""
    first = _linear(20, np.linspace(-2, 2, 8), seed=6)
    second = _linear(8, np.linspace(2, -3, 6), seed=7)
    model = nn.Sequential(first, nn.GELU(), second)
    floats = [nn.Linear(20, 8), nn.Linear(8, 6)]
    for f, lin in zip(floats, (first, second), strict=True):
        f.load_state_dict(lin.state_dict())
    assert quantize_linears(model) == 2
    assert all(isinstance(model[i], Int8Linear) for i in (0, 2))
    for i, lin in zip((0, 2), floats, strict=True):
        _check_weights(lin, model[i])
        _check_outputs(lin, model[i], _inputs(30, lin.in_features, 8 + i))
