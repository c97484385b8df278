"""Where a result becomes pixels: the analysis on screen drawn into the result panels, the
Heads view and the error histogram. GUI thread only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.attention_view import attention_view
from ..core.editor import EditorState
from ..core.live import Shown
from ..engine.patches import upsample_grid
from ..engine.reconstruction import Reconstruction
from .docks.analysis_dock import AnalysisDock
from .docks.heads_dock import HeadsView
from .imaging import mask_outline, to_uint8
from .panels import ResultPanels

# the masked cells' outline on the error map: green, a colour inferno never takes
MASK_MARK_RGBA = (70, 230, 120, 255)
MASK_GREY = 128  # engine.reconstruction.masked_view's 0.5 fill, in uint8


class ResultsView:
    """Draws `Shown` analyses; redraws the attention panel when a view option changes."""

    def __init__(
        self,
        editor: EditorState,
        panels: ResultPanels,
        heads: HeadsView,
        analysis: AnalysisDock,
        heads_visible: Callable[[], bool],
        analysis_visible: Callable[[], bool],
    ) -> None:
        self.editor, self.panels, self.heads, self.analysis = editor, panels, heads, analysis
        self._heads_visible, self._analysis_visible = heads_visible, analysis_visible
        self.shown: Shown | None = None
        self.attention_values: np.ndarray | None = None  # the attention panel's (gh, gw)
        self._base: tuple[int, np.ndarray] | None = None  # (image_id, the image as uint8)
        editor.options_changed.connect(lambda _names: self.draw_attention())

    def base8(self, shown: Shown) -> np.ndarray:
        """The request's image as uint8 (H, W, 3), converted once per image."""
        request = shown.request
        if self._base is None or self._base[0] != request.image_id:
            self._base = (request.image_id, to_uint8(request.image))
        return self._base[1]

    def draw(self, shown: Shown) -> None:
        """The image panels from one result (image, mask and numbers all of the same
        request); `draw_extras` then does the attention panel and the visible docks."""
        self.shown = shown
        request, analysis = shown.request, shown.outcome.analysis
        patch = self.editor.patch_size
        masked = self.base8(shown).copy()  # masked patches mid-grey, as masked_view does
        masked[upsample_grid(request.mask, patch)] = MASK_GREY
        self.panels.show_image("masked", masked)
        rec = analysis.reconstruction
        if rec is not None:
            shown_rec, composite = rec.viewable()
            tag = (
                " (uses ground truth)"
                if rec.uses_ground_truth
                else (" (estimate)" if rec.is_estimate else "")
            )
            self.panels.set_title("reconstruction", f"Reconstruction{tag}")
            self.panels.set_title("composite", f"Composite{tag}")
            self.panels.set_title("error", f"Per-patch error{tag}")  # measured on that one
            self.panels.show_image("reconstruction", shown_rec)
            self.panels.show_image("composite", composite)
            self.panels.show_heatmap("error", rec.patch_error, patch, "inferno")
            # which cells were masked: the error that matters is theirs
            self.panels.show_marks("error", mask_outline(request.mask, patch, MASK_MARK_RGBA))
        else:
            for name in ("reconstruction", "composite", "error"):
                self.panels.clear(name)
            self.panels.show_marks("error", None)
        self._draw_compare(shown.outcome.compare)

    def draw_extras(self) -> None:
        """The attention panel and what only visible docks show (hidden ones cost nothing)."""
        self.draw_attention()
        if self.shown is None:
            return
        rec = self.shown.outcome.analysis.reconstruction
        if rec is not None and self._analysis_visible():
            request = self.shown.request
            self.analysis.show_histogram(rec.patch_error, request.mask)
            psnr = (
                rec.masked_psnr if rec.masked_psnr is None or np.isfinite(rec.masked_psnr) else None
            )
            self.analysis.mark_current(
                float(request.mask.mean()), psnr, request.image_id, request.generation
            )

    def _draw_compare(self, other: Reconstruction | str | None) -> None:
        if other is None:
            self.panels.clear("compare")
            return
        name = Path((self.editor.compare or {}).get("path", "")).name
        if isinstance(other, str):
            self.panels.clear("compare")
            self.panels.set_title("compare", f"Compare {name}: {other}")
            return
        psnr = "n/a" if other.masked_psnr is None else f"{other.masked_psnr:.2f} dB"
        self.panels.set_title("compare", f"Compare {name}: composite, {psnr}")
        self.panels.show_image("compare", other.composite)

    def draw_attention(self) -> None:
        """The attention panel from the result on screen and the current view options."""
        shown = self.shown
        att = shown.outcome.analysis.attention if shown else None
        if att is None:
            self.attention_values = None
            self.panels.clear("attention")
            note = "; ".join(shown.outcome.analysis.notes) if shown else ""
            self.panels.set_title("attention", "Attention: " + (note or "none"))
            return
        opts = self.editor.attention
        view = attention_view(att, opts.layer, opts.head, opts.rollout)
        self.attention_values = view.values
        if self._heads_visible():  # (rollout: the last layer's heads)
            layer = view.layer if view.layer >= 0 else att.maps.shape[0] - 1
            self.heads.show_heads(att.maps[layer], self.editor.patch_size, opts.colormap)
        self.panels.set_title("attention", f"Attention: {view.label}")
        self.panels.show_heatmap(
            "attention",
            view.values,
            self.editor.patch_size,
            opts.colormap,
            base=self.base8(shown),
            opacity=opts.opacity,
        )
