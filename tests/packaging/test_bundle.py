"""The frozen app: build it, self-test it, package it (slow: run with `pytest -m packaging`)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mae_desktop
from mae_desktop.binding import binding_problem

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(sys.platform != "linux", reason="the Linux packages"),
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="needs pyinstaller (the 'package' extra)",
    ),
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb"),
]


def test_build_self_test_and_packages():
    result = subprocess.run(
        ["bash", "packaging/build_linux.sh", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "self-test ok" in result.stdout
    # the log names the binding the bundle carries, and it is not one known to abort
    found = re.search(r"== Qt binding: PySide6 (\S+) on Python (\d+)\.(\d+)", result.stdout)
    assert found, result.stdout[:2000]
    assert binding_problem(found.group(1), (int(found.group(2)), int(found.group(3)))) is None
    version = mae_desktop.__version__
    tarball = ROOT / "dist" / f"mae-desktop-{version}-linux-x86_64.tar.gz"
    deb = ROOT / "dist" / f"mae-desktop_{version}_amd64.deb"
    assert tarball.is_file() and deb.is_file()
    control = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True).stdout
    assert f"Version: {version}" in control and "libc6 (>= 2." in control
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for path in (
        "./opt/mae-desktop/mae-desktop",
        "./usr/bin/mae-desktop -> /opt/mae-desktop",
        "./usr/share/applications/mae-desktop.desktop",
        "./usr/share/icons/hicolor/256x256/apps/mae-desktop.png",
        "mae_desktop/resources/models/default.safetensors",
    ):
        assert path in listing, path
    # the frozen app writes a figure (matplotlib and its fonts are in the bundle)
    frozen = ROOT / "dist" / "mae-desktop" / "mae-desktop"
    sample = ROOT / "mae_desktop" / "resources" / "samples" / "chelsea.png"
    out = ROOT / "dist" / "figure-check"
    shutil.rmtree(out, ignore_errors=True)
    fig = subprocess.run(
        [str(frozen), "reconstruct", str(sample), "--out", str(out), "--figure", "figure.pdf"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fig.returncode == 0, fig.stderr[-2000:]
    assert (out / "figure.pdf").read_bytes().startswith(b"%PDF")
    shutil.rmtree(out, ignore_errors=True)
