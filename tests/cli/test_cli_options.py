"""`mae-desktop reconstruct` options and checkpoint layouts, checked on the files it writes
against transformers (its model and its image processor) and hand computation."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from mae_desktop import cli
from mae_desktop.engine.config import IMAGENET_MEAN, IMAGENET_STD
from tests.helpers import (
    boundary_length,
    from_patches,
    hf_model,
    hf_reconstruct,
    hf_to_official,
    inverse_distance_fill,
    norm_pix_stats,
    pil_image_processor,
    to_patches,
)

P, GRID = 16, (4, 4)
MEAN, STD = np.asarray(IMAGENET_MEAN), np.asarray(IMAGENET_STD)
# 8 of 16 patches, written out by hand
MASK = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)


def run(argv: list, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def reconstruct(capsys, image: Path, checkpoint: Path, out: Path, *extra) -> dict:
    """Run `reconstruct --save-arrays`; returns metrics.json, the arrays and original.png."""
    code, _, err = run(
        ["reconstruct", image, "--checkpoint", checkpoint, "--out", out, "--save-arrays", *extra],
        capsys,
    )
    assert code == 0, err
    result = json.loads((out / "metrics.json").read_text())
    for name in ("reconstruction", "composite", "mask"):
        result[name] = np.load(out / f"{name}.npy")
    with Image.open(out / "original.png") as im:
        result["original"] = np.asarray(im)
    return result


@pytest.fixture
def mask_file(tmp_path) -> Path:
    path = tmp_path / "mask.npy"
    np.save(path, MASK)
    return path


@pytest.fixture
def square(tmp_path) -> Path:
    """A 64x64 PNG (the model size, so used pixel for pixel)."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    rng = np.random.default_rng(3)
    img = np.stack([x, y, 0.5 + 0.4 * np.sin(7 * x) * np.cos(5 * y)], -1)
    img = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
    path = tmp_path / "square.png"
    Image.fromarray((img * 255).round().astype(np.uint8)).save(path)
    return path


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def _pixel_values(img: np.ndarray, mean=MEAN, std=STD) -> torch.Tensor:
    x = ((img.astype(np.float64) - mean) / std).astype(np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def _pixels(normed_patches: np.ndarray, mean=MEAN, std=STD) -> np.ndarray:
    return from_patches(normed_patches, GRID, P) * std + mean


def _cover(mask: np.ndarray) -> np.ndarray:
    return np.kron(mask, np.ones((P, P), dtype=int)).astype(bool)


# -- the default path against transformers end to end ----------------------------------------
@pytest.fixture(scope="module")
def loud_pair(hf_pair, tmp_path_factory):
    """hf_pair's model with its prediction head scaled up, so predictions leave [0, 1]."""
    model = copy.deepcopy(hf_pair[0])
    with torch.no_grad():
        model.decoder.decoder_pred.weight.mul_(8.0)
        model.decoder.decoder_pred.bias.mul_(8.0)
    folder = tmp_path_factory.mktemp("loud") / "vitmae"
    model.save_pretrained(folder)
    return model, folder


def test_stretched_photo_matches_transformers_processor_and_model(
    loud_pair, photo, mask_file, tmp_path, capsys
):
    """A 96x80 photo: resized as Hugging Face's processor does, predicted as its model does;
    composite.npy is the prediction under the mask and the input elsewhere, unclipped."""
    model, folder = loud_pair
    got = reconstruct(capsys, photo, folder, tmp_path / "o", "--mask", mask_file)
    with Image.open(photo) as im:
        pv = pil_image_processor((64, 64), True, MEAN, STD)(im, return_tensors="pt")
        unit = pil_image_processor((64, 64), False)(im, return_tensors="np")
    image = unit["pixel_values"][0].transpose(1, 2, 0)
    want = _pixels(hf_reconstruct(model, pv["pixel_values"], MASK))
    assert got["resize"] == "stretch" and got["norm_pix_mode"] == "plain"
    np.testing.assert_array_equal(got["original"], np.round(image * 255).astype(np.uint8))
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)
    cover = _cover(MASK)
    assert want[cover].min() < -0.1 and want[cover].max() > 1.1  # clipping would show
    np.testing.assert_allclose(got["composite"][cover], want[cover], atol=1e-4)
    np.testing.assert_allclose(got["composite"][~cover], image[~cover], atol=1e-6)
    np.testing.assert_array_equal(got["mask"], MASK)


@pytest.mark.parametrize("policy", ["stretch", "center-crop", "pad"])
def test_resize_policies(hf_pair, tmp_path, capsys, policy):
    """A 128x64 picture: black left quarter, white middle half, red right quarter."""
    arr = np.full((64, 128, 3), 255, np.uint8)
    arr[:, :32] = 0
    arr[:, 96:] = (255, 0, 0)
    Image.fromarray(arr).save(tmp_path / "wide.png")
    got = reconstruct(
        capsys, tmp_path / "wide.png", hf_pair[1], tmp_path / policy, "--resize", policy
    )
    assert got["resize"] == policy
    o = got["original"].astype(int)
    assert o.shape == (64, 64, 3)
    if policy == "center-crop":  # the short side already fits: the middle 64 columns, white
        assert (o == 255).all()
    elif policy == "stretch":  # squashed sideways: a quarter each side
        assert (o[:, 4] < 10).all() and (o[:, 32] > 245).all()
        assert (np.abs(o[:, 60] - (255, 0, 0)) < 10).all()
    else:  # scaled to 64x32, padded above and below with the model's mean colour
        mean_rgb = (124, 116, 104)  # ImageNet mean (0.485, 0.456, 0.406) * 255, rounded
        assert (o[:16] == mean_rgb).all() and (o[48:] == mean_rgb).all()
        assert (o[20:44, 4] < 10).all() and (o[20:44, 32] > 245).all()
        assert (np.abs(o[20:44, 60] - (255, 0, 0)) < 10).all()


# -- display modes and the target override ---------------------------------------------------
def _hidden_changed(src: Path, dst: Path) -> Path:
    """The same picture with other content (another mean and spread) under MASK only."""
    img = _read(src)
    other = 0.6 + 0.3 * np.random.default_rng(5).random(img.shape) ** 3
    out = np.where(_cover(MASK)[..., None], other, img)
    Image.fromarray((out * 255).round().astype(np.uint8)).save(dst)
    return dst


def test_target_norm_pix_shows_the_estimate_computed_by_hand(
    hf_pair, square, mask_file, tmp_path, capsys
):
    """--target norm-pix on a pixel checkpoint: the prediction is read as norm_pix, and the
    default display (auto = estimate) un-normalises hidden patches with statistics borrowed
    from the visible ones (inverse squared distance)."""
    model, folder = hf_pair
    got = reconstruct(
        capsys, square, folder, tmp_path / "o", "--mask", mask_file, "--target", "norm-pix"
    )
    assert got["target"] == "norm_pix" and got["norm_pix_mode"] == "estimate"
    assert got["uses_ground_truth"] is False and "estimate" in got["norm_pix_mode_label"]
    img = _read(square)
    pred = hf_reconstruct(model, _pixel_values(img), MASK)
    normed = to_patches((img - MEAN) / STD, P)
    mean, scale = norm_pix_stats(normed)
    want = _pixels(pred * inverse_distance_fill(scale, MASK) + inverse_distance_fill(mean, MASK))
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)
    target = (normed - mean) / scale
    loss = ((pred - target) ** 2).mean(-1)[MASK.ravel()].mean()
    assert got["loss_target_space"] == pytest.approx(loss, rel=1e-4)


@pytest.mark.parametrize("mode", ["estimate", "raw", "gt-stats"])
def test_only_gt_stats_depends_on_the_pixels_under_the_mask(
    hf_pair, square, mask_file, tmp_path, capsys, mode
):
    other = _hidden_changed(square, tmp_path / "other.png")
    common = ["--mask", mask_file, "--target", "norm-pix", "--norm-pix", mode]
    a = reconstruct(capsys, square, hf_pair[1], tmp_path / "a", *common)
    b = reconstruct(capsys, other, hf_pair[1], tmp_path / "b", *common)
    assert a["norm_pix_mode"] == mode and a["uses_ground_truth"] == (mode == "gt-stats")
    if mode == "gt-stats":
        cover = _cover(MASK)
        assert np.abs(a["reconstruction"][cover] - b["reconstruction"][cover]).mean() > 0.05
    else:
        np.testing.assert_array_equal(a["reconstruction"], b["reconstruction"])
        np.testing.assert_array_equal(a["composite"], b["composite"])


def test_target_pixel_overrides_a_norm_pix_checkpoint(hf_pair, square, mask_file, tmp_path, capsys):
    model, folder = hf_pair
    npx = tmp_path / "npx"
    shutil.copytree(folder, npx)
    config = json.loads((npx / "config.json").read_text())
    config["norm_pix_loss"] = True
    (npx / "config.json").write_text(json.dumps(config))
    auto = reconstruct(capsys, square, npx, tmp_path / "auto", "--mask", mask_file)
    assert auto["target"] == "norm_pix" and auto["norm_pix_mode"] == "estimate"
    got = reconstruct(capsys, square, npx, tmp_path / "o", "--mask", mask_file, "--target", "pixel")
    assert got["target"] == "pixel" and got["norm_pix_mode"] == "plain"
    want = _pixels(hf_reconstruct(model, _pixel_values(_read(square)), MASK))
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)


# -- precision, heads, mask modes, version ---------------------------------------------------
def test_dtype_bf16_runs_in_bf16(hf_pair, square, mask_file, tmp_path, capsys):
    fp32 = reconstruct(capsys, square, hf_pair[1], tmp_path / "fp32", "--mask", mask_file)
    bf16 = reconstruct(
        capsys, square, hf_pair[1], tmp_path / "bf16", "--mask", mask_file, "--dtype", "bf16"
    )
    assert bf16["dtype"] == "bf16" and fp32["dtype"] == "fp32"
    rec32, rec16 = fp32["reconstruction"], bf16["reconstruction"]
    assert rec16.dtype == np.float32 and np.isfinite(rec16).all()
    diff = np.abs(rec16 - rec32)
    assert diff.max() > 1e-4  # really computed in bf16 (8-bit mantissa) ...
    assert diff.max() < 0.05 * np.abs(rec32).max()  # ... and still the same picture


def test_heads_option_for_an_official_checkpoint(square, mask_file, tmp_path, capsys):
    """Official .pth files do not store head counts; --heads/--decoder-heads give them. With
    the right counts the output is transformers'; with the assumed ones (one 64-wide head)
    it is not."""
    model = hf_model(seed=1, layer_norm_eps=1e-6)
    path = tmp_path / "checkpoint-799.pth"
    torch.save({"model": hf_to_official(model.state_dict())}, path)
    want = _pixels(hf_reconstruct(model, _pixel_values(_read(square)), MASK))
    heads = ["--heads", "4", "--decoder-heads", "2"]
    right = reconstruct(capsys, square, path, tmp_path / "right", "--mask", mask_file, *heads)
    assert right["checkpoint_format"] == "official"
    np.testing.assert_allclose(right["reconstruction"], want, atol=1e-4)
    assumed = reconstruct(capsys, square, path, tmp_path / "assumed", "--mask", mask_file)
    assert np.abs(assumed["reconstruction"] - want).max() > 1e-2


@pytest.fixture(scope="module")
def grid14(tmp_path_factory) -> Path:
    """A Hugging Face folder for a model with a 14x14 patch grid (56x56 input, patch 4)."""
    folder = tmp_path_factory.mktemp("grid14") / "vitmae"
    hf_model(seed=5, image_size=56, patch_size=4).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("seed", [0, 1])
def test_mask_mode_block_writes_a_block_mask(grid14, photo, tmp_path, capsys, seed):
    """A BEiT block mask, not a random one: 78 patches (40% of 196) in rectangles, whose
    boundary with the visible patches is far shorter than a random mask's (about 175 patch
    edges; blocks about 48)."""
    options = ["--mask-mode", "block", "--mask-ratio", "0.4", "--seed", seed]
    got = reconstruct(capsys, photo, grid14, tmp_path / "o", *options)
    assert got["mask_mode"] == "block" and got["masked_patches"] == 78
    m = got["mask"]
    assert m.shape == (14, 14) and m.dtype == bool and m.sum() == 78
    assert boundary_length(m) < 110


def test_version(capsys):
    init = (Path(cli.__file__).parent.parent / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', init).group(1)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mae-desktop {version}"


# -- checkpoint layouts ----------------------------------------------------------------------
def test_bare_huggingface_weights_file(hf_pair, square, mask_file, tmp_path, capsys):
    """A model.safetensors on its own (no config.json): sizes read off the tensors, the head
    counts given on the command line, ImageNet mean/std assumed."""
    model, folder = hf_pair
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(folder / "model.safetensors", bare / "model.safetensors")
    path = bare / "model.safetensors"
    heads = ["--heads", "4", "--decoder-heads", "2"]
    got = reconstruct(capsys, square, path, tmp_path / "o", "--mask", mask_file, *heads)
    assert got["checkpoint_format"] == "huggingface"
    want = _pixels(hf_reconstruct(model, _pixel_values(_read(square)), MASK))
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)
    code, out, _ = run(["info", path, *heads], capsys)
    assert code == 0 and "without config.json" in out


def _shard_bin(folder: Path, dst: Path) -> None:
    """Split the weights into two pytorch_model-0000N-of-00002.bin files plus their index."""
    sd = load_file(folder / "model.safetensors")
    names = sorted(sd)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:]), start=1):
        fname = f"pytorch_model-0000{i}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, dst / fname)
        weight_map.update(dict.fromkeys(part, fname))
    index = {"metadata": {}, "weight_map": weight_map}
    (dst / "pytorch_model.bin.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("kind", ["safetensors", "bin"])
def test_sharded_huggingface_folder(hf_pair, square, mask_file, tmp_path, capsys, kind):
    model, folder = hf_pair
    sharded = tmp_path / "sharded"
    if kind == "safetensors":  # written by transformers itself
        model.save_pretrained(sharded, max_shard_size="100KB")
    else:
        sharded.mkdir()
        shutil.copy(folder / "config.json", sharded / "config.json")
        _shard_bin(folder, sharded)
    shards = [p for p in sharded.iterdir() if re.match(r".*-0000\d-of-0000\d\.", p.name)]
    assert len(shards) >= 2
    assert not (sharded / "model.safetensors").exists()
    got = reconstruct(capsys, square, sharded, tmp_path / "o", "--mask", mask_file)
    want = _pixels(hf_reconstruct(model, _pixel_values(_read(square)), MASK))
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)


def test_preprocessor_without_normalisation(hf_pair, photo, mask_file, tmp_path, capsys):
    """do_normalize: false means the model sees [0, 1] pixels (the mean/std listed beside it
    are not applied), as transformers' processor does with that config."""
    model, folder = hf_pair
    raw = tmp_path / "raw"
    shutil.copytree(folder, raw)
    pre = {
        "do_normalize": False,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_resize": True,
        "resample": 3,
        "size": {"height": 64, "width": 64},
    }
    (raw / "preprocessor_config.json").write_text(json.dumps(pre))
    got = reconstruct(capsys, photo, raw, tmp_path / "o", "--mask", mask_file)
    with Image.open(photo) as im:
        pv = pil_image_processor((64, 64), False)(im, return_tensors="pt")["pixel_values"]
    zero, one = np.zeros(3), np.ones(3)
    want = _pixels(hf_reconstruct(model, pv, MASK), zero, one)
    np.testing.assert_allclose(got["reconstruction"], want, atol=1e-4)
    code, out, _ = run(["info", raw, "--json"], capsys)
    assert code == 0 and json.loads(out)["normalization"].startswith("none")
