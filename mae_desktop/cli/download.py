"""`mae-desktop download`: a catalogue entry or a URL into the model cache, or --list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.errors import MAEError
from .arguments import PROG


def cmd_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..engine import fetch as fe
    from ..engine.catalogue import find
    from ..engine.download import part_path
    from ..paths import models_cache_dir

    root = Path(args.out) if args.out else models_cache_dir()
    if args.list:
        print(fe.catalogue_listing(root))
        return 0
    if not args.what:
        raise MAEError("give a catalogue NAME or a URL to download, or --list to see the names")
    bar = None

    def progress(done: int, total: int | None, rate: float) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, file=sys.stderr)
        if total != bar.total:
            bar.total = total
        bar.update(done - bar.n)  # negative when a server that cannot resume starts over

    def status(text: str) -> None:
        tqdm.write(f"{PROG}: {text}", file=sys.stderr)  # above the bar, which stays

    is_url = "://" in args.what
    entry = None if is_url else find(args.what)
    if entry is not None:
        print(f"{entry.name}: {entry.title}")
        print(f"licence: {entry.licence} ({entry.licence_url})")
        dest = root / entry.file_name
    else:
        dest = fe.url_destination(args.what, root)[0]
    try:
        if entry is not None:
            path = fe.fetch(entry, root, progress=progress, status=status)
        else:
            path = fe.fetch_url(args.what, root, progress=progress, status=status)
    except KeyboardInterrupt:
        part = part_path(dest)
        status(f"interrupted; {part} is kept: run the same command again to resume")
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(path)
    return 0
