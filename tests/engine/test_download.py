"""Downloads: resumable, retried, cancellable, verified; the catalogue and the model cache.
Everything runs against a loopback server (tests/loopback.py); nothing touches the internet."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mae_desktop.engine import catalogue
from mae_desktop.engine.catalogue import CATALOGUE, CatalogueEntry
from mae_desktop.engine.checkpoints import load_checkpoint
from mae_desktop.engine.download import (
    DownloadCancelled,
    NotFound,
    download,
    format_bytes,
    format_progress,
    part_path,
)
from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.fetch import check_opens, download_hub, fetch, list_downloaded
from mae_desktop.paths import models_cache_dir
from tests.loopback import Loopback

FAST = {"backoff": 0.01, "timeout": 5.0}


def payload(n: int = 300_000, seed: int = 1) -> bytes:
    """n bytes that differ everywhere (a wrong offset shows)."""
    out = bytearray()
    block = seed.to_bytes(4, "little")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


@pytest.fixture
def server():
    with Loopback({"/f.bin": payload()}) as srv:
        yield srv


def test_a_complete_download_is_byte_identical(server, tmp_path):
    dest = download(server.url("/f.bin"), tmp_path / "f.bin", **FAST)
    assert dest == tmp_path / "f.bin"
    assert dest.read_bytes() == server.files["/f.bin"]
    assert not part_path(dest).exists()


def test_a_dropped_connection_is_resumed_with_range(server, tmp_path):
    server.drop_after_bytes = 100_000  # the first response stops there
    dest = download(server.url("/f.bin"), tmp_path / "f.bin", **FAST)
    assert dest.read_bytes() == server.files["/f.bin"]
    assert server.requests == [("/f.bin", None), ("/f.bin", "bytes=100000-")]


def test_a_server_that_ignores_range_restarts_cleanly(server, tmp_path):
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"x" * 5000)  # not even the right bytes
    server.ignore_range = True
    download(server.url("/f.bin"), dest, **FAST)
    assert dest.read_bytes() == server.files["/f.bin"]
    assert server.requests == [("/f.bin", "bytes=5000-")]


def test_a_server_that_cannot_resume_and_keeps_dropping_gives_up(server, tmp_path):
    server.ignore_range = True
    server.drop_after_bytes, server.drops = 50_000, 100
    with pytest.raises(MAEError, match="cannot resume") as err:
        download(server.url("/f.bin"), tmp_path / "f.bin", retries=3, **FAST)
    assert server.url("/f.bin") in str(err.value)
    assert len(server.requests) == 4  # the first try and 3 retries


def test_cancel_keeps_the_part_and_the_next_call_resumes(server, tmp_path):
    dest = tmp_path / "f.bin"
    cancel = threading.Event()

    def stop_halfway(done, total, rate):
        if done >= 120_000:
            cancel.set()

    with pytest.raises(DownloadCancelled, match="resumes") as err:
        download(server.url("/f.bin"), dest, stop_halfway, cancel, **FAST)
    assert isinstance(err.value, MAEError)
    have = part_path(dest).stat().st_size
    assert 120_000 <= have < len(server.files["/f.bin"])
    assert not dest.exists()
    download(server.url("/f.bin"), dest, **FAST)
    assert dest.read_bytes() == server.files["/f.bin"]
    assert server.requests[-1] == ("/f.bin", f"bytes={have}-")


def test_404_names_the_url(server, tmp_path):
    url = server.url("/missing.pth")
    with pytest.raises(NotFound, match="404") as err:
        download(url, tmp_path / "m.pth", **FAST)
    assert url in str(err.value) and isinstance(err.value, MAEError)
    assert not (tmp_path / "m.pth").exists()


def test_server_errors_are_retried_then_reported(server, tmp_path):
    server.status = 503
    with pytest.raises(MAEError, match="503") as err:
        download(server.url("/f.bin"), tmp_path / "f.bin", retries=2, **FAST)
    assert "failed after 2 retries" in str(err.value)
    assert len(server.requests) == 3


def test_no_network_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/f.bin"
    with pytest.raises(MAEError, match="cannot reach 127.0.0.1") as err:
        download(url, tmp_path / "f.bin", retries=1, **FAST)
    assert url in str(err.value)


def test_a_sha256_mismatch_leaves_no_file(server, tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(MAEError, match="sha256"):
        download(server.url("/f.bin"), dest, sha256="0" * 64, **FAST)
    assert not dest.exists() and not part_path(dest).exists()
    good = hashlib.sha256(server.files["/f.bin"]).hexdigest()
    md5 = hashlib.md5(server.files["/f.bin"]).hexdigest()[:6]
    download(server.url("/f.bin"), dest, sha256=good, md5_prefix=md5, **FAST)
    assert dest.read_bytes() == server.files["/f.bin"]


def test_progress_counts_up_to_the_total(server, tmp_path):
    calls = []
    download(server.url("/f.bin"), tmp_path / "f.bin", lambda *a: calls.append(a), **FAST)
    done = [c[0] for c in calls]
    size = len(server.files["/f.bin"])
    assert done == sorted(done) and done[-1] == size and len(calls) > 3
    assert all(total == size for _, total, _ in calls)
    assert all(rate >= 0 for _, _, rate in calls)


def test_progress_text():
    assert format_bytes(512) == "512 B"
    assert format_bytes(12_345_678) == "12.3 MB"
    assert format_bytes(1_234_567_890) == "1.2 GB"
    text = format_progress(12_300_000, 1_200_000_000, 8_100_000)
    assert text == "12.3 MB of 1.2 GB · 8.1 MB/s · 2 min left"
    assert format_progress(1000, None, 0) == "1.0 kB"


def test_an_unwritable_destination_is_a_clear_error(server, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MAEError, match="cannot create the folder"):
        download(server.url("/f.bin"), blocker / "f.bin", **FAST)


# -- Hugging Face repositories ---------------------------------------------------------------
def test_a_hub_repository_downloads_to_a_folder_that_opens(hf_pair, tmp_path, monkeypatch):
    _, folder = hf_pair
    with Loopback() as srv:
        srv.add_folder("/facebook/vit-mae-base/resolve/main", folder)
        monkeypatch.setenv("MAE_DESKTOP_HUB_ENDPOINT", srv.endpoint)
        entry = catalogue.find("hf-vit-mae-base")
        path = fetch(entry, tmp_path, backoff=0.01)
        asked = [p for p, _ in srv.requests]
    assert path == tmp_path / "hf-vit-mae-base"
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    assert (path / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    assert asked == [
        "/facebook/vit-mae-base/resolve/main/config.json",
        "/facebook/vit-mae-base/resolve/main/preprocessor_config.json",  # optional: 404
        "/facebook/vit-mae-base/resolve/main/model.safetensors",
    ]
    assert load_checkpoint(path).format == "huggingface"
    assert [d.name for d in list_downloaded(tmp_path)] == ["hf-vit-mae-base"]


def test_a_hub_repository_with_only_a_torch_file_falls_back_to_it(hf_pair, tmp_path):
    _, folder = hf_pair
    with Loopback() as srv:
        srv.files["/o/r/resolve/main/config.json"] = (folder / "config.json").read_bytes()
        srv.files["/o/r/resolve/main/pytorch_model.bin"] = b"weights"
        srv.drop_after_bytes = 3  # resumed inside a Hub folder too
        path = download_hub("o/r", tmp_path / "r", endpoint=srv.endpoint, backoff=0.01)
    assert (path / "pytorch_model.bin").read_bytes() == b"weights"
    assert not part_path(path).exists()


def test_a_hub_repository_without_weights_is_an_error(hf_pair, tmp_path):
    with (
        Loopback({"/o/r/resolve/main/config.json": b"{}"}) as srv,
        pytest.raises(MAEError, match="none of the weight files"),
    ):
        download_hub("o/r", tmp_path / "r", endpoint=srv.endpoint, backoff=0.01)
    assert not (tmp_path / "r").exists()  # only the .part folder, for a later resume


def test_hub_endpoint_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MAE_DESKTOP_HUB_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert (
        catalogue.hub_file_url("a/b", "c.json") == "https://huggingface.co/a/b/resolve/main/c.json"
    )
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/")
    assert catalogue.hub_endpoint() == "http://mirror.example"
    monkeypatch.setenv("MAE_DESKTOP_HUB_ENDPOINT", "http://127.0.0.1:9")
    assert catalogue.hub_endpoint() == "http://127.0.0.1:9"


# -- checking and the cache ------------------------------------------------------------------
def test_a_download_that_does_not_open_is_kept_as_bad(tmp_path):
    with Loopback({"/x.pth": b"not a checkpoint"}) as srv:
        entry = _file_entry(srv.url("/x.pth"))
        with pytest.raises(MAEError, match="does not open as a checkpoint") as err:
            fetch(entry, tmp_path, backoff=0.01)
    assert "x.pth.bad" in str(err.value)
    assert (tmp_path / "x.pth.bad").read_bytes() == b"not a checkpoint"
    assert list_downloaded(tmp_path) == []
    with pytest.raises(MAEError):
        check_opens(tmp_path / "x.pth.bad")


def test_the_cache_listing_shows_complete_downloads_only(tmp_path, hf_pair):
    (tmp_path / "mae_visualize_vit_base.pth").write_bytes(b"1234")
    (tmp_path / "half.pth.part").write_bytes(b"12")
    (tmp_path / "broken.pth.bad").write_bytes(b"12")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "hf-vit-mae-large.part").mkdir()
    (tmp_path / "hf-vit-mae-large.part" / "config.json").write_text("{}")
    (tmp_path / "hf-vit-mae-huge").mkdir()
    (tmp_path / "hf-vit-mae-huge" / "config.json").write_text("{}")
    found = list_downloaded(tmp_path)
    assert [(d.name, d.path.name) for d in found] == [
        ("hf-vit-mae-huge", "hf-vit-mae-huge"),
        ("mae-vit-base-visualize", "mae_visualize_vit_base.pth"),
    ]
    assert found[1].size_bytes == 4 and found[1].entry is catalogue.find("mae-vit-base-visualize")
    assert list_downloaded(tmp_path / "absent") == []


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MAE_DESKTOP_CACHE", str(tmp_path / "c"))
    assert models_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MAE_DESKTOP_CACHE")
    default = models_cache_dir()
    assert default.name == "models" and "mae-desktop" in str(default)


def test_an_entry_already_in_the_cache_is_not_downloaded_again(tmp_path):
    entry = _file_entry("http://127.0.0.1:1/ready.pth")  # nothing listens there
    (tmp_path / "ready.pth").write_bytes(b"done")
    assert fetch(entry, tmp_path) == tmp_path / "ready.pth"


# -- the catalogue -----------------------------------------------------------------------------
def test_catalogue_entries_are_well_formed():
    names = [e.name for e in CATALOGUE]
    assert len(names) == len(set(names)) == 10
    files = [e.file_name for e in CATALOGUE]
    assert len(files) == len(set(files))
    for e in CATALOGUE:
        assert e.name == e.name.lower() and " " not in e.name
        assert urlparse(e.url).scheme == "https" and urlparse(e.url).netloc
        assert e.licence and e.licence_text and e.licence_url.startswith("https://")
        assert e.title and e.contents and e.source and e.size_bytes > 10_000_000
        assert e.sha256 is None or len(e.sha256) == 64
        assert (e.target is not None) == e.decoder
        if e.kind == "hub":
            assert e.repo and e.url.endswith(e.repo) and e.weights and "config.json" in e.files
        else:
            assert Path(e.file_name).suffix == ".pth"
    official = [e for e in CATALOGUE if e.kind == "file"]
    assert all("CC BY-NC 4.0" in e.licence for e in official)
    hub = [e for e in CATALOGUE if e.kind == "hub"]
    assert all("apache-2.0" in e.licence and "CC BY-NC" in e.licence_text for e in hub)
    assert all(e.needs_acceptance for e in CATALOGUE)
    assert {e.name for e in CATALOGUE if not e.decoder} == {
        "mae-vit-base-pretrain",
        "mae-vit-large-pretrain",
        "mae-vit-huge-pretrain",
    }


def test_find_is_forgiving_and_helpful():
    assert catalogue.find("MAE-ViT-Large-Visualize").file_name == "mae_visualize_vit_large.pth"
    with pytest.raises(MAEError, match="did you mean mae-vit-large-visualize"):
        catalogue.find("mae-vit-large-visualise")
    with pytest.raises(MAEError, match="--list"):
        catalogue.find("resnet")


def test_url_file_names():
    assert catalogue.url_file_name("https://h/a/b%20c.pth?x=1") == "b c.pth"
    assert catalogue.url_file_name("https://h/") == "download"
    assert catalogue.url_file_name("https://h/..") == "download"


def _file_entry(url: str) -> CatalogueEntry:
    return CatalogueEntry(
        name="test-entry",
        title="a test file",
        kind="file",
        url=url,
        size_bytes=1,
        decoder=True,
        target="pixel",
        contents="test",
        licence="test",
        licence_text="test",
        licence_url="https://example.org",
        source="a test",
    )
