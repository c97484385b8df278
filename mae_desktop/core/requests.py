"""What the GUI asks of the worker, and what comes back: frozen dataclasses.

Requests are built on the GUI thread from a snapshot of the editor state (arrays are copied
and made read-only) and executed on the worker by `core.worker.Worker`. Two kinds of work:

- commands (`command = True`): open a checkpoint, move it, set its head counts or its input
  normalisation, open or close a comparison model, check and open a session. They run in
  the order given and are never dropped;
- queries: analyse, sweep. Only the newest pending query of each `kind` runs; a long query
  (`long = True`) runs one forward pass at a time, yielding to commands and newer analyses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..engine.attention import Query


def frozen_array(a: np.ndarray) -> np.ndarray:
    """A read-only array that nothing else can change: `a` itself if it is already
    read-only and owns its data, else a read-only copy."""
    if not a.flags.writeable and a.flags.owndata:
        return a
    out = np.array(a, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Request:
    """Base of every request. `kind` groups queries for newest-wins."""

    kind: ClassVar[str] = ""
    command: ClassVar[bool] = False
    long: ClassVar[bool] = False
    changes_model: ClassVar[bool] = False


# -- commands ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenModel(Request):
    """Load a checkpoint as the main model (replacing the current one only on success)."""

    kind: ClassVar[str] = "model"
    command: ClassVar[bool] = True
    changes_model: ClassVar[bool] = True
    path: str = ""
    device: str = "auto"
    dtype: str = "fp32"
    heads: int | None = None
    decoder_heads: int | None = None
    input_norm: str | None = None  # 'none', 'imagenet', 'MEAN:STD'; None: as the file says


@dataclass(frozen=True)
class MoveModel(Request):
    """Move the main model to another device and/or precision (None keeps the current)."""

    kind: ClassVar[str] = "model"
    command: ClassVar[bool] = True
    changes_model: ClassVar[bool] = True
    device: str | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class SetHeads(Request):
    """Reload the main checkpoint with these head counts (None: the assumed count)."""

    kind: ClassVar[str] = "model"
    command: ClassVar[bool] = True
    changes_model: ClassVar[bool] = True
    heads: int | None = None
    decoder_heads: int | None = None


@dataclass(frozen=True)
class SetInputNorm(Request):
    """Reload the main checkpoint with this input normalisation ('none', 'imagenet',
    'MEAN:STD'; None: as the checkpoint says), keeping its head counts."""

    kind: ClassVar[str] = "model"
    command: ClassVar[bool] = True
    changes_model: ClassVar[bool] = True
    input_norm: str | None = None


@dataclass(frozen=True)
class OpenCompare(Request):
    """Load a second checkpoint that reconstructs the same image and mask."""

    kind: ClassVar[str] = "compare"
    command: ClassVar[bool] = True
    path: str = ""


@dataclass(frozen=True)
class CloseCompare(Request):
    kind: ClassVar[str] = "compare"
    command: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class CheckSession(Request):
    """Look at a session's image and checkpoint: regular files only (a device or a pipe is
    refused unopened), sha256 against the saved ones. Changes nothing; gives FilesCheck."""

    kind: ClassVar[str] = "session"
    command: ClassVar[bool] = True
    session: Any = None  # session_file.Session, validated


@dataclass(frozen=True, eq=False)
class OpenSession(Request):
    """Read a session's image and load its checkpoint (unless it is the model already
    open), check the session against that model, and only then make it the main model.
    use_image / use_checkpoint False: the user chose to open it without a missing file."""

    kind: ClassVar[str] = "model"
    command: ClassVar[bool] = True
    changes_model: ClassVar[bool] = True
    session: Any = None  # session_file.Session, validated
    device: str = "auto"
    dtype: str = "fp32"
    use_image: bool = True
    use_checkpoint: bool = True
    checkpoint_sha256: str | None = None  # when CheckSession hashed it


# -- queries -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ImageQuery(Request):
    """A query about one image under one mask. image: float32 (H, W, 3) in [0, 1]; mask:
    bool (gh, gw), True = masked (both copied read-only). image_id and generation say which
    image and which model (worker generation) it is for: the worker skips a query made for
    another model, the GUI draws none made for another image."""

    image: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    image_id: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", frozen_array(self.image))
        object.__setattr__(self, "mask", frozen_array(self.mask))


@dataclass(frozen=True, eq=False)
class Analyse(ImageQuery):
    """One forward pass: reconstruction + attention of `image` under `mask`."""

    kind: ClassVar[str] = "analyse"
    mode: str = "auto"
    part: str = "encoder"
    query: Query = "cls"
    interactive: bool = False  # made while the user paints (the GUI thread is busy)


@dataclass(frozen=True, eq=False)
class Sweep(ImageQuery):
    """Masked PSNR against mask ratio for `image`: `seeds` random masks per ratio, one
    forward pass per step. `mask` is the mask on screen when asked (its ratio is marked)."""

    kind: ClassVar[str] = "sweep"
    long: ClassVar[bool] = True
    seeds: int = 3
    ratios: tuple[float, ...] = ()
    image_name: str = ""
    model_name: str = ""


# -- what comes back -----------------------------------------------------------------------
DONE, ERROR, SKIPPED, CANCELLED = "done", "error", "skipped", "cancelled"


@dataclass(frozen=True, eq=False)
class Result:
    """The end of a request: status done (payload set), error (message), skipped (not run:
    made for another model) or cancelled (a long job stopped; message says why).
    seconds: the worker time it took."""

    id: int
    request: Request
    status: str
    payload: Any = None
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == DONE


@dataclass(frozen=True)
class Progress:
    """A long job finished `done` of `total` passes."""

    id: int
    request: Request
    done: int
    total: int


@dataclass(frozen=True)
class ModelLoaded:
    """Payload of the main-model commands: the model's info (JSON-serialisable dict, with
    'sha256' and 'generation') and the worker generation it starts."""

    info: dict[str, Any]
    generation: int


@dataclass(frozen=True)
class SessionOpened:
    """Payload of OpenSession: the new main model (None: the open one stays), the image read
    (None: the one on screen stays) and the grid of the model the session now has (None
    without a model)."""

    loaded: ModelLoaded | None
    source: Any  # PIL.Image.Image | None
    grid: tuple[int, int] | None


@dataclass(frozen=True)
class CompareChanged:
    """Payload of the compare commands: the second model's info, or None (closed)."""

    info: dict[str, Any] | None
