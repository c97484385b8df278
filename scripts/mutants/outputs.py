"""Bugs in what a user reads or exports: the figure's panels (engine/figure.py, the window's
figure in core/figures.py, reconstruct --figure) and the CLI's PNGs against their .npy twins;
tests/engine/test_figure_pixels.py and tests/cli/test_png_twins.py must catch each."""

FIGURE = "mae_desktop/engine/figure.py"
WINDOW_FIGURE = "mae_desktop/core/figures.py"
CLI = "mae_desktop/cli/reconstruct.py"
RENDER = "mae_desktop/engine/render.py"
T_FIG = "tests/engine/test_figure_pixels.py"
T_WINDOW = "tests/engine/test_figure_pixels.py::test_the_window_figure_shows_the_window_arrays"
T_PNG = "tests/cli/test_png_twins.py"

MUTANTS = [
    # -- the figure's panels -------------------------------------------------------------------
    (
        "figure-reconstruction-composite-swapped",
        FIGURE,
        "images = (data.original, data.masked, data.reconstruction, data.composite)",
        "images = (data.original, data.masked, data.composite, data.reconstruction)",
        (T_FIG,),
    ),
    (
        "window-figure-reconstruction-composite-swapped",
        WINDOW_FIGURE,
        "        reconstruction=prediction,\n        composite=composite,",
        "        reconstruction=composite,\n        composite=prediction,",
        (T_WINDOW,),
    ),
    (
        "cli-figure-reconstruction-composite-swapped",
        CLI,
        "                reconstruction=shown,\n                composite=composite,",
        "                reconstruction=composite,\n                composite=shown,",
        (T_PNG,),
    ),
    (
        "figure-original-and-masked-swapped",
        FIGURE,
        "images = (data.original, data.masked, data.reconstruction, data.composite)",
        "images = (data.masked, data.original, data.reconstruction, data.composite)",
        (T_FIG,),
    ),
    (
        "figure-panels-upside-down",
        FIGURE,
        'SHOW = {"interpolation": "nearest", "resample": False}',
        'SHOW = {"interpolation": "nearest", "resample": False, "origin": "lower"}',
        (T_FIG,),
    ),
    (
        "figure-nan-cells-get-the-low-colour",
        FIGURE,
        "    rgb[~finite] = NAN_GREY",
        "    pass",
        (T_FIG,),
    ),
    (
        "figure-attention-blend-reversed",
        FIGURE,
        "rgb = (1 - ALPHA) * np.clip(under, 0.0, 1.0) + ALPHA * rgb",
        "rgb = ALPHA * np.clip(under, 0.0, 1.0) + (1 - ALPHA) * rgb",
        (T_FIG,),
    ),
    (
        "figure-error-panel-uses-the-attention-colormap",
        FIGURE,
        "_heat_panel(fig, axes[4], data.error, data.cmap_error, data.patch, None)",
        "_heat_panel(fig, axes[4], data.error, data.cmap_attention, data.patch, None)",
        (T_FIG,),
    ),
    (
        "figure-colorbar-range-from-zero",
        FIGURE,
        "    norm = matplotlib.colors.Normalize(*_range(grid))",
        "    norm = matplotlib.colors.Normalize(0.0, _range(grid)[1])",
        (T_FIG,),
    ),
    (
        "window-figure-ignores-the-colormap",
        WINDOW_FIGURE,
        "        cmap_attention=opts.colormap,\n",
        "",
        (T_WINDOW,),
    ),
    (
        "window-figure-shows-the-last-layer",
        WINDOW_FIGURE,
        "attention_view(att, opts.layer, opts.head, opts.rollout)",
        "attention_view(att, -1, opts.head, opts.rollout)",
        (T_WINDOW,),
    ),
    (
        "cli-figure-masked-panel-is-the-photo",
        CLI,
        "                masked=masked,",
        "                masked=image,",
        (T_PNG,),
    ),
    # -- the CLI's PNGs against their .npy twins -----------------------------------------------
    (
        "cli-attention-png-masked-cells-drawn-as-zero",
        CLI,
        'save_png(folder / "attention.png", overlay(image, last, p))',
        'save_png(folder / "attention.png", overlay(image, np.nan_to_num(last), p))',
        (T_PNG,),
    ),
    (
        "cli-attention-npy-masked-cells-zero",
        CLI,
        'save_npy(folder / "attention.npy", att.maps.astype(np.float32))',
        'save_npy(folder / "attention.npy", np.nan_to_num(att.maps).astype(np.float32))',
        (T_PNG,),
    ),
    (
        "cli-attention-png-first-layer",
        CLI,
        "        last = att.maps[-1].mean(axis=0)",
        "        last = att.maps[0].mean(axis=0)",
        (T_PNG,),
    ),
    (
        "error-png-colormap-range-fixed-0-1",
        RENDER,
        "    t, finite = unit_range(values)\n    rgb = _table(cmap)",
        "    t, finite = np.clip(np.nan_to_num(values), 0, 1), np.isfinite(values)\n"
        "    rgb = _table(cmap)",
        (T_PNG,),
    ),
    (
        "error-png-wrong-colormap",
        CLI,
        'save_png(folder / "error.png", heatmap(rec.patch_error, p))',
        'save_png(folder / "error.png", heatmap(rec.patch_error, p, "viridis"))',
        (T_PNG,),
    ),
    (
        # the bug the CLI once had: samples of the map at 0, .1, ..., .7 and 1 spread evenly
        "map-samples-spread-evenly",
        RENDER,
        "rgb = _table(cmap)[np.floor(t * 255 + 0.5).astype(np.int64)]",
        "rgb = _table(cmap)[np.floor(np.interp(t, np.linspace(0, 1, 9),"
        " [0, .1, .2, .3, .4, .5, .6, .7, 1]) * 255 + 0.5).astype(np.int64)]",
        (T_PNG,),
    ),
    (
        "overlay-masked-cells-not-dimmed",
        RENDER,
        "    out[absent] = 0.35 * image[absent]",
        "    out[absent] = image[absent]",
        (T_PNG,),
    ),
    (
        "cli-composite-png-from-prediction",
        CLI,
        'save_png(folder / "composite.png", composite)',
        'save_png(folder / "composite.png", shown)',
        (T_PNG,),
    ),
    (
        "cli-masked-png-is-the-photo",
        CLI,
        'save_png(folder / "masked.png", masked)',
        'save_png(folder / "masked.png", image)',
        (T_PNG,),
    ),
    (
        "cli-reconstruction-npy-clipped",
        CLI,
        'save_npy(folder / "reconstruction.npy", rec.prediction.astype(np.float32))',
        'save_npy(folder / "reconstruction.npy", np.clip(rec.prediction, 0, 1).astype(np.float32))',
        (T_PNG,),
    ),
]
