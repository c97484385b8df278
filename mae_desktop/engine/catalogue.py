"""The public pretrained MAE checkpoints that can be downloaded by name: plain data and lookup.

Where each URL comes from (checked against the sources, never guessed):

- `mae_visualize_vit_large.pth` and `mae_visualize_vit_large_ganloss.pth`: the official demo
  notebook, facebookresearch/mae `demo/mae_visualize.ipynb` (its `!wget -nc` cells, which also
  say "an MAE model trained with pixels as targets for visualization" and "trained with an
  extra GAN loss for more realistic generation", both ViT-Large, mask ratio 0.75).
- `mae_visualize_vit_base.pth` and `mae_visualize_vit_huge.pth`: Kaiming He's answer in
  facebookresearch/mae issue #3 (2022-01-10), which gives the two `wget` lines for the
  notebook.
- `mae_pretrain_vit_{base,large,huge}.pth`: the table "pre-trained checkpoint" of the
  facebookresearch/mae README, with the first six hex digits of each file's md5 (8cad7c,
  b8b06e, 9bdbb0). PRETRAIN.md says these were trained with `--norm_pix_loss`.
- `facebook/vit-mae-{base,large,huge}`: the Hugging Face Hub repositories; their file lists
  ("Files and versions" on the Hub, main branch): base has config.json,
  preprocessor_config.json, model.safetensors and pytorch_model.bin (448 MB each); large and
  huge have config.json, preprocessor_config.json and pytorch_model.bin only (1.32 GB,
  2.63 GB; their safetensors conversions sit in unmerged pull requests). Their config.json
  says `norm_pix_loss: false`; transformers' conversion script for ViTMAE
  (`convert_vit_mae_to_pytorch.py`) reads the official *visualize* checkpoints (its default
  URL is mae_visualize_vit_base.pth) and checks the decoder's output, so these are the
  visualize weights in the Hugging Face layout.

Licences: the facebookresearch/mae README says "This project is under the CC-BY-NC 4.0
license" (LICENSE: Attribution-NonCommercial 4.0 International). The Hub repositories carry
the tag `license: apache-2.0` in a model card written by the Hugging Face team ("The team
releasing MAE did not write a model card for this model"); the weights themselves were
converted from the official CC BY-NC 4.0 release. Both facts are shown to the user.

No source publishes a sha256 for these files, so `sha256` is None everywhere; the official
pretrain files are checked against the README's md5 prefixes. Sizes are approximate (from
the Hub's listings and the models' parameter counts); a download reports the exact size.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from .errors import MAEError

HUB_ENDPOINT_ENV = "MAE_DESKTOP_HUB_ENDPOINT"
DEFAULT_HUB_ENDPOINT = "https://huggingface.co"
OFFICIAL_LICENCE_URL = "https://github.com/facebookresearch/mae/blob/main/LICENSE"
CC_BY_NC_URL = "https://creativecommons.org/licenses/by-nc/4.0/"

_CC_BY_NC_TEXT = (
    "Creative Commons Attribution-NonCommercial 4.0 International (CC BY-NC 4.0). These "
    "weights are released by Meta AI (facebookresearch/mae) under this licence: you may use, "
    "share and adapt them for non-commercial purposes only, giving appropriate credit (He et "
    "al., Masked Autoencoders Are Scalable Vision Learners, 2021)."
)
_HUB_TEXT = (
    "The Hugging Face repository is tagged apache-2.0 (its model card was written by the "
    "Hugging Face team, not by the MAE authors). The weights in it were converted from the "
    "official facebookresearch/mae checkpoints, which are released under CC BY-NC 4.0 "
    "(non-commercial use only). Check both before any commercial use."
)


@dataclass(frozen=True)
class CatalogueEntry:
    """One downloadable checkpoint.

    kind: "file" (one URL, saved under its own file name) or "hub" (a Hugging Face
    repository, saved as a model folder). size_bytes: approximate download size in bytes.
    target: what the decoder predicts ("pixel" or "norm_pix"), None without a decoder.
    needs_acceptance: the licence is shown and must be accepted before downloading.
    """

    name: str
    title: str
    kind: Literal["file", "hub"]
    url: str  # the file's URL, or the repository's page on the Hub
    size_bytes: int
    decoder: bool
    target: Literal["pixel", "norm_pix"] | None
    contents: str
    licence: str
    licence_text: str
    licence_url: str
    source: str  # where the URL was published
    needs_acceptance: bool = True
    sha256: str | None = None
    md5_prefix: str | None = None  # leading hex digits of the file's md5, as published
    repo: str | None = None  # "owner/name" on the Hub (kind "hub")
    files: tuple[str, ...] = ()  # required files of a Hub folder
    optional_files: tuple[str, ...] = ()  # fetched when the repository has them
    weights: tuple[str, ...] = ()  # the first of these that the repository has
    notes: str = field(default="")

    @property
    def file_name(self) -> str:
        """The name it is saved under in the cache: the URL's file name, or the entry's name
        (a folder) for a Hub repository."""
        return self.name if self.kind == "hub" else url_file_name(self.url)


def _official(
    name: str, title: str, file: str, size: int, decoder: bool, contents: str, source: str, **kw
) -> CatalogueEntry:
    folder = "visualize" if decoder else "pretrain"
    return CatalogueEntry(
        name=name,
        title=title,
        kind="file",
        url=f"https://dl.fbaipublicfiles.com/mae/{folder}/{file}",
        size_bytes=size,
        decoder=decoder,
        target="pixel" if decoder else None,
        contents=contents,
        licence="CC BY-NC 4.0",
        licence_text=_CC_BY_NC_TEXT,
        licence_url=OFFICIAL_LICENCE_URL,
        source=source,
        **kw,
    )


def _hub(name: str, repo: str, title: str, size: int, weights: tuple[str, ...]) -> CatalogueEntry:
    return CatalogueEntry(
        name=name,
        title=title,
        kind="hub",
        url=f"{DEFAULT_HUB_ENDPOINT}/{repo}",
        size_bytes=size,
        decoder=True,
        target="pixel",
        contents="encoder + decoder, pixel target (Hugging Face ViTMAE folder)",
        licence="apache-2.0 (Hub tag); weights CC BY-NC 4.0",
        licence_text=_HUB_TEXT,
        licence_url=f"{DEFAULT_HUB_ENDPOINT}/{repo}",
        source=f"Hugging Face Hub, {repo} (Files and versions, main branch)",
        repo=repo,
        files=("config.json",),
        optional_files=("preprocessor_config.json",),
        weights=weights,
    )


_DEMO = "facebookresearch/mae demo/mae_visualize.ipynb"
_ISSUE3 = "facebookresearch/mae issue #3 (Kaiming He's answer, 2022-01-10)"
_README = "facebookresearch/mae README, pre-trained checkpoints table"
_VIS = "encoder + decoder, pixel target"
_ENC = "encoder only, no decoder (attention maps, no reconstruction); trained on norm_pix"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    _official(
        "mae-vit-base-visualize",
        "MAE ViT-Base/16, with decoder (official visualize weights)",
        "mae_visualize_vit_base.pth",
        448_000_000,
        True,
        _VIS,
        _ISSUE3,
    ),
    _official(
        "mae-vit-large-visualize",
        "MAE ViT-Large/16, with decoder (official visualize weights, the demo's model)",
        "mae_visualize_vit_large.pth",
        1_320_000_000,
        True,
        _VIS,
        _DEMO,
    ),
    _official(
        "mae-vit-large-gan-visualize",
        "MAE ViT-Large/16 trained with an extra GAN loss, with decoder (official)",
        "mae_visualize_vit_large_ganloss.pth",
        1_320_000_000,
        True,
        _VIS + " (plus a GAN loss: sharper, more realistic fills)",
        _DEMO,
    ),
    _official(
        "mae-vit-huge-visualize",
        "MAE ViT-Huge/14, with decoder (official visualize weights)",
        "mae_visualize_vit_huge.pth",
        2_630_000_000,
        True,
        _VIS,
        _ISSUE3,
    ),
    _official(
        "mae-vit-base-pretrain",
        "MAE ViT-Base/16 encoder (official pre-trained checkpoint)",
        "mae_pretrain_vit_base.pth",
        343_000_000,
        False,
        _ENC,
        _README,
        md5_prefix="8cad7c",
    ),
    _official(
        "mae-vit-large-pretrain",
        "MAE ViT-Large/16 encoder (official pre-trained checkpoint)",
        "mae_pretrain_vit_large.pth",
        1_213_000_000,
        False,
        _ENC,
        _README,
        md5_prefix="b8b06e",
    ),
    _official(
        "mae-vit-huge-pretrain",
        "MAE ViT-Huge/14 encoder (official pre-trained checkpoint)",
        "mae_pretrain_vit_huge.pth",
        2_523_000_000,
        False,
        _ENC,
        _README,
        md5_prefix="9bdbb0",
    ),
    _hub(
        "hf-vit-mae-base",
        "facebook/vit-mae-base",
        "ViT-MAE Base/16, with decoder (Hugging Face)",
        448_000_000,
        ("model.safetensors", "pytorch_model.bin"),
    ),
    _hub(
        "hf-vit-mae-large",
        "facebook/vit-mae-large",
        "ViT-MAE Large/16, with decoder (Hugging Face)",
        1_320_000_000,
        ("model.safetensors", "pytorch_model.bin"),
    ),
    _hub(
        "hf-vit-mae-huge",
        "facebook/vit-mae-huge",
        "ViT-MAE Huge/14, with decoder (Hugging Face)",
        2_630_000_000,
        ("model.safetensors", "pytorch_model.bin"),
    ),
)


def names(entries: tuple[CatalogueEntry, ...] = CATALOGUE) -> list[str]:
    return [e.name for e in entries]


def find(name: str, entries: tuple[CatalogueEntry, ...] = CATALOGUE) -> CatalogueEntry:
    """The entry called `name` (case-insensitive); MAEError naming the closest names."""
    for entry in entries:
        if entry.name == name.strip().lower():
            return entry
    close = difflib.get_close_matches(name.lower(), names(entries), n=3, cutoff=0.5)
    hint = ""
    if close:
        hint = f"; did you mean {', '.join(close[:-1])}{' or ' if len(close) > 1 else ''}"
        hint += f"{close[-1]}?"
    raise MAEError(
        f"no pretrained model called {name!r} in the catalogue{hint} ('mae-desktop download "
        "--list' shows them all; a URL downloads any file)"
    )


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub's address, without a trailing slash: `endpoint`, else $MAE_DESKTOP_HUB_ENDPOINT,
    else $HF_ENDPOINT (the variable Hugging Face's own tools read), else huggingface.co."""
    value = (
        endpoint
        or os.environ.get(HUB_ENDPOINT_ENV)
        or os.environ.get("HF_ENDPOINT")
        or DEFAULT_HUB_ENDPOINT
    )
    return value.rstrip("/")


def hub_file_url(repo: str, filename: str, endpoint: str | None = None, revision="main") -> str:
    """The download address of one file of a Hub repository."""
    return f"{hub_endpoint(endpoint)}/{repo}/resolve/{revision}/{filename}"


def url_file_name(url: str) -> str:
    """The file name a URL is saved under: the last part of its path ("download" if none)."""
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1])
    name = "".join(c for c in name if c not in '<>:"/\\|?*' and ord(c) >= 32).strip(" .")
    return name or "download"


def cached_path(entry: CatalogueEntry, root: str | Path) -> Path:
    """Where `entry` is (or will be) saved under the cache folder `root`."""
    return Path(root) / entry.file_name


def by_file_name(name: str, entries: tuple[CatalogueEntry, ...] = CATALOGUE):
    """The entry saved under this file or folder name, or None."""
    return next((e for e in entries if e.file_name == name), None)
