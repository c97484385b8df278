"""The live loop: editor changes become requests on the lane; results come back in order.

Runs on the GUI thread (Qt-free: the app hands `handle` the items its bridge carries from
the worker; a test can call it from any one thread). The rules:

- every edit asks for an analysis; the lane keeps only the newest waiting one; when a
  stroke ends, its last request goes first (a running pass for an older mask stops);
- progressive, never backwards: a finished analysis newer than the one on screen is shown
  at once (`catching_up` while a still newer request is pending), an older one never; one
  made for another image or model is not shown;
- commands (models) are applied in order; their errors are reported, the state kept;
- a sweep reports progress, can be cancelled, and is for one image and model.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..engine.errors import MAEError
from ..session_file import FilesCheck, Session, session_device
from .editor import PASS_OPTIONS, EditorState
from .events import Event
from .lane import Deliver, Lane
from .requests import (
    DONE,
    ERROR,
    Analyse,
    CheckSession,
    CloseCompare,
    CompareChanged,
    ModelLoaded,
    MoveModel,
    OpenCompare,
    OpenModel,
    OpenSession,
    Progress,
    Request,
    Result,
    SessionOpened,
    SetHeads,
    SetInputNorm,
    Sweep,
)
from .sessions import apply_session, validated
from .worker import AnalysisOutcome, Worker

log = logging.getLogger(__name__)
# confirm(message, answer): ask the user whether to open a session whose image or checkpoint
# is missing or changed (message says which); answer(True) opens it anyway, answer(False)
# changes nothing
Confirm = Callable[[str, Callable[[bool], None]], None]


@dataclass(frozen=True)
class _SessionOpening:
    """A session on its way in: validated, with the device and precision it gets here (and
    a note when they differ from the saved ones)."""

    session: Session
    confirm: Confirm | None
    device: str
    dtype: str
    note: str | None


@dataclass(frozen=True)
class Shown:
    """An analysis to draw now: its request (image, mask, options), what the worker
    computed, and whether a newer request is still pending (`catching_up`)."""

    id: int
    request: Analyse
    outcome: AnalysisOutcome
    catching_up: bool


class LiveController:
    """Owns the lane; turns editor events into requests and results into events.

    Events: analysis_shown(Shown), sweep_progress(Progress), sweep_finished(Result),
    error(message: str), notice(message: str), busy_changed(bool).
    """

    def __init__(self, editor: EditorState, deliver: Deliver, worker: Worker | None = None):
        self.editor = editor
        self.lane = Lane(worker or Worker(), deliver)
        self.analysis_shown = Event("analysis_shown")
        self.sweep_progress = Event("sweep_progress")
        self.sweep_finished = Event("sweep_finished")
        self.error = Event("error")
        self.notice = Event("notice")
        self.busy_changed = Event("busy_changed")
        self.shown: Shown | None = None
        self.latest: dict[str, int] = {}  # the newest request id of each query kind
        self._outstanding: set[int] = set()
        self._busy = False
        self._sessions: dict[int, _SessionOpening] = {}
        self._confirming = 0  # sessions waiting for the user's answer
        self.closed = False
        self._to_show: Shown | None = None
        editor.image_changed.connect(self._on_image_changed)
        editor.mask_changed.connect(self.request_analysis)
        editor.model_changed.connect(self.request_analysis)
        editor.compare_changed.connect(self.request_analysis)
        editor.options_changed.connect(self._on_options_changed)
        # the stroke's last edit is what the user now waits for: it need not wait for a
        # pass made for an older mask of the stroke
        editor.stroke_finished.connect(lambda: self.lane.hurry("analyse"))

    # -- asking --------------------------------------------------------------------------------
    def _submit(self, request: Request) -> int:
        rid = self.lane.submit(request)
        if not request.command:
            self._outstanding.discard(self.latest.get(request.kind, -1))
            self.latest[request.kind] = rid
        self._outstanding.add(rid)
        self._update_busy()
        return rid

    def open_model(
        self,
        path: str,
        device: str = "auto",
        dtype: str = "fp32",
        heads: int | None = None,
        decoder_heads: int | None = None,
        input_norm: str | None = None,
    ) -> int:
        """Load a checkpoint; the current model stays until it succeeds. input_norm: 'none',
        'imagenet' or 'MEAN:STD' (None: as the checkpoint says)."""
        return self._submit(OpenModel(str(path), device, dtype, heads, decoder_heads, input_norm))

    def move_model(self, device: str | None = None, dtype: str | None = None) -> int:
        return self._submit(MoveModel(device, dtype))

    def set_heads(self, heads: int | None, decoder_heads: int | None) -> int:
        return self._submit(SetHeads(heads, decoder_heads))

    def set_input_norm(self, input_norm: str | None) -> int:
        """Reload the main model with this input normalisation (None: as the file says)."""
        return self._submit(SetInputNorm(input_norm))

    def open_compare(self, path: str) -> int:
        return self._submit(OpenCompare(str(path)))

    def close_compare(self) -> int:
        return self._submit(CloseCompare())

    def request_analysis(self) -> int | None:
        """Ask for the current image, mask and options (None before an image and a model)."""
        request = self.editor.analyse_request()
        return None if request is None or self.closed else self._submit(request)

    def request_sweep(self, seeds: int) -> int | None:
        request = self.editor.sweep_request(seeds)
        return None if request is None or self.closed else self._submit(request)

    def cancel_sweep(self) -> bool:
        return self.lane.cancel("sweep")

    def open_session(self, session: Session, confirm: Confirm | None = None) -> int:
        """Open a session whole or not at all. It is validated here (MAEError naming the
        field; nothing changes); on the lane its image and checkpoint are checked (regular
        files) and hashed; a missing or changed one asks `confirm` (None: refused); then the
        lane reads the image, loads the model and checks the session against it, and only
        then is it applied. A device this machine lacks falls back to the best present
        (said in a notice)."""
        session = validated(session)
        device, dtype, note = session_device(session.device, session.dtype)
        rid = self._submit(CheckSession(session=session))
        self._sessions[rid] = _SessionOpening(session, confirm, device, dtype, note)
        return rid

    def _files_checked(self, opening: _SessionOpening, check: FilesCheck) -> None:
        if not check.problems:
            self._open_checked(opening, check)
            return
        message = " ".join(check.problems)
        if opening.confirm is None:
            self.error.emit(f"cannot open the session: {message}")
            return
        self._confirming += 1
        answered: list[bool] = []

        def answer(yes: bool) -> None:
            if answered:
                return
            answered.append(yes)
            self._confirming -= 1
            if yes and not self.closed:
                self._open_checked(opening, check)
            self._update_busy()

        opening.confirm(message, answer)

    def _open_checked(self, opening: _SessionOpening, check: FilesCheck) -> None:
        request = OpenSession(
            session=opening.session,
            device=opening.device,
            dtype=opening.dtype,
            use_image=not check.image_missing,
            use_checkpoint=not check.checkpoint_missing,
            checkpoint_sha256=check.checkpoint_sha256,
        )
        self._sessions[self._submit(request)] = opening

    def _session_opened(
        self, opening: _SessionOpening, request: OpenSession, opened: SessionOpened
    ) -> None:
        session = opening.session
        info = opened.loaded.info if opened.loaded is not None else None
        heads = {"heads": None, "decoder_heads": None, **session.heads}
        try:
            apply_session(self.editor, session, opened.source, info, request.device, heads)
        except Exception as exc:
            if info is not None:  # the worker already holds the session's model
                self._restore_model()
            if isinstance(exc, MAEError):
                self.error.emit(f"cannot open the session: {exc}")
            else:  # a bug: said in one line, logged whole
                log.error("applying a session failed:\n%s", traceback.format_exc())
                self.error.emit(f"internal error: {type(exc).__name__}: {exc}")
            return
        if opening.note and request.use_checkpoint and session.checkpoint_path:
            self.notice.emit(opening.note)

    def _restore_model(self) -> None:
        """Give the worker back the model the editor still has (a session that failed on
        this thread after the worker had loaded the session's model)."""
        m, e = self.editor.model, self.editor
        if m is None:
            return
        dtype = "auto" if m.get("auto") else str(m.get("dtype", "fp32"))
        h = e.head_overrides
        self.open_model(
            m["path"], e.device_choice, dtype, h.get("heads"), h.get("decoder_heads"), e.input_norm
        )

    @property
    def busy(self) -> bool:
        """Something asked of the worker has not come back yet (or a session waits for the
        user's answer)."""
        return bool(self._outstanding) or self._confirming > 0

    def waiting(self, kind: str) -> bool:
        """The newest request of a query kind ('analyse', 'sweep') has not come back yet."""
        return self.latest.get(kind) in self._outstanding

    def _update_busy(self) -> None:
        if self.busy != self._busy:
            self._busy = self.busy
            self.busy_changed.emit(self._busy)

    # -- editor events -------------------------------------------------------------------------
    def _on_image_changed(self) -> None:
        if self.latest.get("sweep") in self._outstanding:
            self.cancel_sweep()  # it measures the previous image
        self.request_analysis()

    def _on_options_changed(self, names: frozenset[str]) -> None:
        if names & PASS_OPTIONS:
            self.request_analysis()

    # -- results (GUI thread) ------------------------------------------------------------------
    def handle(self, item: Result | Progress) -> None:
        """Apply one item from the worker (items in the order the worker sent them)."""
        self.handle_all([item])

    def handle_all(self, items: Sequence[Result | Progress]) -> None:
        """Apply a burst of items in order; of the analyses and the progress among them only
        the newest is announced (a GUI that fell behind draws once, not once per item)."""
        self._to_show = None
        progress = None
        for item in items:
            if self.closed:
                return
            if isinstance(item, Progress):
                if item.id == self.latest.get("sweep"):
                    progress = item
                continue
            self._handle_result(item)
            if isinstance(item.request, Sweep):
                progress = None
        if progress is not None:
            self.sweep_progress.emit(progress)
        show = self._to_show
        if show is not None and show is self.shown and self.is_current(show.request):
            self.analysis_shown.emit(show)
        self._update_busy()

    def _handle_result(self, item: Result) -> None:
        self._outstanding.discard(item.id)
        request = item.request
        if request.command:
            self._on_command(item)
        elif isinstance(request, Analyse):
            self._on_analysis(item)
        elif isinstance(request, Sweep) and item.id == self.latest.get("sweep"):
            self.sweep_finished.emit(item)

    def _on_command(self, r: Result) -> None:
        pending = self._sessions.pop(r.id, None)
        if r.status == ERROR:
            self.error.emit(
                r.message if pending is None else f"cannot open the session: {r.message}"
            )
            return
        payload = r.payload
        if isinstance(payload, ModelLoaded):
            request = r.request
            device = getattr(request, "device", None)
            overrides = None
            if isinstance(request, OpenModel | SetHeads):
                overrides = {"heads": request.heads, "decoder_heads": request.decoder_heads}
            self.editor.set_model(payload.info, device, overrides)
        elif isinstance(payload, CompareChanged):
            self.editor.set_compare(payload.info)
        elif isinstance(payload, FilesCheck) and pending is not None:
            self._files_checked(pending, payload)
        elif isinstance(payload, SessionOpened) and pending is not None:
            assert isinstance(r.request, OpenSession)
            self._session_opened(pending, r.request, payload)

    def _on_analysis(self, r: Result) -> None:
        request = r.request
        assert isinstance(request, Analyse)
        if r.status == ERROR:
            if r.id == self.latest.get("analyse"):  # older requests' errors are moot
                self.error.emit(r.message)
            return
        if r.status != DONE:
            return
        if not self.is_current(request):
            return  # made for another image or model
        if self.shown is not None and r.id <= self.shown.id:
            return  # never older than what is on screen
        outcome: AnalysisOutcome = r.payload
        self.shown = Shown(r.id, request, outcome, r.id < self.latest.get("analyse", r.id))
        self._to_show = self.shown  # announced at the end of the burst
        for message in outcome.messages:
            self.notice.emit(message)
        if outcome.moved_info is not None:  # the model moved (e.g. to the CPU after an OOM)
            self.editor.set_model(outcome.moved_info)

    def is_current(self, item: Analyse | Shown) -> bool:
        """Made for the image and the model the editor has now."""
        request = item.request if isinstance(item, Shown) else item
        e = self.editor
        return request.image_id == e.image_id and request.generation == e.generation

    def close(self, timeout: float | None = None) -> bool:
        """Stop the lane after its running step; nothing is handled afterwards."""
        self.closed = True
        return self.lane.close(timeout)
