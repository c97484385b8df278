"""`mae-desktop FILE...` (a file manager's "Open with", the desktop entry's %F): which words
are files, what each file is, what the app opens of them, the usage errors, and the desktop
entry and the file types that send those files to the app. Qt-free: the window's side is in
tests/app/test_open_files.py."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_desktop import cli
from mae_desktop.cli.parser import COMMANDS, build_parser, parse_command_line
from mae_desktop.core.launch_files import (
    CHECKPOINT,
    IMAGE,
    NOT_ORDINARY,
    SESSION,
    UNKNOWN_KIND,
    LaunchConflict,
    kind_of,
    looks_like_path,
    plan_launch,
)
from mae_desktop.session_file import Session, save_session

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "mae_desktop" / "resources" / "samples"
DESKTOP = ROOT / "resources" / "mae-desktop.desktop"
MIME_XML = ROOT / "resources" / "mae-desktop-mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """One file of each kind the app opens, and some it does not."""
    f = {}
    f["image"] = tmp_path / "coffee.png"
    shutil.copy(SAMPLES / "coffee.png", f["image"])
    f["jpeg_upper"] = tmp_path / "ROCKET.JPG"
    shutil.copy(SAMPLES / "rocket.jpg", f["jpeg_upper"])
    f["image_no_suffix"] = tmp_path / "scan"  # a PNG without an extension
    shutil.copy(SAMPLES / "chelsea.png", f["image_no_suffix"])
    f["pth"] = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(2)}, f["pth"])
    f["torch_no_suffix"] = tmp_path / "weights"
    torch.save({"w": torch.zeros(2)}, f["torch_no_suffix"])
    f["safetensors"] = tmp_path / "default.safetensors"
    shutil.copy(ROOT / "models" / "default.safetensors", f["safetensors"])
    f["hf_folder"] = tmp_path / "vitmae"
    f["hf_folder"].mkdir()
    (f["hf_folder"] / "config.json").write_text('{"model_type": "vit_mae"}')
    f["session"] = tmp_path / "work.json"
    save_session(f["session"], Session(str(f["image"]), str(f["pth"]), np.zeros((14, 14), bool)))
    f["other_json"] = tmp_path / "package.json"
    f["other_json"].write_text('{"name": "x", "format": "something else"}')
    f["text"] = tmp_path / "notes.txt"
    f["text"].write_text("hello")
    f["folder"] = tmp_path / "holiday"
    f["folder"].mkdir()
    f["missing"] = tmp_path / "gone.png"
    return f


# -- the command line -----------------------------------------------------------------------------
def test_the_commands_list_is_the_parsers():
    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert tuple(subs[0].choices) == COMMANDS


def test_plain_files_open_in_the_app_with_options_in_any_order():
    args = parse_command_line(
        ["--checkpoint", "m.pth", "a.png", "--screenshot", "o.png", "b/c", "--debug"]
    )
    assert args.files == ["a.png", "b/c"]
    assert args.app_checkpoint == "m.pth" and args.screenshot == "o.png" and args.debug
    assert getattr(args, "command", None) is None and not hasattr(args, "func")
    assert parse_command_line([]).files == []  # no file: the app as before


def test_commands_keep_priority_over_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "info").write_text("a file named like a command")
    args = parse_command_line(["info", "x.pth", "--json"])
    assert args.command == "info" and args.checkpoint == "x.pth" and args.json
    assert args.func is cli.parser.cmd_info


def test_a_mistyped_command_is_a_usage_error_unless_it_is_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(["reconstrct", "a.png"])
    assert exc.value.code == 2
    assert "invalid choice: 'reconstrct'" in capsys.readouterr().err
    (tmp_path / "reconstrct").write_text("")  # now it is a file (of no known kind)
    assert parse_command_line(["reconstrct"]).files == ["reconstrct"]


def test_an_unknown_option_after_files_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["a.png", "--json"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "FILE" in err and "unrecognized arguments: --json" in err


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("photo.jpg", True),
        ("photos/cat", True),
        ("./x", True),
        ("file:///home/me/a%20b.png", True),
        ("reconstrct", False),
        ("evaluat", False),
        ("", False),
    ],
)
def test_which_words_are_paths(word, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert looks_like_path(word) is expected


def test_help_mentions_files(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "COMMAND | FILE" in capsys.readouterr().out


# -- what each file is ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("image", IMAGE),
        ("jpeg_upper", IMAGE),
        ("image_no_suffix", IMAGE),
        ("pth", CHECKPOINT),
        ("torch_no_suffix", CHECKPOINT),
        ("safetensors", CHECKPOINT),
        ("hf_folder", CHECKPOINT),
        ("session", SESSION),
    ],
)
def test_files_are_told_by_what_they_are(files, name, kind):
    found = kind_of(str(files[name]))
    assert (found.kind, found.problem) == (kind, "")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing", "no such file or folder"),
        ("text", UNKNOWN_KIND),
        ("other_json", "a JSON file, but not an MAE Desktop session"),
        ("folder", "a folder, but not a Hugging Face model folder (no config.json)"),
    ],
)
def test_files_of_no_known_kind_say_why(files, name, reason):
    found = kind_of(str(files[name]))
    assert found.kind is None and found.problem == reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_never_opened(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)  # opening it to read would block this test forever
    found = kind_of(str(fifo))
    assert found.kind is None and found.problem == NOT_ORDINARY


def test_file_urls_are_local_paths(files):
    url = "file://" + str(files["image"]).replace(" ", "%20")
    assert kind_of(url).path == str(files["image"]) and kind_of(url).kind == IMAGE


# -- what opens --------------------------------------------------------------------------------
def test_one_of_each_kind_opens_and_the_rest_is_counted(files, tmp_path):
    other = tmp_path / "other.png"
    shutil.copy(files["image"], other)
    plan = plan_launch([files["image"], files["pth"], other, files["jpeg_upper"]])
    assert (plan.image, plan.checkpoint, plan.session) == (
        str(files["image"]),
        str(files["pth"]),
        None,
    )
    assert plan.left_out == (str(other), str(files["jpeg_upper"]))
    assert plan.note.startswith("2 other images not opened: the window shows one image")
    assert plan.problems == ()


def test_a_session_opens_its_own_image_and_checkpoint(files):
    plan = plan_launch([files["image"], files["session"], files["safetensors"]])
    assert plan.session == str(files["session"]) and plan.image is plan.checkpoint is None
    assert set(plan.left_out) == {str(files["image"]), str(files["safetensors"])}
    assert "2 other files not opened" in plan.note and "work.json" in plan.note


def test_problems_name_the_file_and_the_reason(files):
    plan = plan_launch([files["missing"], files["image"], files["text"]])
    assert plan.image == str(files["image"])
    assert plan.messages == [
        f"cannot open {files['missing']}: no such file or folder",
        f"cannot open {files['text']}: {UNKNOWN_KIND}",
    ]


def test_an_option_and_a_file_of_the_same_kind_conflict(files):
    with pytest.raises(LaunchConflict, match="--image"):
        plan_launch([files["image"]], image=str(files["jpeg_upper"]))
    with pytest.raises(LaunchConflict, match="--checkpoint"):
        plan_launch([files["hf_folder"]], checkpoint=str(files["pth"]))
    with pytest.raises(LaunchConflict, match="session"):
        plan_launch([files["session"]], image=str(files["image"]))
    # different kinds combine: the option's image, the file's checkpoint
    plan = plan_launch([files["pth"]], image=str(files["image"]))
    assert plan.checkpoint == str(files["pth"]) and plan.image is None


def test_a_conflict_is_a_usage_error_before_any_window(files, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--image", str(files["jpeg_upper"]), str(files["image"])])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and f"--image {files['jpeg_upper']} and the image" in err


# -- the desktop entry and the file types --------------------------------------------------------
def _mime_types() -> dict[str, ET.Element]:
    root = ET.parse(MIME_XML).getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    return {t.get("type"): t for t in root.findall(f"{MIME_NS}mime-type")}


def test_the_desktop_entry_opens_files_of_every_kind():
    lines = DESKTOP.read_text().splitlines()
    assert "Exec=mae-desktop %F" in lines
    mime = next(line for line in lines if line.startswith("MimeType="))
    listed = set(mime.removeprefix("MimeType=").strip(";").split(";"))
    assert {"image/png", "image/jpeg", "image/webp", "image/tiff"} <= listed
    assert set(_mime_types()) <= listed  # every type the package defines
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (desktop-file-utils)")
    done = subprocess.run(
        ["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_mime_package_defines_sessions_and_checkpoints():
    types = _mime_types()
    assert set(types) == {
        "application/x-mae-desktop-session",
        "application/x-safetensors",
        "application/x-pytorch",
    }
    session = types["application/x-mae-desktop-session"]
    assert session.find(f"{MIME_NS}sub-class-of").get("type") == "application/json"
    assert session.find(f"{MIME_NS}glob") is None  # other .json files keep their type
    assert types["application/x-pytorch"].find(f"{MIME_NS}glob") is None  # Python's .pth
    globs = [g.get("pattern") for g in types["application/x-safetensors"].iter(f"{MIME_NS}glob")]
    assert globs == ["*.safetensors"]
    comment = MIME_XML.read_text().split("<!--", 1)[1].split("-->", 1)[0]
    assert len(comment.strip().splitlines()) == 3  # what was chosen and why


@pytest.fixture
def mime_home(tmp_path) -> Path:
    """An XDG data folder with the package installed and its database built."""
    if shutil.which("update-mime-database") is None:
        pytest.skip("update-mime-database is not installed (shared-mime-info)")
    packages = tmp_path / "xdg" / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(MIME_XML, packages / MIME_XML.name)
    done = subprocess.run(
        ["update-mime-database", str(packages.parent)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / "xdg"


def test_the_mime_database_maps_sessions_and_checkpoints(mime_home, files):
    mime = mime_home / "mime"
    assert "application/x-safetensors:*.safetensors" in (mime / "globs2").read_text()
    assert "application/x-mae-desktop-session application/json" in (
        (mime / "subclasses").read_text()
    )
    magic = (mime / "magic").read_bytes()
    assert b"[80:application/x-mae-desktop-session]" in magic
    assert b'"format": "mae-desktop-session"' in magic
    assert b"[60:application/x-pytorch]" in magic and b"/data.pkl" in magic
    # and as a file manager sees them (GIO: globs, then the magic rules)
    if shutil.which("gio") is None:
        pytest.skip("gio is not installed: the database was checked, not the detection")
    system = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    env = {**os.environ, "XDG_DATA_HOME": str(mime_home), "XDG_DATA_DIRS": system}
    python_path_file = files["text"].with_name("site.pth")
    python_path_file.write_text("import os\n")

    def content_type(path: Path) -> str:
        done = subprocess.run(
            ["gio", "info", "-a", "standard::content-type", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.rsplit("standard::content-type:", 1)[1].strip()

    assert content_type(files["session"]) == "application/x-mae-desktop-session"
    assert content_type(files["safetensors"]) == "application/x-safetensors"
    assert content_type(files["pth"]) == "application/x-pytorch"
    assert content_type(files["other_json"]) != "application/x-mae-desktop-session"
    assert content_type(python_path_file) != "application/x-pytorch"
