"""The command line says what it did when it did not do exactly what was asked: a skipped
baseline, a mask generator that could not honour the ratio, a mask image that is not a mask,
images that share a file name."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_desktop import cli
from mae_desktop.training import evaluate as ev

TELEA_NOTE = (
    "mae-desktop: note: the Telea inpainting (r=5) baseline was skipped: OpenCV is not "
    'installed; install it with pip install "mae-desktop[eval]" (or pip install '
    "opencv-python-headless)"
)


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def folder_of_photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    y, x = np.mgrid[0:40, 0:48] / 40.0
    for i in range(3):
        img = np.stack([np.sin(3 * x + i), np.cos(2 * y), x * y / 1.2], -1) * 0.5 + 0.5
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


# -- A1: evaluate names the baseline it could not run ------------------------------------------
def _evaluate(hf_pair, folder, capsys, *extra):
    argv = ["evaluate", hf_pair[1], folder, "--masks-per-image", "1", "--device", "cpu"]
    return run([*argv, *extra], capsys)


def test_evaluate_without_opencv_notes_the_skipped_baseline(
    hf_pair, folder_of_photos, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    code, out, err = _evaluate(hf_pair, folder_of_photos, capsys, "--json")
    assert code == 0, err
    assert err.strip().splitlines() == [TELEA_NOTE]
    result = json.loads(out)
    assert set(result["psnr"]) == {"MAE", "mean colour"}
    assert result["skipped"] == {"Telea inpainting (r=5)": ev.OPENCV_MISSING}
    code, out, err = _evaluate(hf_pair, folder_of_photos, capsys)  # the table, same note
    assert code == 0 and "Telea" not in out and err.strip().splitlines() == [TELEA_NOTE]


def test_evaluate_with_opencv_runs_telea_and_says_nothing(
    hf_pair, folder_of_photos, monkeypatch, capsys
):
    """A stand-in cv2 whose inpaint fills with mid-grey: the row is there, no note."""
    fake = types.ModuleType("cv2")
    fake.INPAINT_TELEA = 1
    fake.inpaint = lambda img, mask, radius, flags: np.where(mask[..., None] > 0, 128, img)
    monkeypatch.setitem(sys.modules, "cv2", fake)
    code, out, err = _evaluate(hf_pair, folder_of_photos, capsys, "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert set(result["psnr"]) == {"MAE", "mean colour", "Telea inpainting (r=5)"}
    assert result["skipped"] == {}


# -- A2: mask generators that cannot honour the ratio say what they did -------------------------
def _reconstruct(hf_pair, photo, out, capsys, *extra):
    return run(["reconstruct", photo, "--checkpoint", hf_pair[1], "--out", out, *extra], capsys)


def test_grid_generator_says_the_ratio_was_ignored(hf_pair, photo, tmp_path, capsys):
    code, _, err = _reconstruct(
        hf_pair, photo, tmp_path, capsys, "--mask-mode", "grid", "--mask-ratio", "0.5"
    )
    assert code == 0, err
    note = (
        "the grid generator keeps one patch of every 2x2 cell visible: it masks 75.0% "
        "(12 of 16 patches); --mask-ratio 0.5 was ignored"
    )
    assert err.strip().splitlines() == [f"mae-desktop: note: {note}"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["requested_ratio"] == 0.5 and metrics["mask_ratio"] == 0.75
    assert metrics["mask_note"] == note


def test_center_generator_says_how_it_rounded(hf_pair, photo, tmp_path, capsys):
    """On a 4x4 grid half the patches is no centred square: 3x3 = 9 of 16 it is."""
    code, _, err = _reconstruct(
        hf_pair, photo, tmp_path, capsys, "--mask-mode", "center", "--mask-ratio", "0.5"
    )
    assert code == 0, err
    assert err.strip() == (
        "mae-desktop: note: the center generator masks 56.2% (9 of 16 patches) for "
        "--mask-ratio 0.5: it masks a centred box of whole patches"
    )
    assert json.loads((tmp_path / "metrics.json").read_text())["mask_ratio"] == 9 / 16


@pytest.mark.parametrize("extra", [["--mask-ratio", "0.5"], ["--mask-mode", "grid"]])
def test_no_note_when_the_ratio_is_honoured(hf_pair, photo, tmp_path, capsys, extra):
    """random 0.5: exactly 8 of 16; grid at the default 0.75: 12 of 16."""
    code, _, err = _reconstruct(hf_pair, photo, tmp_path, capsys, *extra)
    assert code == 0 and err == ""
    assert json.loads((tmp_path / "metrics.json").read_text())["mask_note"] is None


def test_a_note_for_the_default_ratio_names_it_as_the_default(hf_pair, photo, tmp_path, capsys):
    """center at 0.75 on 4x4: a side of round(4 * 0.866) = 3, so 9 of 16 patches."""
    code, _, err = _reconstruct(hf_pair, photo, tmp_path, capsys, "--mask-mode", "center")
    assert code == 0, err
    assert err.strip() == (
        "mae-desktop: note: the center generator masks 56.2% (9 of 16 patches) for the "
        "default --mask-ratio 0.75: it masks a centred box of whole patches"
    )


# -- A3: a mask image must be black and white ---------------------------------------------------
def test_a_photo_as_mask_is_refused_naming_the_file(hf_pair, photo, tmp_path, capsys):
    code, _, err = _reconstruct(hf_pair, photo, tmp_path / "o", capsys, "--mask", photo)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mae-desktop: error: mask image photo.png is not black and white: ")
    assert lines[0].endswith("distinct colours; a mask has white = masked, black = visible")
    assert not (tmp_path / "o").exists()


def test_a_near_black_and_white_mask_image_is_used(hf_pair, photo, tmp_path, capsys):
    img = np.full((64, 64), 5, np.uint8)
    img[:32, :32] = 250  # the top-left 2x2 patches, slightly off white
    Image.fromarray(img).convert("RGB").save(tmp_path / "m.png")
    code, _, err = _reconstruct(
        hf_pair, photo, tmp_path / "o", capsys, "--mask", tmp_path / "m.png", "--save-arrays"
    )
    assert code == 0, err
    expected = np.zeros((4, 4), bool)
    expected[:2, :2] = True
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "mask.npy"), expected)


# -- A4: images that share a name get predictable folders --------------------------------------
@pytest.mark.parametrize(
    "images,folders",
    [
        (["a/cat.png", "b/cat.png"], ["cat", "cat-2"]),
        (["cat.png", "cat.jpg", "cat.webp"], ["cat", "cat-2", "cat-3"]),
        (["cat.png", "cat-2.png", "x/cat.png"], ["cat", "cat-2", "cat-3"]),
        (["Cat.png", "cat.jpg"], ["Cat", "cat-2"]),  # one folder on Windows and macOS
        (["dog.png", "cat.png"], ["dog", "cat"]),
        (["only/one.png"], [""]),  # one image: straight into --out
    ],
)
def test_unique_dirs_are_predictable(images, folders):
    out = Path("out")
    assert cli._unique_dirs(out, images)[0] == [out / f if f else out for f in folders]


@pytest.mark.parametrize(
    ("names", "expected", "renamed"),
    [
        (["...png", "a.png"], ["image", "a"], ["...png"]),  # stem '..': never out's parent
        (["..png", "b.png"], ["image", "b"], ["..png"]),  # stem '.': never --out itself
        ([".png", "c.png"], ["png", "c"], [".png"]),  # a leading dot would hide the folder
        (
            ["CON.png", "nul.jpg", "COM3.x.png"],
            ["CON_", "nul_", "COM3.x_"],
            ["CON.png", "nul.jpg", "COM3.x.png"],
        ),  # Windows device names, with any extension
        (["a .png", "b..png", "x:y.png"], ["a", "b", "x_y"], ["a .png", "b..png", "x:y.png"]),
        (["...png", "....png"], ["image", "image-2"], ["...png", "....png"]),
        (["cat.png", "x/cat.png"], ["cat", "cat-2"], []),  # a clash is no bad name
    ],
)
def test_output_folders_never_leave_out_and_the_note_says_why(names, expected, renamed, tmp_path):
    out = tmp_path / "out"
    dirs, notes = cli._unique_dirs(out, names)
    assert [d.name for d in dirs] == expected
    for d in dirs:  # each folder is a child of --out, whatever the name resolves to
        assert d.resolve().parent == out.resolve()
    assert [n.split(": ")[0] for n in notes] == renamed
    assert all("its name cannot be a folder name" in n for n in notes)


def test_a_dot_dot_stem_writes_inside_out(hf_pair, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    photos = tmp_path / "in"
    photos.mkdir()
    pic = Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8"))
    pic.save(photos / "...png", format="PNG")
    pic.save(photos / "b.png")
    out = tmp_path / "work" / "out"
    code = cli.main(
        [
            "reconstruct",
            str(photos / "...png"),
            str(photos / "b.png"),
            "--checkpoint",
            str(hf_pair[1]),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert (out / "image" / "metrics.json").is_file() and (out / "b" / "metrics.json").is_file()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]
    assert "its name cannot be a folder name" in err


def test_same_named_images_go_to_numbered_folders_and_say_so(hf_pair, photo, tmp_path, capsys):
    first, second = tmp_path / "a" / "cat.png", tmp_path / "b" / "cat.png"
    for path, flip in ((first, False), (second, True)):
        path.parent.mkdir()
        with Image.open(photo) as im:
            (im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else im).save(path)
    out = tmp_path / "out"
    code, stdout, err = run(
        ["reconstruct", first, second, "--checkpoint", hf_pair[1], "--out", out], capsys
    )
    assert code == 0, err
    lines = stdout.strip().splitlines()
    assert lines[0].startswith(f"{first}: ") and lines[0].endswith(f"-> {out / 'cat'}")
    assert lines[1].startswith(f"{second}: ") and lines[1].endswith(f"-> {out / 'cat-2'}")
    assert json.loads((out / "cat" / "metrics.json").read_text())["image"] == str(first)
    assert json.loads((out / "cat-2" / "metrics.json").read_text())["image"] == str(second)


def test_reconstruct_help_states_the_folder_rule(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reconstruct", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a/cat.png -> DIR/cat" in text and "b/cat.png -> DIR/cat-2" in text
    assert "in argument order" in text
