"""Reconstruction latency per precision, against transformers and the machine's roofline.

For a ViT-B/16 MAE (encoder 768x12, decoder 512x8) and a ViT-L/16 MAE (encoder 1024x24,
decoder 512x8), random weights, one 224x224 image, 75% random mask, batch 1, inference mode,
on the CPU (or --device):

- our engine (`ModelSession.predict`, numpy in and out) in every precision the device offers
  (CPU: fp32, bf16, int8), and in 'auto' (what it chose, why, and how long choosing took,
  measured afresh: the remembered choices are not used);
- transformers' `ViTMAEForPreTraining` (fp32, its default SDPA attention), same weights;
- the roofline: the pass's FLOPs (counted from the config: Linear layers and attention
  products of the encoder on the visible tokens and the decoder on all of them) over the
  GFLOP/s of a 2048^3 fp32 matmul on as many threads as the engine uses; our fp32
  efficiency is roofline time / our time.

All implementations of a model run in this process, interleaved, after warm-up; numbers are
medians. With --photos, also the bundled model's held-out masked PSNR (the evaluate
protocol: every 10th photo by sorted name, squashed to the model size, 4 random 75% masks
each) in fp32 and in the precision auto chooses for it.

    python benchmarks/bench_engine.py [--models B,L] [--runs 20] [--large-runs 5]
        [--threads N] [--photos DIR] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mae_desktop.engine import ModelSession, masks
from mae_desktop.engine import precision as prec
from mae_desktop.engine.checkpoints import build_model, load_checkpoint
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.device import resolve_device, supported_dtypes

MODELS = {
    "ViT-B/16": {"layer_norm_eps": 1e-6},
    "ViT-L/16": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
        "layer_norm_eps": 1e-6,
    },
}


def pass_flops(cfg: MAEConfig, visible: int) -> float:
    """Multiply-adds x 2 of one pass: the patch embedding and the encoder on the visible
    tokens (plus CLS), the decoder on every token (plus CLS). Norms, softmax and GELU are
    left out (a few per cent)."""
    c = 1 if cfg.use_cls_token else 0

    def blocks(tokens: int, dim: int, attn: int, hidden: int, depth: int) -> float:
        linear = tokens * (dim * 3 * attn + attn * dim + 2 * dim * hidden)
        products = 2 * tokens * tokens * attn  # q k^T and weights v
        return 2.0 * depth * (linear + products)

    enc_tokens = visible + c
    flops = 2.0 * visible * cfg.patch_dim * cfg.embed_dim
    flops += blocks(enc_tokens, cfg.embed_dim, cfg.attn_dim, cfg.mlp_hidden, cfg.depth)
    if cfg.has_decoder:
        dd, dec_tokens = cfg.decoder_embed_dim, cfg.num_patches + c
        flops += 2.0 * enc_tokens * cfg.embed_dim * dd
        flops += blocks(
            dec_tokens, dd, cfg.decoder_attn_dim, cfg.decoder_mlp_hidden, cfg.decoder_depth
        )
        flops += 2.0 * dec_tokens * dd * cfg.patch_dim
    return flops


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The best of `repeats` n^3 fp32 matmuls, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def bench_model(name: str, overrides: dict, runs: int, device: torch.device) -> dict:
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(0)
    hf = ViTMAEForPreTraining(ViTMAEConfig(**overrides)).eval()
    image = np.random.default_rng(0).random((224, 224, 3), dtype=np.float32)
    mask = masks.random_mask((14, 14), 0.75, seed=0)
    flat = mask.ravel()
    visible = int((~flat).sum())
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ckpt = load_checkpoint(tmp)
        fp32 = ModelSession(ckpt, build_model(ckpt), device, torch.float32)
        sessions = {"fp32": fp32}
        for dtype in supported_dtypes(device):
            if dtype != "fp32":
                session = ModelSession(ckpt, build_model(ckpt), device, torch.float32)
                session.to(device, dtype)
                sessions[dtype] = session
        # auto afresh (a cache file of its own), from the fp32 model as the app loads it
        auto = ModelSession(ckpt, build_model(ckpt), device, torch.float32)
        cache = Path(tmp) / "precision.json"
        t0 = time.perf_counter()
        chosen, reason = prec.choose(auto, device, cache_path=cache)
        choose_s = time.perf_counter() - t0
        auto.auto = reason
        entry = next(iter(json.loads(cache.read_text())["choices"].values()))
    hf = hf.to(device)
    noise = torch.from_numpy(flat.astype(np.float32) + np.arange(196) / 392.0)[None].to(device)
    hf.config.mask_ratio = 1.0 - (visible + 0.5) / 196
    mean = np.asarray(fp32.config.mean, np.float32)
    std = np.asarray(fp32.config.std, np.float32)
    pixels = torch.from_numpy(((image - mean) / std).transpose(2, 0, 1).copy())[None]
    pixels = pixels.to(device)

    def run_hf() -> None:
        with torch.inference_mode():
            hf(pixel_values=pixels, noise=noise)
        if device.type == "cuda":
            torch.cuda.synchronize()

    fns = {f"ours {d}": (lambda s=s: s.predict(image, mask)) for d, s in sessions.items()}
    fns["ours auto"] = lambda: auto.predict(image, mask)
    fns["transformers fp32"] = run_hf
    for _ in range(2):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append((time.perf_counter() - t0) * 1000.0)
    ms = {k: round(statistics.median(v), 2) for k, v in times.items()}
    ref = fp32.predict(image, mask)
    diffs = {
        d: round(float(np.abs(s.predict(image, mask) - ref).max()), 5)
        for d, s in sessions.items()
        if d != "fp32"
    }
    # attention weights (the app's maps come from these) against fp32
    _, w_ref = fp32._forward(image, mask, False, "encoder")
    att = {}
    for d, s in sessions.items():
        if d != "fp32":
            _, w = s._forward(image, mask, False, "encoder")
            att[d] = round(float(np.abs(w - w_ref).max()), 5)
    flops = pass_flops(fp32.config, visible)
    return {
        "model": f"{name} MAE, decoder 512x8, 75% mask, batch 1, {device}",
        "median_ms": ms,
        "speedup_vs_fp32": {k: round(ms["ours fp32"] / v, 2) for k, v in ms.items()},
        "ours_vs_transformers_fp32": round(ms["ours fp32"] / ms["transformers fp32"], 3),
        "prediction_max_abs_diff_vs_fp32": diffs,
        "attention_max_abs_diff_vs_fp32": att,
        "auto": {
            "chose": chosen,
            "reason": reason,
            "seconds_to_choose": round(choose_s, 2),
            "measured": entry["measured"],
        },
        "gflop_per_pass": round(flops / 1e9, 2),
        "runs": runs,
    }


def heldout_psnr(photos: Path, device: torch.device) -> dict:
    """The bundled model's masked PSNR on the held-out photos in fp32 and under auto."""
    from mae_desktop.engine.images import load_image
    from mae_desktop.paths import default_model
    from mae_desktop.training.data import list_images, split
    from mae_desktop.training.evaluate import mask_seed

    files = split(list_images(photos))[1]
    ckpt = load_checkpoint(default_model())
    fp32 = ModelSession(ckpt, build_model(ckpt), device, torch.float32)
    auto = ModelSession(ckpt, build_model(ckpt), device, torch.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        chosen, reason = prec.choose(auto, device, cache_path=Path(tmp) / "p.json")
        choose_s = time.perf_counter() - t0
    cfg = fp32.config
    images = [load_image(f, cfg.image_size, "stretch") for f in files]
    scores: dict[str, list[float]] = {"fp32": [], "auto": []}
    for i, img in enumerate(images):
        for k in range(4):
            mask = masks.random_mask(cfg.grid_size, 0.75, mask_seed(0, i, k))
            scores["fp32"].append(fp32.reconstruct(img, mask).masked_psnr)
            scores["auto"].append(auto.reconstruct(img, mask).masked_psnr)
    diff = np.asarray(scores["auto"]) - np.asarray(scores["fp32"])
    return {
        "images": len(images),
        "masks_per_image": 4,
        "fp32_db": round(float(np.mean(scores["fp32"])), 3),
        "auto_db": round(float(np.mean(scores["auto"])), 3),
        "auto_chose": chosen,
        "auto_reason": reason,
        "auto_seconds_to_choose": round(choose_s, 3),
        "largest_pair_change_db": round(float(np.abs(diff).max()), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs for ViT-B")
    parser.add_argument("--large-runs", type=int, default=5, help="timed runs for ViT-L")
    parser.add_argument(
        "--models", default="B,L", help="which: B (ViT-B), L (ViT-L), both (default B,L), none"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--photos", type=Path, help="photo folder for the held-out PSNR")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    result: dict = {
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "processor": prec.processor_name(),
        "bf16_native": prec.cpu_bf16_native() if device.type == "cpu" else None,
    }
    if device.type == "cpu":
        result["sgemm_gflops"] = round(sgemm_gflops(), 1)
    wanted = {w.strip().upper() for w in args.models.split(",")}
    models = {k: v for k, v in MODELS.items() if k[4] in wanted}
    result["models"] = {}
    for name, overrides in models.items():
        runs = args.large_runs if name.startswith("ViT-L") else args.runs
        row = bench_model(name, overrides, runs, device)
        if "sgemm_gflops" in result:
            roof = row["gflop_per_pass"] / result["sgemm_gflops"] * 1000.0
            row["roofline_ms"] = round(roof, 2)
            row["fp32_efficiency"] = round(roof / row["median_ms"]["ours fp32"], 3)
        result["models"][name] = row
        gc.collect()
    if args.photos:
        result["heldout"] = heldout_psnr(args.photos, device)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['processor']}, {result['threads']} threads, torch {result['torch']}, "
        f"transformers {result['transformers']}"
    )
    if "sgemm_gflops" in result:
        print(f"sgemm 2048^3 fp32: {result['sgemm_gflops']:.0f} GFLOP/s")
    for row in result["models"].values():
        print(f"\n{row['model']} ({row['gflop_per_pass']:.1f} GFLOP per pass)")
        for key, value in row["median_ms"].items():
            print(f"  {key:<20}{value:>9.1f} ms  {row['speedup_vs_fp32'][key]:.2f}x fp32")
        if "roofline_ms" in row:
            print(
                f"  roofline {row['roofline_ms']:.1f} ms: fp32 efficiency "
                f"{row['fp32_efficiency']:.0%}"
            )
        auto = row["auto"]
        print(f"  auto chose {auto['reason']} (in {auto['seconds_to_choose']:.1f} s)")
    if "heldout" in result:
        h = result["heldout"]
        print(
            f"\nbundled model, held-out masked PSNR ({h['images']} photos x 4 masks): "
            f"fp32 {h['fp32_db']:.2f} dB, auto ({h['auto_chose']}) {h['auto_db']:.2f} dB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
