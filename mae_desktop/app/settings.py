"""What the window remembers between runs (QSettings): layout, docks, brush, colormap,
device and precision, the last files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings

from ..engine.errors import MAEError
from .imaging import MASK_STYLES
from .panels import LAYOUTS

if TYPE_CHECKING:
    from .main_window import MainWindow


def restore(win: MainWindow) -> None:
    s = win.settings
    if geometry := s.value("window/geometry"):
        win.restoreGeometry(geometry)
    if state := s.value("window/state"):
        win.restoreState(state)
    win.set_layout(_known(s.value("view/layout"), LAYOUTS, "grid"))
    win.set_mask_style(_known(s.value("view/mask_style"), MASK_STYLES, "auto"))
    if splitter := s.value("window/splitter"):
        win.splitter.restoreState(splitter)
    win.mask_dock.brush_spin.setValue(int(s.value("brush/size", 1)))
    win.mask_dock.shape_combo.setCurrentText(str(s.value("brush/shape", "square")))
    win.editor.set_attention(colormap=str(s.value("view/colormap", "inferno")))


def _known(value: object, choices: tuple[str, ...], default: str) -> str:
    """A remembered choice this version still offers, else the default."""
    return str(value) if value in choices else default


def save(win: MainWindow) -> None:
    s, editor = win.settings, win.editor
    s.setValue("window/geometry", win.saveGeometry())
    s.setValue("window/state", win.saveState())
    s.setValue("window/splitter", win.splitter.saveState())
    s.setValue("brush/size", win.mask_dock.brush_spin.value())
    s.setValue("brush/shape", win.mask_dock.shape_combo.currentText())
    s.setValue("view/colormap", editor.attention.colormap)
    s.setValue("view/layout", win.layout_mode)
    s.setValue("view/mask_style", win.canvas.mask_style)
    if editor.model:
        s.setValue("model/device", editor.device_choice)
        # 'auto' when auto chose the precision (it chooses again next time)
        s.setValue("model/dtype", "auto" if editor.model.get("auto") else editor.model["dtype"])
        s.setValue("last/checkpoint", editor.model["path"])
    if editor.image_path:
        s.setValue("last/image", editor.image_path)
    s.sync()


def saved_device(settings: QSettings) -> tuple[str, str]:
    """The device and precision chosen last time, if this machine still has them; else
    (and on a first start) 'auto' for both: the fastest device, and the precision measured
    fastest there that keeps the results."""
    device = str(settings.value("model/device", "auto"))
    dtype = str(settings.value("model/dtype", "auto"))
    if device == "auto" and dtype in ("auto", "fp32"):
        return device, dtype  # offered everywhere: no need to wait for torch to ask it
    from ..engine.device import available_devices, resolve_device, supported_dtypes

    if device not in ("auto", *available_devices()):
        return "auto", "auto"
    try:
        resolved = resolve_device(device)
    except MAEError:
        return "auto", "auto"
    return device, dtype if dtype in ("auto", *supported_dtypes(resolved)) else "auto"
