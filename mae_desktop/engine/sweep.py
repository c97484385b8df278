"""Masked PSNR against mask ratio: several random masks per ratio, one forward pass a step.

`sweep_steps` is a generator so that the app's worker can run one pass, answer a newer
request, and come back (or stop); `ratio_sweep` runs it to the end.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .masks import random_mask

if TYPE_CHECKING:
    from .session import ModelSession

SWEEP_RATIOS = tuple(round(float(r), 2) for r in np.arange(0.10, 0.951, 0.05))


@dataclass(frozen=True)
class SweepResult:
    """ratios, mean, std: float64 (R,); counts: int (R,), how many finite PSNRs each mean
    is over (NaN mean/std where none). PSNR in dB over the masked patches, peak 1."""

    ratios: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    counts: np.ndarray
    seeds: int


def sweep_steps(
    session: ModelSession,
    image: np.ndarray,
    seeds: int = 3,
    ratios: tuple[float, ...] = SWEEP_RATIOS,
) -> Generator[tuple[int, int], None, SweepResult]:
    """Yield (passes done, passes in all) after each forward pass; return a SweepResult.

    image: float32 (H, W, 3) in [0, 1] at the model's size. Masks: `random_mask(grid, r, s)`
    for s in 0..seeds-1, the same on every device.
    """
    if seeds < 1 or not ratios:
        raise ValueError("a sweep needs at least one seed and one ratio")
    grid = session.config.grid_size
    total = len(ratios) * seeds
    values: list[list[float]] = [[] for _ in ratios]
    done = 0
    for i, ratio in enumerate(ratios):
        for seed in range(seeds):
            rec = session.reconstruct(image, random_mask(grid, ratio, seed))
            if rec.masked_psnr is not None and np.isfinite(rec.masked_psnr):
                values[i].append(rec.masked_psnr)
            done += 1
            yield done, total
    counts = np.array([len(v) for v in values], dtype=np.int64)
    mean = np.array([np.mean(v) if v else np.nan for v in values], dtype=np.float64)
    std = np.array([np.std(v) if v else np.nan for v in values], dtype=np.float64)
    return SweepResult(np.asarray(ratios, dtype=np.float64), mean, std, counts, seeds)


def ratio_sweep(
    session: ModelSession,
    image: np.ndarray,
    seeds: int = 3,
    ratios: tuple[float, ...] = SWEEP_RATIOS,
) -> SweepResult:
    """The whole sweep at once (see sweep_steps)."""
    steps = sweep_steps(session, image, seeds, ratios)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
