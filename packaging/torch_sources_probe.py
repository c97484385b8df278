"""Print (JSON) the torch source files the frozen app needs as .py files.

The bytecode of every module stays in the bundle's archive; a .py file is needed only where
torch reads its own source (`inspect.getsource` for TorchScript, overloads and configs, at
import time or on first use). build.spec keeps exactly the files this prints:
- those read while a normal run of the app imports torch and runs the model in each
  precision (recorded through linecache and tokenize, which inspect reads through), and
- as a margin, every imported torch module whose text asks for its own source later
  (TorchScript decorators, overloads), in case a path the probe does not take reads it.
That is about 60 of the 730 modules the app imports (2.4 MB of their 14 MB).
"""

from __future__ import annotations

import io
import json
import linecache
import os
import re
import sys
import tokenize
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

READ: set[str] = set()
_updatecache, _tokenize_open = linecache.updatecache, tokenize.open


def _record_updatecache(filename, module_globals=None):
    READ.add(str(filename))
    return _updatecache(filename, module_globals)


def _record_open(filename):
    READ.add(str(filename))
    return _tokenize_open(filename)


linecache.updatecache = _record_updatecache
tokenize.open = _record_open

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mae_desktop.app.main_window  # noqa: E402
import mae_desktop.app.run  # noqa: E402
import mae_desktop.cli  # noqa: E402, F401
from mae_desktop.engine import MAEConfig, MAEModel, masks  # noqa: E402
from mae_desktop.engine.session import ModelSession  # noqa: E402
from mae_desktop.training.train import PRESETS  # noqa: E402

# text that makes torch read a module's source after import
READS_ITS_SOURCE = re.compile(
    r"jit\.script|jit\._overload|_overload_method|boolean_dispatch|"
    r"getsource|jit\.ignore|jit\.unused"
)


def exercise() -> None:
    """What the app does at run time: forward passes with and without attention weights in
    each precision, a weights-only torch.load."""
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
    mask = masks.random_mask((4, 4), 0.75, 0)
    for dtype in ("fp32", "bf16", "int8"):
        session.to("cpu", dtype)
        session.analyse(img, mask)
        session.analyse(img, mask, attention="decoder", query=(0, 0))


exercise()
root = Path(torch.__file__).resolve().parent.parent
files = set()
for name, mod in list(sys.modules.items()):
    f = getattr(mod, "__file__", None)
    if name.split(".")[0] not in ("torch", "torchgen") or not f or not f.endswith(".py"):
        continue
    path = Path(f).resolve()
    if not path.is_relative_to(root):  # torch.ops and friends report made-up paths
        continue
    read = str(path) in READ or f in READ
    if read or READS_ITS_SOURCE.search(path.read_text(encoding="utf-8", errors="replace")):
        files.add(path.relative_to(root).as_posix())
print(json.dumps(sorted(files)))
