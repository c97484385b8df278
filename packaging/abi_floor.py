"""The oldest glibc and libstdc++ a folder of ELF files can run on, from their version needs.

    python packaging/abi_floor.py DIR                      print the floor, the neediest files
    python packaging/abi_floor.py DIR --max-glibc 2.31 --max-glibcxx 3.4.28
                                                           exit 1 if anything needs newer

Every dynamically linked ELF file records the symbol versions it needs from each library
(`readelf -V`: GLIBC_2.34, GLIBCXX_3.4.30, ...). The highest GLIBC_ version over all files is
the oldest glibc the bundle runs on; the highest GLIBCXX_ version is the oldest libstdc++
(GLIBCXX_3.4.28 is GCC 10's, Debian 11's). readelf comes with binutils.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
NEED = re.compile(r"Name: (GLIBC|GLIBCXX|CXXABI)_([0-9.]+)")


def version_key(text: str) -> tuple[int, ...]:
    """'2.31' -> (2, 31); '3.4.28' -> (3, 4, 28)."""
    return tuple(int(part) for part in text.split("."))


def elf_files(folder: Path) -> list[Path]:
    """Regular ELF files under `folder` (symlinks skipped: their targets are listed)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) == ELF_MAGIC:
                found.append(path)
    return found


def needs(path: Path) -> dict[str, str]:
    """The highest version `path` needs per family: {'GLIBC': '2.17', 'GLIBCXX': '3.4.21'}."""
    text = subprocess.run(
        ["readelf", "-V", "--wide", str(path)], capture_output=True, text=True, check=False
    ).stdout
    # only the needs (.gnu.version_r), not what the file itself defines (.gnu.version_d)
    text = text.split("Version needs section", 1)[-1] if "Version needs section" in text else ""
    top: dict[str, str] = {}
    for family, version in NEED.findall(text):
        if family not in top or version_key(version) > version_key(top[family]):
            top[family] = version
    return top


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-glibc", metavar="X.Y", help="fail if a file needs a newer glibc")
    parser.add_argument(
        "--max-glibcxx", metavar="X.Y.Z", help="fail if a file needs a newer libstdc++"
    )
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"not a folder: {args.folder}")
    limits = {"GLIBC": args.max_glibc, "GLIBCXX": args.max_glibcxx}
    top: dict[str, tuple[str, Path]] = {}
    offenders: list[str] = []
    for path in elf_files(args.folder):
        for family, version in needs(path).items():
            if family not in top or version_key(version) > version_key(top[family][0]):
                top[family] = (version, path)
            limit = limits.get(family)
            if limit and version_key(version) > version_key(limit):
                offenders.append(f"{path.relative_to(args.folder)} needs {family}_{version}")
    for family in ("GLIBC", "GLIBCXX", "CXXABI"):
        if family in top:
            version, path = top[family]
            print(f"{family} floor {version} (from {path.relative_to(args.folder)})")
    if offenders:
        print(f"{len(offenders)} files need more than the limits:", file=sys.stderr)
        for line in offenders[:40]:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
