"""The Attention dock: part, layer, head, query, rollout, opacity, colormap, display mode."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from ...core.editor import QUERY_MODES, EditorState
from ...engine.reconstruction import MODES
from ..imaging import COLORMAPS
from .common import quiet

QUERY_LABELS = ("CLS", "mean of queries", "picked patch")
LAYER_TIP = "Which layer's attention (1 = first)"
HEAD_TIP = "One head, or all heads combined (mean or max)"
QUERY_TIP = (
    "Whose attention: CLS token, all queries averaged, or the patch picked with the query tool (Q)"
)
ROLLOUT_TIP = "Attention flow through every encoder layer, residual paths included"
ROLLOUT_OVERRIDES_TIP = "Rollout combines every layer and head: turn it off to pick one"
ROLLOUT_ENCODER_ONLY_TIP = "Rollout is computed over the encoder only: switch Part to encoder"
NO_CLS_TIP = "This model has no CLS token: the mean of the queries is shown"
NO_DECODER_TIP = "This model has no decoder"


class AttentionDock(QWidget):
    """Two-way binding to `editor.attention` and `editor.display_mode`. GUI thread only."""

    def __init__(self, editor: EditorState) -> None:
        super().__init__()
        self.editor = editor
        form = QFormLayout(self)
        self.part_combo = QComboBox()
        self.part_combo.addItems(["encoder", "decoder"])
        self.part_combo.currentTextChanged.connect(lambda p: editor.set_attention(part=p))
        form.addRow("Part", self.part_combo)
        self.layer_slider = QSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setRange(0, 0)
        self.layer_label = QLabel("1")
        self.layer_slider.valueChanged.connect(lambda v: editor.set_attention(layer=v))
        row = QHBoxLayout()
        row.addWidget(self.layer_slider)
        row.addWidget(self.layer_label)
        form.addRow("Layer", row)
        self.head_combo = QComboBox()
        self.head_combo.currentIndexChanged.connect(self._on_head_picked)
        form.addRow("Head", self.head_combo)
        self.query_combo = QComboBox()
        self.query_combo.addItems(list(QUERY_LABELS))
        self.query_combo.setToolTip(QUERY_TIP)
        self.query_combo.currentIndexChanged.connect(
            lambda i: editor.set_attention(query=QUERY_MODES[i])
        )
        form.addRow("Query", self.query_combo)
        self.rollout_check = QCheckBox("Attention rollout (encoder)")
        self.rollout_check.setToolTip(ROLLOUT_TIP)
        self.rollout_check.toggled.connect(lambda on: editor.set_attention(rollout=on))
        form.addRow(self.rollout_check)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.valueChanged.connect(lambda v: editor.set_attention(opacity=v / 100.0))
        form.addRow("Opacity", self.opacity_slider)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(list(COLORMAPS))
        self.cmap_combo.currentTextChanged.connect(lambda c: editor.set_attention(colormap=c))
        form.addRow("Colormap", self.cmap_combo)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("auto", "auto")
        for key, label in MODES.items():
            self.mode_combo.addItem(f"{key}: {label}", key)
        self.mode_combo.setToolTip("How predictions are turned into pixels (norm_pix models)")
        self.mode_combo.currentIndexChanged.connect(
            lambda _i: editor.set_display_mode(self.mode_combo.currentData() or "auto")
        )
        form.addRow("Display", self.mode_combo)
        editor.options_changed.connect(lambda _names: self.sync())
        editor.model_changed.connect(self.sync)
        self.sync()

    def _on_head_picked(self, index: int) -> None:
        if index >= 0:
            self.editor.set_attention(
                head="mean" if index == 0 else "max" if index == 1 else index - 2
            )

    def layer_count(self) -> tuple[int, int]:
        """(layers, heads) of the attention part shown, from the model's config."""
        cfg = self.editor.config
        if cfg is None:
            return 1, 1
        if self.editor.attention.part == "decoder" and cfg.has_decoder:
            return cfg.decoder_depth, cfg.decoder_num_heads
        return cfg.depth, cfg.num_heads

    def sync(self) -> None:
        """Show the editor's options (ranges follow the model and the part)."""
        a, layers, heads = self.editor.attention, *self.layer_count()
        widgets = (
            self.part_combo,
            self.layer_slider,
            self.head_combo,
            self.query_combo,
            self.rollout_check,
            self.opacity_slider,
            self.cmap_combo,
            self.mode_combo,
        )
        with quiet(*widgets):
            self.part_combo.setCurrentText(a.part)
            self.layer_slider.setRange(0, layers - 1)
            layer = layers - 1 if a.layer < 0 else min(a.layer, layers - 1)
            self.layer_slider.setValue(layer)
            if self.head_combo.count() != heads + 2:
                self.head_combo.clear()
                # heads count from 1 on screen; the editor stores 0-based indices
                labels = [f"head {h + 1}" for h in range(heads)]
                self.head_combo.addItems(["mean", "max", *labels])
            index = {"mean": 0, "max": 1}.get(a.head) if isinstance(a.head, str) else a.head + 2
            self.head_combo.setCurrentIndex(min(index or 0, heads + 1))
            self.query_combo.setCurrentIndex(QUERY_MODES.index(self._shown_query()))
            self.rollout_check.setChecked(a.rollout and a.part == "encoder")
            self.opacity_slider.setValue(round(a.opacity * 100))
            self.cmap_combo.setCurrentText(a.colormap)
            self.mode_combo.setCurrentIndex(
                max(self.mode_combo.findData(self.editor.display_mode), 0)
            )
        self.layer_label.setText(str(layer + 1))
        self._show_what_applies()

    def _shown_query(self) -> str:
        """The query mode in use (CLS falls back to the mean on a model without CLS)."""
        query = self.editor.attention.query
        return "mean" if query == "cls" and self.editor.effective_query() == "mean" else query

    def _show_what_applies(self) -> None:
        """Disable what does not apply to the options and the model, saying why."""
        a, cfg = self.editor.attention, self.editor.config
        rollout = a.rollout and a.part == "encoder"  # the engine rolls out the encoder only
        for widget, tip in ((self.layer_slider, LAYER_TIP), (self.head_combo, HEAD_TIP)):
            widget.setEnabled(not rollout)
            widget.setToolTip(ROLLOUT_OVERRIDES_TIP if rollout else tip)
        self.layer_label.setEnabled(not rollout)
        encoder = a.part == "encoder"
        self.rollout_check.setEnabled(encoder)
        self.rollout_check.setToolTip(ROLLOUT_TIP if encoder else ROLLOUT_ENCODER_ONLY_TIP)
        has_cls = cfg is None or cfg.use_cls_token
        cls_item = self.query_combo.model().item(QUERY_MODES.index("cls"))
        cls_item.setEnabled(has_cls)
        cls_item.setToolTip("" if has_cls else NO_CLS_TIP)
        self.query_combo.setToolTip(QUERY_TIP if has_cls else f"{QUERY_TIP}. {NO_CLS_TIP}")
        has_decoder = cfg is None or cfg.has_decoder
        decoder_item = self.part_combo.model().item(self.part_combo.findText("decoder"))
        decoder_item.setEnabled(has_decoder)
        decoder_item.setToolTip("" if has_decoder else NO_DECODER_TIP)
