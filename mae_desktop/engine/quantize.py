"""int8 on the CPU: the model's Linear layers with int8 weights and int8 activations.

Weights are rounded to int8 once, per output channel (symmetric); activations are rounded at
run time, per token (asymmetric, uint8 with a zero point), and the product is an exact int32
matrix product (`torch._int_mm`, oneDNN's u8s8 kernel, VNNI/AMX where the CPU has them),
scaled back to float32. LayerNorm, softmax, GELU and the attention products stay float32, so
the attention maps come from float32 scores of int8-projected queries and keys.

Why this and not a library: on torch 2.13 on this kind of CPU (2-core AMD EPYC, AVX-512
VNNI), a ViT-B MAE pass measured
  - `torch.ao.quantization.quantize_dynamic`: fast (fbgemm), but deprecated since torch
    2.10 ("will be removed") together with the quantized tensor types it stores weights in;
  - torchao 0.18 `Int8DynamicActivationInt8WeightConfig` without `torch.compile`: no faster
    than fp32 (its eager path re-transposes and re-sums the weight on every call and
    dispatches through a tensor subclass); with `torch.compile` it needs a C++ compiler at
    run time, which a PyInstaller bundle on a user's machine does not have, and it is a
    second binary package pinned to one torch release;
  - this module: as fast as the fbgemm path, plain int8/float tensors only, and the one
    primitive it needs, `torch._int_mm`, is the one torchao itself calls on CPUs and GPUs.
If `torch._int_mm` ever goes, `int8_available()` says so and int8 is simply not offered.
"""

from __future__ import annotations

import functools

import torch
from torch import nn


class Int8Linear(nn.Module):
    """y = x W^T + b with W int8 per output channel and x int8 per token (see the module)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        w = linear.weight.detach().float()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)
        self.register_buffer("weight_t", q.t().contiguous())  # (in, out), as _int_mm wants
        self.register_buffer("weight_scale", scale[None, :].contiguous())  # (1, out)
        # minus the scaled sum of each output's int8 weights: takes the activations' zero
        # point back out of the product
        wsum = q.sum(dim=1, dtype=torch.int32).float()
        self.register_buffer("weight_sum", (-wsum * scale)[None, :].contiguous())
        bias = torch.zeros(self.out_features) if linear.bias is None else linear.bias.detach()
        self.register_buffer("bias", bias.float().contiguous())
        self.has_bias = linear.bias is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        # per token: [min, max] onto [-128, 127] (254 steps, so rounding never overflows);
        # two reductions: torch.aminmax along rows measured 14x slower than amax + amin
        lo = x2.amin(dim=1, keepdim=True)
        inv = 254.0 / (x2.amax(dim=1, keepdim=True) - lo).clamp_(min=1e-12)
        zero = torch.round(lo * inv).neg_().sub_(128.0)  # x/scale + zero is in [-128, 127]
        xq = torch.round(torch.addcmul(zero, x2, inv)).to(torch.int8)
        acc = torch._int_mm(xq, self.weight_t)  # exact int32
        scale = inv.reciprocal_()
        # (acc - zero * sum(w)) * scale * w_scale + b, the zero-point term as a rank-1 addmm
        out = torch.addmm(self.bias, zero.mul_(scale), self.weight_sum)
        out.addcmul_(acc.float().mul_(scale), self.weight_scale)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_linears(model: nn.Module) -> int:
    """Replace every nn.Linear of a float32 CPU model by an Int8Linear, in place; returns
    how many were replaced."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, Int8Linear(child))
                count += 1
    return count


def dequantize_linears(model: nn.Module) -> int:
    """Put empty float32 nn.Linear layers back where Int8Linear ones are (the caller loads
    the checkpoint's weights into them); returns how many."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Int8Linear):
                plain = torch.nn.utils.skip_init(  # no random init: it is overwritten
                    nn.Linear, child.in_features, child.out_features, child.has_bias
                )
                setattr(parent, name, plain)
                count += 1
    return count


def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(m, Int8Linear) for m in model.modules())


@functools.cache
def int8_available() -> bool:
    """Whether this torch build runs the int8 product on the CPU (checked once, exactly)."""
    try:
        a = torch.tensor([[1, 2, 3]], dtype=torch.uint8)
        b = torch.tensor([[1], [-2], [3]], dtype=torch.int8)
        return int(torch._int_mm(a, b)[0, 0]) == 6
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
