"""The Mask dock: tools, brush, generator, mask operations, the live count."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QWidget,
)

from ...core.editor import IGNORES_RATIO, IGNORES_SEED, EditorState
from ...engine import masks as masks_mod
from ..canvas import TOOLS, MaskCanvas
from .common import noun, quiet

RATIO_TIP = "Share of patches the generator masks (drag: the mask follows live)"
SEED_TIP = "Random seed of the generator: the same seed gives the same mask"
# why a control does not apply to a generator (engine.masks.generate; keys: the editor's
# IGNORES_RATIO and IGNORES_SEED)
RATIO_IGNORED = {
    "grid": "The grid generator always masks 3 of every 2×2 patches (75%): no ratio to set",
}
SEED_IGNORED = {
    "grid": "The grid generator draws a fixed pattern: no seed to set",
    "center": "The center generator draws a fixed centred box: no seed to set",
}


class MaskDock(QWidget):
    """Binds the canvas's tool settings (tool, brush, erase toggle) and the editor's
    generator and mask operations. GUI thread only."""

    def __init__(self, editor: EditorState, canvas: MaskCanvas) -> None:
        super().__init__()
        self.editor, self.canvas = editor, canvas
        form = QFormLayout(self)
        self.tool_combo = QComboBox()
        self.tool_combo.addItems(list(TOOLS))
        self.tool_combo.setToolTip("Brush (B), rectangle (R), or pick the attention query (Q)")
        self.tool_combo.currentTextChanged.connect(self.set_tool)
        form.addRow("Tool", self.tool_combo)
        self.erase_check = QCheckBox("Left button unmasks")
        self.erase_check.setToolTip("Mask/unmask toggle for one-button mice and tablets (X)")
        self.erase_check.toggled.connect(lambda on: setattr(canvas, "erase_with_left", on))
        form.addRow(self.erase_check)
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(1, 9)
        self.brush_spin.setToolTip("Brush size in patches ([ and ])")
        self.brush_spin.valueChanged.connect(self._on_brush_size)
        form.addRow("Brush", self.brush_spin)
        self.shape_combo = QComboBox()
        self.shape_combo.addItems(["square", "round"])
        self.shape_combo.currentTextChanged.connect(lambda s: setattr(canvas, "brush_shape", s))
        form.addRow("Shape", self.shape_combo)
        self.gen_combo = QComboBox()
        self.gen_combo.addItems(list(masks_mod.MASK_MODES))
        self.gen_combo.setToolTip("Mask generator")
        self.gen_combo.currentTextChanged.connect(
            lambda m: editor.set_generator(mode=m, regenerate=True)
        )
        form.addRow("Generator", self.gen_combo)
        self.ratio_slider = QSlider(Qt.Orientation.Horizontal)
        self.ratio_slider.setRange(0, 100)
        self.ratio_label = QLabel()
        # a drag is one undo step (its live masks are interactive, like a stroke); a key or
        # wheel step is one step of its own
        self.ratio_slider.sliderPressed.connect(editor.begin_adjust)
        self.ratio_slider.sliderReleased.connect(editor.end_adjust)
        self.ratio_slider.valueChanged.connect(self._on_ratio)
        row = QHBoxLayout()
        row.addWidget(self.ratio_slider)
        row.addWidget(self.ratio_label)
        form.addRow("Ratio", row)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.valueChanged.connect(lambda v: editor.set_generator(seed=v, regenerate=True))
        form.addRow("Seed", self.seed_spin)
        buttons = QHBoxLayout()
        for text, fn, tip in (
            ("Generate", editor.generate, "Replace the mask with the generator's again"),
            ("New seed", editor.new_seed, "Next seed, and generate (N)"),
        ):
            buttons.addWidget(self._button(text, fn, tip))
        form.addRow(buttons)
        ops = QHBoxLayout()
        for text, fn, key in (
            ("Invert", editor.invert, "I"),
            ("Clear", editor.clear, "C"),
            ("All", editor.mask_all, "A"),
        ):
            ops.addWidget(self._button(text, fn, f"{text} ({key})"))
        form.addRow(ops)
        self.count_label = QLabel("")
        form.addRow(self.count_label)
        # when the generator cannot draw the ratio asked for, say what it drew instead
        self.generator_note = QLabel("")
        self.generator_note.setWordWrap(True)
        self.generator_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.generator_note.setVisible(False)
        form.addRow(self.generator_note)
        editor.generator_changed.connect(self._on_generator_changed)
        editor.model_changed.connect(self._on_generator_changed)  # (a new grid)
        for event in (editor.mask_changed, editor.image_changed, editor.model_changed):
            event.connect(self._on_mask_changed)
        self.brush_spin.setValue(canvas.brush_size)
        self._on_brush_size(self.brush_spin.value())
        self._on_generator_changed()
        self._on_mask_changed()

    @staticmethod
    def _button(text: str, fn, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _checked=False: fn())
        return b

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        if self.tool_combo.currentText() != tool:
            self.tool_combo.setCurrentText(tool)

    def _on_brush_size(self, size: int) -> None:
        self.canvas.brush_size = size
        self.brush_spin.setSuffix(" " + noun(size, "patch"))

    def _on_ratio(self, value: int) -> None:
        if self.ratio_slider.isSliderDown():
            self.editor.begin_adjust()  # (a drag that began with a click on the groove)
        self.editor.set_generator(ratio=value / 100.0, regenerate=True)

    def _on_generator_changed(self) -> None:
        g = self.editor.generator
        with quiet(self.gen_combo, self.ratio_slider, self.seed_spin):
            self.gen_combo.setCurrentText(g.mode)
            self.ratio_slider.setValue(round(g.ratio * 100))
            self.seed_spin.setValue(g.seed)
        self.ratio_label.setText(f"{round(g.ratio * 100)}%")
        uses_ratio, uses_seed = g.mode not in IGNORES_RATIO, g.mode not in IGNORES_SEED
        self.ratio_slider.setEnabled(uses_ratio)
        self.ratio_label.setEnabled(uses_ratio)
        self.ratio_slider.setToolTip(
            RATIO_TIP if uses_ratio else RATIO_IGNORED.get(g.mode, "No ratio to set")
        )
        self.seed_spin.setEnabled(uses_seed)
        self.seed_spin.setToolTip(SEED_TIP if uses_seed else SEED_IGNORED.get(g.mode, "No seed"))
        note = masks_mod.describe_generation(
            g.mode, self.editor.grid, g.ratio, seed=g.seed, ratio_label=f"{g.ratio:.0%}"
        )
        self.generator_note.setText(f"<i>{note[0].upper()}{note[1:]}.</i>" if note else "")
        self.generator_note.setVisible(note is not None)

    def _on_mask_changed(self) -> None:
        self.count_label.setText(masks_mod.describe(self.editor.mask))
