"""The user's input normalisation: the worker reloads with it (keeping the head counts), the
editor knows it, session files keep it (and read files written before it existed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mae_desktop.core.editor import EditorState
from mae_desktop.core.requests import OpenModel, SetHeads, SetInputNorm
from mae_desktop.core.sessions import session_from_editor
from mae_desktop.core.worker import Worker
from mae_desktop.engine import MAEError
from mae_desktop.engine.config import IMAGENET_MEAN, input_norm_spec, parse_input_norm
from mae_desktop.session_file import Session, load_session, save_session
from tests.helpers import hf_to_official


def test_the_worker_reloads_with_it_and_keeps_the_head_counts(hf_pair, tmp_path):
    path = tmp_path / "official.pth"  # a format that does not store its head counts
    torch.save({"model": hf_to_official(hf_pair[0].state_dict())}, path)
    worker = Worker(threads=1)
    loaded = worker.execute(OpenModel(str(path), heads=2))
    assert loaded.info["input_norm"] is None and loaded.info["heads"] == 2
    loaded = worker.execute(SetInputNorm("none"))
    assert loaded.info["input_norm"] == "none" and loaded.info["heads"] == 2
    assert worker.session.config.raw_pixels and loaded.generation == 2
    loaded = worker.execute(SetHeads(4, None))  # the normalisation stays
    assert loaded.info["input_norm"] == "none" and loaded.info["heads"] == 4
    with pytest.raises(MAEError, match="std must be positive"):
        worker.execute(SetInputNorm("0.5:0"))
    assert worker.session.info()["input_norm"] == "none"  # a refused change keeps the model
    loaded = worker.execute(SetInputNorm(None))
    assert loaded.info["input_norm"] is None and worker.session.config.mean == IMAGENET_MEAN


def test_the_editor_follows_the_model_and_sessions_keep_it(hf_pair, tmp_path):
    worker = Worker(threads=1)
    editor = EditorState()
    editor.set_model(worker.execute(OpenModel(str(hf_pair[1]), input_norm="0.5:0.25")).info)
    assert editor.input_norm == "0.5:0.25" and editor.config.mean == (0.5,) * 3
    assert editor.config.pad_rgb == (0.5,) * 3
    save_session(tmp_path / "s.json", session_from_editor(editor))
    assert json.loads((tmp_path / "s.json").read_text())["input_norm"] == "0.5:0.25"
    session, _ = load_session(tmp_path / "s.json")
    assert session.input_norm == "0.5:0.25"


def test_session_files_without_it_or_with_a_bad_one(tmp_path):
    path = tmp_path / "old.json"
    save_session(path, Session(None, None, np.zeros((2, 2), bool)))
    data = json.loads(path.read_text())
    del data["input_norm"]  # written before the setting existed
    path.write_text(json.dumps(data))
    assert load_session(path)[0].input_norm is None
    for bad in ("0:0", 3, "imagenet2"):
        path.write_text(json.dumps({**data, "input_norm": bad}))
        with pytest.raises(MAEError, match="damaged"):
            load_session(path)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("None", "none"),
        ("IMAGENET", "imagenet"),
        ("0.485,0.456,0.406:0.229,0.224,0.225", "imagenet"),
        ("0.5:0.25", "0.5:0.25"),
        ("0.5,0.5,0.5:1,2,3", "0.5:1,2,3"),
        (" 0 : 1 ", "none"),
    ],
)
def test_spellings(text, spec):
    assert input_norm_spec(*parse_input_norm(text)) == spec


@pytest.mark.parametrize("text", ["", "0.5", "1:2:3", "a:1", "1,2:1", "0.5:-1", "nan:1"])
def test_bad_spellings(text):
    with pytest.raises(ValueError, match="input normalisation"):
        parse_input_norm(text)
