"""Write the copyright file of the Linux app: what the bundle carries, under which licences.

    python packaging/licenses.py --out COPYRIGHT [--bundle dist/mae-desktop]

Run it with the Python the bundle is built with (the one that has the app's dependencies
and PyInstaller installed). The file is in Debian's machine-readable copyright format
(https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/): the tarball carries it
as COPYRIGHT, the .deb as /usr/share/doc/mae-desktop/copyright. It covers:

- MAE Desktop itself (MIT), its bundled model (models/MODEL_CARD.md says where it comes
  from) and each sample photo (mae_desktop/resources/samples/LICENSES.md);
- every Python distribution the bundle carries, with its version, its declared licence
  (License-Expression, else the License field, else the classifiers) and the licence texts
  in its .dist-info; PySide6 and shiboken6 (Qt) under LGPL-3.0-only;
- Python itself (PSF-2.0) and PyInstaller's bootloader, which starts the app;
- with --bundle, also each library PyInstaller copied from the build system (found with
  dpkg, with that package's copyright file).

With --bundle DIR the list is what DIR (a one-folder PyInstaller bundle) holds: the folders
under DIR/_internal and the modules in the PYZ archive inside DIR/mae-desktop, each mapped
to the distribution that installed it. Without it, the list is the app's run-time
dependencies as installed (what a bundle built from this environment carries).

Exits 1, naming them, when something bundled has no licence information at all. The output
is sorted and has no dates: the same inputs give the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# run as a script from any folder: the licensing package sits beside this file
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from licensing.assemble import build  # noqa: E402
from licensing.common import LicenceError  # noqa: E402
from licensing.deb822 import parse_deb822  # noqa: E402

__all__ = ["LicenceError", "build", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the copyright file (Debian's machine-readable format) of the "
        "Linux app: MAE Desktop, the Python distributions, Python, Qt, the model and the "
        "sample photos it carries, with their licence texts.",
    )
    parser.add_argument("--out", required=True, type=Path, help="the file to write")
    parser.add_argument(
        "--bundle",
        type=Path,
        help="a built one-folder bundle (dist/mae-desktop): list what it holds, its system "
        "libraries too (default: the app's run-time dependencies in this environment)",
    )
    args = parser.parse_args(argv)
    try:
        text = build(args.bundle)
    except LicenceError as exc:
        print(f"licenses.py: error: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    count = sum(1 for p in parse_deb822(text) if "Files" in p)
    print(f"wrote {args.out}: {count} Files paragraphs, {len(text) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
