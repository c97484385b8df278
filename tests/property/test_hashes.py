"""The hashes that tell a changed file from the saved one change when any byte does.

Session files keep the sha256 of their image and checkpoint (`session_file.file_sha256`,
`sha256_of`: a folder is every regular file in it, in name order); the command line reports
a checkpoint's `checkpoint_sha256` (`engine.checkpoints.sha256_files` over its weight files,
both shards of a sharded Hugging Face folder). For any folder of 1-4 files: the hash is the
sha256 of the files' bytes in name order, computed here with hashlib; flipping any byte,
appending one or truncating any file changes it; sub-folders are not part of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from mae_desktop.core.requests import OpenModel
from mae_desktop.core.worker import Worker
from mae_desktop.engine.checkpoints import load_checkpoint, sha256_files
from mae_desktop.session_file import file_sha256, sha256_of

NAMES = st.text("abcXYZ019._-", min_size=1, max_size=8).filter(lambda n: n not in (".", ".."))
FOLDERS = st.dictionaries(NAMES, st.binary(max_size=300), min_size=1, max_size=4)


def reference(folder: Path) -> str:
    """sha256 of the bytes of the folder's regular files, in name order, one hashlib call
    per file."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if (folder / name).is_file():
            with open(folder / name, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]


def hashes(folder: Path, paths: list[Path]) -> dict[str, str | None]:
    """Every way the app hashes a folder of files, each given the files in `paths` order."""
    return {
        "file_sha256(folder)": file_sha256(folder),
        "sha256_of(files)": sha256_of(paths),
        "sha256_files(files)": sha256_files(paths),
    }


@st.composite
def changes(draw: st.DrawFn, files: dict[str, bytes]) -> tuple[str, Callable[[bytes], bytes]]:
    """One file and one change to its bytes: a flipped byte, an appended byte or a cut."""
    name = draw(st.sampled_from(sorted(files)))
    size = len(files[name])
    kinds = ["append"] + (["flip", "truncate"] if size else [])
    kind = draw(st.sampled_from(kinds), label="change")
    if kind == "append":
        byte = draw(st.integers(0, 255))
        return name, lambda b: b + bytes([byte])
    if kind == "flip":
        at, bits = draw(st.integers(0, size - 1)), draw(st.integers(1, 255))
        return name, lambda b: b[:at] + bytes([b[at] ^ bits]) + b[at + 1 :]
    keep = draw(st.integers(0, size - 1))
    return name, lambda b: b[:keep]


@settings(max_examples=120, deadline=None)
@given(files=FOLDERS, data=st.data())
def test_a_folder_hash_is_every_file_in_name_order_and_any_change_shows(files, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = data.draw(st.permutations(write(folder, files)), label="order given")
        want = hashlib.sha256(b"".join(files[n] for n in sorted(files))).hexdigest()
        assert reference(folder) == want
        assert hashes(folder, paths) == dict.fromkeys(hashes(folder, paths), want)

        name, change = data.draw(changes(files))
        (folder / name).write_bytes(change(files[name]))
        after = reference(folder)
        assert after != want
        assert hashes(folder, paths) == dict.fromkeys(hashes(folder, paths), after)


@settings(max_examples=30, deadline=None)
@given(files=FOLDERS, inner=FOLDERS)
def test_sub_folders_are_not_part_of_a_folders_hash(files, inner):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder, files)
        want = hashlib.sha256(b"".join(files[n] for n in sorted(files))).hexdigest()
        sub = folder / "zz-sub"
        sub.mkdir()
        write(sub, inner)
        assert file_sha256(folder) == want


@settings(max_examples=30, deadline=None)
@given(content=st.binary(max_size=500))
def test_a_single_files_hash_is_its_bytes(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.png"
        path.write_bytes(content)
        want = hashlib.sha256(content).hexdigest()
        assert file_sha256(path) == sha256_of([path]) == sha256_files([path]) == want


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A folder with a file of a little over two 1 MiB reading chunks and a small one."""
    folder = tmp_path_factory.mktemp("big")
    rng = __import__("random").Random(0)
    (folder / "a.bin").write_bytes(rng.randbytes((2 << 20) + 123))
    (folder / "b.bin").write_bytes(b"tail")
    return folder


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(at=st.integers(0, (2 << 20) + 122))
def test_a_byte_changed_past_the_first_chunk_shows(big, at):
    path = big / "a.bin"
    original = path.read_bytes()
    paths = sorted(big.iterdir())
    try:
        path.write_bytes(original[:at] + bytes([original[at] ^ 0x80]) + original[at + 1 :])
        want = reference(big)
        assert hashes(big, paths) == dict.fromkeys(hashes(big, paths), want)
    finally:
        path.write_bytes(original)
    assert want != reference(big)


# -- a sharded Hugging Face checkpoint -------------------------------------------------------
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


@pytest.fixture(scope="module")
def sharded(hf_pair, tmp_path_factory) -> Path:
    """The small HF model as config.json + model.safetensors.index.json + two shards."""
    folder = tmp_path_factory.mktemp("sharded") / "vitmae"
    folder.mkdir()
    (folder / "config.json").write_bytes((hf_pair[1] / "config.json").read_bytes())
    tensors = load_file(hf_pair[1] / "model.safetensors")
    names = sorted(tensors)
    weight_map = {}
    halves = (names[: len(names) // 2], names[len(names) // 2 :])
    for shard, part in zip(SHARDS, halves, strict=True):
        save_file({k: tensors[k] for k in part}, folder / shard, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def test_a_sharded_checkpoints_hashes_cover_both_shards(sharded):
    ck = load_checkpoint(sharded)
    assert [p.name for p in ck.weight_files] == list(SHARDS)
    shards = b"".join((sharded / s).read_bytes() for s in SHARDS)
    assert ck.sha256() == hashlib.sha256(shards).hexdigest()  # the CLI's checkpoint_sha256
    # what the window keeps as the model's sha256 (and saves in sessions): every file
    info = Worker(threads=1).execute(OpenModel(str(sharded))).info
    every = b"".join((sharded / n).read_bytes() for n in sorted(os.listdir(sharded)))
    assert info["sha256"] == hashlib.sha256(every).hexdigest() == file_sha256(sharded)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_change_to_either_shard_changes_both_hashes(sharded, data):
    ck = load_checkpoint(sharded)
    before = (ck.sha256(), file_sha256(sharded))
    shard = sharded / data.draw(st.sampled_from(SHARDS), label="shard")
    original = shard.read_bytes()
    at = data.draw(st.integers(0, len(original) - 1), label="offset")
    try:
        shard.write_bytes(original[:at] + bytes([original[at] ^ 1]) + original[at + 1 :])
        after = (ck.sha256(), file_sha256(sharded))
        shards = b"".join((sharded / s).read_bytes() for s in SHARDS)
        assert after == (hashlib.sha256(shards).hexdigest(), reference(sharded))
    finally:
        shard.write_bytes(original)
    assert after[0] != before[0] and after[1] != before[1]
