#!/usr/bin/env python3
"""Mutation check: does the test suite catch small, plausible bugs?

Each mutant is one exact text replacement in one file of the product. The script copies the
repository (tracked files plus the working tree's changes and new, not-ignored files) into
a temporary folder, checks that the tests it will run pass there, then applies the mutants
one at a time in that copy, runs a short pytest selection for each, and restores the file.
A mutant is caught when its tests fail. The copy is removed at the end (also on Ctrl+C).

The old text of every mutant must occur exactly once in its file; a mutant whose text is
missing or repeated is reported as an error (update it when the code changes).

A tool for developers, not part of CI:

    .venv/bin/python scripts/mutation_check.py            # every mutant (minutes)
    .venv/bin/python scripts/mutation_check.py --list     # what is checked, and by which tests
    .venv/bin/python scripts/mutation_check.py --only live-older-result-drawn

Mutants are listed here and in `scripts/mutants/*.py` (one file per kind of bug, each a
`MUTANTS` list of `(name, file, old, new, tests)` tuples, paths relative to the repository).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENGINE = "mae_desktop/engine/"
T_REF = "tests/engine/test_reconstruction_reference.py"
T_REC = "tests/engine/test_reconstruction.py"
T_ATT_REF = "tests/engine/test_attention_reference.py"
T_ATT = "tests/engine/test_attention.py"
T_EQ = "tests/engine/test_equivalence.py"
T_CK = "tests/engine/test_checkpoints.py"
T_MASKS = "tests/engine/test_masks.py"
T_IMG = "tests/engine/test_images.py"
T_CLI = "tests/cli/test_cli.py"
T_CLI_OPT = "tests/cli/test_cli_options.py"
T_LIVE = "tests/core/test_live.py"
T_LANE = "tests/core/test_lane.py"
T_WORKER = "tests/core/test_worker.py"
T_CONTROLS = "tests/app/test_controls.py"
T_VIEWER = "tests/app/test_viewer.py"
T_VIEW = "tests/app/test_results_view.py"
T_PAINT = "tests/app/test_painting.py"


@dataclass(frozen=True)
class Mutant:
    """Replace `old` (which must occur exactly once in `file`) by `new`; `tests`: the pytest
    selection that should fail."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


def m(name: str, file: str, old: str, new: str, *tests: str) -> Mutant:
    return Mutant(name, file, old, new, tests)


MUTANTS: list[Mutant] = [
    # -- derived outputs ----------------------------------------------------------------------
    m(
        "composite-swapped",
        ENGINE + "reconstruction.py",
        "composite = np.where(masked[:, None], pred_px, pixels)",
        "composite = np.where(masked[:, None], pixels, pred_px)",
        T_REF,
    ),
    m(
        "gt-stats-without-mean",
        ENGINE + "reconstruction.py",
        "pred_px = to_pixels(pred * pscale + pmean)",
        "pred_px = to_pixels(pred * pscale)",
        T_REF,
    ),
    m(
        "estimate-inverse-distance-not-squared",
        ENGINE + "reconstruction.py",
        "w = 1.0 / d2.astype(np.float64)",
        "w = 1.0 / np.sqrt(d2.astype(np.float64))",
        T_REF,
    ),
    m(
        "norm-pix-biased-variance",
        ENGINE + "reconstruction.py",
        "var = patches.var(axis=-1, ddof=1, keepdims=True)",
        "var = patches.var(axis=-1, keepdims=True)",
        T_REF,
    ),
    m(
        "raw-mode-shows-target-under-mask",
        ENGINE + "reconstruction.py",
        "shown = np.where(masked[:, None], pred, target)",
        "shown = np.where(masked[:, None], target, pred)",
        T_REF,
        T_REC,
    ),
    m(
        "error-map-unclipped",
        ENGINE + "reconstruction.py",
        "err = ((np.clip(pred_px, 0.0, 1.0) - pixels) ** 2)",
        "err = ((pred_px - pixels) ** 2)",
        T_REC,
    ),
    m(
        "psnr-20-log10",
        ENGINE + "reconstruction.py",
        "10.0 * math.log10(peak * peak / mse)",
        "20.0 * math.log10(peak * peak / mse)",
        T_REC,
    ),
    m(
        "metrics-visible-count",
        ENGINE + "metrics.py",
        '"masked_patches": int(mask.sum()),',
        '"masked_patches": int((~mask).sum()),',
        T_CLI + "::test_metrics_json_holds_the_numbers_of_the_reconstruction",
    ),
    m(
        "metrics-psnr-field-is-mse",
        ENGINE + "metrics.py",
        '"masked_psnr_db": finite_or_none(rec.masked_psnr),',
        '"masked_psnr_db": finite_or_none(rec.masked_mse),',
        T_CLI + "::test_metrics_json_holds_the_numbers_of_the_reconstruction",
    ),
    m(
        "rollout-without-residual",
        ENGINE + "attention.py",
        "a = 0.5 * layer.mean(axis=0) + 0.5 * eye",
        "a = layer.mean(axis=0)",
        T_ATT_REF,
    ),
    m(
        "rollout-multiplied-backwards",
        ENGINE + "attention.py",
        "joint = a @ joint",
        "joint = joint @ a",
        T_ATT_REF,
    ),
    m(
        "mean-query-includes-cls-row",
        ENGINE + "attention.py",
        'if query == "mean":\n        return c + np.arange(positions.size)',
        'if query == "mean":\n        return np.arange(positions.size)',
        T_ATT_REF,
    ),
    m(
        "query-rows-max-not-mean",
        ENGINE + "attention.py",
        "picked = weights[:, :, rows, c:].mean(axis=2)",
        "picked = weights[:, :, rows, c:].max(axis=2)",
        T_ATT_REF,
    ),
    m(
        "head-max-is-mean",
        ENGINE + "attention.py",
        'if heads == "max":\n        return maps.max(axis=1)',
        'if heads == "max":\n        return maps.mean(axis=1)',
        T_ATT,
    ),
    # -- loaders ------------------------------------------------------------------------------
    m(
        "official-final-norm-swapped",
        ENGINE + "formats/official.py",
        'out["norm.weight"], out["norm.bias"] = src.get("norm.weight"), src.get("norm.bias")',
        'out["norm.weight"], out["norm.bias"] = src.get("norm.bias"), src.get("norm.weight")',
        T_EQ + "::test_official_layout_matches_transformers",
    ),
    m(
        "hf-layernorms-swapped",
        ENGINE + "formats/huggingface.py",
        '"norm1": ("layernorm_before",),\n    "norm2": ("layernorm_after",),',
        '"norm1": ("layernorm_after",),\n    "norm2": ("layernorm_before",),',
        T_EQ + "::test_huggingface_folder_matches_transformers",
    ),
    m(
        "hf-qkv-concatenated-kqv",
        ENGINE + "formats/huggingface.py",
        'torch.cat([pick(f"attn.{c}", "weight") for c in "qkv"])',
        'torch.cat([pick(f"attn.{c}", "weight") for c in "kqv"])',
        T_EQ + "::test_huggingface_folder_matches_transformers",
    ),
    m(
        "model-qkv-split-order",
        ENGINE + "model.py",
        "q, k, v = qkv.unbind(0)",
        "q, v, k = qkv.unbind(0)",
        T_EQ + "::test_huggingface_folder_matches_transformers",
    ),
    m(
        "official-layernorm-eps-1e-5",
        ENGINE + "formats/official.py",
        "norm_eps=1e-6,",
        "norm_eps=1e-5,",
        T_EQ + "::test_official_layout_matches_transformers",
    ),
    m(
        "paperweekly-layernorm-eps-1e-6",
        ENGINE + "formats/paperweekly.py",
        "norm_eps=1e-5,",
        "norm_eps=1e-6,",
        T_EQ + "::test_paperweekly_layernorm_eps_is_the_articles_on_small_activations",
    ),
    m(
        "hf-layernorm-eps-ignored",
        ENGINE + "formats/huggingface.py",
        'norm_eps=_number(config, "layer_norm_eps", 1e-12, name, where),',
        "norm_eps=1e-6,",
        T_EQ + "::test_huggingface_folder_matches_transformers",
    ),
    m(
        "paperweekly-decoder-pos-on-visible",
        ENGINE + "formats/paperweekly.py",
        "decoder_pos_on_visible=False,",
        "decoder_pos_on_visible=True,",
        T_EQ + "::test_paperweekly_layout_matches_paperweekly_reference",
    ),
    m(
        "paperweekly-layernorms-swapped",
        ENGINE + "formats/paperweekly.py",
        '"norm1.weight": "0.norm.weight",\n    "norm1.bias": "0.norm.bias",\n'
        '    "attn.qkv.weight": "0.net.to_qkv.weight",\n'
        '    "norm2.weight": "1.norm.weight",\n    "norm2.bias": "1.norm.bias",',
        '"norm1.weight": "1.norm.weight",\n    "norm1.bias": "1.norm.bias",\n'
        '    "attn.qkv.weight": "0.net.to_qkv.weight",\n'
        '    "norm2.weight": "0.norm.weight",\n    "norm2.bias": "0.norm.bias",',
        T_EQ + "::test_paperweekly_layout_matches_paperweekly_reference",
    ),
    m(
        "official-base-model-heads",
        ENGINE + "formats/official.py",
        '"mae_vit_base_patch16": (768, 12, 16),',
        '"mae_vit_base_patch16": (768, 16, 16),',
        T_CK + "::test_args_model_of_a_training_checkpoint_gives_the_head_counts",
    ),
    m(
        "standard-width-heads",
        ENGINE + "formats/common.py",
        "_ENCODER_HEADS = {192: 3, 384: 6, 768: 12,",
        "_ENCODER_HEADS = {192: 3, 384: 6, 768: 16,",
        T_CK + "::test_args_model_of_a_training_checkpoint_gives_the_head_counts",
    ),
    m(
        "decoder-heads-64-channels",
        ENGINE + "formats/common.py",
        "head_dim = 32 if decoder else 64",
        "head_dim = 64",
        T_CK + "::test_unknown_widths_assume_64_channels_per_head_and_32_in_the_decoder",
    ),
    # -- masks --------------------------------------------------------------------------------
    m(
        "random-count-truncated",
        ENGINE + "masks.py",
        "return int(round(ratio * grid[0] * grid[1]))",
        "return int(ratio * grid[0] * grid[1])",
        T_MASKS,
    ),
    m(
        "block-mask-overshoots",
        ENGINE + "masks.py",
        "if 0 < new <= missing:",
        "if 0 < new:",
        T_MASKS,
    ),
    m(
        "grid-mask-or",
        ENGINE + "masks.py",
        "return ~(rows & cols)",
        "return ~(rows | cols)",
        T_MASKS,
    ),
    m(
        "coarse-mask-block-1",
        ENGINE + "masks.py",
        "seed: int = 0, block: int = 2)",
        "seed: int = 0, block: int = 1)",
        T_MASKS,
    ),
    m(
        "center-mask-at-left",
        ENGINE + "masks.py",
        "top, left = (gh - h) // 2, (gw - w) // 2",
        "top, left = (gh - h) // 2, 0",
        T_MASKS,
    ),
    m(
        "mask-file-any-not-majority",
        ENGINE + "masks.py",
        "return values.reshape(gh, p, gw, p).mean(axis=(1, 3)) > 0.5",
        "return values.reshape(gh, p, gw, p).max(axis=(1, 3)) > 0.5",
        T_MASKS,
    ),
    m(
        "mask-png-inverted",
        ENGINE + "masks.py",
        "    if (black | white).all():\n        return white\n",
        "    if (black | white).all():\n        return black\n",
        T_MASKS,
    ),
    # -- images -------------------------------------------------------------------------------
    m(
        "stretch-bilinear",
        ENGINE + "images.py",
        "img = img.resize((w, h), Image.Resampling.BICUBIC)",
        "img = img.resize((w, h), Image.Resampling.BILINEAR)",
        T_IMG,
    ),
    m(
        "exif-ignored",
        ENGINE + "images.py",
        "img = ImageOps.exif_transpose(im)",
        "img = im",
        T_IMG,
    ),
    m(
        "rgba-on-black",
        ENGINE + "images.py",
        'Image.new("RGBA", rgba.size, (255, 255, 255, 255))',
        'Image.new("RGBA", rgba.size, (0, 0, 0, 255))',
        T_IMG,
    ),
    # -- the command line ---------------------------------------------------------------------
    m(
        "cli-exit-0-when-an-image-fails",
        "mae_desktop/cli/reconstruct.py",
        "return 1 if failures else 0",
        "return 0",
        T_CLI + "::test_bad_input_is_one_line_and_exit_1",
    ),
    m(
        "cli-bad-input-exit-2",
        "mae_desktop/cli/__init__.py",
        'print(f"{PROG}: error: {exc}", file=sys.stderr)\n        return 1',
        'print(f"{PROG}: error: {exc}", file=sys.stderr)\n        return 2',
        T_CLI + "::test_bad_input_is_one_line_and_exit_1",
    ),
    m(
        "cli-mask-mode-ignored",
        "mae_desktop/cli/reconstruct.py",
        "mask = masks_mod.generate(args.mask_mode, cfg.grid_size, ratio, args.seed)",
        'mask = masks_mod.generate("random", cfg.grid_size, ratio, args.seed)',
        T_CLI,
        T_CLI_OPT + "::test_mask_mode_block_writes_a_block_mask",
    ),
    m(
        "cli-metrics-seed-field",
        "mae_desktop/cli/reconstruct.py",
        '"seed": args.seed,',
        '"seed": 0,',
        T_CLI + "::test_reconstruct_writes_every_output",
    ),
    # -- the core -----------------------------------------------------------------------------
    m(
        "live-older-result-drawn",
        "mae_desktop/core/live.py",
        "r.id <= self.shown.id",
        "r.id >= self.shown.id",
        T_LIVE,
    ),
    m(
        "live-order-check-dropped",
        "mae_desktop/core/live.py",
        "if self.shown is not None and r.id <= self.shown.id:",
        "if self.shown is not None and r.id < 0:",
        T_LIVE,
    ),
    m(
        "live-result-for-another-image-shown",
        "mae_desktop/core/live.py",
        "return request.image_id == e.image_id and request.generation == e.generation",
        "return request.generation == e.generation",
        T_LIVE,
    ),
    m(
        "live-catching-up-always",
        "mae_desktop/core/live.py",
        'r.id < self.latest.get("analyse", r.id)',
        'r.id <= self.latest.get("analyse", r.id)',
        T_LIVE,
    ),
    m(
        "lane-oldest-query-wins",
        "mae_desktop/core/lane.py",
        "self._queries[request.kind] = (rid, request)",
        "self._queries.setdefault(request.kind, (rid, request))",
        T_LANE,
    ),
    m(
        "lane-commands-last-in-first-out",
        "mae_desktop/core/lane.py",
        "return self._commands.popleft()",
        "return self._commands.pop()",
        T_LANE,
    ),
    m(
        "lane-queries-before-commands",
        "mae_desktop/core/lane.py",
        "if self._commands:\n            return self._commands.popleft()\n"
        '        if "analyse" in self._queries:\n'
        '            return self._take_query("analyse")',
        'if "analyse" in self._queries:\n            return self._take_query("analyse")\n'
        "        if self._commands:\n            return self._commands.popleft()",
        T_LANE,
    ),
    m(
        "worker-generation-check-only-newer",
        "mae_desktop/core/worker.py",
        "if generation is not None and generation != self.generation:",
        "if generation is not None and generation > self.generation:",
        T_WORKER,
    ),
    m(
        "editor-part-not-requested",
        "mae_desktop/core/editor.py",
        "part=self.attention.part,",
        'part="encoder",',
        T_VIEW + "::test_switching_to_the_decoder_runs_a_decoder_pass",
    ),
    # -- the window ---------------------------------------------------------------------------
    m(
        "view-composite-from-prediction",
        "mae_desktop/app/results_view.py",
        'self.panels.show_image("composite", composite)',
        'self.panels.show_image("composite", shown_rec)',
        T_VIEW + "::test_display_modes_change_the_reconstruction_and_say_what_they_used",
    ),
    m(
        "view-tags-swapped",
        "mae_desktop/app/results_view.py",
        "if rec.uses_ground_truth",
        "if rec.is_estimate",
        T_VIEW + "::test_display_modes_change_the_reconstruction_and_say_what_they_used",
    ),
    m(
        "view-layer-ignored",
        "mae_desktop/core/attention_view.py",
        "layer = layers - 1 if layer < 0 else min(layer, layers - 1)",
        "layer = layers - 1",
        T_VIEW + "::test_layer_head_and_rollout_controls_draw_that_map",
    ),
    m(
        "dock-head-index-off-by-one",
        "mae_desktop/app/docks/attention_dock.py",
        'head="mean" if index == 0 else "max" if index == 1 else index - 2',
        'head="mean" if index == 0 else "max" if index == 1 else index - 1',
        T_VIEW + "::test_layer_head_and_rollout_controls_draw_that_map",
    ),
    m(
        "absent-cells-in-colormap-colour",
        "mae_desktop/app/imaging.py",
        "    rgba[~finite] = ABSENT_RGBA\n",
        "",
        T_VIEW + "::test_absent_attention_cells_are_hatched_grey_in_every_colormap",
    ),
    m(
        "heads-view-without-hatch",
        "mae_desktop/app/docks/heads_dock.py",
        "heatmap_rgba(values, max(1, patch // 4), cmap)",
        "heatmap_rgba(values, max(1, patch // 4), cmap, hatch=False)",
        T_VIEW + "::test_absent_cells_in_the_heads_view_are_hatched_grey_in_every_colormap",
    ),
    m(
        "masked-panel-grey-127",
        "mae_desktop/app/results_view.py",
        "MASK_GREY = 128",
        "MASK_GREY = 127",
        T_PAINT + "::test_startup_shows_every_panel",
    ),
    m(
        "histogram-masked-bars-from-visible",
        "mae_desktop/app/docks/analysis_dock.py",
        "hm, _ = np.histogram(patch_error[mask & finite], edges)",
        "hm, _ = np.histogram(patch_error[~mask & finite], edges)",
        T_VIEW + "::test_error_histogram_splits_the_shown_errors_by_the_mask",
    ),
    m(
        "canvas-not-in-view-sync",
        "mae_desktop/app/panels.py",
        "self.sync = ViewSync([link_to, *self.views.values()])",
        "self.sync = ViewSync(list(self.views.values()))",
        T_VIEW + "::test_zoom_and_pan_are_shared_and_0_resets",
    ),
    m(
        "reset-zoom-canvas-only",
        "mae_desktop/app/panels.py",
        "        for v in self.views:\n            v.setRange(rect=rect, padding=0.01)",
        "        self.views[0].setRange(rect=rect, padding=0.01)",
        T_VIEW + "::test_zoom_and_pan_are_shared_and_0_resets",
    ),
    # -- the viewer ---------------------------------------------------------------------------
    m(
        "linked-cursor-panels-not-outlined",
        "mae_desktop/app/panels.py",
        "            place_outline(tile.hover, cell, patch)",
        "            pass",
        T_VIEWER + "::test_the_linked_cursor_outlines_the_patch_everywhere_and_reads_it_out",
    ),
    m(
        "readout-masked-visible-swapped",
        "mae_desktop/core/readout.py",
        '"masked" if mask[row, col] else "visible"',
        '"visible" if mask[row, col] else "masked"',
        T_VIEWER + "::test_the_linked_cursor_outlines_the_patch_everywhere_and_reads_it_out",
    ),
    m(
        "readout-stale-after-a-result",
        "mae_desktop/app/main_window.py",
        "        self.results.draw_extras()\n        self._sync_linked_cursor()",
        "        self.results.draw_extras()",
        T_VIEWER + "::test_the_readout_follows_a_drag_and_is_never_stale",
    ),
    m(
        "stroke-joins-cells-across-the-outside",
        "mae_desktop/app/canvas.py",
        "        start = self._last_pos if self._last_pos is not None else point\n"
        "        self._last_pos = point",
        "        start = self._last_pos if self._last_pos is not None else point\n"
        "        if self.cell_at(pos) is not None:\n"
        "            self._last_pos = point",
        T_VIEWER + "::test_a_stroke_out_of_the_image_and_back_masks_only_what_it_crossed",
    ),
    m(
        "auto-mask-style-ignores-luminance",
        "mae_desktop/app/imaging.py",
        "cells[mask] = pictures[(luma[mask] >= AUTO_THRESHOLD).astype(np.intp)]",
        "cells[mask] = pictures[1]",
        "tests/app/test_imaging.py::test_auto_shows_where_the_dark_tint_does_not",
    ),
    m(
        "compare-panel-always-shown",
        "mae_desktop/app/panels.py",
        'OPTIONAL = frozenset({"compare"})',
        "OPTIONAL = frozenset()",
        T_VIEWER + "::test_result_images_fill_their_cells",
    ),
    m(
        "colorbar-range-fixed",
        "mae_desktop/app/panels.py",
        "self.tiles[name].set_scale(float(finite.min()), float(finite.max()), cmap)",
        "self.tiles[name].set_scale(0.0, 1.0, cmap)",
        T_VIEWER + "::test_colorbars_span_the_values_shown",
    ),
    m(
        "error-map-without-mask-marks",
        "mae_desktop/app/results_view.py",
        'self.panels.show_marks("error", mask_outline(request.mask, patch, MASK_MARK_RGBA))',
        'self.panels.show_marks("error", None)',
        T_VIEWER + "::test_the_error_map_marks_the_masked_cells",
    ),
    m(
        "figure-ignores-the-chosen-layer",
        "mae_desktop/core/figures.py",
        "attention_view(att, opts.layer, opts.head, opts.rollout)",
        "attention_view(att, -1, opts.head, opts.rollout)",
        T_VIEWER + "::test_figure_export_holds_the_view_titles_and_scales",
    ),
    m(
        "dialogs-forget-the-folder",
        "mae_desktop/app/files.py",
        'for key in (f"folders/{kind}", "folders/last"):',
        "for key in ():",
        T_VIEWER + "::test_dialogs_open_in_the_folder_used_last",
    ),
    m(
        "layout-not-remembered",
        "mae_desktop/app/settings.py",
        '    s.setValue("view/layout", win.layout_mode)\n',
        "",
        T_VIEWER + "::test_layouts_are_applied_and_remembered",
    ),
    m(
        "rollout-leaves-layer-and-head-enabled",
        "mae_desktop/app/docks/attention_dock.py",
        "            widget.setEnabled(not rollout)",
        "            widget.setEnabled(True)",
        T_CONTROLS + "::test_rollout_disables_layer_and_head_and_says_why",
    ),
    m(
        "ratio-slider-does-not-regenerate",
        "mae_desktop/app/docks/mask_dock.py",
        "self.editor.set_generator(ratio=value / 100.0, regenerate=True)",
        "self.editor.set_generator(ratio=value / 100.0)",
        T_CONTROLS + "::test_the_ratio_slider_regenerates_live_and_a_drag_is_one_undo_step",
    ),
    # -- opening files and the installers ---------------------------------------------------
    m(
        "a-file-name-is-not-a-path-unless-it-exists",
        "mae_desktop/core/launch_files.py",
        "if any(sep in path for sep in seps) or Path(path).suffix:",
        "if any(sep in path for sep in seps):",
        "tests/cli/test_open_files.py::test_which_words_are_paths",
    ),
    m(
        "any-json-is-a-session",
        "mae_desktop/session_file.py",
        'data.get("format") != FORMAT:\n        return "a JSON file',
        'data.get("format") is None:\n        return "a JSON file',
        "tests/cli/test_open_files.py::test_files_of_no_known_kind_say_why",
        "tests/cli/test_open_files.py::test_files_are_told_by_what_they_are",
    ),
    m(
        "abi-floor-limit-off-by-one",
        "packaging/abi_floor.py",
        "if limit and version_key(version) > version_key(limit):",
        "if limit and version_key(version) >= version_key(limit):",
        "tests/packaging/test_abi_floor.py",
    ),
]


def _more_mutants() -> list[Mutant]:
    """The mutants of scripts/mutants/*.py, in file-name order."""
    import runpy

    found = []
    for path in sorted((ROOT / "scripts" / "mutants").glob("*.py")):
        for name, file, old, new, tests in runpy.run_path(str(path)).get("MUTANTS", []):
            found.append(Mutant(name, file, old, new, tuple(tests)))
    return found


MUTANTS += _more_mutants()


# -- running ---------------------------------------------------------------------------------
class Interrupted(Exception):
    """SIGTERM: stop, clean up."""


def repo_files(root: Path) -> list[str]:
    """Tracked files that exist (with their working-tree contents) and new, not-ignored ones."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def copy_repo(root: Path, dest: Path) -> None:
    for rel in repo_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)


def check_text(text: str, mutant: Mutant) -> str | None:
    """Why the mutant cannot be applied to `text`, or None."""
    n = text.count(mutant.old)
    if n != 1:
        return f"old text found {n} times in {mutant.file} (expected exactly once)"
    if mutant.old == mutant.new:
        return "old and new text are the same"
    return None


def pytest_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONDONTWRITEBYTECODE="1",  # no stale .pyc between a mutant and its restore
        PYTHONPATH=str(copy),  # the copy's package, not the editable install's
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


def run_pytest(
    python: str, copy: Path, tests: tuple[str, ...], timeout: float
) -> tuple[int | None, str, float]:
    """(exit code or None on timeout, pytest's last summary line, seconds)."""
    cmd = [
        python,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--basetemp={copy / '.pytest-tmp'}",
        *tests,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=copy,
        env=pytest_env(copy),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
            raise
        code = None
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    summary = next(
        (ln.strip("= ") for ln in reversed(lines) if re.search(r"\d+ (passed|failed|error)", ln)),
        lines[-1] if lines else "",
    )
    failed = next((ln for ln in lines if ln.startswith(("FAILED ", "ERROR "))), "")
    if failed:
        summary += f"; {failed[:160]}"
    return code, summary, time.perf_counter() - t0


def short(tests: tuple[str, ...]) -> str:
    return ", ".join(t.removeprefix("tests/") for t in tests)


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    head = ("mutant", "file", "tests run", "caught")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    widths[2] = min(widths[2], 70)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        tests = r[2] if len(r[2]) <= widths[2] else r[2][: widths[2] - 1] + "…"
        print(fmt.format(r[0], r[1], tests, r[3]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run this mutant (repeatable)"
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter for pytest")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per pytest run (default 600)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the unmutated run of the selection"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print pytest's summary")
    args = parser.parse_args(argv)

    names = [mu.name for mu in MUTANTS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        print(f"duplicate mutant names: {', '.join(sorted(duplicates))}", file=sys.stderr)
        return 2
    chosen = MUTANTS
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            print(f"unknown mutant(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
            return 2
        chosen = [mu for mu in MUTANTS if mu.name in args.only]

    errors = {}
    for mu in chosen:
        path = ROOT / mu.file
        why = check_text(path.read_text(), mu) if path.is_file() else f"{mu.file} not found"
        if why:
            errors[mu.name] = why

    if args.list:
        for mu in chosen:
            status = f"  ERROR: {errors[mu.name]}" if mu.name in errors else ""
            print(f"{mu.name}  [{mu.file}]{status}\n    tests: {short(mu.tests)}")
            print(f"    - {mu.old!r}\n    + {mu.new!r}")
        print(f"{len(chosen)} mutants, {len(errors)} with errors")
        return 1 if errors else 0

    def on_term(_signo, _frame):
        raise Interrupted

    signal.signal(signal.SIGTERM, on_term)
    t_start = time.perf_counter()
    copy = Path(tempfile.mkdtemp(prefix="mae-mutation-"))
    rows: list[tuple[str, str, str, str]] = []
    caught = 0
    try:
        copy_repo(ROOT, copy)
        where = subprocess.run(
            [args.python, "-c", "import mae_desktop, tests; print(mae_desktop.__file__)"],
            cwd=copy,
            env=pytest_env(copy),
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not where.startswith(str(copy)):
            print(f"the copy's package is not the one imported ({where!r})", file=sys.stderr)
            return 2
        runnable = [mu for mu in chosen if mu.name not in errors]
        if not args.no_baseline and runnable:
            selection = tuple(dict.fromkeys(t for mu in runnable for t in mu.tests))
            print(f"baseline: {len(selection)} test selections on the unmutated copy…", flush=True)
            code, summary, secs = run_pytest(args.python, copy, selection, args.timeout)
            print(f"baseline: {summary} ({secs:.0f} s)", flush=True)
            if code != 0:
                print("the tests fail without any mutant: fix that first", file=sys.stderr)
                return 2
        for i, mu in enumerate(chosen, 1):
            if mu.name in errors:
                rows.append((mu.name, mu.file, short(mu.tests), f"ERROR: {errors[mu.name]}"))
                print(f"[{i}/{len(chosen)}] {mu.name}: ERROR {errors[mu.name]}", flush=True)
                continue
            path = copy / mu.file
            original = path.read_text()
            why = check_text(original, mu)
            if why:  # the copy differs from the checkout (changed meanwhile)
                errors[mu.name] = why
                rows.append((mu.name, mu.file, short(mu.tests), f"ERROR: {why}"))
                continue
            try:
                path.write_text(original.replace(mu.old, mu.new))
                code, summary, secs = run_pytest(args.python, copy, mu.tests, args.timeout)
            finally:
                path.write_text(original)
            if code is None:
                verdict = "yes (timeout)"
            elif code in (1, 2, 3):  # tests failed / interrupted by a failure / internal error
                verdict = "yes"
            elif code == 0:
                verdict = "no"
            else:
                verdict = f"ERROR: pytest exit {code}"
                errors[mu.name] = verdict
            caught += verdict.startswith("yes")
            rows.append((mu.name, mu.file, short(mu.tests), verdict))
            detail = f" — {summary}" if args.verbose or verdict == "no" else ""
            print(f"[{i}/{len(chosen)}] {mu.name}: {verdict} ({secs:.0f} s){detail}", flush=True)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted; removing the copy", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    print()
    print_table(rows)
    total = len(chosen)
    minutes = (time.perf_counter() - t_start) / 60
    print(f"\ncaught {caught}/{total}" + (f", {len(errors)} errors" if errors else ""))
    print(f"took {minutes:.1f} min")
    return 0 if caught == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
