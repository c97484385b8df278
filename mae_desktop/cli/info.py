"""`mae-desktop info`: describe a checkpoint."""

from __future__ import annotations

import argparse


def cmd_info(args: argparse.Namespace) -> int:
    from ..engine.checkpoints import build_model, load_checkpoint
    from ..engine.metrics import strict_json
    from ..engine.session import ModelSession

    ckpt = load_checkpoint(args.checkpoint, args.heads, args.decoder_heads, args.input_norm)
    session = ModelSession(ckpt, build_model(ckpt), _cpu(), _fp32())
    info = session.info()
    info.pop("device")
    info.pop("dtype")
    if args.json:  # strict JSON: a NaN in a file's provenance is written as null
        print(strict_json(info, indent=2))
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
