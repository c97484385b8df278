"""Session files <-> the editor state (Qt-free).

Opening a session is whole or nothing (see `core.live.LiveController.open_session`):
the file is validated field by field (`session_file.parse_session`); on the lane its image
and checkpoint are looked at and hashed (`session_file.check_files`), then the image is
read and the checkpoint loaded, and the session checked against that model
(`check_against_model`) before the model replaces the current one; only then does
`apply_session` change the editor, which nothing can refuse any more.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PIL import Image

from ..engine.config import MAEConfig
from ..engine.errors import MAEError
from ..engine.images import read_image
from ..engine.reconstruction import resolve_mode
from ..session_file import Session, file_sha256, parse_session, regular_file
from .editor import EditorState


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


def validated(session: Session) -> Session:
    """The session as a session file would give it back: every field checked (MAEError
    naming the first bad one) and in its canonical form."""
    return parse_session(json.loads(session.to_json()))


def check_against_model(session: Session, grid: tuple[int, int], config: MAEConfig | None) -> None:
    """What can only be checked against the model the session will have: the mask's grid,
    the picked patch, the display mode, the attention part. Raises MAEError naming the
    field."""
    rows, cols = session.mask.shape
    if (rows, cols) != tuple(grid):
        raise MAEError(
            f"the session's mask is {cols}x{rows} patches, but its model's grid is "
            f"{grid[1]}x{grid[0]}"
        )
    cell = session.attention.get("cell")
    if cell is not None and not (0 <= cell[0] < grid[0] and 0 <= cell[1] < grid[1]):
        raise MAEError(
            f"the session's attention.cell {list(cell)} is outside the model's "
            f"{grid[1]}x{grid[0]} grid"
        )
    if config is None:
        return
    if session.attention.get("part") == "decoder" and not config.has_decoder:
        raise MAEError("the session's attention.part is decoder, but its model has no decoder")
    if config.has_decoder:
        try:
            resolve_mode(session.display_mode, bool(config.norm_pix_loss))
        except MAEError as exc:
            raise MAEError(f"the session's display_mode: {exc}") from None


def read_source(session: Session) -> Image.Image:
    """The session's image, read (on the lane: never the GUI thread); a regular file
    only."""
    path = session.image_path
    assert path is not None
    try:
        regular_file(path, "the session's image")
    except FileNotFoundError:
        raise MAEError(f"the session's image is missing: {path}") from None
    try:
        return read_image(path)
    except (OSError, ValueError) as exc:
        raise MAEError(f"cannot read the session's image {path}: {exc}") from exc


def check_checkpoint(path: str) -> None:
    """The session's checkpoint is a regular file or a folder of regular files (checked
    before the lane opens anything in it); MAEError otherwise."""
    try:
        regular_file(path, "the session's checkpoint", folder=True)
    except FileNotFoundError:
        raise MAEError(f"the session's checkpoint is missing: {path}") from None


def apply_session(
    editor: EditorState,
    session: Session,
    source: Image.Image | None,
    info: dict[str, Any] | None = None,
    device: str | None = None,
    overrides: dict[str, int | None] | None = None,
) -> None:
    """Put a (validated) session into the editor: the model `info` the worker just loaded
    for it (None: the model stays), its options, `source` (None: the image stays) and its
    mask. Without a new model the session is first checked against the editor's. Applied
    as one transaction: views see only the final state, and any failure (MAEError or not)
    puts every field back and announces nothing."""
    with editor.transaction():
        _apply(editor, session, source, info, device, overrides)


def _apply(
    editor: EditorState,
    session: Session,
    source: Image.Image | None,
    info: dict[str, Any] | None,
    device: str | None,
    overrides: dict[str, int | None] | None,
) -> None:
    if info is None:
        check_against_model(session, editor.grid, editor.config)
    else:
        editor.set_model(info, device, overrides)
        check_against_model(session, editor.grid, editor.config)
    g = session.generator
    editor.set_generator(
        mode=g.get("mode", "random"), ratio=float(g.get("ratio", 0.75)), seed=g.get("seed", 0)
    )
    editor.set_display_mode(session.display_mode)
    a = session.attention
    cell = a.get("cell")
    editor.set_attention(
        part=a.get("part", "encoder"),
        layer=a.get("layer", -1),
        head=a.get("head", "mean"),
        query=a.get("query", "cls"),
        cell=(int(cell[0]), int(cell[1])) if cell is not None else None,
        rollout=bool(a.get("rollout", False)),
    )
    editor.resize = session.resize
    if source is not None:
        editor.set_source(source, session.image_path)
    else:
        editor.refit()
    editor.reset_mask(session.mask)
