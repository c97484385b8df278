"""`mae-desktop download`: catalogue names and URLs, against a loopback server."""

from __future__ import annotations

import pytest

from mae_desktop import cli
from mae_desktop.engine import download as dl
from mae_desktop.engine.catalogue import CATALOGUE
from mae_desktop.engine.checkpoints import load_checkpoint
from tests.loopback import Loopback


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def weights(hf_pair) -> bytes:
    return (hf_pair[1] / "model.safetensors").read_bytes()


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch, tmp_path):
    monkeypatch.setattr(dl, "BACKOFF_S", 0.01)
    monkeypatch.setenv("MAE_DESKTOP_CACHE", str(tmp_path / "cache"))


def test_download_url_prints_the_path_last_and_the_file_opens(weights, tmp_path, capsys):
    with Loopback({"/w/tiny.safetensors": weights}) as srv:
        srv.drop_after_bytes = 100_000  # resumed on the way
        code, out, err = run(
            ["download", srv.url("/w/tiny.safetensors"), "--out", tmp_path], capsys
        )
    assert code == 0, err
    path = out.strip().splitlines()[-1]
    assert path == str(tmp_path / "tiny.safetensors")
    assert (tmp_path / "tiny.safetensors").read_bytes() == weights
    assert load_checkpoint(path).format == "huggingface"
    assert "checking that tiny.safetensors opens" in err
    assert "B/s" in err  # tqdm's rate on stderr


def test_download_a_catalogue_name_prints_its_licence_first(hf_pair, tmp_path, capsys, monkeypatch):
    with Loopback() as srv:
        srv.add_folder("/facebook/vit-mae-base/resolve/main", hf_pair[1])
        monkeypatch.setenv("MAE_DESKTOP_HUB_ENDPOINT", srv.endpoint)
        code, out, err = run(["download", "hf-vit-mae-base"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("hf-vit-mae-base: ")
    assert lines[1].startswith("licence: apache-2.0 (Hub tag); weights CC BY-NC 4.0 (https://")
    assert lines[-1] == str(tmp_path / "cache" / "hf-vit-mae-base")
    assert load_checkpoint(lines[-1]).format == "huggingface"
    code, out, _ = run(["download", "--list"], capsys)  # the cache now has it
    assert code == 0
    assert any(
        line.startswith("hf-vit-mae-base") and line.endswith("downloaded")
        for line in out.splitlines()
    )


def test_list_shows_every_entry_with_size_contents_licence_and_state(tmp_path, capsys):
    (tmp_path / "mae_visualize_vit_large.pth.part").write_bytes(b"x" * 2000)
    (tmp_path / "mine.pth").write_bytes(b"x" * 3000)
    code, out, err = run(["download", "--list", "--out", tmp_path], capsys)
    assert code == 0 and not err
    lines = out.splitlines()
    for name in CATALOGUE:
        assert any(line.startswith(name.name + " ") for line in lines)
    assert "mae-vit-large-visualize        ~1.3 GB   partial: 2.0 kB so far" in lines
    assert "mae-vit-base-visualize         ~448 MB   not downloaded" in lines
    assert "    licence:  CC BY-NC 4.0" in lines
    assert "    contents: encoder only, no decoder" in out
    assert "    mine.pth (3.0 kB)" in lines  # other downloads are listed too


def test_a_bad_name_exits_1_with_a_clear_message(capsys):
    code, out, err = run(["download", "mae-vit-large-visualise"], capsys)
    assert code == 1 and out == ""
    assert err.startswith(
        "mae-desktop: error: no pretrained model called 'mae-vit-large-visualise'"
    )
    assert "did you mean mae-vit-large-visualize" in err and err.count("\n") == 1


def test_nothing_to_download_exits_1(capsys):
    code, _, err = run(["download"], capsys)
    assert code == 1 and "--list" in err


def test_a_404_exits_1_naming_the_url(tmp_path, capsys):
    with Loopback() as srv:
        url = srv.url("/nothing.pth")
        code, out, err = run(["download", url, "--out", tmp_path], capsys)
    assert code == 1 and out == ""
    assert err == f"mae-desktop: error: {url}: not found (HTTP 404)\n"


def test_a_file_that_is_no_checkpoint_exits_1_and_is_kept_as_bad(tmp_path, capsys):
    with Loopback({"/x.pth": b"<html>login page</html>"}) as srv:
        code, out, err = run(["download", srv.url("/x.pth"), "--out", tmp_path], capsys)
    assert code == 1 and out == ""
    assert "does not open as a checkpoint" in err and (tmp_path / "x.pth.bad").is_file()


def test_ctrl_c_keeps_the_part_and_says_how_to_resume(weights, tmp_path, capsys, monkeypatch):
    real = dl._Meter.update

    def interrupt(self, done):
        real(self, done)
        if done >= 100_000:
            raise KeyboardInterrupt

    with Loopback({"/tiny.safetensors": weights}) as srv:
        monkeypatch.setattr(dl._Meter, "update", interrupt)
        code, out, err = run(["download", srv.url("/tiny.safetensors"), "--out", tmp_path], capsys)
        assert code == 130 and out == ""
        part = tmp_path / "tiny.safetensors.part"
        assert f"{part} is kept: run the same command again to resume" in err
        assert 100_000 <= part.stat().st_size < len(weights)
        have = part.stat().st_size
        monkeypatch.setattr(dl._Meter, "update", real)
        code, out, _ = run(["download", srv.url("/tiny.safetensors"), "--out", tmp_path], capsys)
        assert srv.requests[-1] == ("/tiny.safetensors", f"bytes={have}-")
    assert code == 0 and out.strip() == str(tmp_path / "tiny.safetensors")
    assert (tmp_path / "tiny.safetensors").read_bytes() == weights
