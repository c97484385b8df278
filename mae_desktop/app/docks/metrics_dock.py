"""The Metrics dock: the numbers of the result on screen (shared with the CLI's
metrics.json) and the notes that came with it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from ...core.live import Shown
from ...engine.masks import describe
from ...engine.metrics import format_metrics, reconstruction_metrics


class MetricsDock(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel("No result yet")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # longer text wraps and scrolls instead of resizing the dock: the docks and the
        # panels beside it stay where they are as the notes come and go
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)

    def show_result(self, shown: Shown) -> None:
        analysis = shown.outcome.analysis
        lines = []
        if analysis.reconstruction is not None:
            mask = shown.request.mask
            metrics = reconstruction_metrics(analysis.reconstruction, mask)
            lines = [f"<b>{describe(mask)}</b>", *format_metrics(metrics)]
        lines += [f"<i>{n}</i>" for n in analysis.notes]
        self.label.setText("<br>".join(lines))
