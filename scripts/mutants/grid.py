"""Bugs a stranger might write in the patch layout, the brush, the undo history and the mask
generators; tests/property/ must catch each (see scripts/mutants/README.md)."""

BRUSH = "mae_desktop/engine/brush.py"
PATCHES = "mae_desktop/engine/patches.py"
MASKS = "mae_desktop/engine/masks.py"
T_PB = "tests/property/test_patches_brush.py"
T_HIST = "tests/property/test_history.py"
T_GEN = "tests/property/test_generators.py"

MUTANTS = [
    # -- strokes and the pixel -> patch mapping --------------------------------------------------
    (
        "stroke-along-bottom-border-paints-last-row",
        BRUSH,
        "    if (x0 >= gw * patch and x1 >= gw * patch)"
        " or (y0 >= gh * patch and y1 >= gh * patch):",
        "    if x0 >= gw * patch and x1 >= gw * patch:",
        (T_PB,),
    ),
    (
        "stroke-outside-parallel-clamped-onto-edge",
        BRUSH,
        "            if q < 0:  # parallel to this side and outside it\n"
        "                return None",
        "            if q < 0:  # parallel to this side and outside it\n                continue",
        (T_PB,),
    ),
    (
        "pixel-to-patch-far-edge-off-by-one",
        BRUSH,
        "if row >= grid[0] or col >= grid[1]:",
        "if row > grid[0] or col > grid[1]:",
        (T_PB,),
    ),
    (
        "pixel-to-patch-negative-y-truncates-to-row-0",
        BRUSH,
        "if x < 0 or y < 0:\n        return None\n    row, col = int(y // patch), int(x // patch)",
        "if x < 0:\n        return None\n    row, col = int(y / patch), int(x // patch)",
        (T_PB,),
    ),
    (
        "round-brush-radius-half-a-patch-short",
        BRUSH,
        "return (rows - cr) ** 2 + (cols - cc) ** 2 <= (size / 2.0) ** 2 + 1e-9",
        "return (rows - cr) ** 2 + (cols - cc) ** 2 <= ((size - 1) / 2.0) ** 2 + 1e-9",
        (T_PB,),
    ),
    (
        "even-brush-extends-up-left",
        BRUSH,
        "cr, cc = r0 + (0.5 if size % 2 == 0 else 0.0), c0 + (0.5 if size % 2 == 0 else 0.0)",
        "cr, cc = r0 - (0.5 if size % 2 == 0 else 0.0), c0 - (0.5 if size % 2 == 0 else 0.0)",
        (T_PB,),
    ),
    (
        "rectangle-corners-not-sorted",
        BRUSH,
        "r0, r1 = sorted((a[0], b[0]))",
        "r0, r1 = a[0], b[0]",
        (T_PB,),
    ),
    # -- undo history ----------------------------------------------------------------------------
    (
        "history-limit-drops-newest",
        BRUSH,
        "del self._undo[: -self._limit]",
        "del self._undo[self._limit :]",
        (T_HIST,),
    ),
    (
        "history-new-edit-keeps-redo",
        BRUSH,
        "        self._current = mask.copy()\n        self._redo.clear()",
        "        self._current = mask.copy()",
        (T_HIST,),
    ),
    (
        "history-keeps-the-callers-array",
        BRUSH,
        "        del self._undo[: -self._limit]\n        self._current = mask.copy()",
        "        del self._undo[: -self._limit]\n        self._current = mask",
        (T_HIST,),
    ),
    (
        "history-undo-hands-out-its-own-array",
        BRUSH,
        "self._current = self._undo.pop()\n        return self._current.copy()",
        "self._current = self._undo.pop()\n        return self._current",
        (T_HIST,),
    ),
    # -- patch layout ----------------------------------------------------------------------------
    (
        "patchify-pixel-column-before-row",
        PATCHES,
        "x = image.reshape(gh, patch, gw, patch, c).transpose(0, 2, 1, 3, 4)",
        "x = image.reshape(gh, patch, gw, patch, c).transpose(0, 2, 3, 1, 4)",
        (T_PB,),
    ),
    (
        "patchify-batch-pixel-column-before-row",
        PATCHES,
        "x = images.reshape(b, gh, patch, gw, patch, c).permute(0, 1, 3, 2, 4, 5)",
        "x = images.reshape(b, gh, patch, gw, patch, c).permute(0, 1, 3, 4, 2, 5)",
        (T_PB,),
    ),
    (
        "unpatchify-batch-grid-rows-and-columns-swapped",
        PATCHES,
        "x = patches.reshape(b, gh, gw, patch, patch, c)",
        "x = patches.reshape(b, gw, gh, patch, patch, c)",
        (T_PB,),
    ),
    (
        "upsample-grid-tiles-instead-of-repeating",
        PATCHES,
        "return np.repeat(np.repeat(values, patch, axis=0), patch, axis=1)",
        "return np.tile(values, (patch, patch) + (1,) * (values.ndim - 2))",
        (T_PB,),
    ),
    # -- mask generators -------------------------------------------------------------------------
    (
        "masked-count-official-keep-truncation",
        MASKS,
        "return int(round(ratio * grid[0] * grid[1]))",
        "return grid[0] * grid[1] - int(grid[0] * grid[1] * (1 - ratio))",
        (T_GEN,),
    ),
    (
        "random-mask-seed-ignored",
        MASKS,
        "order = np.random.default_rng(seed).permutation(n)",
        "order = np.random.default_rng(0).permutation(n)",
        (T_GEN,),
    ),
    (
        "random-mask-global-random-state",
        MASKS,
        "order = np.random.default_rng(seed).permutation(n)",
        "order = np.random.permutation(n)",
        (T_GEN,),
    ),
    (
        "block-mask-seed-ignored",
        MASKS,
        "rng = np.random.default_rng(seed)\n    max_block",
        "rng = np.random.default_rng(0)\n    max_block",
        (T_GEN,),
    ),
    (
        "grid-mask-visible-patch-bottom-row",
        MASKS,
        "rows = np.arange(grid[0])[:, None] % stride == 0",
        "rows = np.arange(grid[0])[:, None] % stride == stride - 1",
        (T_GEN,),
    ),
    (
        "center-mask-side-scales-by-ratio-not-sqrt",
        MASKS,
        "h = min(gh, int(round(gh * math.sqrt(ratio))))",
        "h = min(gh, int(round(gh * ratio)))",
        (T_GEN,),
    ),
    (
        "coarse-mask-drops-partial-edge-cells",
        MASKS,
        "cg = (math.ceil(grid[0] / block), math.ceil(grid[1] / block))",
        "cg = (grid[0] // block or 1, grid[1] // block or 1)",
        (T_GEN,),
    ),
    (
        "generation-note-counts-the-request-not-the-mask",
        MASKS,
        "n, k = mask.size, int(mask.sum())\n    label",
        "n, k = mask.size, masked_count(mask.shape, ratio)\n    label",
        (T_GEN,),
    ),
]
