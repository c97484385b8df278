"""Hostile and broken inputs through the command line: does every one end in a clear error?

Each case writes one bad file (or names a bad option) in a scratch folder and runs
`python -m mae_desktop ...` on it in a child process whose address space is capped
(RLIMIT_AS, --limit-gb), with a wall-clock limit (--timeout). A case's result is:

  clear error     exit 1 (bad input) or 2 (usage) with a `mae-desktop: error:` line
  traceback       a Python traceback on stderr
  internal error  `mae-desktop: internal error:` (an unexpected exception)
  silent          exit 0: a bad input accepted
  hang            still running at the time limit (killed)
  killed          ended by a signal (e.g. out of memory)
  wrong exit      another exit code

and the table gives, per kind, the number of cases, the results, the slowest case's seconds
and the largest peak resident memory of a child (ru_maxrss). Target: every case a clear
error, none above 20 s or 3 GB. Valid inputs ("control") must exit 0.

    python benchmarks/bench_hostile.py [--limit-gb 3] [--timeout 20] [--jobs 2]
                                       [--only KIND] [--verbose] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mae_desktop.engine.checkpoints import save_checkpoint  # noqa: E402
from mae_desktop.engine.config import MAEConfig  # noqa: E402
from mae_desktop.engine.model import MAEModel, init_weights  # noqa: E402
from mae_desktop.training.train import PRESETS  # noqa: E402

RESULTS = ("clear error", "traceback", "internal error", "silent", "hang", "killed", "wrong exit")


@dataclass
class Case:
    kind: str
    name: str
    argv: list[str]
    expect: int = 1  # 1: bad input, 2: usage error, 0: a valid input (control)
    # after the run: a sentence when the outcome is wrong though the exit code is right
    # (a file written outside --out, another model's file returned); None when it is right
    check: Callable[[], str | None] | None = None
    env: dict[str, str] | None = None  # added to the child's environment


# -- files ----------------------------------------------------------------------------------------
def tiny_model() -> MAEModel:
    """The 'test' training preset: 32x32 input, patch 8, a few thousand parameters."""
    torch.manual_seed(0)
    model = MAEModel(MAEConfig(**PRESETS["test"], norm_pix_loss=False))
    init_weights(model)
    return model.eval()


def own_meta(path: Path) -> tuple[dict, dict]:
    """(tensors, parsed metadata) of one of our files."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["mae_desktop"])
    return load_file(str(path)), meta


def write_own(path: Path, tensors: dict, meta) -> Path:
    save_file(tensors, str(path), metadata={"mae_desktop": json.dumps(meta)})
    return path


def official_sd(model: MAEModel) -> dict[str, torch.Tensor]:
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    w = sd.pop("patch_embed.weight")
    p = model.cfg.patch_size
    sd["patch_embed.proj.weight"] = w.reshape(w.shape[0], p, p, 3).permute(0, 3, 1, 2).clone()
    sd["patch_embed.proj.bias"] = sd.pop("patch_embed.bias")
    return sd


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height RGB pixels and holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def npy_header(shape: tuple, dtype: str = "|b1") -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def legacy_bomb(path: Path, numel: int) -> None:
    """A pre-zip torch file whose one storage claims numel floats and holds none."""

    class Fake:
        pass

    fake = Fake()

    class Tensor:
        def __reduce__(self):
            return (
                torch._utils._rebuild_tensor_v2,
                (fake, 0, (numel,), (1,), False, collections.OrderedDict()),
            )

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is fake:
                return ("storage", torch.FloatStorage, "0", "cpu", numel)
            return None

    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, 2)
        pickle.dump(1001, f, 2)
        pickle.dump(
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, f, protocol=2
        )
        Pickler(f, 2).dump({"model": {"w": Tensor()}})
        pickle.dump(["0"], f, 2)
        f.write(struct.pack("<q", numel))


def zip_bomb(path: Path, unpacked: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("archive/data.pkl", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked >> 20):
                fh.write(block)
        zf.writestr("archive/version", "3\n")


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# -- the cases ------------------------------------------------------------------------------------
def build_cases(d: Path) -> list[Case]:
    from tests.helpers import hf_model

    model = tiny_model()
    good = save_checkpoint(d / "good.safetensors", model)
    tensors, meta = own_meta(good)
    osd = official_sd(model)
    torch.save({"model": osd}, d / "good.pth")
    hf = d / "hf"
    hf_model(seed=0).save_pretrained(hf)
    hf_cfg = json.loads((hf / "config.json").read_text())
    photo = d / "photo.png"
    y, x = np.mgrid[0:40, 0:48]
    rgb = np.stack([x / 47, y / 39, (x + y) / 86], -1)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(photo)
    photos = d / "photos"
    photos.mkdir()
    for i in range(12):
        Image.fromarray(np.roll((rgb * 255).astype(np.uint8), i, 1)).save(photos / f"p{i:02}.png")
    out = str(d / "out")
    cases: list[Case] = []

    def info(kind: str, name: str, path: Path | str, *extra: str, expect: int = 1) -> None:
        cases.append(Case(kind, name, ["info", str(path), *extra], expect))

    def rec(kind: str, name: str, *extra: str, expect: int = 1, image: Path | str = photo):
        argv = ["reconstruct", str(image), "--checkpoint", str(good), "--out", out, *extra]
        cases.append(Case(kind, name, argv, expect))

    def train(kind: str, name: str, *extra: str, expect: int = 1, data: Path | str = photos):
        argv = ["train", str(data), "--preset", "test", "--out", str(d / "run"), *extra]
        cases.append(Case(kind, name, argv, expect))

    # controls: valid inputs must still work
    info("control", "info, our format", good, expect=0)
    rec("control", "reconstruct", expect=0)
    train("control", "train 1 step", "--steps", "1", "--batch-size", "2", expect=0)

    # checkpoint files that are not checkpoints
    k = "checkpoint: not one"
    rnd = np.random.default_rng(0).bytes(4096)
    for suffix in (".pth", ".safetensors", ".bin", ""):
        (d / f"random{suffix}").write_bytes(rnd)
        info(k, f"random bytes {suffix or '(no suffix)'}", d / f"random{suffix}")
    (d / "empty.pth").write_bytes(b"")
    info(k, "empty file", d / "empty.pth")
    data = good.read_bytes()
    (d / "cut.safetensors").write_bytes(data[: len(data) // 2])
    info(k, "truncated safetensors", d / "cut.safetensors")
    data = (d / "good.pth").read_bytes()
    (d / "cut.pth").write_bytes(data[: len(data) // 2])
    info(k, "truncated .pth", d / "cut.pth")
    torch.save({"model": osd, "x": _Exploit(str(d / "pwned"))}, d / "evil.pth")
    info(k, "pickle that runs code", d / "evil.pth")
    torch.save([1, 2, 3], d / "list.pth")
    info(k, "a list", d / "list.pth")
    torch.save(torch.zeros(3), d / "tensor.pth")
    info(k, "a tensor", d / "tensor.pth")
    torch.save({"model": {**osd, "epoch": 3}}, d / "mixed.pth")
    info(k, "state dict with a number in it", d / "mixed.pth")
    torch.save({1: torch.zeros(2), 2: torch.zeros(2)}, d / "intkeys.pth")
    info(k, "tensor names that are numbers", d / "intkeys.pth")
    torch.save({"conv1.weight": torch.zeros(3)}, d / "resnet.pth")
    info(k, "unknown layout", d / "resnet.pth")
    zip_bomb(d / "zipbomb.pth", 512 << 20)
    info(k, "zip bomb (512 MB inside)", d / "zipbomb.pth")
    legacy_bomb(d / "legacy.pth", 10**10)
    info(k, "old-format file claiming 40 GB", d / "legacy.pth")
    info(k, "a missing file", d / "nope.pth")

    # our own format with bad metadata
    k = "metadata: MAE Desktop"

    def own(name: str, change=None, raw=None, tens=None) -> None:
        m = json.loads(json.dumps(meta))
        if change:
            m["config"].update(change)
        path = d / f"own-{len(cases)}.safetensors"
        t = tensors if tens is None else tens
        if raw is not None:
            save_file(t, str(path), metadata={"mae_desktop": raw})
        else:
            write_own(path, t, m)
        info(k, name, path)

    own("metadata is a JSON list", raw="[1, 2]")
    own("metadata is not JSON", raw="{nope")
    own("config is a list", raw=json.dumps({**meta, "config": [1]}))
    own("no config", raw=json.dumps({"format_version": 1}))
    own("format version 99", raw=json.dumps({**meta, "format_version": 99}))
    own("unknown field", {"colour": 1})
    own('depth "6"', {"depth": "6"})
    own("depth 6.0", {"depth": 6.0})
    own("depth 0", {"depth": 0})
    own("depth 8, tensors 1", {"depth": 8})
    own("patch_size 0", {"patch_size": 0})
    own("patch_size 7 (not dividing 32)", {"patch_size": 7})
    own("image_size [-224, -224]", {"image_size": [-224, -224]})
    own("image_size [32]", {"image_size": [32]})
    own("image_size 1e6", {"image_size": [10**6, 10**6]})
    own("activation relu", {"activation": "relu"})
    own('norm_pix_loss "yes"', {"norm_pix_loss": "yes"})
    own('qkv_bias "False"', {"qkv_bias": "False"})
    own("num_heads 0", {"num_heads": 0})
    own("num_heads 5 (not dividing 32)", {"num_heads": 5})
    own("in_chans 1", {"in_chans": 1})
    own("norm_eps -1", {"norm_eps": -1})
    own("std 0", {"std": [0, 0, 0]})
    own("mean NaN", {"mean": [float("nan")] * 3})
    own("std of 2 numbers", {"std": [1, 1]})

    # declared sizes that would take the machine's memory
    k = "architecture: memory"
    own_k = k

    def big(name: str, change: dict) -> None:
        m = json.loads(json.dumps(meta))
        m["config"].update(change)
        path = write_own(d / f"big-{len(cases)}.safetensors", tensors, m)
        info(own_k, name, path)

    big("depth 100000", {"depth": 100000})
    big("embed_dim 65536", {"embed_dim": 65536, "attn_dim": 65536})
    big("mlp_hidden 4000000", {"mlp_hidden": 4000000})
    big("embed_dim 8192 (in range, tensors 32)", {"embed_dim": 8192, "attn_dim": 8192})
    big("depth 64, mlp 69632 (in range)", {"depth": 64, "mlp_hidden": 69632})
    big("decoder 100000 deep", {"decoder_depth": 100000})
    big_cfg = MAEConfig(
        embed_dim=1280, depth=32, num_heads=16, attn_dim=1280, mlp_hidden=5120, patch_size=14
    )
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in MAEModel(big_cfg).state_dict().items()}
    shapes["patch_embed.proj.weight"] = (1280, 3, 14, 14)
    shapes["patch_embed.proj.bias"] = shapes.pop("patch_embed.bias")
    del shapes["patch_embed.weight"]
    torch.save({"model": {k: torch.zeros(1).expand(v) for k, v in shapes.items()}}, d / "s0.pth")
    info(k, "ViT-H from one repeated value (stride 0)", d / "s0.pth")
    torch.save(
        {"model": {k: torch.empty(v, device="meta") for k, v in shapes.items()}}, d / "meta.pth"
    )
    info(k, "ViT-H of meta tensors (no data)", d / "meta.pth")
    sd = dict(osd)
    sd["norm.weight"] = sd["norm.weight"].to_sparse()
    torch.save({"model": sd}, d / "sparse.pth")
    info(k, "a sparse tensor", d / "sparse.pth")
    for name, change in (
        ("HF hidden_size 16384", {"hidden_size": 16384}),
        ("HF hidden_size 4096 (in range, tensors 64)", {"hidden_size": 4096}),
        ("HF intermediate_size 4000000", {"intermediate_size": 4000000}),
        ("HF decoder_hidden_size 8000", {"decoder_hidden_size": 8000}),
    ):
        folder = d / f"hfbig-{len(cases)}"
        folder.mkdir()
        (folder / "model.safetensors").symlink_to(hf / "model.safetensors")
        (folder / "config.json").write_text(json.dumps({**hf_cfg, **change}))
        info(k, name, folder)

    # weights and tensors
    k = "weights"
    t = dict(tensors)
    t["blocks.0.mlp.fc1.weight"] = t["blocks.0.mlp.fc1.weight"].clone()
    t["blocks.0.mlp.fc1.weight"][0, 0] = float("nan")
    info(k, "a NaN weight (ours)", write_own(d / "nan.safetensors", t, meta))
    sd = dict(osd)
    sd["pos_embed"] = sd["pos_embed"].clone()
    sd["pos_embed"][0, 1, 0] = float("inf")
    torch.save({"model": sd}, d / "inf.pth")
    info(k, "an infinite weight (official)", d / "inf.pth")
    sd = dict(osd)
    sd["pos_embed"] = sd["pos_embed"][:, :1].clone()
    torch.save({"model": sd}, d / "cls-only.pth")
    info(k, "position table with only the CLS slot", d / "cls-only.pth")
    sd = dict(osd)
    sd["patch_embed.proj.weight"] = torch.zeros(32)
    torch.save({"model": sd}, d / "conv1d.pth")
    info(k, "1-D conv weight", d / "conv1d.pth")
    sd = dict(osd)
    sd["blocks.0.attn.qkv.weight"] = torch.zeros(95, 32)
    torch.save({"model": sd}, d / "qkv.pth")
    info(k, "qkv of the wrong shape", d / "qkv.pth")
    sd = dict(osd)
    sd["pos_embed"] = torch.zeros(32)
    torch.save({"model": sd}, d / "pos1d.pth")
    info(k, "1-D position table", d / "pos1d.pth")
    args_ns = argparse.Namespace(model="mae_vit_base_patch16", norm_pix_loss="False")
    torch.save({"model": osd, "args": args_ns}, d / "args.pth")
    info(k, 'args.norm_pix_loss "False"', d / "args.pth")
    info(
        k,
        "decoder pos table missing",
        write_own(
            d / "missing.safetensors",
            {k2: v for k2, v in tensors.items() if k2 != "decoder_pos_embed"},
            meta,
        ),
    )
    info(k, "--heads 5 on a 32-wide model", d / "good.pth", "--heads", "5")

    # Hugging Face folders
    k = "Hugging Face folder"

    def hf_case(name: str, config=None, files: dict | None = None, link=True) -> None:
        folder = d / f"hf-{len(cases)}"
        folder.mkdir()
        if link:
            (folder / "model.safetensors").symlink_to(hf / "model.safetensors")
        if config is not None:
            text = config if isinstance(config, str) else json.dumps({**hf_cfg, **config})
            (folder / "config.json").write_text(text)
        for fname, content in (files or {}).items():
            (folder / fname).write_text(content)
        info(k, name, folder)

    hf_case("config.json is a list", "[1]")
    hf_case("config.json is not JSON", "{nope")
    hf_case('hidden_size "abc"', {"hidden_size": "abc"})
    hf_case("patch_size 0", {"patch_size": 0})
    hf_case("image_size [1, 2, 3]", {"image_size": [1, 2, 3]})
    hf_case('qkv_bias "False"', {"qkv_bias": "False"})
    hf_case('norm_pix_loss "yes"', {"norm_pix_loss": "yes"})
    hf_case("hidden_act relu", {"hidden_act": "relu"})
    hf_case('layer_norm_eps "x"', {"layer_norm_eps": "x"})
    hf_case("num_hidden_layers 12, tensors 2", {"num_hidden_layers": 12})
    hf_case("num_attention_heads 3 (not dividing 64)", {"num_attention_heads": 3})
    index = {"weight_map": {"vit.embeddings.cls_token": "/etc/passwd"}}
    hf_case("index names /etc/passwd", {}, {"model.safetensors.index.json": json.dumps(index)})
    index = {"weight_map": {"a": "../good.safetensors"}}
    hf_case("index names ../outside", {}, {"model.safetensors.index.json": json.dumps(index)})
    hf_case("index weight_map a list", {}, {"pytorch_model.bin.index.json": '{"weight_map": [1]}'})
    index = {"weight_map": {"a": "shard-2.safetensors"}}
    hf_case("index names a missing shard", {}, {"model.safetensors.index.json": json.dumps(index)})
    pre = {"do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0, 0, 0]}
    hf_case("preprocessor std 0", {}, {"preprocessor_config.json": json.dumps(pre)})
    pre = {"image_mean": "abc"}
    hf_case('preprocessor image_mean "abc"', {}, {"preprocessor_config.json": json.dumps(pre)})
    hf_case("no config.json", None)

    # pipes, devices
    k = "special files"
    fifo = d / "pipe"
    os.mkfifo(fifo)
    for suffix in (".pth", ".safetensors", ".png", ".npy", ".pt"):
        os.symlink(fifo, d / f"pipe{suffix}")
        os.symlink("/dev/zero", d / f"zero{suffix}")
    info(k, "checkpoint: a FIFO", d / "pipe.pth")
    info(k, "checkpoint: a FIFO (.safetensors)", d / "pipe.safetensors")
    info(k, "checkpoint: /dev/zero", "/dev/zero")
    info(k, "checkpoint: link to /dev/zero", d / "zero.safetensors")
    rec(k, "image: a FIFO", image=d / "pipe.png")
    rec(k, "image: /dev/zero", image="/dev/zero")
    rec(k, "mask: a FIFO", "--mask", str(d / "pipe.npy"))
    rec(k, "mask: link to /dev/zero", "--mask", str(d / "zero.npy"))
    train(k, "resume: a FIFO", "--steps", "1", "--resume", str(d / "pipe.pt"))
    folder = d / "hf-pipe"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(hf_cfg))
    os.symlink(fifo, folder / "model.safetensors")
    info(k, "HF weights: a FIFO", folder)
    folder = d / "hf-pipe-config"
    folder.mkdir()
    os.symlink(fifo, folder / "config.json")
    info(k, "HF config.json: a FIFO", folder)
    pipes = d / "photos-pipe"
    pipes.mkdir()
    for p in sorted(photos.iterdir())[:11]:
        (pipes / p.name).symlink_to(p)
    os.mkfifo(pipes / "z.png")
    train(k, "training image: a FIFO", "--steps", "1", "--batch-size", "2", data=pipes)

    # images
    k = "image"
    (d / "random.png").write_bytes(rnd)
    rec(k, "random bytes", image=d / "random.png")
    (d / "empty.png").write_bytes(b"")
    rec(k, "empty file", image=d / "empty.png")
    data = photo.read_bytes()
    (d / "cut.png").write_bytes(data[: len(data) // 2])
    rec(k, "truncated PNG", image=d / "cut.png")
    (d / "bomb.png").write_bytes(png_header(100_000, 100_000))
    rec(k, "decompression bomb 100000x100000", image=d / "bomb.png")
    (d / "bomb2.png").write_bytes(png_header(10_000, 10_000))
    rec(k, "decompression bomb 10000x10000", image=d / "bomb2.png")
    rec(k, "a folder", image=d)
    rec(k, "a missing file", image=d / "nope.png")

    # masks
    k = "mask"
    np.save(d / "m-empty.npy", np.zeros((0, 0), bool))
    rec(k, "(0, 0) .npy", "--mask", str(d / "m-empty.npy"))
    np.save(d / "m-row.npy", np.zeros((0, 4), bool))
    rec(k, "(0, 4) .npy", "--mask", str(d / "m-row.npy"))
    (d / "m-huge.npy").write_bytes(npy_header((100_000, 100_000)))
    rec(k, ".npy header claiming 10^5 x 10^5", "--mask", str(d / "m-huge.npy"))
    (d / "m-short.npy").write_bytes(npy_header((4, 4)))
    rec(k, ".npy shorter than its header", "--mask", str(d / "m-short.npy"))
    np.save(d / "m-3d.npy", np.zeros((4, 4, 2), bool))
    rec(k, "3-D .npy", "--mask", str(d / "m-3d.npy"))
    np.save(d / "m-obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    rec(k, "object .npy", "--mask", str(d / "m-obj.npy"))
    np.save(d / "m-nan.npy", np.full((4, 4), np.nan))
    rec(k, "NaN .npy", "--mask", str(d / "m-nan.npy"))
    np.save(d / "m-wrong.npy", np.zeros((5, 7), bool))
    rec(k, "wrong size", "--mask", str(d / "m-wrong.npy"))
    (d / "m-random.npy").write_bytes(rnd)
    rec(k, "random bytes .npy", "--mask", str(d / "m-random.npy"))
    (d / "m-random.png").write_bytes(rnd)
    rec(k, "random bytes .png", "--mask", str(d / "m-random.png"))
    (d / "m-bomb.png").write_bytes(png_header(100_000, 100_000))
    rec(k, "decompression bomb .png", "--mask", str(d / "m-bomb.png"))
    (d / "m-bomb2.png").write_bytes(png_header(10_000, 10_000))
    rec(k, "decompression bomb .png 10000x10000", "--mask", str(d / "m-bomb2.png"))
    (d / "m.txt").write_text("1 0")
    rec(k, "a .txt", "--mask", str(d / "m.txt"))
    rec(k, "a missing file", "--mask", str(d / "nope.npy"))

    # where results go
    k = "output"
    (d / "a-file").write_text("x")
    cases.append(
        Case(
            k,
            "--out is a file",
            ["reconstruct", str(photo), "--checkpoint", str(good), "--out", str(d / "a-file")],
        )
    )
    cases.append(
        Case(
            k,
            "--out under a file",
            [
                "reconstruct",
                str(photo),
                "--checkpoint",
                str(good),
                "--out",
                str(d / "a-file" / "sub"),
            ],
        )
    )
    cases.append(
        Case(
            k,
            "--out under /proc",
            [
                "reconstruct",
                str(photo),
                "--checkpoint",
                str(good),
                "--out",
                "/proc/mae-desktop-out",
            ],
        )
    )
    cases.append(
        Case(
            k,
            "--figure in /proc",
            [
                "reconstruct",
                str(photo),
                "--checkpoint",
                str(good),
                "--out",
                out,
                "--figure",
                "/proc/x/fig.png",
            ],
        )
    )
    cases.append(
        Case(
            k,
            "train --out is a file",
            ["train", str(photos), "--preset", "test", "--steps", "1", "--out", str(d / "a-file")],
        )
    )
    cases.append(
        Case(
            k,
            "train --out under /proc",
            ["train", str(photos), "--preset", "test", "--steps", "1", "--out", "/proc/mae-run"],
        )
    )
    cases.append(
        Case(
            k,
            "train --export is a folder",
            [
                "train",
                str(photos),
                "--preset",
                "test",
                "--steps",
                "1",
                "--out",
                str(d / "run"),
                "--export",
                str(d),
            ],
        )
    )

    # options
    k = "command-line options"
    rec(k, "reconstruct --seed -1", "--seed", "-1", expect=2)
    rec(k, "reconstruct --seed 2**40", "--seed", str(2**40), expect=2)
    rec(k, "reconstruct --mask-ratio 2", "--mask-ratio", "2", expect=2)
    rec(k, "reconstruct --mask-ratio nan", "--mask-ratio", "nan", expect=2)
    rec(k, "reconstruct --figure-scale 0", "--figure", "f.png", "--figure-scale", "0")
    rec(k, "reconstruct --heads 0", "--heads", "0", expect=2)
    rec(k, "reconstruct --input-norm 0:0", "--input-norm", "0:0", expect=2)
    rec(k, "reconstruct --device banana", "--device", "banana")
    rec(k, "reconstruct --device cuda:9", "--device", "cuda:9")
    for opt, value in (
        ("--steps", "-5"),
        ("--steps", "0"),
        ("--minutes", "-1"),
        ("--minutes", "nan"),
        ("--lr", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--batch-size", "0"),
        ("--warmup", "-1"),
        ("--threads", "-2"),
        ("--eval-every", "0"),
        ("--seed", "-1"),
    ):
        train(k, f"train {opt} {value}", opt, value, expect=2)
    train(k, "train without --steps or --minutes")
    train(k, "train --preset nope", "--steps", "1", "--preset", "nope")
    train(k, "train on a missing folder", "--steps", "1", data=d / "nope")
    train(k, "train on a file", "--steps", "1", data=photo)
    (d / "no-images").mkdir()
    train(k, "train on a folder without images", "--steps", "1", data=d / "no-images")
    cases.append(
        Case(k, "evaluate --seed -1", ["evaluate", str(good), str(photos), "--seed", "-1"], 2)
    )
    cases.append(Case(k, "evaluate on a missing folder", ["evaluate", str(good), str(d / "nope")]))

    # --resume with something else than a training state
    k = "training state (--resume)"
    torch.save({"x": _Exploit(str(d / "pwned2"))}, d / "evil-state.pt")
    train(k, "a pickle that runs code", "--steps", "1", "--resume", str(d / "evil-state.pt"))
    (d / "garbage.pt").write_bytes(rnd)
    train(k, "random bytes", "--steps", "1", "--resume", str(d / "garbage.pt"))
    train(k, "our .safetensors", "--steps", "1", "--resume", str(good))
    train(k, "an official .pth", "--steps", "1", "--resume", str(d / "good.pth"))
    torch.save({"model": {}, "step": 1}, d / "partial.pt")
    train(k, "a dict missing keys", "--steps", "1", "--resume", str(d / "partial.pt"))
    train(k, "a missing file", "--steps", "1", "--resume", str(d / "nope.pt"))

    from benchmarks.hostile_more import more_cases

    cases += more_cases(d, good, hf, photo, photos, Case)
    return cases


# -- running --------------------------------------------------------------------------------------
def run_case(case: Case, cwd: Path, limit: int, timeout: float) -> dict:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.update(case.env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mae_desktop", *case.argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            preexec_fn=cap,
        )
        hung = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                hung = True
                break
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("mae-desktop: error:") or ": error:" in ln]
    if hung:
        result = "hang"
    elif code < 0:
        result = "killed"
    elif "Traceback (most recent call last)" in stderr:
        result = "traceback"
    elif "internal error" in stderr:
        result = "internal error"
    elif case.check is not None and (wrong := case.check()):
        result, stderr = "silent", f"mae-desktop: error: {wrong}"  # a wrong file, said so
    elif case.expect == 0:
        result = "ok" if code == 0 else "wrong exit"
    elif code == 0:
        result = "silent"
    elif code == case.expect and errors:
        result = "clear error"
    else:
        result = "wrong exit"
    message = errors[-1] if errors else (lines[-1] if lines else "")
    return {
        "kind": case.kind,
        "case": case.name,
        "result": result,
        "exit": code,
        "seconds": round(seconds, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "message": message[:300],
    }


def table(rows: list[dict]) -> str:
    kinds: dict[str, list[dict]] = {}
    for r in rows:
        kinds.setdefault(r["kind"], []).append(r)
    head = f"| {'kind':<28} | cases | {'result':<34} | max s | max peak MB |"
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for kind, rs in kinds.items():
        counts = collections.Counter(r["result"] for r in rs)
        result = ", ".join(f"{n} {name}" for name, n in counts.most_common())
        lines.append(
            f"| {kind:<28} | {len(rs):>5} | {result:<34} | "
            f"{max(r['seconds'] for r in rs):>5.1f} | {max(r['peak_mb'] for r in rs):>11.0f} |"
        )
    counts = collections.Counter(r["result"] for r in rows)
    total = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    lines.append(
        f"| {'all':<28} | {len(rows):>5} | {total:<34} | "
        f"{max(r['seconds'] for r in rows):>5.1f} | {max(r['peak_mb'] for r in rows):>11.0f} |"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-gb", type=float, default=3.0, help="address-space cap")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a case may run")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--only", metavar="KIND", help="only kinds containing this text")
    parser.add_argument("--verbose", action="store_true", help="one line a case")
    parser.add_argument("--json", action="store_true", help="print every case as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mae-hostile-") as tmp:
        d = Path(tmp)
        cases = build_cases(d)
        if args.only:
            cases = [c for c in cases if args.only.lower() in c.kind.lower()]
        limit = int(args.limit_gb * (1 << 30))
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda c: run_case(c, d, limit, args.timeout), cases))
        pwned = (d / "pwned").exists() or (d / "pwned2").exists()
    if args.json:
        print(json.dumps(rows, indent=1))
    if args.verbose:
        for r in rows:
            print(
                f"{r['result']:<14} {r['seconds']:>5.1f}s {r['peak_mb']:>6.0f}MB "
                f"[{r['kind']}] {r['case']}: {r['message']}"
            )
    print(table(rows))
    if pwned:
        print("A PICKLE RAN CODE")
    bad = [r for r in rows if r["result"] not in ("clear error", "ok")]
    slow = [r for r in rows if r["seconds"] > args.timeout]
    return 1 if bad or slow or pwned else 0


if __name__ == "__main__":
    raise SystemExit(main())
