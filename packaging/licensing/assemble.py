"""The copyright file assembled: what is bundled, mapped to its distributions and packages,
then the paragraphs in order."""

from __future__ import annotations

import re
from pathlib import Path

from .bundle import (
    PYINSTALLER_LOADER,
    archive_pattern,
    disk_pattern,
    is_python_file,
    is_stdlib,
    read_bundle,
    system_packages,
)
from .common import PROGRAM, PROJECT_DIST, ROOT, LicenceError
from .deb822 import Paragraph
from .distributions import (
    QT_DISTS,
    hook_owner,
    installed_distributions,
    module_patterns,
    other_version,
    owners_by_name,
    runtime_closure,
)
from .paragraphs import (
    CC0_TEXT,
    MIT_TEXT,
    PUBLIC_DOMAIN_TEXT,
    distribution_paragraph,
    header,
    lgpl_paragraph,
    model_paragraph,
    project_paragraph,
    pyinstaller_paragraph,
    python_paragraph,
    sample_paragraph,
    sample_rows,
    system_paragraph,
)


def project_version() -> str:
    init = (ROOT / "mae_desktop" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__ = "([^"]+)"', init).group(1)


def build(bundle_dir: Path | None) -> str:
    """The copyright file's text."""
    version = project_version()
    dists = installed_distributions()
    owners = owners_by_name(dists)
    bundle = read_bundle(bundle_dir) if bundle_dir is not None else None
    internal = bundle_dir / "_internal" if bundle_dir is not None else None

    patterns: dict[str, list[str]] = {}  # distribution -> Files patterns
    where: dict[str, set[str]] = {}  # distribution -> "on disk" / "in the archive"
    unknown: list[str] = []
    mismatched: list[str] = []  # "NAME VERSION in the bundle, VERSION here"
    libraries: list[str] = []
    hooks: dict[str, list[str]] = {}  # distribution -> run-time hook names

    def claim(name: str, pattern: str, how: str) -> bool:
        keys = owners.get(name, set()) - {PROJECT_DIST}
        for key in keys:
            patterns.setdefault(key, []).append(pattern)
            where.setdefault(key, set()).add(how)
        return bool(keys)

    if bundle is not None:
        for name in bundle.disk:
            if name == "mae_desktop" or is_python_file(name):
                continue
            if name.endswith(".dist-info") and (other := other_version(dists, name)):
                mismatched.append(other)
                continue
            if claim(name, disk_pattern(internal, name), "folders under _internal"):
                continue
            if ".so" in name and (internal / name).is_file():
                libraries.append(name)
            else:
                unknown.append(f"_internal/{name}")
        for name, is_package in bundle.archive.items():
            if name == "mae_desktop" or is_stdlib(name) or name.startswith(PYINSTALLER_LOADER):
                continue
            if not claim(name, archive_pattern(name, is_package), "modules in PYZ.pyz"):
                unknown.append(f"PYZ.pyz/{name}")
        for name in bundle.program_toc:
            if name.startswith("pyi_rth_"):
                owner = hook_owner(dists, name)
                if owner is None:
                    unknown.append(f"{PROGRAM}: run-time hook {name}")
                else:
                    hooks.setdefault(owner, []).append(name)
    else:
        for key in sorted(runtime_closure(dists)):
            patterns[key] = module_patterns(dists[key]) or [f"_internal/{key}/*"]
            where[key] = {"a run-time dependency"}
    if mismatched:
        raise LicenceError(
            "the bundle was built with other versions than this Python has ("
            + ", ".join(mismatched)
            + "): run this with the Python that built it"
        )
    if unknown:
        raise LicenceError(
            "cannot tell which distribution carries these, so not their licence either: "
            + ", ".join(unknown)
        )

    paragraphs = [header(version, bundle), project_paragraph()]
    if bundle is None or (internal / "mae_desktop/resources/models").is_dir():
        paragraphs.append(model_paragraph())
    paragraphs += [sample_paragraph(row) for row in sample_rows()]
    if bundle is not None:
        python_files = [disk_pattern(internal, n) for n in bundle.disk if is_python_file(n)]
    else:
        python_files = [
            "_internal/libpython3*",
            "_internal/python3.*/*",
            "_internal/base_library.zip",
        ]
    paragraphs.append(python_paragraph(python_files))
    if "pyinstaller" in dists:
        paragraphs.append(pyinstaller_paragraph(dists, hooks))
    elif bundle is not None:
        raise LicenceError("PyInstaller is not installed here: its bootloader's licence is unknown")
    qt = False
    for key in sorted(patterns):
        qt = qt or key in QT_DISTS
        comment = "Python distribution; " + "; ".join(sorted(where[key])) + "."
        paragraphs.append(distribution_paragraph(dists[key], patterns[key], comment))
    if bundle is not None and libraries:
        paragraphs += [system_paragraph(p) for p in system_packages(internal, sorted(libraries))]
    paragraphs.append(Paragraph().add("License", "MIT\n" + MIT_TEXT))
    if qt:
        paragraphs.append(lgpl_paragraph())
    licences_used = {
        value.split("\n")[0] for p in paragraphs for name, value in p.fields if name == "License"
    }
    if "CC0-1.0" in licences_used:
        paragraphs.append(Paragraph().add("License", "CC0-1.0\n" + CC0_TEXT))
    if "public-domain" in licences_used:
        paragraphs.append(Paragraph().add("License", "public-domain\n" + PUBLIC_DOMAIN_TEXT))
    return "\n\n".join(p.render() for p in paragraphs) + "\n"
