"""Nothing silent, nothing half-done: the reasons and guards of the hostile-input work."""

T_REASONS = "tests/cli/test_error_reasons.py"
T_FINITE = "tests/cli/test_non_finite.py"
T_DECODERS = "tests/engine/test_decoders.py"
T_MEMORY = "tests/engine/test_memory_bound.py"
T_KEYS = "tests/engine/test_download_keys.py"
T_WRITES = "tests/engine/test_safe_writes.py"
T_DIRS = "tests/cli/test_cli_surprises.py"

MUTANTS = [
    (
        "precision-cache-opens-a-fifo",
        "mae_desktop/engine/precision.py",
        "        if not stat.S_ISREG(info.st_mode) or info.st_size > CACHE_MAX_BYTES:\n"
        "            return {}\n"
        '        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))\n'
        '        with os.fdopen(fd, "rb") as fh:\n'
        '            data = json.loads(fh.read(CACHE_MAX_BYTES + 1).decode("utf-8"))',
        '        data = json.loads(path.read_text(encoding="utf-8"))  # the old way',

        (T_REASONS + "::test_a_fifo_as_the_precision_cache_does_not_block_auto",),
    ),
    (
        "json-depth-unchecked",
        "mae_desktop/engine/jsonfile.py",
        "    if found > MAX_DEPTH:",
        "    if found > 10 * MAX_DEPTH:",
        (T_REASONS,),
    ),
    (
        "float8-weights-let-through",
        "mae_desktop/engine/validate.py",
        "        if t.is_floating_point() and t.dtype not in WEIGHT_DTYPES:",
        "        if False:",
        (T_REASONS,),
    ),
    (
        "checkpoint-link-loop-not-found",
        "mae_desktop/engine/checkpoints.py",
        "        os.stat(path)  # unlike exists(), tells a link loop or a refusal from a "
        "missing file",
        "        if not path.exists():\n            raise FileNotFoundError(path)",
        (T_REASONS,),
    ),
    (
        "session-bom-refused",
        "mae_desktop/session_file.py",
        "        raw = raw[len(codecs.BOM_UTF8) :]",
        "        pass",
        (T_REASONS,),
    ),
    (
        "non-finite-output-let-through",
        "mae_desktop/engine/session.py",
        "        if not bad:\n            return",
        "        return",
        (T_FINITE,),
    ),
    (
        "std-floor-off",
        "mae_desktop/engine/config.py",
        "s32.min(initial=1) >= lo",
        "s32.min(initial=1) > 0",
        (T_FINITE,),
    ),
    (
        "pillow-tries-every-plugin",
        "mae_desktop/engine/images.py",
        "            with Image.open(path, formats=TRUSTED_FORMATS) as im:",
        "            with Image.open(path) as im:",
        (T_DECODERS,),
    ),
    (
        "grey16-full-size-float64",
        "mae_desktop/engine/images.py",
        "    for r in range(0, arr.shape[0], ROWS_AT_ONCE):",
        "    for r in range(0, arr.shape[0], max(ROWS_AT_ONCE, arr.shape[0])):",
        (T_DECODERS,),
    ),
    (
        "memory-bound-not-checked",
        "mae_desktop/engine/memory.py",
        "    if need <= budget:\n        return",
        "    if True:\n        return",
        (T_MEMORY,),
    ),
    (
        "memory-maps-per-layer-forgotten",
        "mae_desktop/engine/memory.py",
        "    kept = layers * heads * tokens * tokens * FLOAT",
        "    kept = heads * tokens * tokens * FLOAT",
        (T_MEMORY,),
    ),
    (
        "download-cache-keyed-on-the-file-name",
        "mae_desktop/engine/fetch.py",
        "        if recorded == url:\n            return candidate, candidate.is_file()",
        "        if candidate.is_file():\n            return candidate, True",
        (T_KEYS,),
    ),
    (
        "trickle-never-given-up",
        "mae_desktop/engine/download.py",
        "                    if rate < MIN_RATE_BPS:",
        "                    if rate < 0:",
        (T_KEYS,),
    ),
    (
        "stall-never-given-up",
        "mae_desktop/engine/download.py",
        "                if silent > STALL_S:  # a server that accepts and never answers",
        "                if False:",
        (T_KEYS,),
    ),
    (
        "atomic-write-in-place",
        "mae_desktop/engine/files.py",
        '    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")',
        "    tmp = path",
        (T_WRITES,),
    ),
    (
        "dot-dot-stem-kept",
        "mae_desktop/engine/files.py",
        '    cleaned = cleaned.strip(" .")',
        '    cleaned = cleaned.strip(" ")',
        (T_WRITES, T_DIRS),
    ),
]

MUTANTS += [
    (
        "save-png-in-place",
        "mae_desktop/engine/images.py",
        '    with atomic_write(path, "image") as tmp:\n        Image.fromarray(to_uint8(image))',
        '    with atomic_write(path, "image") as _tmp:\n        tmp = path\n'
        "        Image.fromarray(to_uint8(image))",
        ("tests/cli/test_full_disk.py",),
    ),
    (
        "metrics-json-in-place",
        "mae_desktop/cli/reconstruct.py",
        '        write_bytes(folder / "metrics.json", '
        '(strict_json(metrics, indent=2) + "\\n").encode())',
        '        (folder / "metrics.json").write_bytes('
        '(strict_json(metrics, indent=2) + "\\n").encode())',
        ("tests/cli/test_full_disk.py",),
    ),
]

MUTANTS += [
    (
        "image-decoded-on-the-gui-thread",
        "mae_desktop/app/files.py",
        "        self.decoder.decode(str(path), self._image_decoded)",
        "        self._image_decoded(str(path), read_image(path))",
        ("tests/app/test_decoder.py",),
    ),
    (
        "decoder-older-image-shown",
        "mae_desktop/app/decoder.py",
        "            newest = serial == self._serial and not self._closed",
        "            newest = not self._closed",
        ("tests/app/test_decoder.py",),
    ),
]
