"""packaging/abi_floor.py: the check that keeps the installers running on older systems
(glibc 2.31): it must name the oldest glibc a folder of binaries needs, and fail the build
exactly when something needs more than the limit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "abi_floor.py"

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="ELF binaries"),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf"),
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A folder with one real program, a text file and a symlink, like a bundle's."""
    shutil.copy(shutil.which("true"), tmp_path / "true")
    (tmp_path / "notes.txt").write_text("not a binary")
    (tmp_path / "link").symlink_to(tmp_path / "true")
    return tmp_path


def floor(stdout: str) -> str:
    found = re.search(r"GLIBC floor ([0-9.]+) \(from (\S+)\)", stdout)
    assert found, stdout
    assert found.group(2) == "true"  # the neediest file is named, text files are skipped
    return found.group(1)


def test_the_floor_is_the_newest_glibc_version_the_binaries_need(bundle: Path):
    needed = floor(run(str(bundle)).stdout)
    listed = subprocess.run(
        ["objdump", "-T", str(bundle / "true")], capture_output=True, text=True
    ).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", listed)}
    assert tuple(map(int, needed.split("."))) == max(versions)


def test_the_check_fails_exactly_when_a_binary_needs_more_than_the_limit(bundle: Path):
    needed = floor(run(str(bundle)).stdout)
    major, minor = map(int, needed.split("."))
    assert run(str(bundle), "--max-glibc", needed).returncode == 0
    older = run(str(bundle), "--max-glibc", f"{major}.{minor - 1}")
    assert older.returncode == 1
    assert f"true needs GLIBC_{needed}" in older.stderr


def test_a_folder_that_is_not_there_is_a_usage_error(tmp_path: Path):
    result = run(str(tmp_path / "missing"))
    assert result.returncode == 2 and "not a folder" in result.stderr
