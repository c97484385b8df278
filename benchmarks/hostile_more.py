"""More hostile and unlucky inputs for bench_hostile.py: results that are not finite,
outputs that would leave --out, downloads that return another model, decoders we do not
trust, passes that would not fit in memory, and errors that must say their real cause.

`more_cases(...)` builds them in the scratch folder `d` next to the cases of
bench_hostile.py (whose fixtures it is given); each is a `Case` (see there).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mae_desktop.engine.checkpoints import save_checkpoint
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.training.train import PRESETS

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n{ } loop\nshowpage\n%%EOF\n"


def _meta(good: Path) -> dict:
    with safe_open(str(good), framework="pt") as f:
        return json.loads(f.metadata()["mae_desktop"])


def _own(good: Path, dest: Path, text: str | None = None, tensors=None, **config) -> Path:
    meta = _meta(good)
    meta["config"].update(config)
    save_file(
        tensors if tensors is not None else load_file(str(good)),
        str(dest),
        metadata={"mae_desktop": text if text is not None else json.dumps(meta)},
    )
    return dest


def _nothing_outside(out: Path, allowed: set[str]) -> callable:
    """A check: --out's parent holds only `allowed` (what was there before) and --out."""

    def check() -> str | None:
        extra = sorted(p.name for p in out.parent.iterdir() if p.name not in allowed)
        return f"wrote outside --out: {', '.join(extra)}" if extra else None

    return check


_SERVERS: list = []


class _Server:
    """A loopback HTTP server for the download cases, in this process, for the whole run."""

    def __init__(self, files: dict[str, bytes]) -> None:
        from tests.loopback import Loopback

        self.loop = Loopback(files)
        self.loop.start()
        _SERVERS.append(self)  # serving until the benchmark's process ends

    def url(self, path: str) -> str:
        return self.loop.url(path)


def more_cases(d: Path, good: Path, hf: Path, photo: Path, photos: Path, Case) -> list:
    cases: list = []
    rec_base = ["reconstruct", str(photo), "--checkpoint"]

    def add(kind, name, argv, expect=1, check=None, env=None):
        cases.append(Case(kind, name, [str(a) for a in argv], expect, check, env))

    # -- results that are not finite ---------------------------------------------------------
    k = "non-finite results"
    for spec in ("0.5:1e-40", "0.5:1e-45", "1e39:0.5", "0.5:1e5", "nan:1", "0.5:inf"):
        add(k, f"--input-norm {spec}", [*rec_base, good, "--input-norm", spec, "--out",
                                         d / "o-norm"], expect=2)
    for std in ([1e-45, 0.5, 0.5], [1e5, 1, 1]):
        folder = d / f"hf-std-{std[0]:g}"
        shutil.copytree(hf, folder)
        (folder / "preprocessor_config.json").write_text(
            json.dumps({"image_mean": [0.5] * 3, "image_std": std})
        )
        add(k, f"preprocessor_config.json std {std[0]:g}", ["info", folder])
    add(k, "our metadata: std 1e-30", ["info", _own(good, d / "std.safetensors",
                                                    std=[1e-30] * 3)])
    add(k, "our metadata: mean 1e6", ["info", _own(good, d / "mean.safetensors",
                                                   mean=[1e6] * 3)])
    huge = {k2: (v * 1e30 if v.ndim >= 2 else v) for k2, v in load_file(str(good)).items()}
    huge_path = _own(good, d / "huge.safetensors", tensors=huge)
    for dtype in ("fp32", "int8", "auto", "bf16"):
        add(k, f"finite but huge weights, --dtype {dtype}",
            [*rec_base, huge_path, "--dtype", dtype, "--out", d / f"o-huge-{dtype}"])

    # -- outputs that would leave --out --------------------------------------------------------
    k = "outputs outside --out"
    for i, names in enumerate((["...png", "a.png"], ["..png", "b.png"], ["CON.png", "nul.png"],
                               [" .png", "x.png"])):
        box = d / f"outbox{i}"
        (box / "in").mkdir(parents=True)
        for n in names:
            Image.open(photo).save(box / "in" / n, format="PNG")
        out = box / "out"
        add(k, f"images named {' and '.join(repr(n) for n in names)}",
            ["reconstruct", *(box / "in" / n for n in names), "--checkpoint", good, "--out", out],
            expect=0, check=_nothing_outside(out, {"in", "out"}))

    # -- downloads ---------------------------------------------------------------------------
    k = "downloads"
    first = (hf / "model.safetensors").read_bytes()
    changed = {n: v + 1 for n, v in load_file(str(hf / "model.safetensors")).items()}
    save_file({n: v.contiguous() for n, v in changed.items()}, str(d / "other.safetensors"))
    second = (d / "other.safetensors").read_bytes()
    server = _Server({"/a/resolve/main/model.safetensors": first,
                      "/b/resolve/main/model.safetensors": second,
                      "/c/resolve/main/model.safetensors": b"<html>a login page</html>"})
    cache = d / "dl-cache"

    def got(url_path: str, want: bytes):
        def check() -> str | None:
            files = [p for p in cache.iterdir() if p.is_file() and not p.name.startswith(".")]
            match = [p for p in files if hashlib.sha256(p.read_bytes()).digest()
                     == hashlib.sha256(want).digest()]
            return None if match else f"{url_path}: no file with its bytes in the cache"

        return check

    for path, want in (("/a/resolve/main/model.safetensors", first),
                       ("/b/resolve/main/model.safetensors", second),
                       ("/a/resolve/main/model.safetensors", first)):
        add(k, f"download {path} (same file name as the others)",
            ["download", server.url(path), "--out", cache], expect=0, check=got(path, want))
    add(k, "a login page instead of weights", ["download",
        server.url("/c/resolve/main/model.safetensors"), "--out", cache])
    add(k, "a file that is not there", ["download", server.url("/nope.pth"), "--out", cache])
    add(k, "not a URL scheme we fetch", ["download", "ftp://example.invalid/x.pth"])

    # -- decoders we do not trust --------------------------------------------------------------
    k = "images: untrusted decoders"
    (d / "eps.png").write_bytes(EPS)
    add(k, "PostScript named .png", [*rec_base[:1], d / "eps.png", "--checkpoint", good,
                                     "--out", d / "o-eps"])
    for fmt in ("ICO", "TGA", "PCX", "SGI", "DDS"):
        path = d / f"{fmt.lower()}-as.png"
        try:
            Image.open(photo).convert("RGB").save(path, format=fmt)
        except (KeyError, OSError, ValueError):
            continue
        add(k, f"{fmt} named .png", ["reconstruct", path, "--checkpoint", good,
                                     "--out", d / f"o-{fmt}"])
    (d / "svg.png").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    add(k, "SVG named .png", ["reconstruct", d / "svg.png", "--checkpoint", good,
                              "--out", d / "o-svg"])
    (d / "html.jpg").write_text("<html><body>not a photo</body></html>")
    add(k, "HTML named .jpg", ["reconstruct", d / "html.jpg", "--checkpoint", good,
                               "--out", d / "o-html"])
    grey = (np.arange(9000 * 9000, dtype=np.uint32) % 65536).astype(np.uint16)
    Image.fromarray(grey.reshape(9000, 9000)).save(d / "grey16.png", compress_level=1)
    add(k, "9000 x 9000 16-bit greyscale (valid)", ["reconstruct", d / "grey16.png",
        "--checkpoint", good, "--out", d / "o-grey"], expect=0)

    # -- passes that would not fit ---------------------------------------------------------------
    k = "memory before the first pass"
    torch.manual_seed(0)
    for side, patch, depth in ((4096, 16, 2), (4096, 8, 1), (2048, 4, 1)):
        cfg = MAEConfig(**{**PRESETS["test"], "image_size": (side, side), "patch_size": patch,
                           "depth": depth, "decoder_depth": 1}, norm_pix_loss=False)
        model = MAEModel(cfg)
        init_weights(model)
        path = save_checkpoint(d / f"wide-{side}-{patch}.safetensors", model)
        tokens = (side // patch) ** 2 + 1
        add(k, f"{path.stat().st_size / 1e6:.0f} MB file, {tokens:,} tokens",
            [*rec_base, path, "--out", d / f"o-wide-{side}-{patch}"])

    # -- errors that must say their real cause ------------------------------------------------
    k = "errors with their reasons"
    meta = _meta(good)
    for depth in (100, 980, 5000):
        text = json.dumps(meta)[:-1] + ', "provenance": ' + "[" * depth + "]" * depth + "}"
        add(k, f"metadata JSON {depth} levels deep",
            ["info", _own(good, d / f"deep{depth}.safetensors", text=text)])
    deep_hf = d / "hf-deep"
    shutil.copytree(hf, deep_hf)
    cfg_text = (deep_hf / "config.json").read_text().rstrip()[:-1]
    (deep_hf / "config.json").write_text(cfg_text + ', "x": ' + "[" * 3000 + "]" * 3000 + "}")
    add(k, "config.json 3000 levels deep", ["info", deep_hf])
    f8 = {n: v.to(torch.float8_e4m3fn) for n, v in load_file(str(good)).items()}
    add(k, "float8 weights", ["info", _own(good, d / "f8.safetensors", tensors=f8)])
    f64 = {n: v.double() for n, v in load_file(str(good)).items()}
    add(k, "float64 weights (valid)", ["info", _own(good, d / "f64.safetensors", tensors=f64)],
        expect=0)
    os.symlink(d / "loop-b", d / "loop-a")
    os.symlink(d / "loop-a", d / "loop-b")
    add(k, "checkpoint: a symbolic link loop", ["info", d / "loop-a"])
    add(k, "image: a symbolic link loop", ["reconstruct", d / "loop-a", "--checkpoint", good,
                                           "--out", d / "o-loop"])
    add(k, "mask: a symbolic link loop", [*rec_base, good, "--mask", d / "loop-a",
                                          "--out", d / "o-loopm"])
    one = d / "one-image"
    one.mkdir()
    shutil.copy(photo, one / "only.png")
    add(k, "train on a folder of one image", ["train", one, "--preset", "test", "--steps", "1",
                                              "--out", d / "run-one"])
    add(k, "--screenshot shot.jpg", ["--screenshot", d / "shot.jpg", "--checkpoint", good])
    fifo = d / "precision-fifo"  # nobody writes to it: a run that opens it hangs
    os.mkfifo(fifo)
    add(k, "a FIFO as the precision cache (valid run)", [*rec_base, good, "--dtype", "auto",
        "--out", d / "o-fifo"], expect=0, env={"MAE_DESKTOP_PRECISION_CACHE": str(fifo)})
    deep_cache = d / "precision-deep.json"
    deep_cache.write_text('{"version": 1, "choices": ' + "[" * 5000 + "]" * 5000 + "}")
    add(k, "a damaged precision cache (valid run)", [*rec_base, good, "--dtype", "auto",
        "--out", d / "o-deepcache"], expect=0,
        env={"MAE_DESKTOP_PRECISION_CACHE": str(deep_cache)})
    bom = d / "bom-session.json"
    session = {"format": "mae-desktop-session", "version": 1, "image": {"path": None},
               "checkpoint": {"path": None}, "mask": ["0101"] * 4}
    bom.write_bytes(codecs.BOM_UTF8 + json.dumps(session).encode())
    (d / "utf16.json").write_bytes(json.dumps(session).encode("utf-16"))
    add(k, "a session in UTF-16 on the command line",
        ["--screenshot", d / "s1.png", d / "utf16.json"])
    (d / "big.json").write_bytes(b" " * (9 << 20))
    add(k, "a 9 MB .json on the command line", ["--screenshot", d / "s2.png", d / "big.json"])
    return cases
