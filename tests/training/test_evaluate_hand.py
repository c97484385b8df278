"""`mae-desktop evaluate` and training's best checkpoint, against numbers computed by hand.

What is promised (evaluate.py's docstring, the README's "masked PSNR at 75% against the
mean-colour fill and OpenCV's Telea inpainting"): every image squashed to the model size
(bicubic); PSNR over the MASKED pixels only, in [0, 1] pixel space, the prediction clipped
to [0, 1], peak 1; one PSNR per (image, mask) pair, then their mean (and standard
deviation) per method. The baselines on the same masks: the mean colour of the visible
pixels, and Telea inpainting (radius 5, on 8-bit pixels) when OpenCV is there. Training
validates with that number and keeps, as best.safetensors (and --export), the weights of
the evaluation with the highest PSNR.

Every expectation here is computed in the test with numpy: masks drawn by hand or by the
documented seed, patches and pixels through the independent helpers in tests/helpers.py,
predictions from a stand-in model whose output is known or from the model's own forward
(the forward is checked against transformers elsewhere; what is under test is the metric).
The predictions are built so that a score over the visible pixels, over all pixels, without
clipping, or averaged as MSE before the log, is far from the right one.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from mae_desktop import cli
from mae_desktop.engine import masks as masks_mod
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.formats.ours import save_checkpoint
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.training import evaluate as ev
from mae_desktop.training import train as tr
from tests.helpers import from_patches, perturb_, to_patches

CFG = MAEConfig(**tr.PRESETS["test"])  # 32x32 images, 8-pixel patches: a 4x4 grid
P = CFG.patch_size
GRID = CFG.grid_size
MEAN = np.array(CFG.mean, dtype=np.float64)
STD = np.array(CFG.std, dtype=np.float64)


# -- hand computations -------------------------------------------------------------------
def pixel_mask(mask: np.ndarray) -> np.ndarray:
    """(gh, gw) patch mask -> (H, W) pixel mask: each patch's P x P block."""
    return np.kron(mask.astype(np.int64), np.ones((P, P), np.int64)).astype(bool)


def psnr_over(pred: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float:
    """PSNR (peak 1) of clip(pred, 0, 1) against truth over the pixels `where` is True,
    all three channels, in float64."""
    total, count = 0.0, 0
    p = np.clip(pred.astype(np.float64), 0.0, 1.0)
    t = truth.astype(np.float64)
    for r, c in zip(*np.nonzero(where), strict=True):
        total += float(((p[r, c] - t[r, c]) ** 2).sum())
        count += 3
    mse = total / count
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def mean_colour_by_hand(image: np.ndarray, pm: np.ndarray) -> np.ndarray:
    visible = image[~pm].astype(np.float64)
    colour = visible.sum(axis=0) / len(visible)
    out = image.astype(np.float64).copy()
    out[pm] = colour
    return out


def normalised_patches(image: np.ndarray) -> np.ndarray:
    return to_patches((image.astype(np.float64) - MEAN) / STD, P)


def hand_drawn_masks() -> list[np.ndarray]:
    """Six 4x4 masks with 12 masked patches each (equal counts: batches stack them)."""
    out = []
    top = np.zeros(GRID, bool)
    top[:3] = True
    out.append(top)
    out.append(top[::-1].copy())  # the bottom three rows
    left = np.zeros(GRID, bool)
    left[:, :3] = True
    out.append(left)
    ring = np.ones(GRID, bool)
    ring[1:3, 1:3] = False  # the centre visible
    out.append(ring)
    diag = ~np.eye(4, dtype=bool)
    out.append(diag)
    checker = np.ones(GRID, bool)
    checker[0, 0] = checker[0, 3] = checker[3, 0] = checker[3, 3] = False  # corners visible
    out.append(checker)
    assert all(m.sum() == 12 for m in out)
    return out


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:32] / 32.0
    out = []
    for i in range(n):
        a, b = rng.uniform(1, 5, 2)
        img = np.stack([np.sin(a * x + i), np.cos(b * y), x * y], -1) * 0.45 + 0.5
        out.append((img + rng.normal(0, 0.03, img.shape)).clip(0, 1).astype(np.float32))
    return out


def errors(n: int, seed: int = 1) -> list[np.ndarray]:
    """Per image a known error field: large on the patches that both of its masks (hand
    drawn masks 2i and 2i + 1) hide, small elsewhere, larger for later images, and pushing
    some predictions out of [0, 1] (so clipping matters)."""
    rng = np.random.default_rng(seed)
    drawn = hand_drawn_masks()
    out = []
    for i in range(n):
        both = drawn[(2 * i) % 6] & drawn[(2 * i + 1) % 6]
        scale = np.where(pixel_mask(both), 0.15, 0.02)[..., None] * (1 + i)
        out.append(rng.normal(0, 1, (32, 32, 3)) * scale)
    return out


class KnownPrediction:
    """Stands in for the model: for each image it recognises in its input (by the
    normalised patches it should get) it returns truth + a known error, in the model's
    normalised patch space, and records what it was given."""

    def __init__(self, truths: list[np.ndarray], errs: list[np.ndarray]) -> None:
        self.cfg = CFG
        self.inputs = [normalised_patches(t) for t in truths]
        self.outputs = [normalised_patches(t + e) for t, e in zip(truths, errs, strict=True)]
        self.seen: list[tuple[int, np.ndarray]] = []

    def eval(self) -> KnownPrediction:
        return self

    def __call__(self, patches: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        out = []
        for row, ids in zip(patches.double().numpy(), ids_keep.numpy(), strict=True):
            found = [i for i, x in enumerate(self.inputs) if np.abs(row - x).max() < 1e-5]
            assert len(found) == 1, "the model was not given a normalised, patchified image"
            self.seen.append((found[0], ids.copy()))
            out.append(self.outputs[found[0]])
        return torch.from_numpy(np.stack(out)).float()


def fake_cv2(fill: tuple[int, int, int]) -> tuple[types.ModuleType, list]:
    """A cv2 whose inpaint paints the masked pixels one colour, recording its arguments."""
    calls: list = []
    mod = types.ModuleType("cv2")
    mod.INPAINT_TELEA = 1
    mod.INPAINT_NS = 0

    def inpaint(img, mask, radius, flags):
        calls.append((img.copy(), mask.copy(), radius, flags))
        out = img.copy()
        out[mask > 0] = fill
        return out

    mod.inpaint = inpaint
    return mod, calls


# -- evaluate ----------------------------------------------------------------------------
def test_evaluate_scores_masked_pixels_per_pair_then_averages(monkeypatch) -> None:
    """3 images x 2 hand-drawn masks, batches of 2; model, mean colour and Telea rows."""
    truths, errs = images(3), errors(3)
    drawn = hand_drawn_masks()
    seed = 7
    by_seed = {ev.mask_seed(seed, i, k): drawn[2 * i + k] for i in range(3) for k in range(2)}
    asked: list[tuple] = []

    def chosen_mask(grid, ratio, mask_seed):
        asked.append((tuple(grid), ratio))
        return by_seed[mask_seed].copy()

    monkeypatch.setattr(ev, "random_mask", chosen_mask)
    cv2, calls = fake_cv2((200, 10, 90))
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    model = KnownPrediction(truths, errs)
    res = ev.evaluate(
        model, [], masks_per_image=2, mask_ratio=0.75, seed=seed, images=truths, batch_size=2
    )
    assert asked and all(a == (GRID, 0.75) for a in asked)

    pairs = [(i, k) for i in range(3) for k in range(2)]
    mae, visible, flat, unclipped, mse = [], [], [], [], []
    colour, telea = [], []
    for i, k in pairs:
        pm = pixel_mask(drawn[2 * i + k])
        pred = truths[i].astype(np.float64) + errs[i]
        mae.append(psnr_over(pred, truths[i], pm))
        visible.append(psnr_over(pred, truths[i], ~pm))
        flat.append(psnr_over(pred, truths[i], np.ones_like(pm)))
        d = (pred - truths[i])[pm]
        unclipped.append(10 * math.log10(1 / float((d**2).mean())))
        mse.append(10 ** (-mae[-1] / 10))
        colour.append(psnr_over(mean_colour_by_hand(truths[i], pm), truths[i], pm))
        painted = truths[i].astype(np.float64).copy()
        painted[pm] = np.array([200, 10, 90]) / 255.0
        telea.append(psnr_over(painted, truths[i], pm))

    want = float(np.mean(mae))
    # the test tells the wrong definitions apart from the right one by a wide margin
    for wrong in (
        np.mean(visible),
        np.mean(flat),
        np.mean(unclipped),
        -10 * np.log10(np.mean(mse)),
    ):
        assert abs(wrong - want) > 0.3
    assert set(res.psnr) == {"MAE", ev.MEAN_COLOUR, ev.TELEA} and res.skipped == {}
    assert res.psnr["MAE"] == pytest.approx(want, abs=1e-4)
    assert res.psnr_std["MAE"] == pytest.approx(float(np.std(mae)), abs=1e-4)
    assert res.psnr[ev.MEAN_COLOUR] == pytest.approx(float(np.mean(colour)), abs=1e-4)
    assert res.psnr_std[ev.MEAN_COLOUR] == pytest.approx(float(np.std(colour)), abs=1e-4)
    assert res.psnr[ev.TELEA] == pytest.approx(float(np.mean(telea)), abs=1e-4)
    assert (res.images, res.masks_per_image, res.mask_ratio) == (3, 2, 0.75)

    # every pair went through the model once, with the visible patches of its own mask
    assert sorted(i for i, _ in model.seen) == [0, 0, 1, 1, 2, 2]
    wanted_ids = {(i, tuple(np.flatnonzero(~drawn[2 * i + k].ravel()))) for i, k in pairs}
    assert {(i, tuple(ids)) for i, ids in model.seen} == wanted_ids
    # Telea: 8-bit pixels, the masked pixels as 255, radius 5, the Telea method
    assert len(calls) == 6
    for (i, k), (img8, mask8, radius, flags) in zip(pairs, calls, strict=True):
        assert img8.dtype == np.uint8 and mask8.dtype == np.uint8
        assert np.array_equal(img8, np.floor(truths[i] * 255 + 0.5).astype(np.uint8))
        assert np.array_equal(mask8, pixel_mask(drawn[2 * i + k]).astype(np.uint8) * 255)
        assert (radius, flags) == (5, cv2.INPAINT_TELEA)


def test_the_table_shows_the_numbers_it_measured(monkeypatch) -> None:
    truths, errs = images(2, seed=3), errors(2, seed=4)
    drawn = hand_drawn_masks()
    by_seed = {ev.mask_seed(0, i, 0): drawn[i] for i in range(2)}
    monkeypatch.setattr(ev, "random_mask", lambda grid, ratio, s: by_seed[s].copy())
    monkeypatch.setitem(sys.modules, "cv2", None)  # no OpenCV: Telea is skipped
    res = ev.evaluate(KnownPrediction(truths, errs), [], masks_per_image=1, images=truths)
    mae = [psnr_over(truths[i] + errs[i], truths[i], pixel_mask(drawn[i])) for i in range(2)]
    rows = {line[:24].strip(): line[24:].split() for line in res.table().splitlines()[2:]}
    assert rows["MAE"] == [f"{np.mean(mae):.2f}", f"{np.std(mae):.2f}"]
    assert set(rows) == {"MAE", ev.MEAN_COLOUR} and ev.TELEA in res.skipped


def test_real_opencv_telea_row_is_the_psnr_of_its_inpainting(monkeypatch) -> None:
    cv2 = pytest.importorskip("cv2")
    truths = images(2, seed=5)
    drawn = hand_drawn_masks()
    by_seed = {ev.mask_seed(0, i, 0): drawn[i] for i in range(2)}
    monkeypatch.setattr(ev, "random_mask", lambda grid, ratio, s: by_seed[s].copy())
    res = ev.evaluate(KnownPrediction(truths, errors(2)), [], masks_per_image=1, images=truths)
    want = []
    for i in range(2):
        pm = pixel_mask(drawn[i])
        img8 = np.floor(truths[i] * 255 + 0.5).astype(np.uint8)
        out = cv2.inpaint(img8, pm.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA) / 255.0
        want.append(psnr_over(out, truths[i], pm))
    assert res.psnr[ev.TELEA] == pytest.approx(float(np.mean(want)), abs=1e-4)


# -- the command line, with a real model and the documented random masks ------------------
def _tiny_model(seed: int = 0) -> MAEModel:
    torch.manual_seed(seed)
    model = MAEModel(CFG)
    init_weights(model)
    perturb_(model, seed, scale=0.3)
    return model.eval()


def _model_pixels(model: MAEModel, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model's prediction of every patch in [0, 1] pixel space (unclipped)."""
    ids = torch.from_numpy(np.flatnonzero(~mask.ravel()))[None]
    x = torch.from_numpy(normalised_patches(image)).float()[None]
    with torch.no_grad():
        pred = model(x, ids)[0].double().numpy()
    return from_patches(pred, GRID, P) * STD + MEAN


def _photo_folder(folder: Path, n: int) -> list[np.ndarray]:
    """n PNGs of 40x48 (not the model size), grey on the left, noisier to the right (so
    the errors differ across the image); returns them as evaluate must see them: squashed
    to 32x32 with bicubic, in [0, 1]."""
    folder.mkdir()
    rng = np.random.default_rng(11)
    amp = np.linspace(0, 1, 48)[None, :, None] ** 2
    out = []
    for i in range(n):
        arr = (127 + (rng.random((40, 48, 3)) - 0.5) * 255 * amp).clip(0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"photo{i}.png")
        small = Image.fromarray(arr).resize((32, 32), Image.Resampling.BICUBIC)
        out.append(np.asarray(small, dtype=np.float64) / 255.0)
    return out


def test_cli_evaluate_reports_the_masked_psnr_of_the_checkpoint(tmp_path, monkeypatch, capsys):
    model = _tiny_model()
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", model)
    truths = _photo_folder(tmp_path / "photos", 3)
    monkeypatch.setitem(sys.modules, "cv2", None)
    seed, ratio, k_per = 3, 0.5, 2
    code = cli.main(
        [
            "evaluate", str(ckpt), str(tmp_path / "photos"), "--masks-per-image", str(k_per),
            "--mask-ratio", str(ratio), "--seed", str(seed), "--device", "cpu", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    got = json.loads(capsys.readouterr().out)
    mae, colour, visible = [], [], []
    for i, truth in enumerate(truths):
        for k in range(k_per):
            # the documented draw: a random mask seeded from (seed, image index, k)
            mask = masks_mod.random_mask(GRID, ratio, ev.mask_seed(seed, i, k))
            assert mask.sum() == 8  # half of the 16 patches
            pm = pixel_mask(mask)
            pred = _model_pixels(model, truth, mask)
            mae.append(psnr_over(pred, truth, pm))
            visible.append(psnr_over(pred, truth, ~pm))
            colour.append(psnr_over(mean_colour_by_hand(truth, pm), truth, pm))
    assert abs(np.mean(visible) - np.mean(mae)) > 0.2  # the two definitions differ here
    assert got["images"] == 3 and got["masks_per_image"] == 2 and got["mask_ratio"] == 0.5
    assert got["psnr"]["MAE"] == pytest.approx(float(np.mean(mae)), abs=1e-3)
    assert got["psnr_std"]["MAE"] == pytest.approx(float(np.std(mae)), abs=1e-3)
    assert got["psnr"][ev.MEAN_COLOUR] == pytest.approx(float(np.mean(colour)), abs=1e-3)
    assert got["skipped"] == {ev.TELEA: ev.OPENCV_MISSING}


# -- training's validation and its best checkpoint ----------------------------------------
@pytest.fixture(scope="module")
def train_folder(tmp_path_factory) -> Path:
    """11 images: by sorted name, files 0 and 10 are the validation split."""
    folder = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:44] / 40.0
    for i in range(11):
        a, b = rng.uniform(1, 6, 2)
        img = np.stack([np.sin(a * x + i), np.cos(b * y), x * y / 2], -1) * 0.5 + 0.5
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


def _opts(folder: Path, out: Path, **kw) -> tr.TrainOptions:
    base = dict(
        data=str(folder), out=str(out), preset="test", steps=5, batch_size=2, lr=3e-3,
        warmup=1, eval_every=1, device="cpu", amp="off", max_side=48, val_masks=2,
    )  # fmt: skip
    base.update(kw)
    return tr.TrainOptions(**base)


def test_validation_is_the_masked_psnr_of_the_validation_images(
    train_folder, tmp_path, monkeypatch
):
    trainer = tr.Trainer(_opts(train_folder, tmp_path / "run"))
    perturb_(trainer.model, 1, scale=0.3)  # a model whose errors differ across the image
    spied: list[dict] = []
    real = tr.evaluate

    def spy(*args, **kw):
        spied.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(tr, "evaluate", spy)
    got = trainer.validate()
    assert trainer.model.training  # validate hands the model back in training mode
    assert len(spied) == 1
    kw = spied[0]
    seed, k_per = kw["seed"], kw["masks_per_image"]
    assert k_per == 2 and kw.get("baselines") is False
    files = sorted(train_folder.iterdir())
    want_images = [
        np.asarray(Image.open(files[j]).convert("RGB").resize((32, 32), Image.Resampling.BICUBIC))
        / 255.0
        for j in (0, 10)
    ]
    assert len(kw["images"]) == 2
    for a, b in zip(kw["images"], want_images, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    model = trainer.model.eval()
    mae, visible = [], []
    for i, truth in enumerate(want_images):
        for k in range(k_per):
            mask = masks_mod.random_mask(GRID, 0.75, ev.mask_seed(seed, i, k))
            pred = _model_pixels(model, truth, mask)
            mae.append(psnr_over(pred, truth, pixel_mask(mask)))
            visible.append(psnr_over(pred, truth, ~pixel_mask(mask)))
    assert abs(np.mean(visible) - np.mean(mae)) > 0.1
    assert got == pytest.approx(float(np.mean(mae)), abs=1e-3)


def _provenance(path: Path) -> dict:
    with safe_open(str(path), "pt") as f:
        return json.loads(f.metadata()["mae_desktop"])["provenance"]


@pytest.mark.parametrize(
    ("scores", "best_step"),
    [
        ([10.0, 14.0, 12.0, 13.5, 9.0], 2),  # best in the middle, the last is the worst
        ([11.0, 10.5, 10.0, 9.5, 9.0], 1),  # best first: later evaluations never replace it
        ([9.0, 9.5, 10.0, 10.5, 11.0], 5),  # best last
    ],
)
def test_best_checkpoint_is_the_highest_validation_psnr(
    train_folder, tmp_path, scores: list[float], best_step: int
) -> None:
    """A scripted validation score per evaluation (one per step): best.safetensors and the
    --export file hold the weights of the step with the highest score, and say so."""
    out = tmp_path / "run"
    export = tmp_path / "exported.safetensors"
    trainer = tr.Trainer(_opts(train_folder, out, export=str(export)))
    script = iter(scores)
    weights: dict[int, dict[str, torch.Tensor]] = {}

    def scripted() -> float:
        weights[trainer.step] = {
            k: v.detach().clone() for k, v in trainer.model.state_dict().items()
        }
        return next(script)

    trainer.validate = scripted
    result = trainer.run()
    assert sorted(weights) == [1, 2, 3, 4, 5]
    assert result["best_psnr"] == max(scores)
    assert [h["val_psnr"] for h in json.loads((out / "history.json").read_text())] == scores
    for path in (out / "best.safetensors", export):
        prov = _provenance(path)
        assert prov["steps"] == best_step and prov["val_psnr_db"] == max(scores)
        saved = load_file(str(path))
        for name, value in weights[best_step].items():
            torch.testing.assert_close(saved[name].float(), value.half().float(), rtol=0, atol=0)
    last = _provenance(out / "last.safetensors")
    assert last["steps"] == 5 and last["val_psnr_db"] == scores[-1]
    state = torch.load(out / "train_state.pt", map_location="cpu", weights_only=True)
    assert state["best_psnr"] == max(scores)
