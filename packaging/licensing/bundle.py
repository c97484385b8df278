"""What a one-folder bundle holds: its _internal/ folder, the program's archives, and the
system libraries PyInstaller copied, with the Debian packages they come from (dpkg)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import PROGRAM, LicenceError
from .deb822 import copyright_lines, parse_deb822

PYINSTALLER_LOADER = ("pyimod", "pyiboot", "_pyi_rth_utils")


@dataclass
class Bundle:
    """What a one-folder bundle holds, by kind."""

    disk: list[str]  # entries directly under _internal/ (regular files and folders)
    archive: dict[str, bool]  # top-level module names in PYZ.pyz: is it a package?
    program_toc: list[str]  # the names in the program's own archive (loader, hooks, main)


def read_bundle(folder: Path) -> Bundle:
    internal = folder / "_internal"
    program = folder / PROGRAM
    if not internal.is_dir() or not program.is_file():
        raise LicenceError(f"{folder} is not a bundle: no _internal/ folder or {PROGRAM} program")
    disk = sorted(p.name for p in internal.iterdir() if not p.is_symlink())
    archive, program_toc = read_program(program)
    return Bundle(disk=disk, archive=archive, program_toc=program_toc)


def read_program(program: Path) -> tuple[dict[str, bool], list[str]]:
    """({top-level module in PYZ.pyz: is it a package?}, [the program archive's other
    entries: PyInstaller's loader, run-time hooks, the main script]) of a bundle's program."""
    try:
        from PyInstaller.archive.readers import CArchiveReader, ZlibArchiveReader
    except ImportError as exc:
        raise LicenceError(
            "PyInstaller is needed to list the modules inside the bundle's program: run this "
            "with the Python that built the bundle"
        ) from exc
    try:
        outer = CArchiveReader(str(program))
        pyz_name = next(name for name, entry in outer.toc.items() if entry[-1] == "z")
        if hasattr(outer, "open_embedded_archive"):
            pyz = outer.open_embedded_archive(pyz_name)
        else:
            pyz = ZlibArchiveReader(str(program), outer._start_offset + outer.toc[pyz_name][0])
    except Exception as exc:
        raise LicenceError(f"cannot read the module archive in {program}: {exc}") from exc
    archive: dict[str, bool] = {}
    for name, entry in pyz.toc.items():
        top = name.split(".")[0]
        is_package = "." in name or (isinstance(entry, tuple) and entry[0] == 1)
        archive[top] = archive.get(top, False) or is_package
    program_toc = sorted(name for name, entry in outer.toc.items() if entry[-1] in "msu")
    return dict(sorted(archive.items())), program_toc


def is_stdlib(name: str) -> bool:
    return name in sys.stdlib_module_names or name.startswith("_sysconfigdata")


def is_python_file(name: str) -> bool:
    return (
        name == "base_library.zip"
        or name.startswith("libpython3")
        or re.fullmatch(r"python3\.\d+", name) is not None
    )


def archive_pattern(name: str, is_package: bool) -> str:
    return f"PYZ.pyz/{name}/*" if is_package else f"PYZ.pyz/{name}"


def disk_pattern(internal: Path | None, name: str) -> str:
    if internal is None or (internal / name).is_dir():
        return f"_internal/{name}/*"
    return f"_internal/{name}"


# ----------------------------------------------------------------------------------------
# system libraries (copied by PyInstaller from the build system)


@dataclass
class SystemPackage:
    name: str
    version: str
    source: str
    source_version: str
    copyright_path: Path
    files: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)


LIBRARY_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
)


def dpkg_search(patterns: list[str]) -> list[tuple[str, str]]:
    """(package, path) pairs from `dpkg -S PATTERN...` (patterns nothing owns are skipped)."""
    if not patterns:
        return []
    run = subprocess.run(["dpkg", "-S", *patterns], capture_output=True, text=True, check=False)
    pairs = []
    for line in run.stdout.splitlines():
        packages, sep, path = line.rpartition(": ")
        if sep and path.startswith("/") and not line.startswith("diversion "):
            pairs += [(package.strip(), path) for package in packages.split(", ")]
    return pairs


def dpkg_owners(names: list[str]) -> dict[str, list[tuple[str, str]]]:
    """{library file name: [(package, path), ...]}: the installed packages that have a
    library of that name, looked up by its paths in the usual library folders (fast), then
    by name anywhere (slow, only for the rest)."""
    if not names or not shutil.which("dpkg"):
        return {}
    paths: dict[str, str] = {}  # a path dpkg may know -> the bundled name it stands for
    for name in names:
        for folder in LIBRARY_DIRS:
            path = Path(folder) / name
            if path.exists():
                paths.setdefault(str(path), name)
                paths.setdefault(str(path.resolve()), name)
    owners: dict[str, list[tuple[str, str]]] = {}
    for package, path in dpkg_search(sorted(paths)):
        if path in paths:
            owners.setdefault(paths[path], []).append((package, path))
    rest = [name for name in names if name not in owners]
    for package, path in dpkg_search([f"*/{name}" for name in rest]):
        if (name := path.rsplit("/", 1)[-1]) in rest:
            owners.setdefault(name, []).append((package, path))
    return owners


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def system_packages(internal: Path, libraries: list[str]) -> list[SystemPackage]:
    """The Debian packages the bundle's system libraries come from; raises LicenceError
    naming the libraries no package owns."""
    owners = dpkg_owners(libraries)
    unknown = [name for name in libraries if name not in owners]
    if unknown:
        how = "" if shutil.which("dpkg") else " (no dpkg on this system to ask)"
        raise LicenceError(
            "no licence known for these libraries in the bundle, which no installed package "
            f"provides{how}: " + ", ".join(f"_internal/{name}" for name in unknown)
        )
    packages: dict[str, SystemPackage] = {}
    for name in libraries:
        bundled = sha256(internal / name)
        candidates = owners[name]
        same = [
            c
            for c in candidates
            if Path(c[1]).is_file() and sha256(Path(c[1]).resolve()) == bundled
        ]
        package, _path = (same or candidates)[0]
        if package not in packages:
            packages[package] = SystemPackage(package, "", "", "", Path())
        packages[package].files.append(name)
        if not same:
            packages[package].differs.append(name)
    query = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f=${binary:Package}\\t${Package}\\t${Version}\\t${source:Package}\\t"
            "${source:Version}\\n",
            *sorted(packages),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in query.stdout.splitlines():
        binary, plain, version, source, source_version = [*line.split("\t"), "", "", "", ""][:5]
        for key in (binary, plain):
            if key in packages:
                pkg = packages[key]
                pkg.version, pkg.source = version, source or plain
                pkg.source_version = source_version or version
                pkg.copyright_path = Path("/usr/share/doc") / plain / "copyright"
    missing = [p.name for p in packages.values() if not p.copyright_path.is_file()]
    if missing:
        raise LicenceError(
            "these packages provide bundled libraries but have no "
            "/usr/share/doc/PACKAGE/copyright file: " + ", ".join(sorted(missing))
        )
    return [packages[name] for name in sorted(packages)]


def debian_synopsis(text: str) -> tuple[str, list[str]]:
    """(licence expression, copyright statements) read from a Debian copyright file: the
    License and Copyright fields of its Files paragraphs when it is machine-readable."""
    try:
        paragraphs = parse_deb822(text) if text.startswith("Format:") else []
    except ValueError:
        paragraphs = []
    expressions: list[str] = []
    holders: list[str] = []
    for para in paragraphs:
        if "Files" not in para:
            continue
        if (licence := para.get("License", "").split("\n")[0].strip()) and (
            licence not in expressions
        ):
            expressions.append(licence)
        for line in para.get("Copyright", "").split("\n"):
            line = re.sub(r"\s+", " ", line).strip()
            if line and line not in holders:
                holders.append(line)
    if not expressions:
        return "other", copyright_lines([text])
    if len(expressions) > 1:
        expressions = [f"({e})" if " " in e else e for e in expressions]
    if len(holders) > 12:
        holders = [*holders[:12], "and others: see the licence text"]
    return " and ".join(expressions), holders
