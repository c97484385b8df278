"""The editor state: what the user is looking at and editing, with change events (no Qt).

One object holds the truth: the image, the mask with its undo history, the generator
settings, the display and attention options, and the models. Docks and panels bind to it;
session files serialise it; `analyse_request()` is where an edit becomes a request.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..engine import masks as masks_mod
from ..engine.attention import Query
from ..engine.brush import MaskHistory
from ..engine.config import MAEConfig
from ..engine.errors import MAEError
from ..engine.images import RESIZE_POLICIES, fit_image
from ..engine.reconstruction import MODES
from ..engine.sweep import SWEEP_RATIOS
from .events import Event, held
from .requests import Analyse, Sweep, frozen_array

DEFAULT_SIZE = (224, 224)  # before a model is known
DEFAULT_PATCH = 16
QUERY_MODES = ("cls", "mean", "patch")
# generators whose mask does not depend on the ratio / on the random seed (engine.masks.generate)
IGNORES_RATIO = frozenset({"grid"})
IGNORES_SEED = frozenset({"grid", "center"})


@dataclass(frozen=True)
class GeneratorSettings:
    """The mask generator: mode (engine.masks.MASK_MODES), ratio in [0, 1], seed >= 0."""

    mode: str = "random"
    ratio: float = 0.75
    seed: int = 0


@dataclass(frozen=True)
class AttentionOptions:
    """What the attention panel shows. part/query/cell need a new forward pass; the rest is
    drawn from the result on screen. layer: index, -1 = last; head: 'mean', 'max' or an
    index; query: 'cls', 'mean' (all patch queries) or 'patch' (the picked `cell`)."""

    part: str = "encoder"
    layer: int = -1
    head: str | int = "mean"
    query: str = "cls"
    cell: tuple[int, int] | None = None
    rollout: bool = False
    opacity: float = 0.7
    colormap: str = "inferno"


# options whose change needs a new forward pass (the others only redraw)
PASS_OPTIONS = frozenset({"part", "query", "cell", "display_mode"})


def _readonly(mask: np.ndarray) -> np.ndarray:
    out = np.array(mask, dtype=bool, copy=True)
    out.setflags(write=False)
    return out


class EditorState:
    """The app's state, edited on the GUI thread; every change is announced.

    Events (each says what happened; handlers run on the emitting, GUI, thread):
    image_changed() a new or refitted image (the grid and the mask may have changed too);
    mask_changed() a mask edit; history_changed() an undo step recorded;
    stroke_finished() the mouse (or a generator slider) was released; generator_changed();
    options_changed(names: frozenset[str]) display or attention options;
    model_changed() the main model (the image, grid and mask may have changed too);
    compare_changed() the comparison model.
    """

    def __init__(self) -> None:
        self.image_changed = Event("image_changed")
        self.mask_changed = Event("mask_changed")
        self.history_changed = Event("history_changed")
        self.stroke_finished = Event("stroke_finished")
        self.generator_changed = Event("generator_changed")
        self.options_changed = Event("options_changed")
        self.model_changed = Event("model_changed")
        self.compare_changed = Event("compare_changed")
        self.source: Image.Image | None = None  # the image as opened (8-bit RGB)
        self.image_path: str | None = None  # None for a pasted image
        self.image: np.ndarray | None = None  # float32 (H, W, 3) in [0, 1], read-only
        self.image_id = 0  # changes with every new or refitted image
        self.resize = "stretch"
        self.generator = GeneratorSettings()
        grid = (DEFAULT_SIZE[0] // DEFAULT_PATCH, DEFAULT_SIZE[1] // DEFAULT_PATCH)
        self._mask = _readonly(masks_mod.random_mask(grid, 0.75, 0))
        self.history = MaskHistory(self._mask)
        self._stroke_base: np.ndarray | None = None
        self.display_mode = "auto"
        self.attention = AttentionOptions()
        self.model: dict[str, Any] | None = None  # the main model's info (engine + sha256)
        self.config: MAEConfig | None = None
        self.generation = 0  # the worker generation of `model`
        self.device_choice = "auto"  # what the user picked: 'auto' or a device name
        self.head_overrides: dict[str, int | None] = {"heads": None, "decoder_heads": None}
        # the user's input normalisation ('none', 'imagenet', 'MEAN:STD'); None: the file's
        self.input_norm: str | None = None
        self.compare: dict[str, Any] | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Changes made inside are applied whole or not at all: events are held and then
        announced once each (model, image, mask, history, generator, options, compare, in
        that order), so views never draw a half-applied state; if the block raises, every
        attribute is put back as it was and nothing is announced."""
        saved = {
            k: copy.deepcopy(v) if isinstance(v, MaskHistory | dict) and k != "model" else v
            for k, v in vars(self).items()
            if not isinstance(v, Event)
        }
        order = [
            self.model_changed,
            self.image_changed,
            self.mask_changed,
            self.history_changed,
            self.generator_changed,
            self.options_changed,
            self.compare_changed,
        ]
        try:
            with held(order):
                yield
        except BaseException:
            vars(self).update(saved)
            raise

    # -- geometry ------------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int]:
        return self.config.image_size if self.config else DEFAULT_SIZE

    @property
    def patch_size(self) -> int:
        return self.config.patch_size if self.config else DEFAULT_PATCH

    @property
    def grid(self) -> tuple[int, int]:
        h, w = self.image_size
        return h // self.patch_size, w // self.patch_size

    # -- image ---------------------------------------------------------------------------------
    def set_source(self, img: Image.Image, path: str | None) -> None:
        """A new image (as opened); fitted to the model at once."""
        self.source, self.image_path = img, path
        self.refit()

    def set_resize(self, policy: str) -> None:
        if policy not in RESIZE_POLICIES:
            raise MAEError(f"unknown resize policy {policy!r}")
        if policy != self.resize:
            self.resize = policy
            self.refit()

    def refit(self, notify: bool = True) -> None:
        """Fit the source to the model's input size; a new grid gets a new generated mask.
        Announced as one image_changed (mask included)."""
        if self._mask.shape != self.grid:
            g = self.generator
            self.reset_mask(masks_mod.generate(g.mode, self.grid, g.ratio, g.seed), notify=False)
        if self.source is not None:
            pad = self.config.pad_rgb if self.config else (0.5, 0.5, 0.5)
            self.image = frozen_array(fit_image(self.source, self.image_size, self.resize, pad))
            self.image_id += 1
        if notify:
            self.image_changed.emit()

    # -- mask ----------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """bool (gh, gw), True = masked; read-only (every change makes a new array)."""
        return self._mask

    def set_mask(self, mask: np.ndarray, record: bool = True) -> None:
        """Replace the mask; `record` makes it an undo step. Raises MAEError on a wrong grid."""
        mask = np.asarray(mask)
        if mask.shape != self.grid:
            raise MAEError(
                f"mask is {mask.shape[1]}x{mask.shape[0]}, the model's grid is "
                f"{self.grid[1]}x{self.grid[0]}"
            )
        if mask.dtype == bool and np.array_equal(mask, self._mask):
            return
        self._mask = _readonly(mask)
        self.mask_changed.emit()
        if record and self.history.push(self._mask):
            self.history_changed.emit()

    def reset_mask(self, mask: np.ndarray, notify: bool = True) -> None:
        """A new mask without undo across it (a new grid, a reopened session)."""
        self._mask = _readonly(mask)
        self.history.reset(self._mask)
        self._stroke_base = None
        if notify:
            self.mask_changed.emit()
            self.history_changed.emit()

    def paint(self, cells: np.ndarray, value: bool) -> None:
        """While a stroke is in progress: the stroke's cells (bool grid) set to `value`."""
        if self._stroke_base is None:
            self._stroke_base = self._mask
        new = self._stroke_base.copy()
        new[cells] = value
        self.set_mask(new, record=False)

    @property
    def stroking(self) -> bool:
        """A brush or rectangle stroke, or a generator adjustment (slider drag), is in
        progress: its edits are not undo steps yet and its requests are interactive."""
        return self._stroke_base is not None

    def end_stroke(self) -> None:
        """The whole stroke becomes one undo step."""
        self._stroke_base = None
        if self.history.push(self._mask):
            self.history_changed.emit()
        self.stroke_finished.emit()

    def begin_adjust(self) -> None:
        """A generator control is being dragged: the masks it regenerates until
        `end_adjust` are handled like a stroke (one undo step, interactive requests).
        Calling it again while adjusting does nothing."""
        if self._stroke_base is None:
            self._stroke_base = self._mask

    def end_adjust(self) -> None:
        """The drag ended: its last mask becomes one undo step (nothing if none began)."""
        if self._stroke_base is not None:
            self.end_stroke()

    def undo(self) -> None:
        mask = self.history.undo()
        if mask is not None:
            self.set_mask(mask, record=False)
            self.history_changed.emit()

    def redo(self) -> None:
        mask = self.history.redo()
        if mask is not None:
            self.set_mask(mask, record=False)
            self.history_changed.emit()

    def generate(self) -> None:
        """Replace the mask with the generator's: an undo step, or part of the adjustment
        in progress."""
        g = self.generator
        self.set_mask(
            masks_mod.generate(g.mode, self.grid, g.ratio, g.seed), record=not self.stroking
        )

    def new_seed(self) -> None:
        self.set_generator(seed=self.generator.seed + 1)
        self.generate()

    def invert(self) -> None:
        self.set_mask(~self._mask)

    def clear(self) -> None:
        self.set_mask(masks_mod.clear(self.grid))

    def mask_all(self) -> None:
        self.set_mask(masks_mod.mask_all(self.grid))

    def set_generator(self, regenerate: bool = False, **changes: Any) -> None:
        """Change GeneratorSettings fields (mode, ratio, seed). With `regenerate` a change
        also replaces the mask with the new generator's (the controls do this, so the mask
        follows them live); without it (a session load) the mask stays as it is."""
        new = dataclasses.replace(self.generator, **changes)
        if new.mode not in masks_mod.MASK_MODES:
            raise MAEError(f"unknown mask generator {new.mode!r}")
        if not 0.0 <= new.ratio <= 1.0 or new.seed < 0:
            raise MAEError(f"bad generator ratio {new.ratio} or seed {new.seed}")
        if new != self.generator:
            self.generator = new
            self.generator_changed.emit()
            if regenerate:
                self.generate()

    # -- display and attention options ---------------------------------------------------------
    def set_display_mode(self, mode: str) -> None:
        if mode != "auto" and mode not in MODES:
            raise MAEError(f"unknown display mode {mode!r}")
        if mode != self.display_mode:
            self.display_mode = mode
            self.options_changed.emit(frozenset({"display_mode"}))

    def set_attention(self, **changes: Any) -> None:
        """Change attention options (AttentionOptions fields); announces the changed names."""
        new = dataclasses.replace(self.attention, **changes)
        if new.query not in QUERY_MODES:
            raise MAEError(f"unknown attention query {new.query!r}")
        if new.query == "patch" and new.cell is None:
            new = dataclasses.replace(new, cell=(self.grid[0] // 2, self.grid[1] // 2))
        names = frozenset(
            f.name
            for f in dataclasses.fields(AttentionOptions)
            if getattr(new, f.name) != getattr(self.attention, f.name)
        )
        if names:
            self.attention = new
            self.options_changed.emit(names)

    def pick_query(self, cell: tuple[int, int]) -> None:
        """The query tool: attention from this patch."""
        self.set_attention(query="patch", cell=(int(cell[0]), int(cell[1])))

    def effective_query(self) -> Query:
        """The query the engine is asked for: CLS falls back to the mean of the queries on a
        model without a CLS token."""
        a = self.attention
        if a.query == "patch" and a.cell is not None:
            return a.cell
        if a.query == "cls" and self.config is not None and not self.config.use_cls_token:
            return "mean"
        return "mean" if a.query == "mean" else "cls"

    # -- models --------------------------------------------------------------------------------
    def set_model(
        self,
        info: dict[str, Any],
        device_choice: str | None = None,
        head_overrides: dict[str, int | None] | None = None,
    ) -> None:
        """The worker loaded or moved the main model (info from the worker, with
        'generation' and 'input_norm'); the image is refitted when the input size, the patch
        or the padding colour (it follows the normalisation) changed."""
        old = self.config
        self.model = info
        self.config = MAEConfig.from_dict(info["config"])
        self.generation = int(info["generation"])
        if device_choice is not None:
            self.device_choice = device_choice
        if head_overrides is not None:
            self.head_overrides = dict(head_overrides)
        self.input_norm = info.get("input_norm")
        geometry_changed = old is None or (old.image_size, old.patch_size) != (
            self.config.image_size,
            self.config.patch_size,
        )
        if self.attention.cell is not None and not self._in_grid(self.attention.cell):
            self.attention = dataclasses.replace(self.attention, query="cls", cell=None)
        if geometry_changed or self.config.pad_rgb != (old.pad_rgb if old else None):
            self.refit(notify=False)
        self.model_changed.emit()

    def _in_grid(self, cell: tuple[int, int]) -> bool:
        return 0 <= cell[0] < self.grid[0] and 0 <= cell[1] < self.grid[1]

    def set_compare(self, info: dict[str, Any] | None) -> None:
        self.compare = info
        self.compare_changed.emit()

    # -- requests ------------------------------------------------------------------------------
    def analyse_request(self) -> Analyse | None:
        """Where an edit becomes a request: a frozen snapshot of the image, the mask and the
        options, for the model the window knows; None before an image and a model."""
        if self.image is None or self.model is None or self.image.shape[:2] != self.image_size:
            return None
        return Analyse(
            image=self.image,
            mask=self._mask,
            image_id=self.image_id,
            generation=self.generation,
            mode=self.display_mode,
            part=self.attention.part,
            query=self.effective_query(),
            interactive=self.stroking,
        )

    def sweep_request(self, seeds: int, ratios: tuple[float, ...] = SWEEP_RATIOS) -> Sweep | None:
        if self.image is None or self.model is None:
            return None
        return Sweep(
            image=self.image,
            mask=self._mask,
            image_id=self.image_id,
            generation=self.generation,
            seeds=seeds,
            ratios=ratios,
            image_name=self.image_name,
            model_name=self.model_name,
        )

    @property
    def image_name(self) -> str:
        return Path(self.image_path).name if self.image_path else "pasted image"

    @property
    def model_name(self) -> str:
        return Path(self.model["path"]).name if self.model else "no model"
