"""The command line: `mae-desktop [reconstruct|info|train|evaluate] ...`; no command: the app.

Exit codes: 0 success, 2 usage error (argparse), 1 bad input (a one-line message on stderr;
a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .engine.errors import MAEError

PROG = "mae-desktop"


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _window_size(text: str) -> tuple[int, int]:
    """'1600x1000' -> (1600, 1000); each side 320..8192 pixels."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT: {text!r}") from None
    if not (320 <= w <= 8192 and 320 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"each side must be 320..8192 pixels, got {text}")
    return w, h


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--heads",
        type=_positive_int,
        metavar="N",
        help="encoder heads, for formats that do not store it (official .pth, PaperWeekly, "
        "vit-pytorch)",
    )
    p.add_argument(
        "--decoder-heads",
        type=_positive_int,
        metavar="N",
        help="decoder heads, for formats that do not store it",
    )
    from .engine.config import INPUT_NORM_HELP

    p.add_argument(
        "--input-norm",
        type=_input_norm,
        metavar="NORM",
        help="normalisation of the model's [0, 1] input pixels, instead of the checkpoint's: "
        + INPUT_NORM_HELP,
    )


def _input_norm(text: str) -> str:
    from .engine.config import parse_input_norm

    try:
        parse_input_norm(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def build_parser() -> argparse.ArgumentParser:
    from .engine.images import RESIZE_POLICIES
    from .engine.masks import MASK_MODES
    from .engine.reconstruction import MODES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Explore masked autoencoders: reconstruct images under any "
        "mask, inspect checkpoints, train and evaluate. Without a command: the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    app = parser.add_argument_group("desktop app (without a command)")
    app.add_argument(
        "--checkpoint",
        dest="app_checkpoint",
        metavar="PATH",
        help="open this checkpoint instead of the bundled model",
    )
    app.add_argument(
        "--image",
        dest="app_image",
        metavar="PATH",
        help="open this image instead of the bundled sample",
    )
    app.add_argument(
        "--screenshot",
        metavar="PATH",
        help="save the window as PNG once the "
        "first reconstruction is drawn, then exit (works offscreen)",
    )
    app.add_argument(
        "--size",
        type=_window_size,
        metavar="WxH",
        help="the window size for --screenshot (default 1500x900)",
    )
    app.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, run one reconstruction and one attention map on the worker, "
        "print a one-line summary, exit 0 (non-zero on failure)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    rec = sub.add_parser(
        "reconstruct",
        help="reconstruct images under a mask, write PNGs and metrics",
        description="Reconstruct one or more images.",
    )
    rec.add_argument("images", nargs="+", metavar="IMAGE")
    rec.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="checkpoint file or Hugging Face folder (default: the bundled model)",
    )
    group = rec.add_mutually_exclusive_group()
    group.add_argument(
        "--mask",
        metavar="FILE",
        help="mask file: .npy (bool or 0/1, 1 = masked) or a black-and-white .png (white = "
        "masked; pixels <= 8 count as black, >= 247 as white, or exactly two grey levels, the "
        "brighter masked), the size of the patch grid or of the image",
    )
    group.add_argument(
        "--mask-ratio",
        type=_ratio,
        metavar="R",
        help="share of patches to mask, 0..1 (default 0.75)",
    )
    rec.add_argument("--seed", type=int, default=0, help="mask seed (default 0)")
    rec.add_argument(
        "--mask-mode",
        choices=MASK_MODES,
        default="random",
        help="mask generator (default random). grid always masks 3 of every 4 patches; block, "
        "coarse and center may round the ratio: a note on stderr says so",
    )
    rec.add_argument(
        "--resize",
        choices=RESIZE_POLICIES,
        default="stretch",
        help="how to fit the image to the model (default stretch, like the official demo)",
    )
    rec.add_argument(
        "--norm-pix",
        choices=("auto", *MODES),
        default="auto",
        metavar="MODE",
        help="display mode: auto, " + ", ".join(MODES) + " (auto: plain for "
        "pixel targets, estimate for norm_pix)",
    )
    rec.add_argument(
        "--target",
        choices=("auto", "pixel", "norm-pix"),
        default="auto",
        help="override what the checkpoint predicts (default: as it says)",
    )
    rec.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    rec.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32")
    rec.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder. With several images each gets a subfolder named after its file "
        "(a/cat.png -> DIR/cat); a name already taken by an earlier image gets -2, -3, ... "
        "(b/cat.png -> DIR/cat-2), in argument order",
    )
    rec.add_argument(
        "--figure",
        metavar="PATH",
        help="also write a six-panel figure (.png, .svg or .pdf). A bare file name goes into "
        "each image's output folder; a path with a folder (one image only) is written there",
    )
    rec.add_argument(
        "--figure-scale",
        type=float,
        default=1.0,
        metavar="S",
        help="PNG figure resolution: 100 dpi times S, 0 < S <= 8 (default 1)",
    )
    rec.add_argument(
        "--save-arrays",
        action="store_true",
        help="also write reconstruction/composite/mask/attention .npy",
    )
    _add_model_options(rec)
    rec.set_defaults(func=cmd_reconstruct)

    info = sub.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", metavar="CHECKPOINT")
    info.add_argument("--json", action="store_true", help="print JSON")
    _add_model_options(info)
    info.set_defaults(func=cmd_info)

    tr = sub.add_parser("train", help="pretrain an MAE on a folder of images")
    tr.add_argument("data", metavar="FOLDER")
    tr.add_argument(
        "--out",
        default="runs/default",
        metavar="DIR",
        help="run folder: train_state.pt, best/last .safetensors, history.json",
    )
    tr.add_argument("--preset", default="tiny6", help="architecture: tiny6, tiny12 or test")
    tr.add_argument("--steps", type=int, default=0, help="optimizer steps (or --minutes)")
    tr.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="time budget; sizes the schedule when --steps is not given",
    )
    tr.add_argument("--batch-size", type=_positive_int, default=64)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--warmup", type=int, default=200)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--eval-every", type=_positive_int, default=500)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's)")
    tr.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto")
    tr.add_argument("--resume", metavar="STATE", help="continue from a train_state.pt")
    tr.add_argument("--export", metavar="PATH", help="also write the best weights here")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="masked-pixel PSNR against simple baselines")
    ev.add_argument("checkpoint", metavar="CHECKPOINT")
    ev.add_argument("folder", metavar="FOLDER")
    ev.add_argument(
        "--split",
        choices=("all", "val"),
        default="all",
        help="val: only every 10th file by name (the training split's hold-out)",
    )
    ev.add_argument("--masks-per-image", type=_positive_int, default=4)
    ev.add_argument("--mask-ratio", type=_ratio, default=0.75)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--json", action="store_true", help="print JSON")
    _add_model_options(ev)
    ev.set_defaults(func=cmd_evaluate)

    dl = sub.add_parser(
        "download",
        help="download a public pretrained MAE checkpoint (or any URL)",
        description="Download a pretrained MAE from the catalogue (--list shows it) or any "
        "http(s) URL into the model cache, resuming an interrupted download, and check that it "
        "opens. The saved path is the last line printed.",
    )
    dl.add_argument("what", nargs="?", metavar="NAME|URL", help="a catalogue name or a URL")
    dl.add_argument(
        "--out",
        metavar="DIR",
        help="folder to save into (default: the model cache; $MAE_DESKTOP_CACHE sets it)",
    )
    dl.add_argument("--list", action="store_true", help="list the catalogue and what is cached")
    dl.set_defaults(func=cmd_download)
    return parser


# -- commands --------------------------------------------------------------------------------
def _checkpoint_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from .paths import default_model, default_model_candidates

    found = default_model()
    if found is None:
        where = ", ".join(str(p) for p in default_model_candidates())
        raise MAEError(
            f"no bundled default model found (looked in {where}); pass --checkpoint PATH"
        )
    return found


def _unique_dirs(out: Path, images: list[str]) -> list[Path]:
    """Each image's output folder: out itself for one image; else out/<file name without
    extension>, and when an earlier image took that name, the first free of <name>-2, -3, ...
    in argument order. Names are compared ignoring case, as Windows and macOS folders are."""
    if len(images) == 1:
        return [out]
    taken: set[str] = set()
    dirs = []
    for image in images:
        stem = Path(image).stem or "image"
        name, n = stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.casefold())
        dirs.append(out / name)
    return dirs


def _figure_paths(figure: str | None, folders: list[Path]) -> list[Path | None]:
    """Where each image's figure goes; checked before any model is loaded."""
    if figure is None:
        return [None] * len(folders)
    from .engine.figure import figure_format

    figure_format(figure)
    if os.path.dirname(figure):  # "./fig.pdf" too: the user named a folder
        if len(folders) > 1:
            raise MAEError(
                f"--figure {figure} names a folder, but there are {len(folders)} images; give "
                "a file name only and each image's figure goes into its output folder"
            )
        return [Path(figure)]
    return [folder / figure for folder in folders]


def cmd_reconstruct(args: argparse.Namespace) -> int:
    import numpy as np

    from .engine import masks as masks_mod
    from .engine.figure import (
        ERROR_LABEL,
        FigureData,
        attention_label,
        check_scale,
        render_figure,
    )
    from .engine.images import save_png
    from .engine.metrics import reconstruction_metrics
    from .engine.reconstruction import masked_view
    from .engine.render import heatmap, overlay
    from .engine.session import ModelSession

    out = Path(args.out)
    folders = _unique_dirs(out, args.images)
    figures = _figure_paths(args.figure, folders)  # bad arguments fail before the model loads
    check_scale(args.figure_scale)
    ckpt_path = _checkpoint_path(args.checkpoint)
    session = ModelSession.open(
        ckpt_path, args.device, args.dtype, args.heads, args.decoder_heads, args.input_norm
    )
    cfg = session.config
    if not cfg.has_decoder:
        raise MAEError(
            f"{ckpt_path.name} has no decoder (encoder-only weights), so it cannot "
            "reconstruct; 'mae-desktop info' describes it"
        )
    norm_pix = {"auto": None, "pixel": False, "norm-pix": True}[args.target]
    ratio = 0.75 if args.mask_ratio is None else args.mask_ratio
    if args.mask:
        mask = masks_mod.load_mask(args.mask, cfg.grid_size)
        mask_desc: dict[str, Any] = {"mask_file": str(args.mask)}
    else:
        mask = masks_mod.generate(args.mask_mode, cfg.grid_size, ratio, args.seed)
        given = "" if args.mask_ratio is not None else "the default "
        label = f"{given}--mask-ratio {ratio:g}"
        note = masks_mod.describe_generation(
            args.mask_mode, cfg.grid_size, ratio, mask, ratio_label=label
        )
        if note:
            print(f"{PROG}: note: {note}", file=sys.stderr)
        # requested_ratio as asked; mask_ratio (from reconstruction_metrics) as masked
        mask_desc = {"mask_mode": args.mask_mode, "requested_ratio": ratio, "mask_note": note}
    sha = session.checkpoint.sha256()
    layer = cfg.depth  # the last encoder layer, counting from 1 as users read it
    failures = 0
    for image_path, folder, figure in zip(args.images, folders, figures, strict=True):
        try:
            image = session.load_image(image_path, args.resize)
        except MAEError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        query = "cls" if cfg.use_cls_token else "mean"
        # one forward pass gives both the reconstruction and the attention maps
        result = session.analyse(image, mask, args.norm_pix, norm_pix, "encoder", query, False)
        rec, att = result.reconstruction, result.attention
        folder.mkdir(parents=True, exist_ok=True)
        p = cfg.patch_size
        shown, composite = rec.viewable()
        save_png(folder / "original.png", image)
        masked = masked_view(image, mask, p)
        save_png(folder / "masked.png", masked)
        save_png(folder / "reconstruction.png", shown)
        save_png(folder / "composite.png", composite)
        save_png(folder / "error.png", heatmap(rec.patch_error, p))
        last = att.maps[-1].mean(axis=0)
        save_png(folder / "attention.png", overlay(image, last, p))
        metrics = {
            "image": str(image_path),
            "checkpoint": str(ckpt_path),
            "checkpoint_sha256": sha,
            "checkpoint_format": session.checkpoint.format,
            **reconstruction_metrics(rec, mask),  # the numbers the window's Metrics dock shows
            "seed": args.seed,
            **mask_desc,
            "resize": args.resize,
            "attention": {
                "part": "encoder",
                "layer": layer,
                "heads": "mean",
                "query": query,
                "numbering": "layers and heads count from 1",
            },
            "messages": list(session.messages),
        }
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        if args.save_arrays:
            np.save(folder / "reconstruction.npy", rec.prediction.astype(np.float32))
            np.save(folder / "composite.npy", rec.composite.astype(np.float32))
            np.save(folder / "mask.npy", mask.astype(bool))
            np.save(folder / "attention.npy", att.maps.astype(np.float32))
        psnr = metrics["masked_psnr_db"]
        wrote = f"{folder}"
        if figure is not None:
            data = FigureData(
                original=image,
                masked=masked,
                reconstruction=shown,
                composite=composite,
                error=rec.patch_error,
                attention=last,
                patch=p,
                error_label=ERROR_LABEL,
                attention_label=attention_label("encoder", layer, query),
                title=f"{Path(image_path).name} · {ckpt_path.name}",
                masked_psnr=psnr,
                mask_ratio=metrics["mask_ratio"],
            )
            try:
                wrote += f", figure {render_figure(data, figure, args.figure_scale)}"
            except MAEError as exc:
                print(f"{PROG}: error: {exc}", file=sys.stderr)
                failures += 1
        print(
            f"{image_path}: {masks_mod.describe(mask)}, masked PSNR "
            f"{'n/a' if psnr is None else f'{psnr:.2f} dB'}, {rec.latency_ms:.1f} ms on "
            f"{rec.device} -> {wrote}"
        )
    for message in session.messages:
        print(f"{PROG}: note: {message}", file=sys.stderr)
    return 1 if failures else 0


def cmd_info(args: argparse.Namespace) -> int:
    from .engine.checkpoints import build_model, load_checkpoint
    from .engine.session import ModelSession

    ckpt = load_checkpoint(args.checkpoint, args.heads, args.decoder_heads, args.input_norm)
    session = ModelSession(ckpt, build_model(ckpt), _cpu(), _fp32())
    info = session.info()
    info.pop("device")
    info.pop("dtype")
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = [
        ("format", info["format"]),
        ("architecture", info["architecture"]),
        ("parameters", f"{info['parameters']:,}"),
        (
            "decoder",
            "yes" if info["decoder"] else "no (encoder only: attention maps, no reconstruction)",
        ),
        ("normalisation", f"{info['normalization']} [{info['normalization_source']}]"),
        ("target", f"{info['target']} [{info['target_source']}]"),
        (
            "input",
            "{}x{}, patch {}, grid {}x{}".format(
                *ckpt.config.image_size, ckpt.config.patch_size, *ckpt.config.grid_size
            ),
        ),
    ]
    rows += [("note", n) for n in info["notes"]]
    width = max(len(k) for k, _ in rows)
    print(f"{ckpt.path}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


def _cpu():
    import torch

    return torch.device("cpu")


def _fp32():
    import torch

    return torch.float32


def cmd_train(args: argparse.Namespace) -> int:
    from .training.train import TrainOptions, train

    opts = TrainOptions(
        data=args.data,
        out=args.out,
        preset=args.preset,
        steps=args.steps,
        minutes=args.minutes,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup=args.warmup,
        seed=args.seed,
        eval_every=args.eval_every,
        device=args.device,
        threads=args.threads,
        amp=args.amp,
        resume=args.resume or "",
        export=args.export or "",
    )
    result = train(opts)
    print(
        f"stopped at step {result['step']} of {result['total']}; best validation PSNR "
        f"{result['best_psnr']:.2f} dB; state in {Path(args.out) / 'train_state.pt'}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .engine.checkpoints import build_model, load_checkpoint
    from .engine.device import resolve_device
    from .training.data import list_images, split
    from .training.evaluate import evaluate

    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, args.heads, args.decoder_heads, args.input_norm)
    model = build_model(ckpt).to(device)
    if not model.cfg.has_decoder:
        raise MAEError(f"{ckpt.path.name} has no decoder, so it cannot be evaluated")
    if model.cfg.norm_pix_loss:
        raise MAEError(
            f"{ckpt.path.name} predicts norm_pix targets; evaluate measures "
            "pixel-target models only"
        )
    files = list_images(args.folder)
    if args.split == "val":
        files = split(files)[1]
    result = evaluate(model, files, args.masks_per_image, args.mask_ratio, args.seed, device)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.table())
    for method, reason in result.skipped.items():
        print(f"{PROG}: note: the {method} baseline was skipped: {reason}", file=sys.stderr)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .engine import download as dl
    from .engine.catalogue import find
    from .paths import models_cache_dir

    root = Path(args.out) if args.out else models_cache_dir()
    if args.list:
        print(dl.catalogue_listing(root))
        return 0
    if not args.what:
        raise MAEError("give a catalogue NAME or a URL to download, or --list to see the names")
    bar = None

    def progress(done: int, total: int | None, rate: float) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, file=sys.stderr)
        if total != bar.total:
            bar.total = total
        bar.update(done - bar.n)  # negative when a server that cannot resume starts over

    def status(text: str) -> None:
        tqdm.write(f"{PROG}: {text}", file=sys.stderr)  # above the bar, which stays

    is_url = "://" in args.what
    entry = None if is_url else find(args.what)
    if entry is not None:
        print(f"{entry.name}: {entry.title}")
        print(f"licence: {entry.licence} ({entry.licence_url})")
        dest = root / entry.file_name
    else:
        dest = root / dl.url_file_name(args.what)
    try:
        if entry is not None:
            path = dl.fetch(entry, root, progress=progress, status=status)
        else:
            path = dl.fetch_url(args.what, root, progress=progress, status=status)
    except KeyboardInterrupt:
        part = dl.part_path(dest)
        status(f"interrupted; {part} is kept: run the same command again to resume")
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(path)
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from .app.run import run_app, run_self_test

    if args.self_test:
        return run_self_test(args.app_checkpoint, args.app_image)
    if args.size and not args.screenshot:
        raise MAEError("--size sets the window size of --screenshot: give --screenshot PATH")
    return run_app(args.app_checkpoint, args.app_image, args.screenshot, size=args.size)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except MAEError as exc:
        if args.debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an unexpected failure: one line, the details with --debug
        if args.debug:
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with --debug for "
            "the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
