"""Entry point for `python main.py` and the frozen app.

torch is imported before anything Qt so that, on Windows, torch's DLLs load first.
"""

import torch  # noqa: F401  (import order matters; see the docstring)

from mae_desktop.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
