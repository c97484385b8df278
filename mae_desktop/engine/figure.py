"""Publication figures of one reconstruction: PNG at a chosen scale, SVG or PDF.

Shared by the CLI and the app. matplotlib is imported only when a figure is drawn, so that
start-up never pays for it, and only its object API is used (no GUI backend is ever picked).
"""

from __future__ import annotations

import math
import os
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .attention import head_label, query_label
from .errors import MAEError
from .patches import upsample_grid

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
NAN_GREY = (0.5, 0.5, 0.5)  # the masked input's fill: "no value" reads the same everywhere
ALPHA = 0.6  # attention over the image, as the app's overlay blends it
ERROR_LABEL = "Per-patch error (pixel MSE)"
SHOW = {"interpolation": "nearest", "resample": False}  # patches stay crisp at any size


@dataclass(frozen=True)
class FigureData:
    """What one figure shows.

    original: float32 (H, W, 3) in [0, 1]. masked, reconstruction, composite: float
    (H, W, 3) in [0, 1] (values outside are clipped). error: float (gh, gw) per patch,
    gh = H / patch, NaN = no value. attention: float (gh, gw) per patch, NaN = not attended
    (masked), or None. mask_ratio: share of masked patches, 0..1. masked_psnr: dB or None.
    panel_titles: six titles replacing the default ones, in panel order.
    """

    original: np.ndarray
    masked: np.ndarray
    reconstruction: np.ndarray
    composite: np.ndarray
    error: np.ndarray
    attention: np.ndarray | None
    patch: int
    error_label: str
    attention_label: str
    title: str
    masked_psnr: float | None
    mask_ratio: float
    cmap_error: str = "inferno"
    cmap_attention: str = "inferno"
    panel_titles: tuple[str, ...] | None = None

    def titles(self) -> tuple[str, ...]:
        """The six panel titles, in order."""
        if self.panel_titles is not None:
            if len(self.panel_titles) != 6:
                raise MAEError(f"a figure has 6 panels, got {len(self.panel_titles)} titles")
            return tuple(self.panel_titles)
        return (
            "Original",
            f"Masked input ({self.mask_ratio:.0%} masked)",
            "Reconstruction",
            "Composite",
            self.error_label,
            self.attention_label,
        )

    def suptitle(self) -> str:
        psnr = "n/a" if self.masked_psnr is None else f"{self.masked_psnr:.2f} dB"
        return f"{self.title}\nmasked PSNR {psnr}"


def attention_label(part: str, layer: int, query: object, head: int | None = None) -> str:
    """A panel title such as "Attention: encoder layer 12, mean of heads, CLS".

    layer and head count from 1, as everywhere users read them; head None = mean of heads.
    query as the engine takes it: "cls", "mean" or a 0-based (row, col) patch.
    """
    heads = head_label("mean" if head is None else head - 1)
    who = query_label(query)  # type: ignore[arg-type]
    return f"Attention: {part} layer {layer}, {heads}, {who}"


def _range(values: np.ndarray) -> tuple[float, float]:
    """The finite values' (min, max), never empty: a colormap needs a span."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo, lo + 1e-12)


def figure_format(path: str | Path) -> str:
    """ "png", "svg" or "pdf" from the file name's suffix; MAEError for anything else."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        what = f"{path.suffix!r} files" if path.suffix else "a name without a suffix"
        raise MAEError(f"cannot write a figure to {what} ({path.name}); use .png, .svg or .pdf")
    return fmt


def check_scale(scale: float) -> float:
    """The PNG scale (100 dpi * scale) if it is in (0, 8]; MAEError otherwise."""
    if not 0.0 < scale <= 8.0:  # also rejects NaN
        raise MAEError(f"figure scale must be in (0, 8], got {scale}")
    return scale


def render_figure(data: FigureData, path: str | Path, scale: float = 1.0) -> Path:
    """Write the figure to `path` (.png, .svg or .pdf, from the suffix) and return it.

    PNG: 100 dpi * scale, scale in (0, 8]. SVG/PDF keep the panels as embedded rasters
    (nearest neighbour) and all text as text. The file appears whole or not at all.
    """
    path = Path(path)
    fmt = figure_format(path)
    check_scale(scale)
    import matplotlib

    rc = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "mae-desktop"}
    with matplotlib.rc_context(rc):
        fig = build_figure(data)
        # no dates in the file: the same data gives the same bytes
        meta = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: a fresh file of our own; mode 0o666 less the umask, like any new file
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise MAEError(f"cannot write the figure {path}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(fh, format=fmt, dpi=100 * scale, metadata=meta)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise MAEError(f"cannot write the figure {path}: {exc.strerror or exc}") from None
            raise
    return path


def build_figure(data: FigureData):
    """The laid-out matplotlib Figure (no GUI backend); render_figure writes it.

    Two rows of three rather than one row of six: the panels stay large enough to read at
    one column's width, wrapped titles and the two colorbars get room, and the rows read as
    what goes in (top) and what the model makes of it (bottom)."""
    from matplotlib.figure import Figure

    h, w = data.original.shape[:2]
    side = 2.4  # inches, the longer side of a panel
    pw, ph = (side, side * h / w) if w >= h else (side * w / h, side)
    left, gap, right, top, title_h, bottom = 0.15, 0.8, 0.8, 0.65, 0.5, 0.15
    # quarter inches are exact in binary, so a PNG at scale 2 is exactly twice as wide
    need_w = left + 3 * pw + 2 * gap + right
    fw = math.ceil(need_w * 4) / 4
    fh = math.ceil((top + 2 * (title_h + ph) + bottom) * 4) / 4
    fig = Figure(figsize=(fw, fh))
    fig.suptitle(data.suptitle(), fontsize=11, y=1 - 0.12 / fh, va="top")
    titles = data.titles()
    axes = []
    for i in range(6):
        r, c = divmod(i, 3)
        x = (fw - need_w) / 2 + left + c * (pw + gap)
        y = fh - top - title_h - r * (title_h + ph) - ph  # the panel's lower edge, inches
        ax = fig.add_axes((x / fw, y / fh, pw / fw, ph / fh))
        ax.set_axis_off()
        ax.set_title(textwrap.fill(titles[i], 30), fontsize=9)
        axes.append(ax)

    images = (data.original, data.masked, data.reconstruction, data.composite)
    for ax, img in zip(axes[:4], images, strict=True):
        ax.imshow(np.clip(img, 0.0, 1.0), **SHOW)

    _heat_panel(fig, axes[4], data.error, data.cmap_error, data.patch, None)
    if data.attention is None:
        axes[5].imshow(np.clip(data.original, 0.0, 1.0), **SHOW)
        axes[5].set_title(f"{titles[5]}\n(no attention map)", fontsize=9)
    else:
        _heat_panel(fig, axes[5], data.attention, data.cmap_attention, data.patch, data.original)
    return fig


def _heat_panel(fig, ax, values, cmap_name, patch, under) -> None:
    """Per-patch values in a colormap (blended over `under` if given), NaN cells in plain
    grey, and a colorbar of the finite values' range beside the panel."""
    import matplotlib

    cmap = matplotlib.colormaps[cmap_name]
    grid = upsample_grid(np.asarray(values, dtype=np.float64), patch)
    finite = np.isfinite(grid)
    norm = matplotlib.colors.Normalize(*_range(grid))
    rgb = cmap(norm(np.where(finite, grid, norm.vmin)))[..., :3]
    if under is not None:
        rgb = (1 - ALPHA) * np.clip(under, 0.0, 1.0) + ALPHA * rgb
    rgb[~finite] = NAN_GREY  # no value: plain grey, like the masked input, never a colour
    ax.imshow(rgb, **SHOW)
    if not finite.any():  # a colorbar would claim a range there is none of
        ax.set_title(ax.get_title() + "\n(no values)", fontsize=9)
        return
    # an inset beside the panel, so that the panel keeps the same size as the others
    bar = fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=ax.inset_axes((1.04, 0, 0.06, 1))
    )
    bar.ax.tick_params(labelsize=7)
    bar.outline.set_linewidth(0.5)
