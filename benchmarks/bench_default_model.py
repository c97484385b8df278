"""Latency of the bundled default model on this machine (batch 1, CPU by default).

Reports median and p95 over --runs of: the forward pass (`predict`), a full reconstruction
(forward + images + metrics, what `reconstruct` returns) and what the app computes per mask
change (`analyse`: reconstruction + encoder attention maps + rollout).

    python benchmarks/bench_default_model.py [--threads 2] [--runs 50] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mae_desktop.engine import ModelSession, masks
from mae_desktop.paths import default_model, package_resources


def measure(fn, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="default: the bundled model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = args.checkpoint or default_model()
    session = ModelSession.open(path, args.device)
    image = session.load_image(package_resources() / "samples" / "astronaut.png")
    mask = masks.random_mask(session.config.grid_size, 0.75, 0)
    for _ in range(5):
        session.analyse(image, mask)
    result = {
        "model": session.config.describe(),
        "device": str(session.device),
        "threads": torch.get_num_threads(),
        "forward": measure(lambda: session.predict(image, mask), args.runs),
        "reconstruct": measure(lambda: session.reconstruct(image, mask), args.runs),
        "analyse": measure(lambda: session.analyse(image, mask), args.runs),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']} on {result['device']}, {result['threads']} threads")
        for key in ("forward", "reconstruct", "analyse"):
            r = result[key]
            print(f"  {key:<12} median {r['median_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
