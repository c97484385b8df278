"""packaging/tarball/install.sh, run against a fake unpacked tarball folder in a temporary
home (fast: no build)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARBALL = ROOT / "packaging" / "tarball"
INSTALL_SH = TARBALL / "install.sh"
CACHE_TOOLS = ("update-desktop-database", "update-mime-database", "gtk-update-icon-cache")
MIME_XML = """<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="application/x-mae-desktop-test">
    <comment>MAE Desktop test type</comment>
    <glob pattern="*.maedesktoptest"/>
  </mime-type>
</mime-info>
"""

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("bash") is None, reason="Linux shell scripts"
)


def _fake_folder(parent: Path, *, mime: bool = False) -> Path:
    """An unpacked tarball folder: a stand-in program, install.sh, the desktop entry and
    the icons as packaging/build_linux.sh puts them."""
    folder = parent / "mae-desktop"
    (folder / "icons").mkdir(parents=True)
    program = folder / "mae-desktop"
    program.write_text("#!/bin/sh\necho 'MAE Desktop stand-in' \"$@\"\n")
    program.chmod(0o755)
    shutil.copy(INSTALL_SH, folder / "install.sh")
    shutil.copy(ROOT / "resources" / "mae-desktop.desktop", folder / "mae-desktop.desktop")
    shutil.copy(
        ROOT / "mae_desktop" / "resources" / "icon.png", folder / "icons/mae-desktop-256.png"
    )
    shutil.copy(ROOT / "resources" / "icon.png", folder / "icons/mae-desktop-512.png")
    if mime:
        (folder / "mae-desktop-mime.xml").write_text(MIME_XML)
    return folder


def _fake_tools(where: Path, *, root: bool = False) -> Path:
    """Stand-ins for the cache tools that log their arguments (and `id` for a root run)."""
    where.mkdir(parents=True, exist_ok=True)
    log = where / "calls.log"
    for tool in CACHE_TOOLS:
        script = where / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        script.chmod(0o755)
    if root:
        fake_id = where / "id"
        fake_id.write_text("#!/bin/sh\necho 0\n")
        fake_id.chmod(0o755)
    return where


def _env(home: Path, tools: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    if tools is not None:
        env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


def _run(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(folder / "install.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _files_under(path: Path) -> list[str]:
    """Every file and link under path (folders left out), relative, sorted."""
    if not path.exists():
        return []
    return sorted(
        str(p.relative_to(path)) for p in path.rglob("*") if p.is_symlink() or not p.is_dir()
    )


def _desktop_entry(path: Path) -> dict[str, str]:
    group, entry = None, {}
    for line in path.read_text().splitlines():
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entry[key] = value
    return entry


def test_install_puts_the_entry_icons_and_link_where_menus_look(tmp_path):
    folder = _fake_folder(tmp_path / "My Programs")  # a space: Exec must quote the path
    home, tools = tmp_path / "home", _fake_tools(tmp_path / "tools")
    home.mkdir()
    result = _run(folder, _env(home, tools))
    assert result.returncode == 0, result.stderr
    data = home / ".local" / "share"
    desktop = data / "applications" / "mae-desktop.desktop"
    program = folder.resolve() / "mae-desktop"
    entry = _desktop_entry(desktop)
    assert entry["Exec"] == f'"{program}" %F'
    assert entry["TryExec"] == str(program)
    assert entry["Icon"] == "mae-desktop"
    assert entry["Name"] == "MAE Desktop"
    template = _desktop_entry(ROOT / "resources" / "mae-desktop.desktop")
    assert {k: v for k, v in entry.items() if k not in ("Exec", "TryExec")} == {
        k: v for k, v in template.items() if k != "Exec"
    }
    for size in (256, 512):
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "mae-desktop.png"
        assert icon.read_bytes() == (folder / "icons" / f"mae-desktop-{size}.png").read_bytes()
    link = home / ".local" / "bin" / "mae-desktop"
    assert link.is_symlink() and link.resolve() == program
    assert not (data / "mime").exists()  # no MIME file beside install.sh: none installed
    calls = (tools / "calls.log").read_text()
    assert f"update-desktop-database -q {data / 'applications'}" in calls
    assert "update-mime-database" not in calls
    # an icon cache is refreshed, never started (a stale one would hide other icons)
    assert "gtk-update-icon-cache" not in calls
    assert not (data / "icons" / "hicolor" / "icon-theme.cache").exists()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(desktop)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
    # the entry starts the program in the folder, with files (%F) passed through
    started = subprocess.run(
        [program, "photo.jpg"], capture_output=True, text=True, check=True
    ).stdout
    assert started.strip() == "MAE Desktop stand-in photo.jpg"


def test_exec_is_the_plain_path_when_nothing_needs_quoting(tmp_path):
    folder = _fake_folder(tmp_path / "apps")
    home = tmp_path / "home"
    result = _run(folder, _env(home, _fake_tools(tmp_path / "tools")))
    assert result.returncode == 0, result.stderr
    entry = _desktop_entry(home / ".local/share/applications/mae-desktop.desktop")
    assert entry["Exec"] == f"{folder.resolve()}/mae-desktop %F"


@pytest.mark.parametrize(
    ("folder_name", "exec_value"),
    [
        ("cost$5", r'"{parent}/cost\\$5/mae-desktop/mae-desktop" %F'),
        ('say "hi"', r'"{parent}/say \\"hi\\"/mae-desktop/mae-desktop" %F'),
        ("100%", "{parent}/100%%/mae-desktop/mae-desktop %F"),
    ],
)
def test_exec_escapes_follow_the_desktop_entry_specification(tmp_path, folder_name, exec_value):
    parent = tmp_path / "x"
    folder = _fake_folder(parent / folder_name)
    home = tmp_path / "home"
    result = _run(folder, _env(home, _fake_tools(tmp_path / "tools")))
    assert result.returncode == 0, result.stderr
    desktop = home / ".local/share/applications/mae-desktop.desktop"
    assert _desktop_entry(desktop)["Exec"] == exec_value.format(parent=parent.resolve())
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(desktop)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout


def test_xdg_data_home_and_the_mime_package(tmp_path):
    folder = _fake_folder(tmp_path / "apps", mime=True)
    home, data = tmp_path / "home", tmp_path / "data"
    tools = _fake_tools(tmp_path / "tools")
    result = _run(folder, _env(home, tools, XDG_DATA_HOME=str(data)))
    assert result.returncode == 0, result.stderr
    assert (data / "applications" / "mae-desktop.desktop").is_file()
    assert (data / "icons/hicolor/512x512/apps/mae-desktop.png").is_file()
    assert (data / "mime/packages/mae-desktop.xml").read_text() == MIME_XML
    assert not (home / ".local" / "share").exists()
    assert (home / ".local/bin/mae-desktop").is_symlink()  # ~/.local/bin has no XDG variable
    assert f"update-mime-database {data / 'mime'}" in (tools / "calls.log").read_text()

    result = _run(folder, _env(home, tools, XDG_DATA_HOME=str(data)), "--uninstall")
    assert result.returncode == 0, result.stderr
    assert _files_under(data) == [] and _files_under(home) == []


def test_a_relative_xdg_data_home_is_ignored(tmp_path):
    folder = _fake_folder(tmp_path / "apps")
    home = tmp_path / "home"
    env = _env(home, _fake_tools(tmp_path / "tools"), XDG_DATA_HOME="relative/data")
    assert _run(folder, env).returncode == 0
    assert (home / ".local/share/applications/mae-desktop.desktop").is_file()


def test_uninstall_removes_exactly_what_install_put_there(tmp_path):
    folder = _fake_folder(tmp_path / "My Programs", mime=True)
    home, tools = tmp_path / "home", _fake_tools(tmp_path / "tools")
    mine = home / ".local/share/applications/other-app.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    before = _files_under(home)
    assert _run(folder, _env(home, tools)).returncode == 0
    assert len(_files_under(home)) == len(before) + 5  # entry, 2 icons, MIME file, link
    result = _run(folder, _env(home, tools), "--uninstall")
    assert result.returncode == 0, result.stderr
    assert _files_under(home) == before
    assert _files_under(folder) == [  # the folder itself is untouched
        "icons/mae-desktop-256.png",
        "icons/mae-desktop-512.png",
        "install.sh",
        "mae-desktop",
        "mae-desktop-mime.xml",
        "mae-desktop.desktop",
    ]
    again = _run(folder, _env(home, tools), "--uninstall")
    assert again.returncode == 0 and "Nothing to remove" in again.stdout


def test_a_file_already_named_like_the_link_is_left_alone(tmp_path):
    folder = _fake_folder(tmp_path / "apps")
    home, tools = tmp_path / "home", _fake_tools(tmp_path / "tools")
    theirs = home / ".local/bin/mae-desktop"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\n# installed by pip --user\n")
    result = _run(folder, _env(home, tools))
    assert result.returncode == 0 and "left" in result.stderr
    assert not theirs.is_symlink() and "pip" in theirs.read_text()
    result = _run(folder, _env(home, tools), "--uninstall")
    assert result.returncode == 0
    assert theirs.is_file() and not theirs.is_symlink()
    assert not (home / ".local/share/applications/mae-desktop.desktop").exists()


def test_as_root_it_says_the_deb_is_the_system_wide_way_and_goes_on(tmp_path):
    folder = _fake_folder(tmp_path / "apps")
    home = tmp_path / "root-home"
    result = _run(folder, _env(home, _fake_tools(tmp_path / "tools", root=True)))
    assert result.returncode == 0, result.stderr
    assert ".deb" in result.stdout and "root" in result.stdout
    assert (home / ".local/share/applications/mae-desktop.desktop").is_file()


def test_help_usage_errors_and_a_folder_without_the_program(tmp_path):
    folder = _fake_folder(tmp_path / "apps")
    env = _env(tmp_path / "home", _fake_tools(tmp_path / "tools"))
    shown = _run(folder, env, "--help")
    assert shown.returncode == 0 and "--uninstall" in shown.stdout
    assert "XDG_DATA_HOME" in shown.stdout
    for bad in (["--bogus"], ["--uninstall", "--help"]):
        wrong = _run(folder, env, *bad)
        assert wrong.returncode == 2 and "Usage" in wrong.stderr
    (folder / "mae-desktop").unlink()
    missing = _run(folder, env)
    assert missing.returncode == 1 and "no mae-desktop program" in missing.stderr
    assert not (tmp_path / "home" / ".local").exists()


def test_with_the_real_cache_tools(tmp_path):
    """Where the desktop tools are installed they run; uninstalling takes away the caches
    they made when nothing else is left for them to describe."""
    if not all(shutil.which(tool) for tool in CACHE_TOOLS[:2]):
        pytest.skip("update-desktop-database and update-mime-database are not installed")
    folder = _fake_folder(tmp_path / "apps", mime=True)
    home = tmp_path / "home"
    assert _run(folder, _env(home)).returncode == 0
    data = home / ".local/share"
    assert "mae-desktop.desktop" in (data / "applications" / "mimeinfo.cache").read_text()
    assert "x-mae-desktop-test" in (data / "mime" / "types").read_text()
    result = _run(folder, _env(home), "--uninstall")
    assert result.returncode == 0, result.stderr
    assert _files_under(home) == []

    # with another program's entry and file type beside it, those caches stay, without ours
    other = data / "applications" / "other-app.desktop"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=other %F\nMimeType=text/x-other;\n"
    )
    (data / "mime" / "packages").mkdir(parents=True)
    (data / "mime" / "packages" / "other.xml").write_text(
        MIME_XML.replace("mae-desktop-test", "other-test").replace("maedesktoptest", "othertest")
    )
    assert _run(folder, _env(home)).returncode == 0
    assert _run(folder, _env(home), "--uninstall").returncode == 0
    assert "other-app.desktop" in (data / "applications" / "mimeinfo.cache").read_text()
    assert "mae-desktop" not in (data / "applications" / "mimeinfo.cache").read_text()
    types = (data / "mime" / "types").read_text()
    assert "x-other-test" in types and "x-mae-desktop-test" not in types


def test_install_sh_is_executable_and_shellcheck_clean():
    assert INSTALL_SH.stat().st_mode & stat.S_IXUSR
    assert INSTALL_SH.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in INSTALL_SH.read_text()
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    check = subprocess.run(
        ["shellcheck", str(INSTALL_SH)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
