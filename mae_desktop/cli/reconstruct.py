"""`mae-desktop reconstruct`: images under a mask to PNGs, metrics and figures."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..engine.errors import MAEError
from ..engine.files import regular_file, safe_name, save_npy, writable_folder, write_bytes
from .arguments import PROG


def _checkpoint_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from ..paths import default_model, default_model_candidates

    found = default_model()
    if found is None:
        where = ", ".join(str(p) for p in default_model_candidates())
        raise MAEError(
            f"no bundled default model found (looked in {where}); pass --checkpoint PATH"
        )
    return found


def _unique_dirs(out: Path, images: list[str]) -> tuple[list[Path], list[str]]:
    """Each image's output folder, and notes for names that had to change: out itself for
    one image; else out/<file name without extension>, made safe (`safe_name`: '...png'
    has the stem '..', which must never leave out), and when an earlier image took that
    name, the first free of <name>-2, -3, ... in argument order. Names are compared ignoring
    case, as Windows and macOS folders are."""
    if len(images) == 1:
        return [out], []
    taken: set[str] = set()
    dirs, notes = [], []
    for image in images:
        stem = Path(image).stem
        safe = safe_name(stem)
        name, n = safe, 1
        while name.casefold() in taken:
            n += 1
            name = f"{safe}-{n}"
        taken.add(name.casefold())
        dirs.append(out / name)
        if safe != stem:
            notes.append(
                f"{image}: its name cannot be a folder name; its results go into {out / name}"
            )
    return dirs, notes


def _figure_paths(figure: str | None, folders: list[Path]) -> list[Path | None]:
    """Where each image's figure goes; checked before any model is loaded."""
    if figure is None:
        return [None] * len(folders)
    from ..engine.figure import figure_format

    figure_format(figure)
    if os.path.dirname(figure):  # "./fig.pdf" too: the user named a folder
        if len(folders) > 1:
            raise MAEError(
                f"--figure {figure} names a folder, but there are {len(folders)} images; give "
                "a file name only and each image's figure goes into its output folder"
            )
        return [Path(figure)]
    return [folder / figure for folder in folders]


def _check_outputs(out: Path, folders: list[Path], figures: list[Path | None]) -> None:
    """Every output folder can be written (a file in the way, a read-only place): found
    before the model loads and long before the forward pass."""
    writable_folder(out, "output folder (--out)")
    for folder in folders:
        if folder != out and folder.exists() and not folder.is_dir():
            raise MAEError(f"cannot write the results into {folder}: it is a file, not a folder")
    for figure in figures:
        if figure is not None and figure.parent not in folders:
            writable_folder(figure.parent, "folder of --figure")
        if figure is not None and figure.is_dir():
            raise MAEError(f"--figure {figure} is a folder; give a file name")


def cmd_reconstruct(args: argparse.Namespace) -> int:
    import numpy as np

    from ..engine import masks as masks_mod
    from ..engine.figure import (
        ERROR_LABEL,
        FigureData,
        attention_label,
        check_scale,
        render_figure,
    )
    from ..engine.images import save_png
    from ..engine.metrics import reconstruction_metrics, strict_json
    from ..engine.reconstruction import masked_view
    from ..engine.render import heatmap, overlay
    from ..engine.session import ModelSession

    out = Path(args.out)
    folders, notes = _unique_dirs(out, args.images)
    for note in notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    figures = _figure_paths(args.figure, folders)  # bad arguments fail before the model loads
    check_scale(args.figure_scale)
    _check_outputs(out, folders, figures)
    if args.mask:
        regular_file(args.mask, "mask file")
    ckpt_path = _checkpoint_path(args.checkpoint)
    session = ModelSession.open(
        ckpt_path, args.device, args.dtype, args.heads, args.decoder_heads, args.input_norm
    )
    if session.auto:
        print(f"{PROG}: note: precision auto chose {session.auto}", file=sys.stderr)
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
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"{PROG}: error: cannot create {folder}: {exc.strerror}", file=sys.stderr)
            failures += 1
            continue
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
        write_bytes(folder / "metrics.json", (strict_json(metrics, indent=2) + "\n").encode())
        if args.save_arrays:
            save_npy(folder / "reconstruction.npy", rec.prediction.astype(np.float32))
            save_npy(folder / "composite.npy", rec.composite.astype(np.float32))
            save_npy(folder / "mask.npy", mask.astype(bool))
            save_npy(folder / "attention.npy", att.maps.astype(np.float32))
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
