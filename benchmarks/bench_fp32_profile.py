"""Where the time of one fp32 forward pass goes, against the machine's matmul roofline.

A ViT-B/16 MAE (encoder 768x12, decoder 512x8; random weights: a transformers ViTMAE
folder, `--model`, made there when missing), batch 1, 224x224, 75% random mask, on the CPU
with torch's thread count (or --threads). Prints:

- the roofline: the best GFLOP/s of a 2048^3 fp32 matmul; the pass's FLOPs counted from the
  config (2*m*n*k for every Linear and for the two attention products: the encoder on the
  visible tokens + CLS, the decoder on every token + CLS); FLOPs / peak = roofline time;
- the pass as the app runs it (`ModelSession.predict`: numpy in, numpy out) and the model's
  forward alone (tensors in and out): median and best of --runs, and the efficiency
  (roofline time / time);
- what each Linear shape reaches alone, as the engine runs it (oneDNN, see engine/model.py)
  and as F.linear does (MKL), so the gap between the pass and the roofline splits into
  "the matmuls are slower at these shapes" and "everything else";
- a torch.profiler table of the pass: self CPU time per operator.

    python benchmarks/bench_fp32_profile.py [--model /tmp/vitb] [--runs 30] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.masks import random_mask
from mae_desktop.engine.session import ModelSession

try:
    from mae_desktop.engine.model import linear
except ImportError:  # an older engine (to compare): its layers as they are

    def linear(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return layer(x)


def make_vitb(folder: Path) -> None:
    """A random-weight ViT-B/16 MAE in Hugging Face's layout."""
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(0)
    ViTMAEForPreTraining(ViTMAEConfig(layer_norm_eps=1e-6)).save_pretrained(folder)


def linear_shapes(cfg: MAEConfig, visible: int) -> list[tuple[str, int, int, int, int]]:
    """(what, rows m, inputs k, outputs n, how many) of every Linear in one pass."""
    c = 1 if cfg.use_cls_token else 0
    enc, dec = visible + c, cfg.num_patches + c
    d, a, h = cfg.embed_dim, cfg.attn_dim, cfg.mlp_hidden
    shapes = [
        ("patch embed", visible, cfg.patch_dim, d, 1),
        ("enc qkv", enc, d, 3 * a, cfg.depth),
        ("enc proj", enc, a, d, cfg.depth),
        ("enc fc1", enc, d, h, cfg.depth),
        ("enc fc2", enc, h, d, cfg.depth),
    ]
    if cfg.has_decoder:
        dd, da, dh = cfg.decoder_embed_dim, cfg.decoder_attn_dim, cfg.decoder_mlp_hidden
        shapes += [
            ("decoder embed", enc, d, dd, 1),
            ("dec qkv", dec, dd, 3 * da, cfg.decoder_depth),
            ("dec proj", dec, da, dd, cfg.decoder_depth),
            ("dec fc1", dec, dd, dh, cfg.decoder_depth),
            ("dec fc2", dec, dh, dd, cfg.decoder_depth),
            ("prediction", dec, dd, cfg.patch_dim, 1),
        ]
    return shapes


def attention_flops(cfg: MAEConfig, visible: int) -> float:
    """q k^T and weights @ v of every layer: 2 * 2 * L * L * attention width each."""
    c = 1 if cfg.use_cls_token else 0
    flops = 4.0 * (visible + c) ** 2 * cfg.attn_dim * cfg.depth
    if cfg.has_decoder:
        dec = cfg.num_patches + c
        flops += 4.0 * dec**2 * cfg.decoder_attn_dim * cfg.decoder_depth
    return flops


def pass_flops(cfg: MAEConfig, visible: int) -> float:
    linear = sum(2.0 * m * k * n * count for _, m, k, n, count in linear_shapes(cfg, visible))
    return linear + attention_flops(cfg, visible)


def best_and_median(fn, runs: int) -> tuple[float, float]:
    fn()
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def sgemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """The best of `repeats` n^3 fp32 matmuls, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, _ = best_and_median(lambda: a @ b, repeats)
    return 2.0 * n**3 / best / 1e9


def profile_table(fn, runs: int = 5, top: int = 18) -> str:
    """Self CPU time per operator over `runs` passes, as ms per pass and share."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            fn()
    per_op: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for event in prof.key_averages():
        per_op[event.key][0] += event.self_cpu_time_total / 1000.0 / runs
        per_op[event.key][1] += event.count // runs
    total = sum(ms for ms, _ in per_op.values())
    lines = [f"{'operator':36s} {'ms/pass':>8s} {'share':>6s} {'calls':>6s}"]
    for name, (ms, calls) in sorted(per_op.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"{name[:36]:36s} {ms:8.2f} {ms / total:6.1%} {calls:6d}")
    lines.append(f"{'all (profiled: adds overhead)':36s} {total:8.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path("/tmp/vitb"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.model / "config.json").exists():
        make_vitb(args.model)
    session = ModelSession.open(str(args.model), "cpu", "fp32")
    cfg = session.config
    image = np.random.default_rng(0).random((*cfg.image_size, 3), dtype=np.float32)
    mask = random_mask(cfg.grid_size, 0.75, seed=0)
    visible = int((~mask).sum())
    x, ids = session._inputs(image, mask)
    model = session.model

    def forward() -> None:
        with torch.inference_mode():
            model(x, ids)

    def predict() -> None:
        session.predict(image, mask)

    peak = sgemm_gflops()
    flops = pass_flops(cfg, visible)
    timed = {}
    for name, fn in (("predict (numpy in/out)", predict), ("model forward (tensors)", forward)):
        timed[name] = best_and_median(fn, args.runs)
    peak = max(peak, sgemm_gflops())  # measured before and after: the better of the two
    roof_ms = flops / peak / 1e6
    print(f"threads {torch.get_num_threads()}; {cfg.describe()}; {visible} visible patches")
    print(f"sgemm 2048^3: {peak:.1f} GFLOP/s; pass: {flops / 1e9:.2f} GFLOP")
    print(f"roofline time: {roof_ms:.1f} ms")
    results = {}
    for name, (best, median) in timed.items():
        results[name] = best
        print(
            f"{name:26s} median {median * 1e3:7.1f} ms, best {best * 1e3:7.1f} ms; "
            f"efficiency {roof_ms / (median * 1e3):5.1%} (median), "
            f"{roof_ms / (best * 1e3):5.1%} (best)"
        )
    print("\nthe pass's Linear layers alone, as the engine runs them and as F.linear (MKL) does:")
    engine_ms = plain_ms = 0.0
    for what, m, k, n, count in linear_shapes(cfg, visible):
        layer, a = nn.Linear(k, n), torch.randn(1, m, k)
        with torch.inference_mode():
            t_engine, _ = best_and_median(lambda a=a, f=layer: linear(f, a), max(10, args.runs))
            t_plain, _ = best_and_median(lambda a=a, f=layer: f(a), max(10, args.runs))
            engine_ms += t_engine * count * 1e3
            plain_ms += t_plain * count * 1e3
            rate, plain = 2.0 * m * k * n / t_engine / 1e9, 2.0 * m * k * n / t_plain / 1e9
            print(
                f"  {what:14s} {m:4d}x{k:4d}x{n:4d} x{count:2d}: {t_engine * 1e3:6.3f} ms, "
                f"{rate:6.1f} GFLOP/s ({rate / peak:6.1%} of peak); F.linear {plain:6.1f}"
            )
    linear_flops = flops - attention_flops(cfg, visible)
    rest = results["model forward (tensors)"] * 1e3 - engine_ms
    print(
        f"  all: {engine_ms:.1f} ms ({linear_flops / engine_ms / 1e6:.1f} GFLOP/s; F.linear "
        f"{plain_ms:.1f} ms); the rest of the pass (attention, norms, ...): {rest:.1f} ms"
    )
    print("  (each weight is reused here and stays in cache; in the pass it is read once)")
    if not args.no_profile:
        print("\nprofile of the pass (model forward):")
        print(profile_table(forward))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
