"""The 'auto' precision: measured on the machine at hand, remembered per model and machine.

Which precision is fastest depends on the machine: on a CPU without native bf16, torch
emulates it (a ViT-B pass measured 3x slower than fp32 on such a Xeon, although oneDNN said
bf16 was supported), while a CPU with AVX-512 BF16 ran it 2.2x faster; int8 Linear layers
were 2-3.5x faster on both. So nothing here says which one is fast: `choose` runs a few
passes of each precision the device offers on a calibration image (a bundled photo at the
model's input size under a 75% random mask) and keeps the fastest one whose masked PSNR stays
within `PSNR_TOLERANCE_DB` of fp32 (encoder-only models: whose attention weights stay within
`ATTENTION_TOLERANCE` of fp32's). A reduced precision must beat fp32 by `MIN_SPEEDUP`: a
result that changes for a few percent of speed is not worth it.

The choice is remembered in a small JSON file in the user's cache folder, keyed by the
checkpoint (path, size and modification time of its weight files, and the head counts and
input normalisation it was opened with) and the machine (processor or GPU name, torch
version, device), so the next start does not measure again. A damaged file is ignored.
"""

from __future__ import annotations

import json
import os
import platform
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .device import DTYPES, supported_dtypes
from .masks import random_mask
from .reconstruction import decode as decode_prediction

if TYPE_CHECKING:
    from .session import ModelSession

PSNR_TOLERANCE_DB = 0.1
# Encoder-only models (nothing to reconstruct): the largest change of any attention weight
# (a probability in [0, 1], every layer, head and query) allowed against fp32, 2% of the
# heatmaps' full scale. Measured: int8 0.0013 on a ViT-B, 0.035 on the bundled 3.4 M model
# (its maps as shown: 0.023); bf16 0.0006 and 0.013.
ATTENTION_TOLERANCE = 0.02
MIN_SPEEDUP = 1.1
WARMUP_PASSES, TIMED_PASSES = 1, 3
MASK_RATIO = 0.75
CACHE_ENV = "MAE_DESKTOP_PRECISION_CACHE"  # a file path; else the user's cache folder
CACHE_VERSION = 1
CACHE_ENTRIES = 100  # the newest are kept
CACHE_MAX_BYTES = 1 << 20  # 100 entries are about 40 kB


@dataclass(frozen=True)
class Pass:
    """One pass in one precision: its time (ms), the calibration reconstruction's masked
    PSNR (None without a decoder) and the encoder's attention weights (layers, heads, L, L)."""

    ms: float
    psnr: float | None
    weights: np.ndarray | None


Measure = Callable[["ModelSession"], Pass]


@dataclass(frozen=True)
class Trial:
    """A measured precision next to fp32: speed-up (fp32 ms / its ms), PSNR change (dB,
    None without a decoder), largest attention weight change, and whether it is allowed."""

    name: str
    ms: float
    speedup: float
    psnr_delta: float | None
    attention_diff: float
    ok: bool


# -- what to measure ---------------------------------------------------------------------------
def calibration_image() -> Path:
    from ..paths import package_resources

    return package_resources() / "samples" / "astronaut.png"


def candidates(device: torch.device) -> list[str]:
    """The precisions 'auto' measures on a device: fp32 and whatever may be faster there.
    On a CPU bf16 only where the processor has bf16 instructions (or, where that cannot be
    read, a bf16 product is measured faster than fp32): emulated bf16 is slow."""
    offered = supported_dtypes(device)
    if device.type != "cpu":
        return offered
    return [n for n in offered if n != "bf16" or cpu_bf16_native()]


def _cpu_flags() -> set[str] | None:
    """The processor's feature flags (Linux x86 'flags', ARM 'Features'); None elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"^(?:flags|Features)\s*:(.*)$", text, re.MULTILINE)
    return set(m.group(1).split()) if m else None


@cache
def cpu_bf16_native() -> bool:
    flags = _cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    if sys.platform == "darwin":
        return _sysctl("hw.optional.arm.FEAT_BF16") == "1"
    return _bf16_product_faster()


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _bf16_product_faster() -> bool:
    """A 256x1024x1024 product in bf16 against fp32 (a few ms): faster means native."""
    a, b = torch.randn(256, 1024), torch.randn(1024, 1024)
    times = {}
    for dt in (torch.float32, torch.bfloat16):
        x, y = a.to(dt), b.to(dt)
        x @ y
        t0 = time.perf_counter()
        for _ in range(3):
            x @ y
        times[dt] = time.perf_counter() - t0
    return times[torch.bfloat16] < times[torch.float32]


@cache
def processor_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    if m:
        return m.group(1).strip()
    if sys.platform == "darwin" and (name := _sysctl("machdep.cpu.brand_string")):
        return name
    return platform.processor() or platform.machine() or "unknown processor"


def machine_key(device: torch.device) -> str:
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else processor_name()
    return f"{hardware} | torch {torch.__version__} | {device}"


def model_key(session: ModelSession) -> str:
    """The checkpoint as it was opened: its weight files (path, size, modification time)
    and the overrides that change what the model computes."""
    ck = session.checkpoint
    files = []
    for f in sorted(ck.weight_files or [ck.path]):
        try:
            st = Path(f).stat()
            files.append(f"{Path(f).resolve()}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            files.append(str(f))
    cfg = session.config
    heads = f"{cfg.num_heads}/{cfg.decoder_num_heads if cfg.has_decoder else '-'}"
    return f"{';'.join(files)} | heads {heads} | norm {ck.input_norm}"


# -- the cache ---------------------------------------------------------------------------------
def cache_file() -> Path:
    if env := os.environ.get(CACHE_ENV):
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mae-desktop", appauthor=False)) / "precision.json"


def read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The remembered choices; {} when the file is missing, unreadable or not ours: only an
    ordinary file of at most CACHE_MAX_BYTES is read (a FIFO there would block every open),
    and JSON nested too deeply for the parser counts as damaged."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > CACHE_MAX_BYTES:
            return {}
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(CACHE_MAX_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    choices = data.get("choices")
    if not isinstance(choices, dict):
        return {}
    return {
        k: v
        for k, v in choices.items()
        if isinstance(v, dict)
        and isinstance(v.get("dtype"), str)
        and isinstance(v.get("reason"), str)
    }


def write_cache(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Add one choice (the newest CACHE_ENTRIES are kept); a folder that cannot be written
    only means the next start measures again."""
    choices = read_cache(path)
    choices.pop(key, None)
    choices[key] = entry
    choices = dict(list(choices.items())[-CACHE_ENTRIES:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"version": CACHE_VERSION, "choices": choices}, indent=1), "utf-8"
        )
        os.replace(tmp, path)
    except OSError:
        pass


# -- measuring ---------------------------------------------------------------------------------
def calibration_measure(
    session: ModelSession, clock: Callable[[], float] = time.perf_counter
) -> Measure:
    """One pass as the app runs it (reconstruction and encoder attention weights, batch 1)
    on the calibration photo at the model's input size under a 75% random mask (seed 0),
    timed by `clock` (seconds)."""
    image = session.load_image(calibration_image())
    mask = random_mask(session.config.grid_size, MASK_RATIO, seed=0)
    decode = session.config.has_decoder

    def measure(s: ModelSession) -> Pass:
        t0 = clock()
        pred, weights = s._forward(image, mask, decode, "encoder")
        ms = (clock() - t0) * 1000.0
        psnr = None
        if decode and pred is not None:
            psnr = decode_prediction(pred, image, mask, s.config, "auto", None).masked_psnr
            psnr = psnr if psnr is not None and np.isfinite(psnr) else None
        return Pass(ms, psnr, weights)

    return measure


def compare(passes: dict[str, Pass]) -> list[Trial]:
    """Each measured precision against fp32 (which must be among them)."""
    ref = passes["fp32"]
    out = []
    for name, p in passes.items():
        delta = None
        if p.psnr is not None and ref.psnr is not None:
            delta = p.psnr - ref.psnr
        diff = 0.0
        if p.weights is not None and ref.weights is not None and name != "fp32":
            diff = float(np.abs(p.weights - ref.weights).max())
        if name == "fp32":
            ok = True
        elif delta is not None:
            ok = abs(delta) <= PSNR_TOLERANCE_DB
        else:
            ok = diff <= ATTENTION_TOLERANCE
        out.append(Trial(name, p.ms, ref.ms / p.ms if p.ms > 0 else 0.0, delta, diff, ok))
    return out


def _effect(t: Trial) -> str:
    if t.psnr_delta is not None:
        return f"{t.psnr_delta:+.2f} dB"
    return f"attention weights off by up to {t.attention_diff:.3f}"


def pick(trials: list[Trial]) -> tuple[str, str]:
    """The fastest allowed precision and why: ('int8', 'int8: 2.3x faster than fp32,
    -0.02 dB'); fp32 unless another is allowed and MIN_SPEEDUP times faster."""
    fast = [t for t in trials if t.name != "fp32" and t.ok and t.speedup >= MIN_SPEEDUP]
    if fast:
        best = max(fast, key=lambda t: t.speedup)
        return best.name, f"{best.name}: {best.speedup:.1f}x faster than fp32, {_effect(best)}"
    others = []
    for t in trials:
        if t.name == "fp32":
            continue
        if not t.ok:
            limit = f"{PSNR_TOLERANCE_DB} dB" if t.psnr_delta is not None else ATTENTION_TOLERANCE
            others.append(f"{t.name} changes the results ({_effect(t)}, over {limit})")
        else:
            others.append(f"{t.name} not faster ({t.speedup:.2f}x)")
    return "fp32", "fp32: " + ("; ".join(others) if others else "the only precision here")


def choose(
    session: ModelSession,
    device: torch.device,
    measure: Measure | None = None,
    cache_path: Path | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[str, str]:
    """Place the session's model on `device` in the precision 'auto' stands for there, and
    return (its name, why). Remembered choices are reused. Otherwise a copy of the model is
    made in each candidate precision and they take turns, one pass each (`measure`, default
    `calibration_measure`), for WARMUP_PASSES + TIMED_PASSES rounds: interleaved, so that
    other work on the machine slows them all alike. A candidate's time is its fastest timed
    pass. The winner stays, the other copies go, and the choice is written down (with the
    seconds the measurement took, by `clock`)."""
    path = cache_file() if cache_path is None else cache_path
    key = f"{model_key(session)} | {machine_key(device)}"
    offered = candidates(device)
    remembered = read_cache(path).get(key)
    if remembered is not None and remembered["dtype"] in offered:
        session._place(device, DTYPES[remembered["dtype"]])
        return remembered["dtype"], remembered["reason"]
    t0 = clock()
    session._place(device, torch.float32)
    if offered == ["fp32"]:
        return "fp32", "fp32: the only precision here"
    measure = measure or calibration_measure(session)
    base = session.model
    models = {"fp32": base}
    for name in offered:
        if name != "fp32":
            try:
                models[name] = session._variant(DTYPES[name])
            except torch.cuda.OutOfMemoryError:  # no room for a copy: not a candidate
                torch.cuda.empty_cache()
    times: dict[str, list[float]] = {name: [] for name in models}
    last: dict[str, Pass] = {}
    try:
        for round_ in range(WARMUP_PASSES + TIMED_PASSES):
            for name, model in models.items():
                session.model, session.dtype = model, DTYPES[name]
                last[name] = measure(session)
                if round_ >= WARMUP_PASSES:
                    times[name].append(last[name].ms)
    finally:  # (a pass that ran out of GPU memory moved a copy to the CPU: not base)
        session.model, session.dtype, session.device = base, torch.float32, device
    passes = {n: Pass(min(times[n]), last[n].psnr, last[n].weights) for n in models}
    trials = compare(passes)
    name, reason = pick(trials)
    session.model, session.dtype = models[name], DTYPES[name]
    models.clear()
    seconds = clock() - t0
    write_cache(
        path,
        key,
        {
            "dtype": name,
            "reason": reason,
            "seconds": round(seconds, 2),
            # other work slows the passes; the choice compares them side by side, but a
            # busy machine is worth knowing about
            "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "measured": {
                t.name: {
                    "ms": round(t.ms, 2),
                    "speedup": round(t.speedup, 3),
                    "psnr_delta_db": None if t.psnr_delta is None else round(t.psnr_delta, 4),
                    "attention_diff": round(t.attention_diff, 5),
                    "ok": t.ok,
                }
                for t in trials
            },
        },
    )
    return name, reason


__all__ = [
    "ATTENTION_TOLERANCE",
    "MIN_SPEEDUP",
    "PSNR_TOLERANCE_DB",
    "Pass",
    "Trial",
    "cache_file",
    "candidates",
    "choose",
    "compare",
    "pick",
]
