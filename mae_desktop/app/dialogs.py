"""Small dialogs: model info, keyboard shortcuts, head counts, input normalisation, a
Yes/No question."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from ..engine.config import input_norm_spec, parse_input_norm
from .status import assumed_heads_text

# Model ▸ Input normalisation: menu label -> the choice ('custom': ask with the dialog)
INPUT_NORM_CHOICES = {
    "As the checkpoint says": None,
    "None ([0, 1] pixels)": "none",
    "ImageNet": "imagenet",
    "Custom…": "custom",
}


def input_norm_label(spec: str | None) -> str:
    """The Input normalisation menu entry of a choice (any MEAN:STD is 'Custom…')."""
    for label, choice in INPUT_NORM_CHOICES.items():
        if choice == spec:
            return label
    return "Custom…"


SHORTCUTS = [
    ("Open image", "Ctrl+O"),
    ("Open checkpoint", "Ctrl+Shift+O"),
    ("Paste image", "Ctrl+V"),
    ("Undo", "Ctrl+Z"),
    ("Redo", "Ctrl+Shift+Z"),
    ("Brush tool", "B"),
    ("Rectangle tool", "R"),
    ("Pick attention query", "Q"),
    ("Toggle mask/unmask", "X"),
    ("Brush smaller / larger", "[ / ]"),
    ("Invert mask", "I"),
    ("Clear mask", "C"),
    ("Mask everything", "A"),
    ("New random mask", "N"),
    ("Model info", "Ctrl+I"),
    ("Reset zoom", "0"),
    ("Help", "F1"),
]


def _table(rows: list[tuple[str, str]], bold_key: bool = True) -> str:
    def cell(text: str, bold: bool) -> str:
        return f"<b>{escape(text)}</b>" if bold else escape(text)

    return (
        "<table>"
        + "".join(
            f"<tr><td>{cell(k, bold_key)}&nbsp;&nbsp;</td><td>{cell(v, not bold_key)}</td></tr>"
            for k, v in rows
        )
        + "</table>"
    )


def model_info_html(info: dict) -> str:
    rows = [
        ("Path", info["path"]),
        ("Format", info["format"]),
        ("Architecture", info["architecture"]),
        ("Parameters", f"{info['parameters']:,}"),
        ("Decoder", "yes" if info["decoder"] else "no (attention only)"),
        ("Normalisation", _normalisation_text(info)),
        ("Target", f"{info['target']} [{info['target_source']}]"),
        ("Device", info["device"]),
        ("Precision", info["dtype"]),
    ]
    if assumed := assumed_heads_text(info):
        rows.append(("Head counts", f"{assumed} (Model ▸ Head counts… to set them)"))
    rows += [("Note", n) for n in info["notes"]]
    return _table(rows)


def _normalisation_text(info: dict) -> str:
    text = info["normalization"]
    if info.get("normalization_source"):
        text += f" [{info['normalization_source']}]"
    return text + " (Model ▸ Input normalisation to change)"


def show_model_info(parent: QWidget, info: dict) -> None:
    QMessageBox.information(parent, "Model info", model_info_html(info))


def ask_to_continue(parent: QWidget, message: str) -> bool:
    """A Yes/No question (No is the default); True for Yes."""
    box = QMessageBox.question(
        parent,
        "Open session",
        message,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return box == QMessageBox.StandardButton.Yes


def show_help(parent: QWidget) -> None:
    html = _table(SHORTCUTS, bold_key=False)
    html += (
        "<p>Left drag masks, right drag unmasks; the wheel zooms, the middle button "
        "pans. Drop images or checkpoints on the window to open them.</p>"
    )
    QMessageBox.information(parent, "Keyboard shortcuts", html)


class HeadCountsDialog(QDialog):
    """Encoder and decoder head counts for files that do not store them (the same as the
    command line's --heads / --decoder-heads). A count must divide its width."""

    def __init__(self, parent: QWidget, info: dict) -> None:
        super().__init__(parent)
        self.setWindowTitle("Head counts")
        cfg = info["config"]
        form = QFormLayout(self)
        assumed = info.get("assumed_heads") or {}
        note = QLabel(
            "Official, PaperWeekly and vit-pytorch MAE files do not store how many attention "
            "heads their layers have. A wrong count gives wrong reconstructions."
            + (f"<br><b>Now: {assumed_heads_text(info)}.</b>" if assumed else "")
        )
        note.setWordWrap(True)
        form.addRow(note)
        self.heads = self._spin(cfg["num_heads"], cfg["attn_dim"])
        form.addRow(f"Encoder heads (width {cfg['attn_dim']})", self.heads)
        self.decoder_heads: QSpinBox | None = None
        if cfg["has_decoder"]:
            self.decoder_heads = self._spin(cfg["decoder_num_heads"], cfg["decoder_attn_dim"])
            form.addRow(f"Decoder heads (width {cfg['decoder_attn_dim']})", self.decoder_heads)
        self.reset = QCheckBox("Use the assumed counts again")
        form.addRow(self.reset)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _spin(value: int, width: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(1, max(1, width))
        spin.setValue(value)
        spin.setToolTip("must divide the width")
        return spin

    def values(self) -> tuple[int | None, int | None]:
        """(heads, decoder heads) to reload with; (None, None) = the assumed counts."""
        if self.reset.isChecked():
            return None, None
        dec = self.decoder_heads.value() if self.decoder_heads is not None else None
        return self.heads.value(), dec


class InputNormDialog(QDialog):
    """A custom input normalisation: mean and std of [0, 1] RGB pixels, one or three
    comma-separated numbers each (the same as the command line's --input-norm MEAN:STD)."""

    def __init__(self, parent: QWidget, info: dict) -> None:
        super().__init__(parent)
        self.setWindowTitle("Input normalisation")
        cfg = info["config"]
        form = QFormLayout(self)
        note = QLabel(
            "The model sees (pixel - mean) / std, with pixels in [0, 1]. Use what it was "
            "trained with: a wrong normalisation gives wrong reconstructions."
        )
        note.setWordWrap(True)
        form.addRow(note)
        self.mean = QLineEdit(", ".join(f"{v:g}" for v in cfg["mean"]))
        self.std = QLineEdit(", ".join(f"{v:g}" for v in cfg["std"]))
        for edit in (self.mean, self.std):
            edit.setToolTip("one number for all channels, or three (R, G, B)")
            edit.textChanged.connect(self._check)
        form.addRow("Mean", self.mean)
        form.addRow("Std", self.std)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._check()

    def _text(self) -> str:
        def side(edit: QLineEdit) -> str:
            return ",".join(v.strip() for v in edit.text().split(",")) or "?"

        return f"{side(self.mean)}:{side(self.std)}"

    def _check(self) -> None:
        try:
            parse_input_norm(self._text())
            problem = ""
        except ValueError:
            problem = "Mean and std need one or three numbers each; std must be positive."
        self.problem.setText(problem)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problem)

    def spec(self) -> str:
        """The choice as 'none', 'imagenet' or 'MEAN:STD' (valid: OK is disabled otherwise)."""
        return input_norm_spec(*parse_input_norm(self._text()))
