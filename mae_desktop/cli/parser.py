"""The argument parser: the app's options and every subcommand's."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from .arguments import (
    PROG,
    _add_model_options,
    _non_negative_int,
    _positive_float,
    _positive_int,
    _ratio,
    _seed,
    _window_size,
)
from .download import cmd_download
from .info import cmd_info
from .reconstruct import cmd_reconstruct
from .training import cmd_evaluate, cmd_train

# the subcommands, which come before files (tests/cli/test_open_files.py checks the list)
COMMANDS = ("reconstruct", "info", "train", "evaluate", "download")


def _add_app_options(group: argparse._ActionsContainer) -> None:
    """The desktop app's options (the same with or without files to open)."""
    group.add_argument(
        "--checkpoint",
        dest="app_checkpoint",
        metavar="PATH",
        help="open this checkpoint instead of the bundled model",
    )
    group.add_argument(
        "--image",
        dest="app_image",
        metavar="PATH",
        help="open this image instead of the bundled sample",
    )
    group.add_argument(
        "--screenshot",
        metavar="PATH",
        help="save the window as PNG once the "
        "first reconstruction is drawn, then exit (works offscreen)",
    )
    group.add_argument(
        "--size",
        type=_window_size,
        metavar="WxH",
        help="the window size for --screenshot (default 1500x900)",
    )
    group.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, run one reconstruction and one attention map on the worker, "
        "print a one-line summary, exit 0 (non-zero on failure)",
    )


class _Probe(argparse.ArgumentParser):
    """A parser that raises instead of exiting (it only looks; the real parser reports)."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def _first_word(argv: Sequence[str]) -> str | None:
    """The first argument that is neither an option nor an option's value (None when the
    options are wrong: the real parser says how)."""
    probe = _Probe(add_help=False, allow_abbrev=True)
    for flag in (("-h", "--help"), ("--version",), ("--debug",)):
        probe.add_argument(*flag, action="store_true")
    _add_app_options(probe)
    probe.add_argument("word", nargs="?")
    try:
        known, _rest = probe.parse_known_args(argv)
    except argparse.ArgumentError:
        return None
    return known.word


def _files_parser() -> argparse.ArgumentParser:
    """`mae-desktop [options] FILE...`: the app, with files to open (options and files in
    any order)."""
    files = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] FILE [FILE ...]",
        description="Open the files in the desktop app: images, checkpoints (a file or a "
        "Hugging Face model folder) and sessions (.json). The window holds one of each: of "
        "several, the first opens.",
    )
    files.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    files.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _add_app_options(files)
    files.add_argument("files", nargs="+", metavar="FILE")
    return files


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (default: sys.argv[1:]) as a command's arguments, or the app's
    with the files to open (`files`). Commands come first: the first word that names one
    is that command (`mae-desktop info x.pth`); any other word is the first file to open
    when it exists or is clearly a path (a folder separator, a file extension: what a file
    manager's "Open with" passes), and a mistyped command otherwise (argparse's usage
    error, exit 2)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    word = _first_word(argv)
    if word is not None and word not in COMMANDS:
        from ..core.launch_files import looks_like_path

        if looks_like_path(word):
            return _files_parser().parse_intermixed_args(argv)
    return parser.parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    from ..engine.images import RESIZE_POLICIES
    from ..engine.masks import MASK_MODES
    from ..engine.reconstruction import MODES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Explore masked autoencoders: reconstruct images under any "
        "mask, inspect checkpoints, train and evaluate. Without a command: the desktop app, "
        "opening the FILEs given (mae-desktop photo.jpg model.pth).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _add_app_options(parser.add_argument_group("desktop app (without a command)"))
    parser.set_defaults(files=[])
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND | FILE",
        help="a command below, or files to open in the app: images, checkpoints (a file "
        "or a Hugging Face model folder) and sessions (.json)",
    )

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
    rec.add_argument("--seed", type=_seed, default=0, help="mask seed (default 0)")
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
    rec.add_argument(
        "--dtype",
        choices=("auto", "fp32", "fp16", "bf16", "int8"),  # engine.device.PRECISIONS
        default="fp32",
        help="precision (default fp32, exact and the same on every machine). int8: the "
        "Linear layers in int8, CPU only. auto: the fastest precision on this machine whose "
        "masked PSNR stays within 0.1 dB of fp32, measured once per model and machine "
        "(a few seconds) and remembered",
    )
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
    tr.add_argument("--steps", type=_positive_int, help="optimizer steps (or --minutes)")
    tr.add_argument(
        "--minutes",
        type=_positive_float,
        help="time budget; sizes the schedule when --steps is not given",
    )
    tr.add_argument("--batch-size", type=_positive_int, default=64)
    tr.add_argument("--lr", type=_positive_float, default=2e-3)
    tr.add_argument("--warmup", type=_non_negative_int, default=200)
    tr.add_argument("--seed", type=_seed, default=0)
    tr.add_argument("--eval-every", type=_positive_int, default=500)
    tr.add_argument("--device", default="auto")
    tr.add_argument(
        "--threads", type=_non_negative_int, default=0, help="CPU threads (default: torch's)"
    )
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
    ev.add_argument("--seed", type=_seed, default=0)
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
