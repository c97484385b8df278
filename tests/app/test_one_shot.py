"""The one-shot modes (--screenshot, --self-test) in a child process: they exit 0 with a
picture or a summary, and fail fast (exit 1, one line) on a missing or bad file."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.app.gui import ROOT, finish, run_main, start_main


def test_screenshot_shows_the_window_with_results(tmp_path, hf_pair):
    out = tmp_path / "shot"  # no suffix: still a PNG (the mode writes PNG)
    bright = ROOT / "mae_desktop" / "resources" / "samples" / "chelsea.png"
    args = ("--checkpoint", hf_pair[1], "--image", bright, "--screenshot", out)
    result = run_main(*args, "--size", "1024x700")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (1024, 700)
        pixels = np.asarray(im.convert("RGB")).astype(int)
    # a window with content, not a blank one: many distinct colours
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
    # and no empty black frames: the panels fill the window
    assert (pixels.sum(axis=-1) <= 12).mean() <= 0.15
    wrong = run_main("--size", "1024x700")
    assert wrong.returncode == 1 and "--screenshot" in wrong.stderr


def test_self_test_passes_and_fails_loudly(tmp_path, hf_pair):
    ok = run_main("--checkpoint", hf_pair[1], "--self-test")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("self-test ok:") and "attention 2x4x4x4" in ok.stdout
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    bad = run_main("--checkpoint", tmp_path / "junk.pth", "--self-test")
    assert bad.returncode == 1 and "self-test FAILED: cannot read junk.pth" in bad.stderr


def test_one_shot_modes_fail_fast_on_missing_or_bad_files(tmp_path, hf_pair):
    (tmp_path / "junk.png").write_text("not an image")
    cases = [
        (("--image", tmp_path / "nosuch.png", "--screenshot", tmp_path / "x.png"), "nosuch.png"),
        (("--image", tmp_path / "junk.png", "--screenshot", tmp_path / "x.png"), "junk.png"),
        (("--checkpoint", tmp_path / "nosuch", "--screenshot", tmp_path / "x.png"), "nosuch"),
        (("--image", tmp_path / "nosuch.png", "--self-test"), "nosuch.png"),
        (("--checkpoint", tmp_path / "nosuch", "--self-test"), "nosuch"),
    ]
    running = [(start_main(*args), args, name) for args, name in cases]  # side by side
    for proc, args, name in running:
        result = finish(proc, timeout=90)
        assert result.returncode == 1, (args, result.stderr)
        lines = [ln for ln in result.stderr.splitlines() if "propagateSizeHints" not in ln]
        assert len(lines) == 1 and name in lines[0], (args, result.stderr)
    assert not (tmp_path / "x.png").exists()


def test_without_a_display_one_shot_modes_draw_offscreen(tmp_path, hf_pair):
    env = {"QT_QPA_PLATFORM": None, "DISPLAY": None, "WAYLAND_DISPLAY": None}
    shot = run_main(
        "--checkpoint", hf_pair[1], "--screenshot", tmp_path / "s.png", env=env, timeout=180
    )
    assert shot.returncode == 0, shot.stderr
    test = run_main("--checkpoint", hf_pair[1], "--self-test", env=env, timeout=180)
    assert test.returncode == 0, test.stderr
