"""The program name and the argument types and shared options of the command line."""

from __future__ import annotations

import argparse
import math

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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


SEED_MAX = 2**32 - 1


def _seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {SEED_MAX}, got {value}"
        )
    return value


def _positive_float(text: str) -> float:
    """A finite number above zero (a learning rate, minutes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
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
    from ..engine.config import INPUT_NORM_HELP

    p.add_argument(
        "--input-norm",
        type=_input_norm,
        metavar="NORM",
        help="normalisation of the model's [0, 1] input pixels, instead of the checkpoint's: "
        + INPUT_NORM_HELP,
    )


def _input_norm(text: str) -> str:
    from ..engine.config import parse_input_norm

    try:
        parse_input_norm(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()
