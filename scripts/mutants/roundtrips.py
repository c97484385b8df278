"""Round trips that lose something: a session field dropped on save or on load, a hash
that misses a file or a chunk, a mask file read or written wrong. Caught by tests/property/."""

from __future__ import annotations

SESSIONS = "mae_desktop/core/sessions.py"
SESSION_FILE = "mae_desktop/session_file.py"
WORKER = "mae_desktop/core/worker.py"
CHECKPOINTS = "mae_desktop/engine/checkpoints.py"
MASKS = "mae_desktop/engine/masks.py"
T_ROUND = "tests/property/test_session_roundtrip.py"
T_HASH = "tests/property/test_hashes.py"
T_MASK = "tests/property/test_mask_files.py"

MUTANTS = [
    # -- a session loses a field ---------------------------------------------------------------
    (
        "roundtrip-display-mode-lost-on-save",
        SESSIONS,
        "        display_mode=editor.display_mode,\n",
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-display-mode-lost-on-load",
        SESSIONS,
        "    editor.set_display_mode(session.display_mode)\n",
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-display-mode-not-parsed",
        SESSION_FILE,
        '            display_mode=_choice(data.get("display_mode", "auto"), "display_mode", '
        "DISPLAY_MODES),\n",
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-display-mode-not-written",
        SESSION_FILE,
        "                **d,\n",
        '                **{k: v for k, v in d.items() if k != "display_mode"},\n',
        (T_ROUND,),
    ),
    (
        "roundtrip-resize-lost-on-save",
        SESSIONS,
        "        resize=editor.resize,\n",
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-resize-lost-on-load",
        SESSIONS,
        "    editor.resize = session.resize\n",
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-resize-not-parsed",
        SESSION_FILE,
        '            resize=_choice(data.get("resize", "stretch"), "resize", RESIZE_POLICIES),\n',
        "",
        (T_ROUND,),
    ),
    (
        "roundtrip-device-choice-lost-on-save",
        SESSIONS,
        "        device=editor.device_choice,\n",
        '        device="auto",\n',
        (T_ROUND,),
    ),
    (
        "roundtrip-head-counts-lost-on-save",
        SESSIONS,
        "        heads=dict(editor.head_overrides),\n",
        "        heads={},\n",
        (T_ROUND,),
    ),
    (
        "roundtrip-input-norm-lost-on-save",
        SESSIONS,
        "        input_norm=editor.input_norm,\n",
        "        input_norm=None,\n",
        (T_ROUND,),
    ),
    (
        "roundtrip-input-norm-not-loaded-by-the-worker",
        WORKER,
        '**s.heads, "input_norm": s.input_norm}',
        '**s.heads, "input_norm": None}',
        (T_ROUND,),
    ),
    (
        "roundtrip-image-sha256-not-saved",
        SESSIONS,
        "        image_sha256=file_sha256(editor.image_path) if editor.image_path else None,\n",
        "        image_sha256=None,\n",
        (T_ROUND,),
    ),
    (
        "roundtrip-checkpoint-sha256-not-parsed",
        SESSION_FILE,
        "            checkpoint_sha256=checkpoint_sha,\n",
        "            checkpoint_sha256=None,\n",
        (T_ROUND,),
    ),
    (
        "roundtrip-generator-seed-lost-on-load",
        SESSIONS,
        'seed=g.get("seed", 0)',
        "seed=0",
        (T_ROUND,),
    ),
    (
        "roundtrip-attention-rollout-not-parsed",
        SESSION_FILE,
        '        "rollout": rollout,\n',
        '        "rollout": False,\n',
        (T_ROUND,),
    ),
    (
        "roundtrip-attention-cell-swapped-on-load",
        SESSIONS,
        "        cell=(int(cell[0]), int(cell[1])) if cell is not None else None,\n",
        "        cell=(int(cell[1]), int(cell[0])) if cell is not None else None,\n",
        (T_ROUND,),
    ),
    (
        "roundtrip-mask-written-transposed",
        SESSION_FILE,
        "for v in row) for row in self.mask],",
        "for v in row) for row in self.mask.T],",
        (T_ROUND,),
    ),
    # -- a hash misses bytes -------------------------------------------------------------------
    (
        "roundtrip-folder-hash-first-file-only",
        SESSION_FILE,
        "    for f in sorted(files):\n",
        "    for f in sorted(files)[:1]:\n",
        (T_HASH,),
    ),
    (
        "roundtrip-folder-hash-in-given-order",
        SESSION_FILE,
        "    for f in sorted(files):\n",
        "    for f in files:\n",
        (T_HASH,),
    ),
    (
        "roundtrip-folder-hash-first-chunk-only",
        SESSION_FILE,
        '            for chunk in iter(lambda: fh.read(CHUNK), b""):\n',
        "            for chunk in [fh.read(CHUNK)]:\n",
        (T_HASH,),
    ),
    (
        "roundtrip-sha256-files-first-file-only",
        CHECKPOINTS,
        "    for f in sorted(paths):\n",
        "    for f in sorted(paths)[:1]:\n",
        (T_HASH,),
    ),
    (
        "roundtrip-sha256-files-in-given-order",
        CHECKPOINTS,
        "    for f in sorted(paths):\n",
        "    for f in paths:\n",
        (T_HASH,),
    ),
    (
        "roundtrip-folder-includes-sub-folders",
        SESSION_FILE,
        "            if not entry.is_dir():\n",
        "            if entry.is_dir():\n"
        "                found += [f for f in entry.iterdir() if f.is_file()]\n"
        "            else:\n",
        (T_HASH,),
    ),
    # -- a mask file is read or written wrong --------------------------------------------------
    (
        "roundtrip-mask-tie-counts-as-masked",
        MASKS,
        "    return values.reshape(gh, p, gw, p).mean(axis=(1, 3)) > 0.5\n",
        "    return values.reshape(gh, p, gw, p).mean(axis=(1, 3)) >= 0.5\n",
        (T_MASK,),
    ),
    (
        "roundtrip-mask-unequal-patches-accepted",
        MASKS,
        "    if h % gh or w % gw or h // gh != w // gw:\n",
        "    if h % gh or w % gw:\n",
        (T_MASK,),
    ),
    (
        "roundtrip-mask-png-ignores-patch",
        MASKS,
        "            if patch:\n                img = upsample_grid(img, patch)\n",
        "",
        (T_MASK,),
    ),
    (
        "roundtrip-mask-png-black-is-masked",
        MASKS,
        "        img = mask.astype(np.uint8) * 255\n",
        "        img = (~mask.astype(bool)).astype(np.uint8) * 255\n",
        (T_MASK,),
    ),
    (
        "roundtrip-mask-npy-suffix-case",
        MASKS,
        "            np.save(fh, mask.astype(bool))\n",
        "            pass\n        np.save(path, mask.astype(bool))\n",
        (T_MASK,),
    ),
]
