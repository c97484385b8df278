"""Reconstruction latency: our engine vs transformers' ViTMAEForPreTraining, same weights.

ViT-Base-sized MAE (encoder 768x12, 12 heads; decoder 512x8, 16 heads; 224x224, patch 16),
random weights, one image, 75% random mask, CPU, inference mode. Both run in this process,
interleaved, after warm-up; the numbers are medians.

    python benchmarks/bench_engine.py [--runs 20] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(0)
    cfg = ViTMAEConfig(layer_norm_eps=1e-6)  # the ViT-Base MAE defaults
    hf = ViTMAEForPreTraining(cfg).eval()
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = ModelSession.open(tmp, device="cpu")
    image = np.random.default_rng(0).random((224, 224, 3), dtype=np.float32)
    mask = masks.random_mask((14, 14), 0.75, seed=0)
    flat = mask.ravel()
    noise = torch.from_numpy(flat.astype(np.float32) + np.arange(196) / 392.0)[None]
    hf.config.mask_ratio = 1.0 - (int((~flat).sum()) + 0.5) / 196
    mean = np.asarray(ours.config.mean, np.float32)
    std = np.asarray(ours.config.std, np.float32)
    pixel_values = torch.from_numpy(((image - mean) / std).transpose(2, 0, 1).copy())[None]

    def run_hf() -> None:
        with torch.inference_mode():
            hf(pixel_values=pixel_values, noise=noise)

    def run_ours() -> None:
        ours.predict(image, mask)

    for _ in range(3):
        run_hf()
        run_ours()
    times: dict[str, list[float]] = {"ours": [], "transformers": []}
    for _ in range(args.runs):
        for name, fn in (("ours", run_ours), ("transformers", run_hf)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    ours_ms = statistics.median(times["ours"])
    hf_ms = statistics.median(times["transformers"])
    result = {
        "ours_ms": round(ours_ms, 2),
        "transformers_ms": round(hf_ms, 2),
        "ratio": round(ours_ms / hf_ms, 3),
        "runs": args.runs,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "model": "ViT-B/16 MAE, decoder 512x8, 75% mask, batch 1, CPU fp32",
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'':<14}{'median ms':>10}")
        print(f"{'ours':<14}{ours_ms:>10.1f}")
        print(f"{'transformers':<14}{hf_ms:>10.1f}")
        print(
            f"ratio ours/transformers: {ours_ms / hf_ms:.3f} "
            f"({torch.get_num_threads()} threads, torch {torch.__version__})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
