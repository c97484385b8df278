"""Hostile and broken files: each is made here and must end in one clear MAEError.

Memory cases run in a child process whose address space is capped at 3 GB, so a regression
fails the test instead of taking the machine down; FIFO cases have a watchdog that unblocks a
reader, so a regression fails instead of hanging.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mae_desktop.engine import MAEError, load_checkpoint, masks, save_checkpoint
from mae_desktop.engine.checkpoints import Checkpoint, build_model
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.files import inside, regular_file, writable_folder
from mae_desktop.engine.images import read_image
from mae_desktop.engine.metrics import strict_json
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.engine.validate import validate_config
from mae_desktop.training import train as tr

ROOT = Path(__file__).resolve().parents[2]
CAP = 3 << 30  # the child's address space


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict, dict]:
    """(our .safetensors of the 'test' preset, its tensors, its parsed metadata)."""
    torch.manual_seed(0)
    model = MAEModel(MAEConfig(**tr.PRESETS["test"], norm_pix_loss=False))
    init_weights(model)
    path = save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", model)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["mae_desktop"])
    return path, load_file(str(path)), meta


@pytest.fixture(scope="module")
def official(tiny) -> dict[str, torch.Tensor]:
    """The tiny model's tensors in the official layout (a Conv2d patch embedding)."""
    sd = dict(tiny[1])
    w = sd.pop("patch_embed.weight")
    sd["patch_embed.proj.weight"] = w.reshape(w.shape[0], 8, 8, 3).permute(0, 3, 1, 2).clone()
    sd["patch_embed.proj.bias"] = sd.pop("patch_embed.bias")
    return sd


def own(tmp_path: Path, tiny, name: str = "bad.safetensors", tensors=None, raw=None, **change):
    """Our format with the tensors of `tiny` and its metadata's config changed."""
    _, t, meta = tiny
    meta = json.loads(json.dumps(meta))
    meta["config"].update(change)
    path = tmp_path / name
    text = raw if raw is not None else json.dumps(meta)
    save_file(dict(t) if tensors is None else tensors, str(path), metadata={"mae_desktop": text})
    return path


def hf_folder(tmp_path: Path, hf_pair, name: str = "hf", **change) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(hf_pair[1] / "model.safetensors")
    cfg = json.loads((hf_pair[1] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **change}))
    return folder


@pytest.fixture
def fifo(tmp_path):
    """A FIFO, and a watchdog: if anything opens it for reading (and so blocks), the watchdog
    opens the writing end after 10 s and closes it, so the reader sees end-of-file and the
    test fails instead of hanging."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    done = threading.Event()

    def watchdog() -> None:
        deadline = time.monotonic() + 10
        while not done.is_set():
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):  # OSError: no reader blocked
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            done.wait(0.2)

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds almost none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def npy_header(shape: tuple) -> bytes:
    header = f"{{'descr': '|b1', 'fortran_order': False, 'shape': {shape}, }}".ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


# -- only ordinary files --------------------------------------------------------------------------
def test_regular_file_refuses_pipes_devices_folders_and_missing_files(tmp_path, fifo):
    ok = tmp_path / "ok.bin"
    ok.write_bytes(b"x")
    assert regular_file(ok, "checkpoint") == ok
    with pytest.raises(MAEError, match=r"^checkpoint .*pipe is a pipe \(FIFO\), not an ordinary"):
        regular_file(fifo, "checkpoint")
    with pytest.raises(MAEError, match=r"^image /dev/zero is a character device"):
        regular_file("/dev/zero", "image")
    with pytest.raises(MAEError, match="^expected a mask file, got a folder"):
        regular_file(tmp_path, "mask file")
    with pytest.raises(MAEError, match="^image not found"):
        regular_file(tmp_path / "nope.png", "image")


def test_pipes_and_devices_are_never_opened(tmp_path, fifo, hf_pair):
    for suffix in (".pth", ".safetensors"):
        (tmp_path / f"pipe{suffix}").symlink_to(fifo)
        with pytest.raises(MAEError, match="is a pipe"):
            load_checkpoint(tmp_path / f"pipe{suffix}")
    with pytest.raises(MAEError, match="is a character device"):
        load_checkpoint("/dev/zero")
    (tmp_path / "pipe.png").symlink_to(fifo)
    with pytest.raises(MAEError, match="is a pipe"):
        read_image(tmp_path / "pipe.png")
    with pytest.raises(MAEError, match="is a character device"):
        read_image("/dev/zero")
    (tmp_path / "pipe.npy").symlink_to(fifo)
    with pytest.raises(MAEError, match="is a pipe"):
        masks.load_mask(tmp_path / "pipe.npy", (4, 4))
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    with pytest.raises(MAEError, match="is a character device"):
        masks.load_mask(tmp_path / "zero.npy", (4, 4))
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text((hf_pair[1] / "config.json").read_text())
    (folder / "model.safetensors").symlink_to(fifo)
    with pytest.raises(MAEError, match="model.safetensors is a pipe"):
        load_checkpoint(folder)
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(fifo)
    with pytest.raises(MAEError, match="^file .*config.json is a pipe"):
        load_checkpoint(folder)
    with pytest.raises(MAEError, match="is a pipe"):
        tr.read_state(fifo)


def test_shard_index_may_only_name_files_inside_the_folder(tmp_path, hf_pair):
    for i, target in enumerate(("/etc/passwd", "../outside.safetensors", "sub/../../x")):
        folder = hf_folder(tmp_path, hf_pair, f"hf{i}")
        index = {"weight_map": {"vit.embeddings.cls_token": target}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        with pytest.raises(MAEError, match=r"outside the folder .*only files inside the model"):
            load_checkpoint(folder)
    folder = hf_folder(tmp_path, hf_pair, "hf-list")
    (folder / "pytorch_model.bin.index.json").write_text('{"weight_map": [1, 2]}')
    with pytest.raises(MAEError, match="weight_map is not a table"):
        load_checkpoint(folder)
    with pytest.raises(MAEError, match="which is not a file name"):
        inside(tmp_path, 3, "index")  # type: ignore[arg-type]


def test_writable_folder_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b"
    assert writable_folder(target) == target and not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MAEError, match="is a file, not a folder"):
        writable_folder(tmp_path / "file")
    with pytest.raises(MAEError, match="file is a file, not a folder"):
        writable_folder(tmp_path / "file" / "sub")
    with pytest.raises(MAEError, match="^cannot write to output folder /proc/"):
        writable_folder("/proc/mae-desktop-test")


# -- validate, then allocate ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"depth": "6"}, "metadata depth is '6': expected a whole number"),
        ({"depth": 6.0}, "metadata depth is 6.0: expected a whole number"),
        ({"depth": True}, "metadata depth is True: expected a whole number"),
        ({"depth": 0}, "metadata depth is 0: at least 1 layer$"),
        ({"depth": 100000}, "metadata depth is 100000: at most 64 layers"),
        ({"depth": 3}, "metadata depth is 3; the tensors hold 1 layers"),
        ({"embed_dim": 65536}, "metadata embed_dim is 65536: at most 8192 channels"),
        ({"mlp_hidden": 4000000}, r"metadata mlp_hidden is 4000000: at most 4352 channels \(8 x"),
        ({"patch_size": 0}, r"metadata patch_size is 0: expected 1 to 32 pixels"),
        ({"patch_size": 7}, r"metadata patch_size is 7: it must divide the image size \[32, 32\]"),
        ({"image_size": [-224, -224]}, r"image_size is \[-224, -224\]: each side must be 1 to"),
        ({"image_size": [32]}, r"image_size is \[32\]: expected \[height, width\]"),
        ({"activation": "relu"}, "metadata activation is 'relu': known: gelu, gelu_tanh"),
        ({"norm_pix_loss": "yes"}, "metadata norm_pix_loss is 'yes': expected true or false"),
        ({"qkv_bias": "False"}, "metadata qkv_bias is 'False': expected true or false"),
        ({"num_heads": 5}, "metadata num_heads is 5: it must divide the attention width 32"),
        ({"in_chans": 1}, "metadata in_chans is 1: only RGB models"),
        ({"norm_eps": -1}, "metadata norm_eps is -1: expected a positive number below 1"),
        ({"std": [0, 0, 0]}, r"metadata std is \[0, 0, 0\]: every std must be positive"),
        ({"mean": [float("nan")] * 3}, r"metadata mean is \[nan, nan, nan\]: expected three"),
        ({"colour": 1}, r"metadata is damaged \(unknown config fields"),
    ],
)
def test_our_metadata_is_checked_field_by_field(tmp_path, tiny, change, message):
    path = own(tmp_path, tiny, **change)
    with pytest.raises(MAEError, match=rf"^bad\.safetensors: .*{message}"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", "the MAE Desktop metadata is a JSON list, not an object"),
        ('{"format_version": 1, "config": [1]}', r"damaged \(a config that is a list\)"),
        ('{"format_version": 1}', r"damaged \(no config\)"),
        ("{nope", "not valid JSON"),
    ],
)
def test_our_metadata_that_is_not_an_object(tmp_path, tiny, raw, message):
    with pytest.raises(MAEError, match=message):
        load_checkpoint(own(tmp_path, tiny, raw=raw))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": "abc"}, "config.json hidden_size is 'abc': expected a whole number"),
        ({"hidden_size": 16384}, "config.json hidden_size is 16384: at most 8192 channels"),
        ({"hidden_size": 4096}, "config.json hidden_size is 4096; the tensors hold 64 channels"),
        ({"qkv_bias": "False"}, "config.json qkv_bias is 'False': expected true or false"),
        ({"norm_pix_loss": "yes"}, "config.json norm_pix_loss is 'yes': expected true or false"),
        ({"patch_size": 0}, "config.json patch_size is 0: expected 1 to 64 pixels"),
        ({"image_size": [1, 2, 3]}, r"config.json image_size is \[1, 2, 3\]: expected"),
        ({"layer_norm_eps": "x"}, "config.json layer_norm_eps is 'x': expected a number"),
        ({"num_hidden_layers": 12}, "config.json num_hidden_layers is 12; the tensors hold 2"),
        ({"intermediate_size": 4000000}, "config.json intermediate_size is 4000000: at most"),
    ],
)
def test_hugging_face_config_is_checked(tmp_path, hf_pair, change, message):
    with pytest.raises(MAEError, match=rf"^hf: {message}"):
        load_checkpoint(hf_folder(tmp_path, hf_pair, **change))


def test_preprocessor_std_zero_is_refused(tmp_path, hf_pair):
    folder = hf_folder(tmp_path, hf_pair)
    pre = {"do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.2, 0.0, 0.2]}
    (folder / "preprocessor_config.json").write_text(json.dumps(pre))
    with pytest.raises(MAEError, match=r"preprocessor_config.json image_std is \[0.2, 0.0, 0.2\]"):
        load_checkpoint(folder)
    with pytest.raises(MAEError, match="std must be positive"):
        load_checkpoint(hf_pair[1], input_norm="0.5:0")


def test_build_model_checks_before_it_allocates():
    """A Checkpoint made by hand, declaring 100000 layers: refused by the checks, not by
    running out of memory."""
    cfg = MAEConfig(**tr.PRESETS["test"]).replace(depth=100000)
    ckpt = Checkpoint(cfg, {}, "mae-desktop", Path("x.safetensors"), [], "metadata")
    with pytest.raises(MAEError, match="encoder depth is 100000: at most 64 layers"):
        build_model(ckpt)


def test_validate_config_accepts_every_standard_size():
    for cfg in (
        MAEConfig(),  # ViT-B
        MAEConfig(embed_dim=1280, depth=32, num_heads=16, attn_dim=1280, mlp_hidden=5120),
        MAEConfig(**tr.PRESETS["test"]),
    ):
        validate_config(cfg, "x")


_MEMORY_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from mae_desktop.engine import MAEError, ModelSession
results = []
for path in sys.argv[1:]:
    try:
        ModelSession.open(path, "cpu")
        results.append("loaded")
    except MAEError as exc:
        results.append("MAEError: " + str(exc))
    except BaseException as exc:
        results.append(f"{{type(exc).__name__}}: {{exc}}"[:300])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"results": results, "peak_kb": peak}}))
"""


def test_declared_sizes_never_allocate(tmp_path, tiny, hf_pair):
    """Sizes that would ask for 4-177 GB, run in a child capped at 3 GB: each is refused by
    a check that names the field, and the child's peak memory stays small."""
    cases = {
        own(tmp_path, tiny, "depth.safetensors", depth=100000): "depth is 100000: at most 64",
        own(tmp_path, tiny, "width.safetensors", embed_dim=65536, attn_dim=65536): (
            "embed_dim is 65536: at most 8192"
        ),
        own(tmp_path, tiny, "mlp.safetensors", mlp_hidden=4000000): "mlp_hidden is 4000000",
        own(tmp_path, tiny, "w8k.safetensors", embed_dim=8192, attn_dim=8192): (
            "embed_dim is 8192; the tensors hold 32"
        ),
        hf_folder(tmp_path, hf_pair, "hf16k", hidden_size=16384): "hidden_size is 16384",
        hf_folder(tmp_path, hf_pair, "hf4k", hidden_size=4096): "hidden_size is 4096; the",
    }
    big = MAEConfig(embed_dim=1280, depth=32, num_heads=16, attn_dim=1280, mlp_hidden=5120)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in MAEModel(big).state_dict().items()}
    shapes["patch_embed.proj.weight"] = (1280, 3, 16, 16)
    shapes["patch_embed.proj.bias"] = shapes.pop("patch_embed.bias")
    del shapes["patch_embed.weight"]
    stride0 = tmp_path / "stride0.pth"
    torch.save({"model": {k: torch.zeros(1).expand(v) for k, v in shapes.items()}}, stride0)
    cases[stride0] = "repeats 1 stored values"
    meta = tmp_path / "meta.pth"
    torch.save({"model": {k: torch.empty(v, device="meta") for k, v in shapes.items()}}, meta)
    cases[meta] = "holds no values"
    child = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD.format(cap=CAP), *map(str, cases)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    for (path, expected), result in zip(cases.items(), report["results"], strict=True):
        assert result.startswith("MAEError: ") and expected in result, (path.name, result)
    assert report["peak_kb"] < 1.5 * (1 << 20), report["peak_kb"]


def test_zip_bomb(tmp_path):
    bomb = tmp_path / "bomb.pth"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\0" * (64 << 20))
    with pytest.raises(MAEError, match="a possible zip bomb"):
        load_checkpoint(bomb)


# -- never a silent wrong answer ------------------------------------------------------------------
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, tiny, official):
    t = dict(tiny[1])
    t["blocks.0.mlp.fc1.weight"] = t["blocks.0.mlp.fc1.weight"].clone()
    t["blocks.0.mlp.fc1.weight"][3, 4] = float("nan")
    with pytest.raises(MAEError, match=r"tensor blocks\.0\.mlp\.fc1\.weight holds 1 NaN or inf"):
        load_checkpoint(own(tmp_path, tiny, tensors=t))
    sd = dict(official)
    sd["pos_embed"] = sd["pos_embed"].clone()
    sd["pos_embed"][0, 2, :3] = float("inf")
    torch.save({"model": sd}, tmp_path / "inf.pth")
    with pytest.raises(MAEError, match="inf.pth: tensor pos_embed holds 3 NaN or infinite values"):
        load_checkpoint(tmp_path / "inf.pth")


@pytest.mark.parametrize(
    ("name", "tensor", "message"),
    [
        ("pos_embed", lambda sd: sd["pos_embed"][:, :1].clone(), "position table holds no patch"),
        ("patch_embed.proj.weight", lambda sd: torch.zeros(32), r"has shape \(32,\); expected 4"),
        ("pos_embed", lambda sd: torch.zeros(32), r"pos_embed has shape \(32,\); expected 3"),
        ("norm.weight", lambda sd: sd["norm.weight"].to_sparse(), "stored as sparse_coo"),
        ("norm.weight", lambda sd: torch.zeros(1).expand(32), "repeats 1 stored values"),
        ("blocks.0.attn.qkv.weight", lambda sd: torch.zeros(95, 32), "attention width is 32;"),
    ],
)
def test_broken_tensors_are_named(tmp_path, official, name, tensor, message):
    sd = dict(official)
    sd[name] = tensor(sd)
    torch.save({"model": sd}, tmp_path / "broken.pth")
    with pytest.raises(MAEError, match=message):
        load_checkpoint(tmp_path / "broken.pth")


def test_args_norm_pix_loss_must_be_a_boolean(tmp_path, official):
    args = argparse.Namespace(model="mae_vit_base_patch16", norm_pix_loss="False")
    torch.save({"model": official, "args": args}, tmp_path / "args.pth")
    with pytest.raises(MAEError, match="args.norm_pix_loss is 'False': expected true or false"):
        load_checkpoint(tmp_path / "args.pth")


def test_empty_masks_and_huge_mask_headers(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 0), bool))
    with pytest.raises(MAEError, match=r"mask empty.npy is empty \(0x0\)"):
        masks.load_mask(tmp_path / "empty.npy", (4, 4))
    (tmp_path / "huge.npy").write_bytes(npy_header((100_000, 100_000)))
    with pytest.raises(MAEError, match="claims 100000x100000 values"):
        masks.load_mask(tmp_path / "huge.npy", (4, 4))
    (tmp_path / "short.npy").write_bytes(npy_header((4, 4)))
    with pytest.raises(MAEError, match="shorter than its header says"):
        masks.load_mask(tmp_path / "short.npy", (4, 4))


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_decompression_bombs_are_errors_for_images_and_masks(tmp_path, size):
    (tmp_path / "bomb.png").write_bytes(png_header(size, size))
    with pytest.raises(MAEError, match=r"image bomb.png is too large to open safely: .*bomb\)$"):
        read_image(tmp_path / "bomb.png")
    with pytest.raises(MAEError, match=r"mask bomb.png is too large to open safely"):
        masks.load_mask(tmp_path / "bomb.png", (4, 4))


def test_strict_json_never_writes_nan():
    text = strict_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": (float("-inf"),)})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": [None]}


# -- training -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": -5}, "steps is -5"),
        ({"minutes": -1.0}, "minutes is -1.0"),
        ({"lr": 0.0}, "lr is 0.0"),
        ({"lr": float("nan")}, "lr is nan"),
        ({"batch_size": 0}, "batch_size is 0"),
        ({"seed": -1}, "seed is -1"),
        ({"mask_ratio": 1.0}, "mask_ratio is 1.0"),
    ],
)
def test_training_options_are_checked(change, message):
    with pytest.raises(MAEError, match=f"training option {message}"):
        tr.check_options(tr.TrainOptions(data="x", **change))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("kind", ["pickle", "garbage", "checkpoint", "partial"])
def test_resume_from_something_else_says_so_in_one_line(tmp_path, official, kind):
    path = tmp_path / "state.pt"
    if kind == "pickle":
        torch.save({"x": _Exploit()}, path)
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(2048))
    elif kind == "checkpoint":
        torch.save({"model": official}, path)
    else:
        torch.save({"model": {}, "step": 1}, path)
    with pytest.raises(MAEError) as err:
        tr.read_state(path)
    msg = str(err.value)
    assert msg.startswith("state.pt is not a training state MAE Desktop wrote") and "\n" not in msg
    assert ("objects beyond tensors" in msg) == (kind == "pickle")
