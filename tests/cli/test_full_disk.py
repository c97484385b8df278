"""A full disk leaves no half-written result: every file the command line writes is
written whole or not at all, and the error names the file that could not be written."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_desktop import cli

SAMPLE = Path(__file__).resolve().parents[2] / "mae_desktop/resources/samples/chelsea.png"
MODEL = Path(__file__).resolve().parents[2] / "models"


def _full_at(monkeypatch, name: str, after_bytes: int = 100) -> None:
    """Writing a file whose temporary name contains `name` fails with ENOSPC after some
    bytes (as a disk that fills up half-way does)."""
    real_open = open

    class Full:
        def __init__(self, fh):
            self.fh, self.n = fh, 0

        def write(self, data):
            self.n += len(data)
            if self.n > after_bytes:
                self.fh.write(data[: max(0, after_bytes - (self.n - len(data)))])
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

        def __getattr__(self, attr):
            return getattr(self.fh, attr)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fake_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if "w" in mode and name in Path(str(file)).name and ".tmp" in Path(str(file)).name:
            return Full(fh)
        return fh

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr("io.open", fake_open)  # what Path.write_bytes opens with


@pytest.mark.parametrize("name", ["reconstruction", "metrics", "attention"])
def test_a_full_disk_names_the_file_and_leaves_no_part(tmp_path, capsys, monkeypatch, name):
    out = tmp_path / "o"
    out.mkdir()
    (out / "metrics.json").write_text("an older run's metrics\n")
    _full_at(monkeypatch, name)
    code = cli.main(["reconstruct", str(SAMPLE), "--out", str(out), "--save-arrays"])
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err
    assert "the disk is full" in err and f"{name}." in err.strip().splitlines()[-1]
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    for p in out.iterdir():  # what is there is whole: PNGs decode, arrays load
        if p.suffix == ".png":
            Image.open(p).load()
        elif p.suffix == ".npy":
            np.load(p)
    if name == "metrics":  # the older file survives a failed write
        assert (out / "metrics.json").read_text() == "an older run's metrics\n"
