"""The copyright file's paragraphs: the header, MAE Desktop, its model and sample photos,
Python, PyInstaller, each distribution, each system package, and the licence texts."""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
import sysconfig
from pathlib import Path

from .bundle import Bundle, SystemPackage, debian_synopsis
from .common import PROGRAM, ROOT, LicenceError, normalize
from .deb822 import Paragraph, clean_text, copyright_lines, files_field, read
from .distributions import QT_DISTS, declared_licence, licence_files, texts_body

CONTACT = "MAE Desktop developers <maintainers@mae-desktop.invalid>"
FORMAT_URL = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
MODEL_DIR = "_internal/mae_desktop/resources/models"
SAMPLES_DIR = "_internal/mae_desktop/resources/samples"
COMMON_LICENSES = Path("/usr/share/common-licenses")
MIT_TEXT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE."""
CC0_TEXT = """\
Creative Commons CC0 1.0 Universal: the author has waived all copyright and related rights
in the work, worldwide, to the extent the law allows; it may be copied, modified and
distributed, also commercially, without asking permission. The legal code:
https://creativecommons.org/publicdomain/zero/1.0/legalcode"""
PUBLIC_DOMAIN_TEXT = """\
The work is in the public domain: no one holds a copyright on it, and it may be used for any
purpose without permission. The Comment of each photo's paragraph names where this comes
from (mae_desktop/resources/samples/LICENSES.md, beside the photos, has the sources)."""


def header(version: str, bundle: Bundle | None) -> Paragraph:
    where = (
        "Paths are relative to the program's folder: /opt/mae-desktop for the .deb package,\n"
        "the unpacked mae-desktop/ folder for the tarball. PYZ.pyz/NAME stands for the Python\n"
        "module or package NAME, stored in the archive PYZ.pyz inside the mae-desktop program."
    )
    if bundle is None:
        where += (
            "\nThis file was written from the Python environment the app is built from, not\n"
            "from a built bundle: the Files patterns name each distribution's modules."
        )
    return (
        Paragraph()
        .add("Format", FORMAT_URL)
        .add("Upstream-Name", "MAE Desktop")
        .add("Upstream-Contact", CONTACT)
        .add(
            "Comment",
            f"MAE Desktop {version} for Linux x86_64: the app, with the Python, the Python\n"
            "libraries (PyTorch, Qt through PySide6, NumPy, Pillow, pyqtgraph, matplotlib\n"
            "and their dependencies), the model and the sample photos it runs with.\n" + where,
        )
    )


def project_paragraph() -> Paragraph:
    return (
        Paragraph()
        .add("Files", "*")
        .add("Copyright", "MAE Desktop developers")
        .add("License", "MIT")
        .add(
            "Comment", "MAE Desktop itself (the mae_desktop package and the program's main script)."
        )
    )


def model_paragraph() -> Paragraph:
    card = ROOT / "models" / "MODEL_CARD.md"
    if not card.is_file():
        raise LicenceError(f"{card} is missing: the bundled model's origin cannot be given")
    text = card.read_text(encoding="utf-8")
    source = re.search(r"github\.com/[\w.-]+/[\w.-]+", text)
    data = f",\n{source.group(0)}" if source else ""
    return (
        Paragraph()
        .add("Files", f"{MODEL_DIR}/*")
        .add("Copyright", "MAE Desktop developers")
        .add("License", "MIT")
        .add(
            "Comment",
            "The bundled default model (default.safetensors), trained from a random start by\n"
            "the MAE Desktop developers with `mae-desktop train`, on photographs from a public\n"
            f"sample of ImageNet with one photograph per class{data}.\n"
            "The photographs are not included; they belong to their owners and are provided\n"
            "for non-commercial research and education. MODEL_CARD.md, beside the weights,\n"
            "describes its data, training and evaluation.",
        )
    )


def sample_rows() -> list[dict[str, str]]:
    """The table of mae_desktop/resources/samples/LICENSES.md, checked against the folder."""
    folder = ROOT / "mae_desktop" / "resources" / "samples"
    table = (folder / "LICENSES.md").read_text(encoding="utf-8")
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and (folder / cells[0]).is_file():
            rows.append(
                dict(zip(("file", "subject", "size", "status", "source"), cells, strict=True))
            )
    photos = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "LICENSES.md")
    listed = sorted(row["file"] for row in rows)
    if photos != listed:
        missing = sorted(set(photos) - set(listed))
        raise LicenceError(
            f"sample photos without a licence row in {folder / 'LICENSES.md'}: "
            + ", ".join(missing)
        )
    return sorted(rows, key=lambda row: row["file"])


def sample_paragraph(row: dict[str, str]) -> Paragraph:
    status = row["status"]
    if re.match(r"(?i)cc0\b", status):
        licence = "CC0-1.0"
        holder = re.sub(r"(?i)^cc0,?\s*(photographer\s+)?", "", status)
        holder = f"{holder} (waived under CC0 1.0)" if holder else "waived under CC0 1.0"
    elif re.match(r"(?i)public domain\b", status):
        licence, holder = "public-domain", f"none: {status}"
    else:
        raise LicenceError(f"sample {row['file']}: unknown licence {status!r} in LICENSES.md")
    source = row["source"] if "://" in row["source"] else f"the sample data of {row['source']}"
    return (
        Paragraph()
        .add("Files", f"{SAMPLES_DIR}/{row['file']}")
        .add("Copyright", holder)
        .add("License", licence)
        .add("Comment", f"Sample photo: {row['subject']}, {row['size']}; source: {source}.")
    )


def python_paragraph(files: list[str]) -> Paragraph:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    version = ".".join(map(str, sys.version_info[:3]))
    major_minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [
        stdlib / "LICENSE.txt",
        Path(f"/usr/share/doc/libpython{major_minor}/copyright"),
        Path(f"/usr/share/doc/python{major_minor}/copyright"),
    ]
    licence = next((p for p in candidates if p.is_file()), None)
    if licence is None:
        raise LicenceError(f"Python's licence text is not in {candidates[0]} nor Debian's docs")
    text = read(licence)
    return (
        Paragraph()
        .add("Files", files_field(files))
        .add("Copyright", "\n".join(["Python Software Foundation", *copyright_lines([text])]))
        .add("License", "PSF-2.0\n" + text)
        .add(
            "Comment",
            f"Python {version}: the interpreter library, its extension modules and the\n"
            "standard library (in base_library.zip and PYZ.pyz).",
        )
    )


def distribution_paragraph(dist: md.Distribution, patterns: list[str], comment: str) -> Paragraph:
    meta = dist.metadata
    name, version = meta["Name"], dist.version
    files = licence_files(dist)
    texts = [text for _name, text in files]
    if normalize(name) in QT_DISTS:
        offered = declared_licence(meta) or "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"
        return (
            Paragraph()
            .add("Files", files_field(patterns))
            .add(
                "Copyright",
                "\n".join(copyright_lines(texts)) or "The Qt Company Ltd. and other contributors",
            )
            .add("License", "LGPL-3.0-only")
            .add(
                "Comment",
                f"{name} {version}: {comment}\n"
                f"Offered as {offered} (and under commercial terms from The Qt Company);\n"
                "distributed here under the GNU LGPL version 3. Qt's and PySide6's libraries\n"
                "are separate dynamic libraries in _internal/PySide6 (Qt's in\n"
                "_internal/PySide6/Qt/lib) and _internal/shiboken6, loaded at run time: you\n"
                "may replace them with your own builds, modified or not. Their source code:\n"
                "https://download.qt.io/official_releases/QtForPython/ (PySide6, shiboken6)\n"
                "and https://download.qt.io/official_releases/qt/ (Qt). Third-party code\n"
                "inside Qt, and its licences: https://doc.qt.io/qt-6/licenses-used-in-qt.html",
            )
        )
    declared = declared_licence(meta)
    long_text = (meta.get("License") or "").strip()
    if not texts and long_text and long_text != declared:
        texts, files = [clean_text(long_text)], [("License field", clean_text(long_text))]
    if declared is None and not texts:
        raise LicenceError(f"{name} {version}: no licence information at all in its metadata")
    synopsis = declared or f"LicenseRef-{normalize(name)}"
    body = (
        texts_body(files)
        if files
        else (f"{name} ships no licence text; its metadata declares the licence as: {declared}.")
    )
    holders = copyright_lines(texts)
    if not holders:
        author = meta.get("Author") or meta.get("Author-email") or meta.get("Maintainer")
        holders = [f"{author}" if author else f"the {name} developers"]
    return (
        Paragraph()
        .add("Files", files_field(patterns))
        .add("Copyright", "\n".join(holders))
        .add("License", f"{synopsis}\n{body}")
        .add("Comment", f"{name} {version}: {comment}")
    )


def pyinstaller_paragraph(
    dists: dict[str, md.Distribution], hooks: dict[str, list[str]]
) -> Paragraph:
    """The program: PyInstaller's bootloader, its loader modules and the run-time hooks
    (from PyInstaller or pyinstaller-hooks-contrib), all inside the mae-desktop file."""
    pyinstaller = dists["pyinstaller"]
    files = licence_files(pyinstaller)
    comment = (
        f"PyInstaller {pyinstaller.version}: the program that starts the app (its bootloader)\n"
        "and PyInstaller's loader modules inside it. The bootloader exception in the licence\n"
        "lets them be part of programs under any licence; the run-time hooks are Apache-2.0."
    )
    for key in sorted(hooks):
        dist = dists[key]
        name = dist.metadata["Name"]
        comment += f"\nRun-time hooks from {name} {dist.version}: {', '.join(sorted(hooks[key]))}."
        if key != "pyinstaller":
            files += [(f"{name}: {file}", text) for file, text in licence_files(dist)]
    holders = copyright_lines([text for _file, text in files])
    return (
        Paragraph()
        .add("Files", PROGRAM)
        .add("Copyright", "\n".join(holders) or "PyInstaller Development Team")
        .add(
            "License",
            "GPL-2.0-or-later WITH Bootloader-exception AND Apache-2.0\n" + texts_body(files),
        )
        .add("Comment", comment)
    )


def system_paragraph(pkg: SystemPackage) -> Paragraph:
    text = read(pkg.copyright_path)
    synopsis, holders = debian_synopsis(text)
    comment = (
        f"Copied from the Debian package {pkg.name} {pkg.version} of the system the app was\n"
        f"built on; its source is the Debian source package {pkg.source} {pkg.source_version}\n"
        f"(https://snapshot.debian.org/package/{pkg.source}/{pkg.source_version}/). The\n"
        "licence text is that package's copyright file."
    )
    if pkg.differs:
        comment += "\nFound by file name (the bundled copy differs): " + ", ".join(pkg.differs)
    return (
        Paragraph()
        .add("Files", files_field(f"_internal/{name}" for name in pkg.files))
        .add("Copyright", "\n".join(holders) or "see the licence text")
        .add("License", f"{synopsis}\n{text}")
        .add("Comment", comment)
    )


def lgpl_paragraph() -> Paragraph:
    lgpl, gpl = COMMON_LICENSES / "LGPL-3", COMMON_LICENSES / "GPL-3"
    if not (lgpl.is_file() and gpl.is_file()):
        raise LicenceError(
            f"the texts of the LGPL 3 and GPL 3 are needed for Qt ({lgpl}, {gpl}): on Debian "
            "and Ubuntu the base-files package has them"
        )
    return Paragraph().add(
        "License",
        "LGPL-3.0-only\n"
        "The GNU Lesser General Public License version 3 adds permissions to the GNU\n"
        "General Public License version 3; both texts follow.\n\n"
        + read(lgpl)
        + "\n\n"
        + read(gpl),
    )
