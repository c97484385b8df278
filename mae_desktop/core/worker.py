"""Where a request becomes tensors: the worker's models and what each request does to them.

Runs on the lane's thread only (not thread-safe). Every model-changing command that
succeeds starts a new *generation*; a query made for another generation is skipped, so a
mask built for the old model's grid never reaches the new model.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.errors import MAEError
from ..engine.reconstruction import Reconstruction
from ..engine.sweep import SWEEP_RATIOS, sweep_steps
from ..session_file import check_files, file_sha256
from .requests import (
    Analyse,
    CheckSession,
    CloseCompare,
    CompareChanged,
    ModelLoaded,
    MoveModel,
    OpenCompare,
    OpenModel,
    OpenSession,
    Request,
    SessionOpened,
    SetHeads,
    SetInputNorm,
    Sweep,
)
from .sessions import check_against_model, check_checkpoint, read_source

# torch and the model are imported on the lane's thread, inside the methods that need them
# (the first is `start`): the window never waits for them
if TYPE_CHECKING:
    from ..engine.session import Analysis, ModelSession


class Skip(Exception):
    """A query that no longer applies (made for another model); not an error."""


class Interrupted(Exception):
    """A forward pass stopped at a pause point (its job was cancelled, or the lane closes)."""


@dataclass(frozen=True)
class AnalysisOutcome:
    """Payload of Analyse: the main model's Analysis, the comparison model's reconstruction
    (or its error message, or None without one), messages for the user (e.g. a CPU
    fallback) and, when the model had to move, its new info."""

    analysis: Analysis
    compare: Reconstruction | str | None
    messages: tuple[str, ...] = ()
    moved_info: dict[str, Any] | None = None


HEAVY_PASS_MS = 60.0  # passes at least this long get every core while the GUI is idle


def busy_threads(idle: int) -> int:
    """Threads for passes while the user paints: every core but one, which stays with the
    GUI thread. With all cores in a parallel region, each slice the GUI takes delays the
    whole region (every thread waits for the slowest): passes get slower and the window
    stutters. Measured on 2 cores, ViT-B: 200 ms with 2 threads alone, 294 ms with 2
    threads while painting (and GUI stalls over 16 ms), 286 ms with 1 thread."""
    return max(1, idle - 1)


class Worker:
    """Owns the main and the comparison model. `execute(request)` returns the payload, or a
    generator (long jobs: one forward pass per step, yielding (done, total))."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads  # for passes while the GUI is idle; None: torch's default
        self._threads_now = 0
        self._pass_ms = 0.0  # the last analysis's forward pass
        self.session: ModelSession | None = None
        self.compare: ModelSession | None = None
        self.generation = 0
        # called between the blocks of every forward pass (set by the lane)
        self.pause_point: Callable[[], None] | None = None
        self._sha256: str | None = None
        # what the user set for the main model, kept when another of them changes
        self._overrides: dict[str, Any] = {}
        self._handlers: dict[type, Callable[[Any], Any]] = {
            OpenModel: self._open_model,
            MoveModel: self._move_model,
            SetHeads: self._set_heads,
            SetInputNorm: self._set_input_norm,
            OpenCompare: self._open_compare,
            CloseCompare: self._close_compare,
            CheckSession: lambda r: check_files(r.session, self._between_blocks),
            OpenSession: self._open_session,
            Analyse: self._analyse,
            Sweep: self._sweep,
        }

    def start(self) -> None:
        """On the worker thread, before the first request."""
        import torch

        self.threads = self.threads or torch.get_num_threads()
        self.fit_threads(gui_busy=False)

    def fit_threads(self, gui_busy: bool) -> None:
        """All the cores for a model whose passes are slow, while the GUI is idle; all but
        one while the user paints, and for fast models (their passes gain little from
        more threads, and threads that spin between small operations take the GUI's
        core). Takes effect from the next parallel region, so also mid-pass."""
        import torch

        assert self.threads is not None
        heavy = self._pass_ms >= HEAVY_PASS_MS
        n = self.threads if heavy and not gui_busy else busy_threads(self.threads)
        if n != self._threads_now:
            torch.set_num_threads(n)
            self._threads_now = n

    def execute(self, request: Request) -> Any:
        """Run a request; raises MAEError (the user's fault), Skip, or any other error."""
        return self._handlers[type(request)](request)

    def _between_blocks(self) -> None:
        if self.pause_point is not None:
            self.pause_point()

    def _own(self, session: ModelSession) -> ModelSession:
        """Every model the worker runs pauses between its blocks."""
        session.model.between_blocks = self._between_blocks
        return session

    def stale(self, request: Request) -> str | None:
        """Why a query no longer applies (another model is loaded), or None."""
        generation = getattr(request, "generation", None)
        if generation is not None and generation != self.generation:
            return "the model changed"
        return None

    def close(self) -> None:
        """Drop the models (on the worker thread, where they were used)."""
        self.session = self.compare = None

    # -- commands ----------------------------------------------------------------------------
    def _loaded(self) -> ModelLoaded:
        assert self.session is not None
        self.generation += 1
        info = {**self.session.info(), "sha256": self._sha256, "generation": self.generation}
        return ModelLoaded(info, self.generation)

    def _load(self, path: str | Path, device: str, dtype: str, **overrides: Any) -> ModelSession:
        """Open a checkpoint as the worker runs it. Precision 'auto' is measured once the
        model pauses between its blocks, so that closing the window stops the measuring."""
        from ..engine.session import ModelSession

        auto = dtype.lower() == "auto"
        session = self._own(ModelSession.open(path, device, "fp32" if auto else dtype, **overrides))
        if auto:
            session.to(session.device, "auto")
        return session

    @staticmethod
    def _dtype_choice(session: ModelSession) -> str:
        """The precision as the user chose it: 'auto' when auto chose it, else its name."""
        from ..engine.device import dtype_name

        return "auto" if session.auto is not None else dtype_name(session.dtype)

    def _open_model(self, r: OpenModel) -> ModelLoaded:
        overrides = {"heads": r.heads, "decoder_heads": r.decoder_heads, "input_norm": r.input_norm}
        session = self._load(r.path, r.device, r.dtype, **overrides)
        # hashed here, on the worker, so that saving a session never stalls the window
        self._sha256 = file_sha256(r.path)
        self.session, self._overrides = session, overrides
        return self._loaded()

    def _open_session(self, r: OpenSession) -> SessionOpened:
        """The session's image and model, checked against each other before the model
        replaces the current one (a refusal leaves the worker as it was)."""
        s = r.session
        source = read_source(s) if r.use_image and s.image_path else None
        overrides = {"heads": None, "decoder_heads": None, **s.heads, "input_norm": s.input_norm}
        new, old = None, self.session
        if r.use_checkpoint and s.checkpoint_path and not self._is_open(r, overrides):
            check_checkpoint(s.checkpoint_path)  # a regular file, or a folder of them
            new = self._load(s.checkpoint_path, r.device, r.dtype, **overrides)
        model = new or old
        if model is not None:
            check_against_model(s, model.config.grid_size, model.config)
        loaded = None
        if new is not None:
            self._sha256 = r.checkpoint_sha256 or file_sha256(s.checkpoint_path)
            self.session, self._overrides = new, overrides
            loaded = self._loaded()
        return SessionOpened(loaded, source, model.config.grid_size if model else None)

    def _is_open(self, r: OpenSession, overrides: dict[str, Any]) -> bool:
        """The session's checkpoint is the main model already, as the session wants it."""
        from ..engine.device import dtype_name, resolve_device

        s, cur = r.session, self.session
        if cur is None or overrides != self._overrides:
            return False
        try:
            same_device = cur.device == resolve_device(r.device)
        except MAEError:
            return False
        return (
            Path(s.checkpoint_path) == Path(cur.checkpoint.path)
            and same_device
            and r.dtype in (dtype_name(cur.dtype), self._dtype_choice(cur))
            and r.checkpoint_sha256 in (None, self._sha256)
        )

    def _require(self) -> ModelSession:
        if self.session is None:
            raise MAEError("open a checkpoint first")
        return self.session

    def _move_model(self, r: MoveModel) -> ModelLoaded:
        session = self._require()
        session.to(r.device or str(session.device), r.dtype or self._dtype_choice(session))
        return self._loaded()

    def _set_heads(self, r: SetHeads) -> ModelLoaded:
        return self._reload(heads=r.heads, decoder_heads=r.decoder_heads)

    def _set_input_norm(self, r: SetInputNorm) -> ModelLoaded:
        return self._reload(input_norm=r.input_norm)

    def _reload(self, **changes: Any) -> ModelLoaded:
        """Open the main checkpoint again, on its device, with these overrides changed (the
        others kept); the current model stays when that fails."""
        old = self._require()
        overrides = {**self._overrides, **changes}
        self.session = self._load(
            old.checkpoint.path, str(old.device), self._dtype_choice(old), **overrides
        )
        self._overrides = overrides
        return self._loaded()

    def _open_compare(self, r: OpenCompare) -> CompareChanged:
        from ..engine.session import ModelSession

        other = self._own(ModelSession.open(r.path, "auto", "fp32"))
        main = self.session
        name = Path(r.path).name
        if main is not None and other.config.image_size != main.config.image_size:
            raise MAEError(
                f"{name} takes {other.config.image_size} images, the open model "
                f"{main.config.image_size}: they cannot share an image and mask"
            )
        if main is not None and other.config.grid_size != main.config.grid_size:
            raise MAEError(f"{name} has a different patch grid")
        self.compare = other
        return CompareChanged(other.info())

    def _close_compare(self, _r: CloseCompare) -> CompareChanged:
        self.compare = None
        return CompareChanged(None)

    # -- queries -----------------------------------------------------------------------------
    def _check(self, r: Analyse | Sweep) -> ModelSession:
        session = self._require()
        if reason := self.stale(r):
            raise Skip(reason)
        return session

    def _analyse(self, r: Analyse) -> AnalysisOutcome:
        session = self._check(r)
        before = (session.device, session.dtype)
        analysis = session.analyse(r.image, r.mask, r.mode, None, r.part, r.query)
        self._pass_ms = analysis.latency_ms
        other: Reconstruction | str | None = None
        if self.compare is not None:
            try:
                other = self.compare.reconstruct(r.image, r.mask, "auto")
            except MAEError as exc:
                other = str(exc)
        messages = tuple(session.messages)
        session.messages.clear()
        moved = None
        if (session.device, session.dtype) != before:  # e.g. a CUDA out-of-memory fallback
            moved = self._loaded().info
        return AnalysisOutcome(analysis, other, messages, moved)

    def _sweep(self, r: Sweep) -> Generator[tuple[int, int], None, Any]:
        session = self._check(r)
        if not session.config.has_decoder:
            raise MAEError(
                f"{session.checkpoint.path.name} has no decoder (encoder-only weights): "
                "there is no reconstruction to measure"
            )
        return sweep_steps(session, r.image, r.seeds, r.ratios or SWEEP_RATIOS)
