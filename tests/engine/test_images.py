"""Reading images of every common kind and fitting them to the model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mae_desktop.engine import MAEError, fit_image, load_image, read_image
from tests.helpers import pil_image_processor


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "r.jpg")
    assert out.size == (20, 40)
    top = np.asarray(out)[2, 10]
    assert top[2] > 200 and top[0] < 60  # the blue band is now on top


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "CMYK", "I;16", "I", "F", "1"])
def test_modes_become_rgb(tmp_path, mode):
    base = Image.linear_gradient("L").resize((32, 32))
    if mode == "I;16":
        arr = (np.asarray(base, np.uint16) * 257).astype(np.uint16)
        img = Image.fromarray(arr)
        assert img.mode == "I;16"
    elif mode == "F":
        img = Image.fromarray(np.asarray(base, np.float32) / 255.0)
    else:
        img = base.convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I", "F", "I;16") else "x.png")
    img.save(path)
    out = read_image(path)
    assert out.mode == "RGB" and out.size == (32, 32)
    arr = np.asarray(out)
    if mode in ("L", "I;16", "I", "F", "LA", "RGBA"):
        # greyscale gradient preserved, not clipped to black or white
        assert arr[0].mean() < 30 and arr[-1].mean() > 220


def test_transparency_is_composited_on_white(tmp_path):
    img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    img.save(tmp_path / "t.png")
    assert (np.asarray(read_image(tmp_path / "t.png")) == 255).all()


def test_model_sized_image_is_used_pixel_for_pixel(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png", (224, 224), "stretch")
    np.testing.assert_array_equal(out, arr.astype(np.float32) / 255.0)


@pytest.mark.parametrize(
    "shape,size",
    [((50, 80), (64, 64)), ((300, 200), (64, 64)), ((40, 30), (32, 48)), ((64, 64), (64, 64))],
    ids=["down-wide", "down-tall", "up-non-square", "same-size"],
)
def test_stretch_matches_huggingface_image_processor(shape, size):
    """The README promises the input Hugging Face's processor gives (bicubic, as the
    facebook/vit-mae-* preprocessor configs say), built here with explicit arguments."""
    arr = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    processor = pil_image_processor(size, normalize=False)
    expected = processor(img, return_tensors="np")["pixel_values"][0].transpose(1, 2, 0)
    np.testing.assert_allclose(fit_image(img, size, "stretch"), expected, rtol=0, atol=1e-6)


def test_center_crop_and_pad(tmp_path):
    img = Image.new("RGB", (200, 100), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 50, 100))  # black strip on the left quarter
    crop = fit_image(img, (64, 64), "center-crop")
    assert crop.shape == (64, 64, 3) and crop.min() > 0.9  # the strip is cropped away
    pad = fit_image(img, (64, 64), "pad", pad_rgb=(1.0, 0.0, 0.0))
    assert pad.shape == (64, 64, 3)
    np.testing.assert_allclose(pad[0, 32], (1.0, 0.0, 0.0))  # padding above
    with pytest.raises(MAEError, match="unknown resize policy"):
        fit_image(img, (64, 64), "zoom")


def test_bad_image_files(tmp_path, monkeypatch):
    with pytest.raises(MAEError, match="image not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(MAEError, match="got a folder"):
        read_image(tmp_path)
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(MAEError, match="not an image"):
        read_image(tmp_path / "text.jpg")
    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(MAEError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    import mae_desktop.engine.images as images

    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 5000)
    with pytest.raises(MAEError, match="decompression bomb"):
        read_image(tmp_path / "big.png")
