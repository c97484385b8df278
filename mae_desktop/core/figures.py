"""The figure of the result on screen: the window's view (attention layer, head, query and
colormap as chosen) turned into engine.figure's FigureData (Qt-free)."""

from __future__ import annotations

from ..engine.figure import ERROR_LABEL, FigureData
from ..engine.reconstruction import masked_view
from .attention_view import attention_view
from .editor import EditorState
from .live import Shown


def figure_of(editor: EditorState, shown: Shown) -> FigureData | None:
    """The figure of `shown` as the window draws it; None without a reconstruction."""
    request, analysis = shown.request, shown.outcome.analysis
    rec = analysis.reconstruction
    if rec is None:
        return None
    opts = editor.attention
    att = analysis.attention
    view = attention_view(att, opts.layer, opts.head, opts.rollout) if att else None
    prediction, composite = rec.viewable()
    return FigureData(
        original=request.image,
        masked=masked_view(request.image, request.mask, editor.patch_size),
        reconstruction=prediction,
        composite=composite,
        error=rec.patch_error,
        attention=view.values if view else None,
        patch=editor.patch_size,
        error_label=ERROR_LABEL,
        attention_label=f"Attention: {view.label}" if view else "Attention: none",
        title=f"{editor.image_name} · {editor.model_name}",
        masked_psnr=rec.masked_psnr,
        mask_ratio=float(request.mask.mean()),
        cmap_attention=opts.colormap,
    )
