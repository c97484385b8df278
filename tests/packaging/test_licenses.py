"""packaging/licenses.py (and its licensing package) on this environment and on a small
fake bundle, with the copyright file read as Debian's tools read it (fast: no build)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LICENSES_PY = ROOT / "packaging" / "licenses.py"
SAMPLES = ROOT / "mae_desktop" / "resources" / "samples"

pytestmark = [
    pytest.mark.skipif(
        sys.platform != "linux" or shutil.which("bash") is None, reason="Linux shell scripts"
    ),
    # the copyright file lists PyInstaller's bootloader and hooks from its installed
    # distribution: the package extra (pip install -e ".[package]")
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="PyInstaller is not installed (the package extra: pip install -e '.[package]')",
    ),
]


def _licenses(monkeypatch: pytest.MonkeyPatch):
    """packaging/licenses.py as a module (it is a script, not part of the package); its
    folder goes on sys.path for this test only, so its licensing package imports."""
    monkeypatch.syspath_prepend(str(LICENSES_PY.parent))
    spec = importlib.util.spec_from_file_location("mae_licenses", LICENSES_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paragraphs(text: str) -> list[dict[str, str]]:
    """deb822 read independently of licenses.py: blank-line separated paragraphs of
    'Field: value' lines and ' '-indented continuations."""
    assert text.endswith("\n") and "\n\n\n" not in text and not text.startswith("\n")
    out = []
    for block in text.strip("\n").split("\n\n"):
        para, last = {}, None
        for line in block.split("\n"):
            if line.startswith(" "):
                assert last is not None, line
                para[last] += "\n" + line[1:]
            else:
                match = re.fullmatch(r"([A-Za-z][A-Za-z0-9-]*): ?(.*)", line)
                assert match, f"not a field: {line!r}"
                last = match.group(1)
                assert last not in para, f"{last} twice in one paragraph"
                para[last] = match.group(2)
        out.append(para)
    return out


def _check_copyright_file(paragraphs: list[dict[str, str]]) -> dict[str, str]:
    """The format's rules; returns {standalone licence name: its text}."""
    assert paragraphs[0]["Format"].startswith("https://www.debian.org/doc/packaging-manuals/")
    standalone = {
        p["License"].split("\n")[0]: p["License"]
        for p in paragraphs
        if "Files" not in p and "License" in p
    }
    for para in paragraphs[1:]:
        assert para.get("License", "").strip(), para
        if "Files" not in para:
            assert "\n" in para["License"], f"no text: {para['License'][:60]}"
            continue
        assert para["Files"].strip() and para["Copyright"].strip(), para.get("Files")
        synopsis, _, body = para["License"].partition("\n")
        assert synopsis.strip()
        assert body.strip() or synopsis in standalone, f"no text for {synopsis} ({para['Files']})"
    return standalone


def _files_with(paragraphs, pattern: str) -> dict[str, str]:
    found = [p for p in paragraphs if "Files" in p and pattern in p["Files"].split()]
    assert len(found) == 1, (pattern, [p.get("Files") for p in found])
    return found[0]


def test_licenses_of_this_environment(tmp_path, monkeypatch):
    out = tmp_path / "copyright"
    run = subprocess.run(
        [sys.executable, str(LICENSES_PY), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    paragraphs = _paragraphs(text)
    standalone = _check_copyright_file(paragraphs)

    everything = _files_with(paragraphs, "*")
    assert everything["License"] == "MIT" and "MIT" in standalone
    assert "Permission is hereby granted" in standalone["MIT"]
    torch = _files_with(paragraphs, "_internal/torch/*")
    assert "BSD-3-Clause" in torch["License"].split("\n")[0]
    assert "Comment" in torch and "torch " in torch["Comment"]
    assert "From PyTorch:" in torch["License"]  # its licence file, and its third parties'
    assert "third_party/" in torch["License"]
    qt = _files_with(paragraphs, "_internal/PySide6/*")
    assert qt["License"] == "LGPL-3.0-only"
    assert "replace" in qt["Comment"] and "_internal/PySide6" in qt["Comment"]
    assert _files_with(paragraphs, "_internal/shiboken6/*")["License"] == "LGPL-3.0-only"
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in standalone["LGPL-3.0-only"]
    assert "GNU GENERAL PUBLIC LICENSE" in standalone["LGPL-3.0-only"]
    numpy = _files_with(paragraphs, "_internal/numpy/*")
    assert "BSD-3-Clause" in numpy["License"]
    pillow = _files_with(paragraphs, "_internal/PIL/*")
    assert pillow["Comment"].lower().startswith("pillow ")
    assert "MIT-CMU" in pillow["License"] or "HPND" in pillow["License"]
    pyqtgraph = _files_with(paragraphs, "_internal/pyqtgraph/*")
    assert pyqtgraph["License"].startswith("MIT\n")
    python = _files_with(paragraphs, "_internal/base_library.zip")
    assert python["License"].startswith("PSF-2.0\n")
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in python["License"]
    assert _files_with(paragraphs, "mae-desktop")["License"].startswith(
        "GPL-2.0-or-later WITH Bootloader-exception"
    )
    model = _files_with(paragraphs, "_internal/mae_desktop/resources/models/*")
    assert model["License"] == "MIT" and "MODEL_CARD.md" in model["Comment"]
    photos = sorted(p.name for p in SAMPLES.iterdir() if p.name != "LICENSES.md")
    assert len(photos) >= 4
    for photo in photos:
        para = _files_with(paragraphs, f"_internal/mae_desktop/resources/samples/{photo}")
        assert para["License"] in ("CC0-1.0", "public-domain"), para
        assert para["License"] in standalone
    # build-only and test tools are not in it
    comments = " ".join(p.get("Comment", "") for p in paragraphs).lower()
    for tool in ("pytest", "ruff", "transformers", "pluggy", "iniconfig", "pypdf"):
        assert f"{tool} " not in comments, tool
    # the same environment gives the same file
    again = _licenses(monkeypatch).build(None)
    assert again == text


def _fake_bundle(parent: Path, *extra: str) -> Path:
    bundle = parent / "mae-desktop"
    internal = bundle / "_internal"
    for folder in ("numpy", "PySide6", "python3.11/lib-dynload", "mae_desktop/resources/models"):
        (internal / folder).mkdir(parents=True)
    (internal / "base_library.zip").write_bytes(b"PK")
    (internal / "libpython3.11.so.1.0").write_bytes(b"\x7fELF")
    (internal / "libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")
    for name in extra:
        (internal / name).mkdir()
    (bundle / "mae-desktop").write_bytes(b"\x7fELF")
    return bundle


ARCHIVE = {"cycler": True, "json": True, "mae_desktop": True, "pyimod01_archive": False}
PROGRAM_TOC = ["main", "pyi_rth_pyside6", "pyiboot01_bootstrap", "struct"]


def test_licenses_of_a_bundle_list_what_it_holds(tmp_path, monkeypatch, capsys):
    licenses = _licenses(monkeypatch)
    monkeypatch.setattr("licensing.bundle.read_program", lambda program: (ARCHIVE, PROGRAM_TOC))
    bundle = _fake_bundle(tmp_path)
    zlib = Path("/lib/x86_64-linux-gnu/libz.so.1")
    system_lib = shutil.which("dpkg") is not None and zlib.is_file()
    if system_lib:
        shutil.copy(zlib.resolve(), bundle / "_internal" / "libz.so.1")
    out = tmp_path / "COPYRIGHT"
    assert licenses.main(["--bundle", str(bundle), "--out", str(out)]) == 0, capsys.readouterr()
    paragraphs = _paragraphs(out.read_text(encoding="utf-8"))
    _check_copyright_file(paragraphs)
    assert "PYZ.pyz/cycler/*" in _files_with(paragraphs, "PYZ.pyz/cycler/*")["Files"]
    assert _files_with(paragraphs, "_internal/numpy/*")
    assert _files_with(paragraphs, "_internal/PySide6/*")["License"] == "LGPL-3.0-only"
    python = _files_with(paragraphs, "_internal/libpython3.11.so.1.0")["Files"].split()
    assert sorted(python) == [
        "_internal/base_library.zip",
        "_internal/libpython3.11.so.1.0",
        "_internal/python3.11/*",
    ]
    program = _files_with(paragraphs, "mae-desktop")
    assert "pyi_rth_pyside6" in program["Comment"]
    everything = " ".join(p.get("Files", "") for p in paragraphs)
    assert "torch" not in everything and "sympy" not in everything  # not in this bundle
    assert "libQt6Core" not in everything  # a link: what it points to is covered
    if system_lib:
        zlib_para = _files_with(paragraphs, "_internal/libz.so.1")
        assert "zlib1g" in zlib_para["Comment"] and "Zlib" in zlib_para["License"]
        assert "differs" not in zlib_para["Comment"]


def test_licenses_refuse_what_they_cannot_place(tmp_path, monkeypatch, capsys):
    licenses = _licenses(monkeypatch)
    monkeypatch.setattr("licensing.bundle.read_program", lambda program: (ARCHIVE, PROGRAM_TOC))
    bundle = _fake_bundle(tmp_path, "whatisthis")
    (bundle / "_internal" / "libnot-a-package.so.1").write_bytes(os.urandom(64))
    out = tmp_path / "COPYRIGHT"
    assert licenses.main(["--bundle", str(bundle), "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert "_internal/whatisthis" in message and not out.exists()
    (bundle / "_internal" / "whatisthis").rmdir()
    assert licenses.main(["--bundle", str(bundle), "--out", str(out)]) == 1
    assert "_internal/libnot-a-package.so.1" in capsys.readouterr().err
    assert licenses.main(["--bundle", str(tmp_path), "--out", str(out)]) == 1
    assert "not a bundle" in capsys.readouterr().err
    # a bundle built from other versions than this environment has: its licences may differ
    (bundle / "_internal" / "libnot-a-package.so.1").unlink()
    (bundle / "_internal" / "numpy-0.0.1.dist-info").mkdir()
    assert licenses.main(["--bundle", str(bundle), "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert "numpy 0.0.1 in the bundle" in message and "the Python that built it" in message
    assert not out.exists()


def test_licenses_refuse_a_distribution_without_licence(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    info = site / "nolicence-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "nolicence").mkdir()
    (site / "nolicence" / "__init__.py").write_text("")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nolicence\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        "nolicence/__init__.py,,\nnolicence-1.0.dist-info/METADATA,,\n"
        "nolicence-1.0.dist-info/RECORD,,\n"
    )
    monkeypatch.syspath_prepend(str(site))
    licenses = _licenses(monkeypatch)
    monkeypatch.setattr("licensing.bundle.read_program", lambda program: (ARCHIVE, PROGRAM_TOC))
    bundle = _fake_bundle(tmp_path, "nolicence")
    assert licenses.main(["--bundle", str(bundle), "--out", str(tmp_path / "c")]) == 1
    assert "nolicence 1.0: no licence information at all" in capsys.readouterr().err
