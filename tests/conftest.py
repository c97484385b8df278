"""Shared fixtures. The suite runs on the CPU, offline, with Qt's offscreen platform."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the precisions auto measured are remembered per user: never in the user's own cache (a
# folder of this run's own, removed when the run ends)
if "MAE_DESKTOP_PRECISION_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    _precision_dir = tempfile.mkdtemp(prefix="mae-precision-")
    atexit.register(shutil.rmtree, _precision_dir, True)
    os.environ["MAE_DESKTOP_PRECISION_CACHE"] = os.path.join(_precision_dir, "choices.json")

import gc
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import hf_model

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = Path(__file__).resolve().parents[1] / "mae_desktop" / "resources" / "samples"


@pytest.fixture(autouse=True)
def _collect_garbage_here():
    """After each test, free its garbage on the main thread (the app turns Python's
    automatic collector off so that Qt objects are never destroyed on a worker thread).
    What was imported before is frozen out of the collector's sight: that keeps each
    collection to milliseconds."""
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN.append(True)
    yield
    gc.collect()


_FROZEN: list[bool] = []


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (CUDA)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def hf_pair(tmp_path_factory):
    """(transformers model, its save_pretrained folder) for a small perturbed ViTMAE."""
    model = hf_model(seed=0)
    folder = tmp_path_factory.mktemp("hf") / "vitmae"
    model.save_pretrained(folder)
    return model, folder


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def photo(tmp_path) -> Path:
    """A small smooth RGB photo-like PNG (96x80)."""
    from PIL import Image

    y, x = np.mgrid[0:80, 0:96]
    img = np.stack([x / 95, y / 79, 0.5 + 0.5 * np.sin(x / 9.0) * np.cos(y / 7.0)], -1)
    path = tmp_path / "photo.png"
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path
