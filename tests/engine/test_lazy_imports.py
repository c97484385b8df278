"""torch is imported only where a model runs: the engine package, the modules the window
uses and the app core import without it (each checked in a fresh interpreter), and the
engine's public names still resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

# what the window's GUI thread imports (app/* reach the engine only through these)
TORCH_FREE = (
    "mae_desktop.engine",
    "mae_desktop.engine.attention",
    "mae_desktop.engine.brush",
    "mae_desktop.engine.config",
    "mae_desktop.engine.errors",
    "mae_desktop.engine.figure",
    "mae_desktop.engine.images",
    "mae_desktop.engine.masks",
    "mae_desktop.engine.metrics",
    "mae_desktop.engine.patches",
    "mae_desktop.engine.reconstruction",
    "mae_desktop.engine.render",
    "mae_desktop.engine.sweep",
    "mae_desktop.core.editor",
    "mae_desktop.core.lane",
    "mae_desktop.core.live",
    "mae_desktop.core.readout",
    "mae_desktop.core.requests",
    "mae_desktop.core.worker",
    "mae_desktop.session_file",
    "mae_desktop.cli",
)


def _imports_torch(module: str) -> str:
    """'' when importing `module` in a fresh interpreter leaves torch out, else the chain
    of our modules that imported it."""
    code = (
        "import builtins, sys, traceback\n"
        "real = builtins.__import__\n"
        "chain = []\n"
        "def spy(name, *args, **kw):\n"
        "    if name.split('.')[0] == 'torch' and 'torch' not in sys.modules and not chain:\n"
        "        chain.extend(f'{f.filename}:{f.lineno}' for f in traceback.extract_stack()\n"
        "                     if 'mae_desktop' in f.filename)\n"
        "    return real(name, *args, **kw)\n"
        "builtins.__import__ = spy\n"
        f"import {module}\n"
        "builtins.__import__ = real\n"
        "print(' <- '.join(reversed(chain)) if 'torch' in sys.modules else '')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_imports_without_torch(module):
    assert _imports_torch(module) == ""


def test_the_engine_names_load_on_first_use():
    code = (
        "import sys\n"
        "import mae_desktop.engine as engine\n"
        "assert 'torch' not in sys.modules\n"
        "from mae_desktop.engine import MAEModel, ModelSession, generate\n"
        "assert 'torch' in sys.modules\n"
        "from mae_desktop.engine.model import MAEModel as direct\n"
        "assert MAEModel is direct and engine.MAEModel is direct\n"
        "missing = [n for n in engine.__all__ if not hasattr(engine, n)]\n"
        "assert not missing, missing\n"
        "assert set(engine.__all__) <= set(dir(engine))\n"
        "ns = {}\n"
        "exec('from mae_desktop.engine import *', ns)\n"
        "assert set(engine.__all__) <= set(ns)\n"
        "try:\n"
        "    engine.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_batch_patchify_still_works_on_tensors():
    import numpy as np
    import torch

    from mae_desktop.engine.patches import patchify, patchify_batch, unpatchify_batch

    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    batch = torch.from_numpy(image)[None]
    patches = patchify_batch(batch, 16)
    assert np.array_equal(patches[0].numpy(), patchify(image, 16))
    assert torch.equal(unpatchify_batch(patches, (2, 3), 16), batch)
