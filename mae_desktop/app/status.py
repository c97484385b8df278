"""The status bar: the model line (name, device, precision and whether auto chose it,
assumed head counts), the last latency (and whether the display is catching up), the busy
indicator, notices."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from ..core.editor import EditorState
from ..core.live import Shown
from .docks.common import noun


def assumed_heads_text(info: dict) -> str:
    """'12/16 heads assumed' (encoder/decoder; '-' where read from the file), '1 head
    assumed' (encoder only), or ''."""
    assumed = info.get("assumed_heads") or {}
    if not assumed:
        return ""
    enc = assumed.get("heads", "-")
    dec = assumed.get("decoder_heads", "-") if info.get("decoder") else None
    counts = f"{enc}" if dec is None else f"{enc}/{dec}"
    # 'heads' after two counts (encoder/decoder); after one, as many as it says
    word = noun(enc if isinstance(enc, int) else 2, "head") if dec is None else "heads"
    return f"{counts} {word} assumed"


class StatusLine:
    """Binds the editor's model and the live loop's state to the status bar widgets."""

    def __init__(self, bar: QStatusBar, editor: EditorState) -> None:
        self.bar, self.editor = bar, editor
        self.model_label = QLabel("no model")
        self.latency_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setVisible(False)
        bar.addPermanentWidget(self.latency_label)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.busy_bar)
        editor.model_changed.connect(self._on_model_changed)

    def _on_model_changed(self) -> None:
        info = self.editor.model or {}
        auto = info.get("auto")  # why auto chose this precision ('int8: 2.3x faster ...')
        dtype = str(info.get("dtype")) + (" (auto)" if auto else "")
        parts = [Path(info.get("path", "")).name, str(info.get("device")), dtype]
        assumed = assumed_heads_text(info)
        text = " · ".join(parts)
        precision = f"\nPrecision chosen by auto: {auto}" if auto else ""
        if assumed:
            text += f" · <span style='color:#d08000'>{assumed}</span>"
            self.model_label.setToolTip(
                "This file does not store its attention head counts, so they were assumed "
                "from the standard ViT sizes. If they are wrong, the results are wrong: "
                "set them with Model ▸ Head counts…" + precision
            )
        else:
            self.model_label.setToolTip(info.get("architecture", "") + precision)
        self.model_label.setText(text)

    def show_result(self, shown: Shown) -> None:
        ms = shown.outcome.analysis.latency_ms
        self.latency_label.setText(f"{ms:.0f} ms" + (" · catching up" if shown.catching_up else ""))

    def set_busy(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)

    def notice(self, message: str, ms: int = 10000) -> None:
        self.bar.showMessage(message, ms)
