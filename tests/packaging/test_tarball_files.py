"""The texts the Linux tarball and .deb carry beside the frozen app: the README and the
changelogs, read as users and tools read them (fast: no build)."""

from __future__ import annotations

import email.utils
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import mae_desktop
from tests.test_user_words import offences

ROOT = Path(__file__).resolve().parents[2]
TARBALL = ROOT / "packaging" / "tarball"
INSTALL_SH = TARBALL / "install.sh"
README = TARBALL / "README.md"
DEBIAN_CHANGELOG = ROOT / "packaging" / "debian" / "changelog"

APT_PACKAGES = {
    # any window
    "libgl1",
    "libegl1",
    "libxcb1",
    "libxkbcommon0",
    "libfontconfig1",
    "libdbus-1-3",
    "fontconfig-config",
    "fonts-dejavu-core",
    # X11
    "libxcb-cursor0",
    "libxkbcommon-x11-0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-util1",
    "libxcb-xkb1",
    # Wayland
    "libwayland-client0",
    "libwayland-cursor0",
    "libwayland-egl1",
}
DNF_PACKAGES = {
    "mesa-libGL",
    "mesa-libEGL",
    "libxcb",
    "libxkbcommon",
    "fontconfig",
    "dbus-libs",
    "dejavu-sans-fonts",
    "xcb-util",
    "xcb-util-cursor",
    "libxkbcommon-x11",
    "xcb-util-wm",
    "xcb-util-image",
    "xcb-util-keysyms",
    "xcb-util-renderutil",
    "libwayland-client",
    "libwayland-cursor",
    "libwayland-egl",
}


def _code_lines(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def test_readme_lists_the_system_packages_once():
    text = README.read_text(encoding="utf-8")
    apt = _code_lines(text, "sudo apt-get install")
    dnf = _code_lines(text, "sudo dnf install")
    assert len(apt) == 1 and len(dnf) == 1, (apt, dnf)
    assert set(apt[0].split()[3:]) == APT_PACKAGES
    assert len(apt[0].split()[3:]) == len(APT_PACKAGES)
    assert set(dnf[0].split()[3:]) == DNF_PACKAGES
    assert len(dnf[0].split()[3:]) == len(DNF_PACKAGES)


def test_readme_says_what_a_user_needs():
    text = README.read_text(encoding="utf-8")
    assert "glibc @GLIBC_FLOOR@ or newer" in text
    for needed in (
        "Debian 11",
        "Ubuntu 20.04",
        "Fedora 32",
        "RHEL 9",
        "./mae-desktop --self-test",
        "./mae-desktop reconstruct IMAGE --out out",
        "./mae-desktop photo.jpg",
        "./install.sh --uninstall",
        "QT_QPA_PLATFORM=xcb",
        "QT_QPA_PLATFORM=wayland",
        "~/.config/MAE Desktop/MAE Desktop.conf",
        "~/.cache/mae-desktop/models/",
        "MAE_DESKTOP_CACHE",
        "`COPYRIGHT`",
        "LGPL",
        "universe",
    ):
        assert needed in text, needed


def test_readme_paths_match_the_code():
    """The folders the README names are the ones the app uses."""
    from mae_desktop import APP_NAME
    from mae_desktop.paths import DEFAULT_MODEL_NAME, MODELS_CACHE_ENV

    text = README.read_text(encoding="utf-8")
    assert f"~/.config/{APP_NAME}/{APP_NAME}.conf" in text
    assert MODELS_CACHE_ENV in text
    assert f"_internal/mae_desktop/resources/models/{DEFAULT_MODEL_NAME}" in text
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    assert '"mae_desktop/resources/models"' in spec  # where the spec puts the model


BUILD_WORDS = re.compile(r"(?i)\b(shared|brief|registry|registries|lent)\b")


@pytest.mark.parametrize(
    "path",
    [README, INSTALL_SH, DEBIAN_CHANGELOG, ROOT / "CHANGELOG.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_user_texts_speak_of_the_product(path):
    text = path.read_text(encoding="utf-8")
    found = offences(text, str(path.relative_to(ROOT)))
    found += [m.group(0) for m in BUILD_WORDS.finditer(text)]
    found += [
        line
        for line in text.splitlines()
        if re.search(r"(?i)\bseeds?\b", line) and not re.search(r"(?i)\brandom seeds?\b", line)
    ]
    assert not found, found


# ----------------------------------------------------------------------------------------
# changelogs


def test_debian_changelog_is_this_version_and_parses():
    text = DEBIAN_CHANGELOG.read_text(encoding="utf-8")
    top = re.match(
        r"mae-desktop \((?P<version>[^)]+)\) (?P<dist>[a-z-]+); urgency=(low|medium|high)\n\n"
        r"(?P<changes>(  [*] .+\n(    .+\n)*)+)\n"
        r" -- (?P<who>[^<>]+ <[^<>@]+@[^<>]+>)  (?P<date>.+)\n",
        text,
    )
    assert top, text[:400]
    assert top["version"] == mae_desktop.__version__
    assert email.utils.parsedate_to_datetime(top["date"]).tzinfo is not None
    assert all(len(line) <= 80 for line in top["changes"].splitlines())
    if shutil.which("dpkg-parsechangelog"):
        parsed = subprocess.run(
            ["dpkg-parsechangelog", "-l", str(DEBIAN_CHANGELOG), "-S", "Version"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert parsed.stdout.strip() == mae_desktop.__version__
        assert not parsed.stderr.strip(), parsed.stderr


def test_changelog_md_starts_with_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+) \((\d{4}-\d{2}-\d{2})\)$", text, re.M)
    assert first and first.group(1) == mae_desktop.__version__
    debian_date = re.search(r"^ -- .+>  (.+)$", DEBIAN_CHANGELOG.read_text(), re.M).group(1)
    assert email.utils.parsedate_to_datetime(debian_date).date().isoformat() == first.group(2)
