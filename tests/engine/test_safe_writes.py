"""Outputs stay where the user said, whole or not at all: folder names made from file names
never leave their parent, and a write that fails leaves no half file and keeps the old one."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.files import WINDOWS_RESERVED, atomic_write, safe_name, write_bytes

WINDOWS_BAD = set('<>:"/\\|?*')


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_a_safe_name_is_one_plain_child_on_every_system(name):
    safe = safe_name(name)
    assert safe not in ("", ".", "..")
    assert not (set(safe) & WINDOWS_BAD) and all(ord(c) >= 32 for c in safe)
    assert safe == safe.strip(" .")  # Windows drops trailing dots and spaces
    assert safe.split(".")[0].upper() not in WINDOWS_RESERVED
    assert Path("/out", safe).parent == Path("/out") and len(Path(safe).parts) == 1


@given(st.text(alphabet="abcXYZ019-_ ", min_size=1, max_size=20).map(str.strip).filter(bool))
def test_ordinary_names_are_kept(name):
    if name.split(".")[0].upper() not in WINDOWS_RESERVED:
        assert safe_name(name) == name


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed half-way")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_full_disk_names_the_file_and_removes_the_part(tmp_path):
    target = tmp_path / "reconstruction.png"
    full = r"cannot write .*reconstruction\.png: the disk is full"
    with pytest.raises(MAEError, match=full), atomic_write(target, "image") as tmp:
        tmp.write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_completed_write_replaces_in_one_step(tmp_path):
    target = tmp_path / "a.npy"
    target.write_bytes(b"old")
    seen = []
    with atomic_write(target) as tmp:
        tmp.write_bytes(b"new")
        seen.append(target.read_bytes())  # readers still see the old file meanwhile
        assert tmp.suffix == ".npy" and tmp.parent == tmp_path
    assert seen == [b"old"] and target.read_bytes() == b"new"
    assert write_bytes(tmp_path / "b.bin", b"xyz").read_bytes() == b"xyz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.bin"]
