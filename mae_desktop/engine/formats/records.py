"""The record each checkpoint format declares, and what the loader hands it (no Qt).

A format is one `CheckpointFormat`: its id (in metrics.json and sessions), the name people
know it by, a description for messages, the model family it belongs to, where its input
normalisation comes from when the file does not say, `detect` (on what was opened: tensor
names, safetensors metadata, a folder's config) and `convert` (to a `Loaded`: the family's
config and tensors under our names, with what had to be assumed). `engine.checkpoints`
loops over `formats.RECORDS` in order; a format never needs an `if` anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class Opened:
    """What the loader read before knowing the format.

    tensors: every tensor of the file or folder; meta: safetensors metadata (str -> str);
    args: an official training checkpoint's argparse Namespace (else None); config/pre: a
    Hugging Face folder's config.json / preprocessor_config.json (else None); files: the
    weight files (hashed for sessions)."""

    path: Path
    tensors: dict[str, torch.Tensor]
    meta: dict[str, str] = field(default_factory=dict)
    args: Any = None
    config: dict | None = None
    pre: dict | None = None
    files: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def folder(self) -> bool:
        return self.config is not None

    @property
    def keys(self) -> set[str]:
        return set(self.tensors)


@dataclass(frozen=True)
class Wanted:
    """What the user asked for that the file may not say: head counts (None: the file's
    or an assumption)."""

    heads: int | None = None
    decoder_heads: int | None = None


@dataclass
class Loaded:
    """A converter's result. config: the family's config; state_dict: float tensors under
    the family model's names; target_source: where the target space was read; notes: what
    had to be assumed, for the user; assumed: head counts assumed, not read; fields: how the
    file names each config field (for messages); metadata: what the file says about itself;
    norm_source: where mean/std came from ('' : the format's default)."""

    config: Any
    state_dict: dict[str, torch.Tensor]
    target_source: str
    notes: list[str] = field(default_factory=list)
    assumed: dict[str, int] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    norm_source: str = ""


@dataclass(frozen=True)
class CheckpointFormat:
    """One checkpoint format (see the module docstring)."""

    id: str
    name: str
    description: str
    family: str
    norm_source: str
    detect: Callable[[Opened], bool]
    convert: Callable[[Opened, Wanted], Loaded]
    aliases: tuple[str, ...] = ()  # ids earlier releases wrote for it


__all__ = ["CheckpointFormat", "Loaded", "Opened", "Wanted"]
