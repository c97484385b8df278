"""Bugs a stranger might write in reading clips (sampling, seeking, frames folders, what a
file is, memory bounds, damaged files) and in writing them; tests/engine/test_video.py must
catch each (see scripts/mutants/README.md)."""

VIDEO = "mae_desktop/engine/video.py"
EXPORT = "mae_desktop/engine/video_export.py"
T_VIDEO = "tests/engine/test_video.py"

MUTANTS = [
    # -- the sampling rule ----------------------------------------------------------------------
    (
        "video-stride-off-by-one",
        VIDEO,
        "        if k % self.stride:",
        "        if (k + 1) % self.stride:",
        (T_VIDEO,),
    ),
    (
        "video-span-check-off-by-one",
        VIDEO,
        "if info.frames_exact and start_s == 0 and info.frames < span:",
        "if info.frames_exact and start_s == 0 and info.frames <= span:",
        (T_VIDEO,),
    ),
    (
        "video-start-ignored",
        VIDEO,
        "        if t < self.start_s - tol:",
        "        if t < -tol:",
        (T_VIDEO,),
    ),
    (
        "video-never-seeks",
        VIDEO,
        'seek = start_s > 0 and info.kind == "video"',
        "seek = False",
        (T_VIDEO,),
    ),
    (
        "video-decodes-past-the-clip",
        VIDEO,
        "            if run.take(frame, t):\n                return",
        "            if run.take(frame, t) and False:\n                return",
        (T_VIDEO,),
    ),
    (
        "video-times-from-frame-count-not-timestamps",
        VIDEO,
        "if frame.pts is not None and time_base:",
        "if False:",
        (T_VIDEO,),
    ),
    (
        "video-max-side-enlarges",
        VIDEO,
        "if max_side is None or max(w, h) <= max_side:",
        "if max_side is None:",
        (T_VIDEO,),
    ),
    (
        "video-transparency-not-over-white",
        VIDEO,
        "    if _has_alpha(frame):",
        "    if False:",
        (T_VIDEO,),
    ),
    # -- frames folders -------------------------------------------------------------------------
    (
        "video-folder-plain-sort",
        VIDEO,
        "entries.sort(key=lambda e: natural_key(e.name))",
        "entries.sort(key=lambda e: e.name)",
        (T_VIDEO,),
    ),
    (
        "video-natural-key-case-sensitive",
        VIDEO,
        "int(p) if i % 2 else p.casefold()",
        "int(p) if i % 2 else p",
        (T_VIDEO,),
    ),
    (
        "video-folder-exact-count-rule-ignored",
        VIDEO,
        "    if len(images) == frames:",
        "    if False:",
        (T_VIDEO,),
    ),
    (
        "video-folder-span-off-by-one",
        VIDEO,
        "if len(images) < (frames - 1) * stride + 1:",
        "if len(images) <= (frames - 1) * stride + 1:",
        (T_VIDEO,),
    ),
    (
        "video-folder-stride-off-by-one",
        VIDEO,
        "indices = [i * stride for i in range(frames)]",
        "indices = [i * (stride + 1) for i in range(frames)]",
        (T_VIDEO,),
    ),
    # -- what a file is -------------------------------------------------------------------------
    (
        "video-extension-trusted",
        VIDEO,
        "        kind = _sniff(head)",
        '        kind = {".mp4": _MOV, ".mov": _MOV, ".webm": _MKV, ".mkv": _MKV, ".avi": _AVI,'
        ' ".gif": _GIF}.get(path.suffix.lower()) or _sniff(head)',
        (T_VIDEO,),
    ),
    (
        "video-urls-not-refused",
        VIDEO,
        'if re.match(r"^[A-Za-z][A-Za-z0-9+.\\-]+:", text):',
        "if False:",
        (T_VIDEO,),
    ),
    # -- memory bounds --------------------------------------------------------------------------
    (
        "video-memory-bound-off",
        VIDEO,
        "    if need > MAX_CLIP_BYTES:",
        "    if False:",
        (T_VIDEO,),
    ),
    (
        "video-frame-side-bound-only-without-max-side",
        VIDEO,
        "    if w > MAX_FRAME_SIDE or h > MAX_FRAME_SIDE:",
        "    if max_side is None and (w > MAX_FRAME_SIDE or h > MAX_FRAME_SIDE):",
        (T_VIDEO,),
    ),
    # -- damaged and empty files ----------------------------------------------------------------
    (
        "video-truncated-reported-as-success",
        VIDEO,
        "    if len(run.indices) < frames:",
        "    if len(run.indices) < frames and run.error is None:",
        (T_VIDEO,),
    ),
    (
        "video-truncated-without-count-reported-as-short",
        VIDEO,
        "elif info.duration_s and fps and run.last_t + 1.5 / fps < info.duration_s:",
        "elif False:",
        (T_VIDEO,),
    ),
    (
        "video-truncated-with-count-reported-as-short",
        VIDEO,
        "        if got < info.frames:",
        "        if False:",
        (T_VIDEO,),
    ),
    (
        "video-empty-file-called-damaged",
        VIDEO,
        "        except av.error.EOFError:",
        "        except ZeroDivisionError:",
        (T_VIDEO,),
    ),
    # -- export ---------------------------------------------------------------------------------
    (
        "export-odd-size-padded-black",
        EXPORT,
        'mode="edge"',
        'mode="constant"',
        (T_VIDEO,),
    ),
    (
        "export-gif-delays-truncated",
        EXPORT,
        "starts = [round(i * 100 / fps) for i in range(count + 1)]",
        "starts = [int(i * 100 / fps) for i in range(count + 1)]",
        (T_VIDEO,),
    ),
    (
        "export-mp4-not-atomic",
        EXPORT,
        '    with atomic_write(path, "video") as tmp:\n',
        '    with atomic_write(path, "video") as tmp:\n        tmp = path\n',
        (T_VIDEO,),
    ),
]
