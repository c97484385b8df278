"""Entry point for `python main.py` and the frozen app.

torch is not imported here: the command line's help and listings never need it, and the
app imports it on its inference thread while the window opens. (On Windows the app still
imports torch before Qt, on the main thread: see mae_desktop/app/__init__.py.)
"""

from mae_desktop.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
