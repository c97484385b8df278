"""Session files <-> the editor state (Qt-free)."""

from __future__ import annotations

import dataclasses
from typing import Any

from PIL import Image

from ..engine import masks as masks_mod
from ..engine.images import RESIZE_POLICIES
from ..engine.reconstruction import MODES
from ..session_file import Session, file_sha256
from .editor import QUERY_MODES, AttentionOptions, EditorState, GeneratorSettings


def session_from_editor(editor: EditorState) -> Session:
    """What a session file keeps of the editor: files (with sha256), mask, generator,
    device choice and precision, display, resize, attention options, head counts, input
    normalisation."""
    model = editor.model or {}
    attention = dataclasses.asdict(editor.attention)
    attention["cell"] = list(editor.attention.cell) if editor.attention.cell else None
    return Session(
        image_path=editor.image_path,
        checkpoint_path=model.get("path"),
        mask=editor.mask.copy(),
        image_sha256=file_sha256(editor.image_path) if editor.image_path else None,
        checkpoint_sha256=model.get("sha256"),
        generator=dataclasses.asdict(editor.generator),
        device=editor.device_choice,
        dtype=str(model.get("dtype", "fp32")),
        display_mode=editor.display_mode,
        resize=editor.resize,
        attention=attention,
        heads=dict(editor.head_overrides),
        input_norm=editor.input_norm,
    )


def _generator(d: dict[str, Any]) -> GeneratorSettings:
    mode = str(d.get("mode", "random"))
    ratio = float(d.get("ratio", 0.75))
    seed = int(d.get("seed", 0))
    if mode not in masks_mod.MASK_MODES or not 0.0 <= ratio <= 1.0 or seed < 0:
        return GeneratorSettings()
    return GeneratorSettings(mode, ratio, seed)


def _attention(d: dict[str, Any]) -> AttentionOptions:
    """Attention options from a session (also the first release's {"head": "head 3",
    "query": [r, c]} spelling); unknown values fall back to the defaults."""
    base = AttentionOptions()
    part = d.get("part") if d.get("part") in ("encoder", "decoder") else base.part
    head = d.get("head", base.head)
    if isinstance(head, str) and head.startswith("head "):
        head = int(head[5:]) if head[5:].isdigit() else base.head
    if not (head in ("mean", "max") or (isinstance(head, int) and head >= 0)):
        head = base.head
    query, cell = d.get("query", "cls"), d.get("cell")
    if isinstance(query, list):  # the first release stored the picked patch here
        query, cell = "patch", query
    if query not in QUERY_MODES:
        query = "cls"
    if not (isinstance(cell, list) and len(cell) == 2 and all(isinstance(v, int) for v in cell)):
        cell = None
    layer = d.get("layer", -1)
    return dataclasses.replace(
        base,
        part=part,
        layer=layer if isinstance(layer, int) else -1,
        head=head,
        query=query if (query != "patch" or cell) else "cls",
        cell=tuple(cell) if cell else None,
        rollout=bool(d.get("rollout", base.rollout)),
    )


def apply_session(editor: EditorState, session: Session, source: Image.Image | None) -> list[str]:
    """Put a session into the editor (the model it names is already loaded). Returns
    warnings for what could not be applied."""
    warnings = []
    editor.set_generator(**dataclasses.asdict(_generator(session.generator)))
    editor.set_display_mode(session.display_mode if session.display_mode in MODES else "auto")
    editor.set_attention(**dataclasses.asdict(_attention(session.attention)))
    if session.resize in RESIZE_POLICIES:
        editor.resize = session.resize
    if source is not None:
        editor.set_source(source, session.image_path)
    else:
        editor.refit()
    if session.mask.shape == editor.grid:
        editor.reset_mask(session.mask)
    else:
        warnings.append(
            f"the session's mask is {session.mask.shape[1]}x{session.mask.shape[0]}, the "
            f"model's grid {editor.grid[1]}x{editor.grid[0]}: a new mask was generated"
        )
    return warnings
