"""Session files are checked whole before anything changes: every field (types and ranges),
the files they name (regular files only, never opened otherwise; sha256), the device (a
stated fallback), the mask against the model's grid. Without Qt."""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import queue
import threading
from pathlib import Path

import numpy as np
import pytest

from mae_desktop import session_file
from mae_desktop.core.editor import QUERY_MODES, EditorState
from mae_desktop.core.live import LiveController
from mae_desktop.core.sessions import session_from_editor
from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.images import read_image
from mae_desktop.session_file import (
    Session,
    check_files,
    file_sha256,
    load_session,
    parse_session,
    read_session,
    save_session,
    session_device,
)

DEV_ZERO = Path("/dev/zero")
SPECIAL = r"is a (pipe|character device).* not an ordinary file"  # the kind is named
needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")


@pytest.fixture(autouse=True)
def _no_hangs():
    """A regression that blocks on a pipe or /dev/zero fails the run instead of hanging it."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def fifo(tmp_path):
    """A named pipe nobody writes to (opening it to read would block forever); from 20 s
    on, readers blocked on it get EOF (so a regression fails instead of hanging)."""
    path = tmp_path / "pipe.png"
    os.mkfifo(path)

    stop = threading.Event()

    def unblock() -> None:  # from the deadline on, every reader blocked on it gets EOF
        if stop.wait(20):
            return
        while not stop.wait(0.2):
            with contextlib.suppress(OSError):  # nobody is reading
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock, daemon=True).start()
    yield path
    stop.set()


def saved(tmp_path: Path, **fields) -> dict:
    """A complete, valid session file's JSON with `fields` replaced (None deletes)."""
    data = json.loads(Session(None, None, np.zeros((4, 4), bool)).to_json())
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


# -- fields ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("mask", ["012", "110"], "mask"),
        ("mask", "1111", "mask"),
        ("mask", ["1" * 2000] * 2, "mask"),
        ("resize", "bogus", "resize"),
        ("display_mode", "sharpest", "display_mode"),
        ("dtype", "fp8", "dtype"),
        ("device", "gpu7", "device"),
        ("device", 0, "device"),
        ("generator", {"seed": 2**40}, "generator.seed"),
        ("generator", {"seed": -1}, "generator.seed"),
        ("generator", {"seed": 1.5}, "generator.seed"),
        ("generator", {"ratio": "abc"}, "generator.ratio"),
        ("generator", {"ratio": 1.5}, "generator.ratio"),
        ("generator", {"ratio": True}, "generator.ratio"),
        ("generator", {"mode": "spiral"}, "generator.mode"),
        ("generator", [1, 2], "generator"),
        ("attention", {"part": "middle"}, "attention.part"),
        ("attention", {"head": "loudest"}, "attention.head"),
        ("attention", {"head": -2}, "attention.head"),
        ("attention", {"layer": "last"}, "attention.layer"),
        ("attention", {"query": "patch"}, "attention.cell"),
        ("attention", {"query": "patch", "cell": [1, "x"]}, "attention.cell"),
        ("attention", {"rollout": "yes"}, "attention.rollout"),
        ("attention", {"opacity": 7}, "attention.opacity"),
        ("heads", {"heads": 0}, "heads.heads"),
        ("heads", {"decoder_heads": "4"}, "heads.decoder_heads"),
        ("input_norm", "0:0", "input_norm"),
        ("input_norm", 3, "input_norm"),
        ("image", {"path": 5}, "image.path"),
        ("image", {"path": "a\u0000b"}, "image.path"),
        ("checkpoint", {"path": "m.pth", "sha256": "xyz"}, "checkpoint.sha256"),
    ],
)
def test_every_field_is_checked_and_named(tmp_path, field, value, named):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(saved(tmp_path, **{field: value})))
    with pytest.raises(MAEError, match="damaged") as err:
        read_session(path)
    assert named in str(err.value)


def test_files_from_earlier_versions_open_with_defaults(tmp_path):
    data = saved(tmp_path)
    for key in ("generator", "device", "dtype", "display_mode", "resize", "attention", "heads"):
        del data[key]
    del data["input_norm"]
    data["attention"] = {"head": "head 3", "query": [1, 2]}  # the first release's spelling
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    s = read_session(path)
    assert (s.device, s.dtype, s.display_mode, s.resize) == ("auto", "fp32", "auto", "stretch")
    assert s.generator == {"mode": "random", "ratio": 0.75, "seed": 0}
    assert s.attention["head"] == 3 and s.attention["query"] == "patch"
    assert s.attention["cell"] == [1, 2] and s.input_norm is None
    assert s.heads == {"heads": None, "decoder_heads": None}
    assert load_session(path)[1] == []  # no files named: nothing to check
    assert session_file.QUERY_MODES == QUERY_MODES


def test_the_largest_valid_values_pass(tmp_path):
    data = saved(tmp_path, generator={"mode": "block", "ratio": 1, "seed": 2**31 - 1})
    assert parse_session(data).generator == {"mode": "block", "ratio": 1.0, "seed": 2**31 - 1}


def test_not_a_session(tmp_path):
    for text, message in [
        ("[]", "not an MAE Desktop session"),
        ('{"format": "mae-desktop-session", "version": 7}', "version 7"),
        ("{", "session s.json is not valid JSON"),
        ('{"format": "mae-desktop-session", "version": 1}', "damaged"),
    ]:
        (tmp_path / "s.json").write_text(text)
        with pytest.raises(MAEError, match=message):
            read_session(tmp_path / "s.json")
    with pytest.raises(MAEError, match="not found"):
        read_session(tmp_path / "none.json")


@needs_posix
def test_a_session_file_that_is_a_device_or_a_pipe_is_never_read(fifo, tmp_path):
    for path in (DEV_ZERO, fifo):
        with pytest.raises(MAEError, match=SPECIAL):
            read_session(path)
    with pytest.raises(MAEError, match="got a folder"):
        read_session(tmp_path)


# -- the files a session names ------------------------------------------------------------------
@needs_posix
@pytest.mark.parametrize("what", ["image", "checkpoint"])
def test_special_files_are_refused_unopened(fifo, tmp_path, what):
    for path in (DEV_ZERO, fifo):
        kwargs = {"image_path": None, "checkpoint_path": None, "mask": np.zeros((4, 4), bool)}
        kwargs |= {f"{what}_path": str(path), f"{what}_sha256": "0" * 64}
        session = Session(**kwargs)
        with pytest.raises(MAEError, match=SPECIAL):
            check_files(session)
        assert file_sha256(path) is None  # the helper never opens it either


@needs_posix
def test_a_checkpoint_folder_holding_a_pipe_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    os.mkfifo(folder / "model.safetensors")
    session = Session(None, str(folder), np.zeros((4, 4), bool), checkpoint_sha256="0" * 64)
    with pytest.raises(MAEError, match="folder model: the file .*model.safetensors is a pipe"):
        check_files(session)


def test_missing_and_changed_files_are_problems_to_ask_about(tmp_path, photo, hf_pair):
    digest = file_sha256(photo)
    assert digest == session_file.sha256_of([photo])
    session = Session(
        str(photo),
        str(hf_pair[1]),
        np.zeros((4, 4), bool),
        image_sha256=digest,
        checkpoint_sha256=file_sha256(hf_pair[1]),
    )
    check = check_files(session)
    assert check.problems == () and check.checkpoint_sha256 == session.checkpoint_sha256
    photo.write_bytes(photo.read_bytes() + b"\0")
    session.checkpoint_sha256 = "1" * 64
    check = check_files(session)
    assert len(check.problems) == 2 and not check.image_missing
    assert "photo.png is not the file the session was saved with" in check.problems[0]
    assert "vitmae is not the file" in check.problems[1]
    photo.unlink()
    check = check_files(session)
    assert check.image_missing and "image is missing" in check.problems[0]


def test_hashing_can_be_stopped_between_chunks(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 * session_file.CHUNK + 5))
    calls = []

    def between():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        session_file.sha256_of([big], between)
    assert len(calls) == 2


# -- the device ---------------------------------------------------------------------------------
def test_a_device_this_machine_lacks_falls_back_and_says_so(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("mae_desktop.engine.device._mps_available", lambda: False)
    device, dtype, note = session_device("cuda:0", "fp16")
    assert (device, dtype) == ("auto", "fp32")
    assert note == (
        "the session was saved on cuda:0; this machine has no CUDA: using the CPU; "
        "fp16 is not available on the CPU: using fp32"
    )
    assert session_device("mps", "fp32")[2].startswith("the session was saved on mps; this ")
    assert session_device("cpu", "bf16") == ("cpu", "bf16", None)
    assert session_device("auto", "fp32") == ("auto", "fp32", None)


# -- the whole operation, without Qt ------------------------------------------------------------
class Live:
    def __init__(self) -> None:
        self.editor = EditorState()
        self.items: queue.Queue = queue.Queue()
        self.ctl = LiveController(self.editor, self.items.put)
        self.errors: list[str] = []
        self.notices: list[str] = []
        self.ctl.error.connect(self.errors.append)
        self.ctl.notice.connect(self.notices.append)

    def settle(self, timeout: float = 30.0) -> None:
        while self.ctl.busy:
            self.ctl.handle(self.items.get(timeout=timeout))

    def state(self) -> tuple:
        e = self.editor
        return (
            e.image_id,
            e.image_path,
            e.mask.tobytes(),
            e.history.can_undo,
            e.generator,
            e.attention,
            e.display_mode,
            e.resize,
            e.model and e.model["path"],
            e.generation,
            e.device_choice,
            self.ctl.lane.worker.generation,
        )


@pytest.fixture
def live(hf_pair, photo):
    lv = Live()
    lv.ctl.open_model(str(hf_pair[1]))
    lv.editor.set_source(read_image(photo), str(photo))
    lv.settle()
    yield lv
    lv.ctl.close()


@pytest.fixture(scope="module")
def fine_grid_model(tmp_path_factory):
    """A model with patch 8: an 8x8 grid where the main test model has 4x4."""
    from tests.helpers import hf_model

    folder = tmp_path_factory.mktemp("hf8") / "vitmae8"
    hf_model(seed=1, patch_size=8).save_pretrained(folder)
    return folder


def test_a_mask_for_another_models_grid_is_refused_before_that_model_replaces_this_one(
    live, fine_grid_model
):
    session = session_from_editor(live.editor)  # a 4x4 mask
    session.checkpoint_path, session.checkpoint_sha256 = str(fine_grid_model), None
    before = live.state()
    live.ctl.open_session(session)
    live.settle()
    assert live.errors[-1].startswith("cannot open the session: the session's mask is 4x4")
    assert "grid is 8x8" in live.errors[-1]
    assert live.state() == before
    assert live.ctl.lane.worker.session.config.grid_size == (4, 4)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"display_mode": "estimate"}, "display_mode"),
        ({"attention": {"query": "patch", "cell": [7, 7]}}, "attention.cell"),
    ],
)
def test_what_only_the_model_can_refuse_changes_nothing(live, tmp_path, change, named):
    save_session(tmp_path / "s.json", session_from_editor(live.editor))
    data = json.loads((tmp_path / "s.json").read_text())
    data.update(change)
    data["generator"]["seed"] = 77
    before = live.state()
    live.ctl.open_session(parse_session(data))
    live.settle()
    assert named in live.errors[-1] and live.state() == before


def test_a_gpu_session_on_this_machine_falls_back_and_says_so(live, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    session = session_from_editor(live.editor)
    session.device, session.dtype = "cuda:0", "fp16"
    live.ctl.open_session(session)
    live.settle()
    assert not live.errors
    assert live.notices[-1].startswith("the session was saved on cuda:0; this machine has no")
    assert live.editor.device_choice == "auto" and live.editor.model["dtype"] == "fp32"


def test_changed_files_ask_and_the_answer_decides(live, photo):
    live.editor.set_generator(seed=5)
    session = session_from_editor(live.editor)
    live.editor.set_generator(seed=6)
    from PIL import Image

    Image.new("RGB", (64, 64), (10, 200, 30)).save(photo)  # the same path, another image
    before = live.state()
    asked = []
    live.ctl.open_session(session, lambda message, answer: answer(asked.append(message) or False))
    live.settle()
    assert "photo.png is not the file the session was saved with" in asked[0]
    assert live.state() == before and not live.errors
    live.ctl.open_session(session, lambda message, answer: answer(True))
    live.settle()
    assert live.editor.generator.seed == 5 and live.editor.image_id != before[0]
    assert np.allclose(live.editor.image[0, 0], (10 / 255, 200 / 255, 30 / 255))
    live.ctl.open_session(session)  # nobody to ask: refused
    live.settle()
    assert "photo.png is not the file" in live.errors[-1]
