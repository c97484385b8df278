"""The frozen app: build it, self-test it, package it (slow: run with `pytest -m packaging`).

With MAE_DESKTOP_PREBUILT=1 the test checks the installers already in dist/ (built by
packaging/build_release.sh in a Debian 11 root) instead of building on this system."""

from __future__ import annotations

import importlib.util
import os
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


PREBUILT = os.environ.get("MAE_DESKTOP_PREBUILT") == "1"


def _build_here() -> None:
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


def test_build_self_test_and_packages():
    if not PREBUILT:
        _build_here()
    version = mae_desktop.__version__
    tarball = ROOT / "dist" / f"mae-desktop-{version}-linux-x86_64.tar.gz"
    deb = ROOT / "dist" / f"mae-desktop_{version}_amd64.deb"
    assert tarball.is_file() and deb.is_file()
    control = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True).stdout
    assert f"Version: {version}" in control and "libc6 (>= 2." in control
    floor = re.search(r"libc6 \(>= 2\.(\d+)\)", control)
    if PREBUILT:  # the release build's promise: glibc 2.31 (Debian 11, Ubuntu 20.04)
        assert floor and int(floor.group(1)) <= 31, control
    # Wayland's client libraries for the bundled Qt plugins; xz members for older dpkg
    assert "libwayland-cursor0" in control and "libwayland-egl1" in control
    members = subprocess.run(["ar", "t", str(deb)], capture_output=True, text=True).stdout
    assert "data.tar.xz" in members and "control.tar.xz" in members, members
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for path in (
        "./opt/mae-desktop/mae-desktop",
        "./usr/bin/mae-desktop -> /opt/mae-desktop",
        "./usr/share/applications/mae-desktop.desktop",
        "./usr/share/icons/hicolor/256x256/apps/mae-desktop.png",
        "mae_desktop/resources/models/default.safetensors",
        "./usr/share/doc/mae-desktop/copyright",
        "./usr/share/doc/mae-desktop/changelog.gz",
        "./usr/share/mime/packages/mae-desktop.xml",
    ):
        assert path in listing, path
    # the tarball explains itself: README, licences, changelog, a menu installer, the entry
    members = subprocess.run(["tar", "-tzf", str(tarball)], capture_output=True, text=True)
    for name in (
        "README.md",
        "COPYRIGHT",
        "CHANGELOG.md",
        "install.sh",
        "mae-desktop.desktop",
        "mae-desktop-mime.xml",
        "icons/mae-desktop-256.png",
        "mae-desktop",
    ):
        assert f"mae-desktop/{name}" in members.stdout.splitlines(), name
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
