"""Print (JSON) the torch source files a normal run of the app imports.

build.spec keeps only these .py files of torch's (about 20 of its 50 MB of sources): torch
reads some of them with `inspect.getsource` at import time, the rest are never opened; the
bytecode of every module stays in the archive either way.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch

import mae_desktop.app.main_window
import mae_desktop.app.run
import mae_desktop.cli  # noqa: F401
from mae_desktop.engine import MAEConfig, MAEModel, masks
from mae_desktop.engine.session import ModelSession
from mae_desktop.training.train import PRESETS


def exercise() -> None:
    """What the app does at run time: a forward pass with and without attention weights, a
    weights-only torch.load, reduced precision."""
    cfg = MAEConfig(**PRESETS["test"])  # 32x32 images, a 4x4 grid
    model = MAEModel(cfg).eval()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict()}, buf)
    buf.seek(0)
    torch.load(buf, weights_only=True)
    from mae_desktop.engine.checkpoints import Checkpoint

    ck = Checkpoint(cfg, model.state_dict(), "mae-desktop", Path("probe"), [], "metadata")
    session = ModelSession(ck, model, torch.device("cpu"), torch.float32)
    img = np.zeros((32, 32, 3), np.float32)
    session.analyse(img, masks.random_mask((4, 4), 0.75, 0))
    session.to("cpu", "bf16")
    session.analyse(img, masks.random_mask((4, 4), 0.75, 0), attention="decoder", query=(0, 0))


exercise()
root = Path(torch.__file__).resolve().parent.parent
files = set()
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if name.split(".")[0] in ("torch", "torchgen") and f and f.endswith(".py"):
        path = Path(f).resolve()
        if path.is_relative_to(root):  # torch.ops and friends report made-up paths
            files.add(path.relative_to(root).as_posix())
print(json.dumps(sorted(files)))
