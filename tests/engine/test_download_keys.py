"""Downloads by URL never hand back another URL's file, and a server that stalls or trickles
is given up with a clear line (the .part kept for a resume). Loopback servers only."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest

from mae_desktop.engine import download as dl
from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.fetch import fetch_url, list_downloaded, source_file
from tests.loopback import Loopback


@pytest.fixture
def two_models(hf_pair):
    """Two different weight files served under the same file name in two repositories, as
    every Hugging Face file URL ends in resolve/main/model.safetensors."""
    from safetensors.torch import load_file, save_file

    first = (hf_pair[1] / "model.safetensors").read_bytes()
    tensors = load_file(hf_pair[1] / "model.safetensors")
    changed = {k: v + 1.0 if v.is_floating_point() else v for k, v in tensors.items()}
    path = hf_pair[1].parent / "changed.safetensors"
    save_file({k: v.contiguous() for k, v in changed.items()}, str(path))
    second = path.read_bytes()
    assert first != second
    return {
        "/a/resolve/main/model.safetensors": first,
        "/b/resolve/main/model.safetensors": second,
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_two_urls_with_one_file_name_give_their_own_files(two_models, tmp_path):
    notes: list[str] = []
    with Loopback(two_models) as srv:
        a = fetch_url(srv.url("/a/resolve/main/model.safetensors"), tmp_path, status=notes.append)
        b = fetch_url(srv.url("/b/resolve/main/model.safetensors"), tmp_path, status=notes.append)
        assert a != b
        assert _sha(a.read_bytes()) == _sha(two_models["/a/resolve/main/model.safetensors"])
        assert _sha(b.read_bytes()) == _sha(two_models["/b/resolve/main/model.safetensors"])
        assert any("holds another download" in n for n in notes)
        asked = len(srv.requests)
        # asked again, each URL gets its own file back, without asking the server
        again_b = fetch_url(
            srv.url("/b/resolve/main/model.safetensors"), tmp_path, status=notes.append
        )
        again_a = fetch_url(
            srv.url("/a/resolve/main/model.safetensors"), tmp_path, status=notes.append
        )
        assert (again_a, again_b) == (a, b) and len(srv.requests) == asked
    assert sum("downloaded from this URL before: using it" in n for n in notes) == 2
    # the records are hidden: the cache lists the two models only
    assert sorted(d.path for d in list_downloaded(tmp_path)) == sorted([a, b])
    assert source_file(a).is_file() and source_file(b).is_file()


def test_a_file_of_unknown_origin_is_never_taken_for_the_url(two_models, tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"something the user put here")
    with Loopback(two_models) as srv:
        got = fetch_url(srv.url("/a/resolve/main/model.safetensors"), tmp_path)
    assert got.name != "model.safetensors"
    assert got.read_bytes() == two_models["/a/resolve/main/model.safetensors"]
    assert (tmp_path / "model.safetensors").read_bytes() == b"something the user put here"


def test_a_part_left_by_one_url_is_not_resumed_by_another(two_models, tmp_path):
    first = two_models["/a/resolve/main/model.safetensors"]
    with Loopback(two_models) as srv:
        srv.drop_after_bytes, srv.drops = 5000, 10
        with pytest.raises(MAEError):
            fetch_url(
                srv.url("/a/resolve/main/model.safetensors"), tmp_path, retries=0, backoff=0.01
            )
        assert (tmp_path / "model.safetensors.part").stat().st_size == 5000
        srv.drop_after_bytes = None
        b = fetch_url(srv.url("/b/resolve/main/model.safetensors"), tmp_path, backoff=0.01)
        assert b.read_bytes() == two_models["/b/resolve/main/model.safetensors"]
        a = fetch_url(srv.url("/a/resolve/main/model.safetensors"), tmp_path, backoff=0.01)
    assert a.read_bytes() == first and a.name == "model.safetensors"


def test_a_server_that_accepts_and_never_answers_is_given_up(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "STALL_S", 0.4)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # connections complete in the kernel; nothing is ever sent
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/m.pth"
        t0 = time.monotonic()
        with pytest.raises(MAEError, match="no data from 127.0.0.1") as err:
            dl.download(url, tmp_path / "m.pth", retries=8, backoff=0.01, timeout=0.15)
    assert time.monotonic() - t0 < 5  # not 8 retries and their back-off
    assert url in str(err.value)


def test_a_trickling_server_is_given_up_and_the_part_resumes(tmp_path, monkeypatch):
    data = bytes(range(256)) * 400
    monkeypatch.setattr(dl, "TRICKLE_WINDOW_S", 0.3)
    monkeypatch.setattr(dl, "MIN_RATE_BPS", 100_000.0)
    with Loopback({"/slow.bin": data}) as srv:
        srv.chunk, srv.rate = 256, 2000.0  # 2 kB/s: data keeps coming, far too slowly
        with pytest.raises(MAEError, match=r"sent .*/s for \d+ s.*is kept") as err:
            dl.download(srv.url("/slow.bin"), tmp_path / "slow.bin", backoff=0.01)
        assert "slow.bin.part" in str(err.value)
        have = dl.part_path(tmp_path / "slow.bin").stat().st_size
        assert 0 < have < len(data)
        srv.rate = None
        dl.download(srv.url("/slow.bin"), tmp_path / "slow.bin", backoff=0.01)
        assert srv.requests[-1] == ("/slow.bin", f"bytes={have}-")
    assert (tmp_path / "slow.bin").read_bytes() == data
