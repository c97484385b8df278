"""The Qt layer: a thin window over the engine. Import only where Qt is wanted.

Elsewhere torch is imported on the inference lane's thread while the window opens (see
core/lane.py). On Windows it is imported here, before any Qt module: since torch 2.9,
torch's DLLs fail to initialise (WinError 1114 loading c10.dll; pytorch/pytorch#166628)
when Qt has already loaded its own, older MSVC runtime, and only importing torch first is
known to prevent that. A background import cannot promise to load its DLLs before the GUI
thread loads Qt's, so on Windows the window waits for torch as it always did.
"""

import sys

if sys.platform == "win32":
    import torch  # noqa: F401  (DLL load order: torch's before Qt's)
