"""The installed Python distributions: what they put in site-packages, their declared
licences and licence files, and the run-time closure of MAE Desktop's requirements."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

from .common import PROJECT_DIST, ROOT, normalize
from .deb822 import COPYRIGHT_LINE, read

# distributed under the LGPL option of their "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"
QT_DISTS = {"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6"}
LICENSE_FILE_NAME = re.compile(r"(?i)^(licen[cs]e|copying|notice|copyright)([._-].*)?$")
SPDX_LIKE = re.compile(r"[A-Za-z0-9.+\-]+(\s+(AND|OR|WITH|and|or|with)\s+[A-Za-z0-9.+\-]+)*")
CLASSIFIER_NAMES = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "BSD License": "BSD",
    "Apache Software License": "Apache",
    "Python Software Foundation License": "PSF",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "ISC License (ISCL)": "ISC",
    "GNU Library or Lesser General Public License (LGPL)": "LGPL",
    "The Unlicense (Unlicense)": "Unlicense",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "zlib/libpng License": "Zlib",
    "Public Domain": "public-domain",
}


def installed_distributions() -> dict[str, md.Distribution]:
    """Every distribution on sys.path, by normalized name (the first one found wins, as at
    import time)."""
    dists: dict[str, md.Distribution] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            dists.setdefault(normalize(name), dist)
    return dists


def top_level_names(dist: md.Distribution) -> set[str]:
    """The names a distribution puts at the top of site-packages: packages, modules
    (without suffix), *.libs folders and its .dist-info folder."""
    names = set()
    for file in dist.files or []:
        parts = file.parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        top = parts[0]
        if len(parts) == 1:
            names.add(top)
            names.add(top.split(".")[0])
        else:
            names.add(top)
    if not names and (top_level := dist.read_text("top_level.txt")):
        names = {line.strip() for line in top_level.splitlines() if line.strip()}
    return names


def owners_by_name(dists: dict[str, md.Distribution]) -> dict[str, set[str]]:
    owners: dict[str, set[str]] = {}
    for key, dist in dists.items():
        for name in top_level_names(dist):
            owners.setdefault(name, set()).add(key)
    return owners


def runtime_closure(dists: dict[str, md.Distribution]) -> set[str]:
    """The installed distributions MAE Desktop needs at run time (its requirements, theirs,
    and so on; extras and other platforms' requirements left out)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a plain reading: every requirement without an extra
        Requirement = None
    if PROJECT_DIST in dists:
        roots = dists[PROJECT_DIST].requires or []
    else:  # not installed: pyproject's list
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        block = re.search(r"(?ms)^dependencies = \[(.*?)^\]", text).group(1)
        roots = re.findall(r'^\s*"([^"]+)"', block, re.M)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        spec = todo.pop()
        if Requirement is not None:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = normalize(req.name)
        else:
            if "extra ==" in spec:
                continue
            name = normalize(re.match(r"\s*([A-Za-z0-9._-]+)", spec).group(1))
        if name in seen or name not in dists:
            continue
        seen.add(name)
        todo.extend(dists[name].requires or [])
    return seen


def declared_licence(meta: md.PackageMetadata) -> str | None:
    """The licence a distribution declares: License-Expression, else a short License
    field, else its licence classifiers (joined with AND: all may apply)."""
    if expression := (meta.get("License-Expression") or "").strip():
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 100 and SPDX_LIKE.fullmatch(text):
        return text
    names = []
    for classifier in meta.get_all("Classifier") or []:
        parts = [part.strip() for part in classifier.split("::")]
        if parts[0] == "License" and len(parts) > 1 and parts[-1] != "OSI Approved":
            name = CLASSIFIER_NAMES.get(parts[-1], parts[-1])
            if name not in names:
                names.append(name)
    if names:
        return " AND ".join(names)
    if text and "\n" not in text and len(text) <= 60 and not COPYRIGHT_LINE.match(text):
        return text
    return None


def licence_files(dist: md.Distribution) -> list[tuple[str, str]]:
    """(name, text) of the licence files in a distribution's metadata folder: those its
    License-File fields name, everything under licenses/, else LICENSE/COPYING/NOTICE
    files at its top."""
    info = [f for f in dist.files or [] if f.parts and f.parts[0].endswith(".dist-info")]
    by_rel = {"/".join(f.parts[1:]): f for f in info if len(f.parts) > 1}
    chosen: list[str] = []
    for entry in dist.metadata.get_all("License-File") or []:
        for rel in (f"licenses/{entry}", entry):
            if rel in by_rel and rel not in chosen:
                chosen.append(rel)
                break
    chosen += sorted(rel for rel in by_rel if rel.startswith("licenses/") and rel not in chosen)
    if not chosen:
        chosen = sorted(rel for rel in by_rel if "/" not in rel and LICENSE_FILE_NAME.match(rel))
    out = []
    for rel in chosen:
        path = Path(dist.locate_file(by_rel[rel]))
        if path.is_file():
            text = read(path)
            if text:
                out.append((rel.removeprefix("licenses/"), text))
    return out


def texts_body(files: list[tuple[str, str]]) -> str:
    """Several licence files as one text, each under a '==> name <==' line."""
    if len(files) == 1:
        return files[0][1]
    return "\n\n".join(f"==> {name} <==\n\n{text}" for name, text in files)


def module_patterns(dist: md.Distribution) -> list[str]:
    """Without a bundle: a distribution's packages and modules as bundle paths."""
    packages, modules = set(), set()
    for file in dist.files or []:
        parts = file.parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".dist-info"):
            continue
        if len(parts) > 1:
            packages.add(parts[0])
        elif parts[0].endswith((".py", ".so", ".pyd")):
            modules.add(parts[0].split(".")[0])
    return sorted(
        [f"_internal/{name}/*" for name in packages] + [f"_internal/{name}" for name in modules]
    )


def other_version(dists: dict[str, md.Distribution], info_dir: str) -> str | None:
    """For a bundled NAME-VERSION.dist-info folder of a distribution installed here in
    another version: 'NAME VERSION in the bundle, VERSION here'; else None."""
    name, _sep, version = info_dir.removesuffix(".dist-info").rpartition("-")
    dist = dists.get(normalize(name))
    if dist is None or dist.version == version:
        return None
    return f"{dist.metadata['Name']} {version} in the bundle, {dist.version} here"


def hook_owner(dists: dict[str, md.Distribution], hook: str) -> str | None:
    """The distribution that provides a PyInstaller run-time hook (pyi_rth_NAME.py)."""
    wanted = f"{hook}.py"
    for key in ("pyinstaller", "pyinstaller-hooks-contrib", *sorted(dists)):
        dist = dists.get(key)
        if dist is not None and any(f.name == wanted for f in dist.files or []):
            return key
    return None
