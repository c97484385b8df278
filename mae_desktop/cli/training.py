"""`mae-desktop train` and `mae-desktop evaluate`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..engine.errors import MAEError
from .arguments import PROG


def cmd_train(args: argparse.Namespace) -> int:
    from ..training.train import TrainOptions, train

    opts = TrainOptions(
        data=args.data,
        out=args.out,
        preset=args.preset,
        steps=args.steps or 0,  # 0: sized from --minutes
        minutes=args.minutes or 0.0,
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
    best = result["best_psnr"]
    shown = f"{best:.2f} dB" if math.isfinite(best) else "n/a"
    print(
        f"stopped at step {result['step']} of {result['total']}; best validation PSNR "
        f"{shown}; state in {Path(args.out) / 'train_state.pt'}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..engine.checkpoints import build_model, load_checkpoint
    from ..engine.device import resolve_device
    from ..engine.metrics import strict_json
    from ..training.data import list_images, split
    from ..training.evaluate import evaluate

    device = resolve_device(args.device)
    files = list_images(args.folder)  # a bad folder is found before the model loads
    if args.split == "val":
        files = split(files)[1]
    ckpt = load_checkpoint(args.checkpoint, args.heads, args.decoder_heads, args.input_norm)
    model = build_model(ckpt).to(device)
    if not model.cfg.has_decoder:
        raise MAEError(f"{ckpt.path.name} has no decoder, so it cannot be evaluated")
    if model.cfg.norm_pix_loss:
        raise MAEError(
            f"{ckpt.path.name} predicts norm_pix targets; evaluate measures "
            "pixel-target models only"
        )
    result = evaluate(model, files, args.masks_per_image, args.mask_ratio, args.seed, device)
    if args.json:
        print(strict_json(result.to_dict(), indent=2))
    else:
        print(result.table())
    for method, reason in result.skipped.items():
        print(f"{PROG}: note: the {method} baseline was skipped: {reason}", file=sys.stderr)
    return 0
