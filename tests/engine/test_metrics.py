"""The numbers of a reconstruction (engine/metrics.py) as `metrics.json` and the window's
lines have them.

Guards: undefined numbers (None, NaN, ±inf, also nested in dicts, lists and tuples) become
JSON null and the written JSON is strict; every field of the metrics dictionary comes from
the reconstruction or the mask it was made under (counted by hand here); the lines for
people have four decimals, units, and 'n/a' where a number is undefined.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from mae_desktop.engine.metrics import (
    finite_or_none,
    format_metrics,
    json_ready,
    reconstruction_metrics,
    strict_json,
)
from mae_desktop.engine.reconstruction import MODES, Reconstruction

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("x", [None, NAN, INF, -INF, np.float64("nan")])
def test_undefined_numbers_are_none(x: float | None) -> None:
    assert finite_or_none(x) is None


@pytest.mark.parametrize("x", [0.0, -2.5, 3, np.float32(0.25), 1e308])
def test_finite_numbers_are_python_floats(x: float) -> None:
    y = finite_or_none(x)
    assert type(y) is float and y == float(x)


def test_json_ready_reaches_into_dicts_lists_and_tuples() -> None:
    value = {"a": NAN, "b": [1.5, INF, (2, -INF)], "c": {"d": None, "e": "nan"}, "f": True, 3: 7}
    assert json_ready(value) == {
        "a": None,
        "b": [1.5, None, [2, None]],
        "c": {"d": None, "e": "nan"},
        "f": True,
        3: 7,
    }
    assert json_ready(INF) is None and json_ready(2.0) == 2.0 and json_ready("x") == "x"


def test_strict_json_writes_null_and_passes_options_through() -> None:
    text = strict_json({"psnr": INF, "mse": [NAN, 0.5]}, indent=2, sort_keys=True)
    assert json.loads(text) == {"mse": [None, 0.5], "psnr": None}
    assert "NaN" not in text and "Infinity" not in text
    assert text.startswith('{\n  "mse"')  # indent and sort_keys reached json.dumps


def test_strict_json_refuses_what_it_cannot_make_strict() -> None:
    # a NaN dict key is not a value json_ready can replace: refused, never written as NaN
    with pytest.raises(ValueError):
        strict_json({NAN: 1})


def reconstruction(**changes) -> Reconstruction:
    fields = dict(
        image=np.zeros((4, 6, 3), np.float32),
        mask=np.zeros((2, 3), bool),
        prediction=np.zeros((4, 6, 3), np.float32),
        composite=np.zeros((4, 6, 3), np.float32),
        patch_error=np.zeros((2, 3), np.float32),
        loss=0.125,
        masked_mse=0.0625,
        masked_psnr=12.04,
        mode="gt-stats",
        target="norm_pix",
        latency_ms=12.34567,
        device="cuda:0",
        dtype="bf16",
    )
    fields.update(changes)
    return Reconstruction(**fields)


def test_metrics_of_a_reconstruction_by_hand() -> None:
    mask = np.array([[True, False, True], [True, False, False]])  # 3 of 6 masked
    got = reconstruction_metrics(reconstruction(), mask)
    assert got == {
        "target": "norm_pix",
        "loss_target_space": 0.125,
        "masked_mse": 0.0625,
        "masked_psnr_db": 12.04,
        "masked_patches": 3,
        "num_patches": 6,
        "mask_ratio": 0.5,
        "norm_pix_mode": "gt-stats",
        "norm_pix_mode_label": MODES["gt-stats"],
        "uses_ground_truth": True,
        "device": "cuda:0",
        "dtype": "bf16",
        "latency_ms": 12.346,
    }
    assert type(got["masked_patches"]) is int and type(got["num_patches"]) is int
    json.loads(strict_json(got))


def test_undefined_metrics_are_null() -> None:
    rec = reconstruction(loss=NAN, masked_mse=None, masked_psnr=INF, mode="estimate")
    got = reconstruction_metrics(rec, np.zeros((2, 3), bool))
    assert got["loss_target_space"] is None
    assert got["masked_mse"] is None and got["masked_psnr_db"] is None
    assert got["masked_patches"] == 0 and got["mask_ratio"] == 0.0
    assert got["uses_ground_truth"] is False and got["norm_pix_mode"] == "estimate"


def test_an_empty_mask_has_no_ratio_and_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's 'Mean of empty slice' would reach stderr
        got = reconstruction_metrics(reconstruction(), np.zeros((0, 0), bool))
    assert got["num_patches"] == 0 and got["mask_ratio"] is None


def test_lines_for_people_by_hand() -> None:
    metrics = reconstruction_metrics(reconstruction(), np.ones((2, 3), bool))
    assert format_metrics(metrics) == [
        "target-space loss (masked): 0.1250",
        "masked MSE (pixels): 0.0625",
        "masked PSNR: 12.0400 dB",
        f"display: gt-stats — {MODES['gt-stats']}",
        "cuda:0 · bf16 · 12.3 ms",
    ]


def test_undefined_numbers_read_n_a() -> None:
    metrics = reconstruction_metrics(
        reconstruction(loss=None, masked_mse=NAN, masked_psnr=None, latency_ms=0.04),
        np.ones((2, 3), bool),
    )
    lines = format_metrics(metrics)
    assert lines[:3] == [
        "target-space loss (masked): n/a",
        "masked MSE (pixels): n/a",
        "masked PSNR: n/a",
    ]
    assert lines[4] == "cuda:0 · bf16 · 0.0 ms"
    assert not any(math.isnan(v) for v in metrics.values() if isinstance(v, float))
