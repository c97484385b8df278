"""The training loop on a tiny config: learns, resumes bit-exactly, exports, evaluates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mae_desktop.engine import MAEConfig, ModelSession, masks
from mae_desktop.training import evaluate as ev
from mae_desktop.training import train as tr


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:56] / 48.0
    for i in range(12):
        a, b, c = rng.uniform(1, 6, 3)
        img = np.stack([np.sin(a * x + i), np.cos(b * y), np.sin(c * (x + y))], -1) * 0.5 + 0.5
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


def _opts(folder, out, **kw):
    base = dict(
        data=str(folder),
        out=str(out),
        preset="test",
        steps=6,
        batch_size=8,
        lr=3e-3,
        warmup=2,
        eval_every=3,
        device="cpu",
        amp="off",
        max_side=64,
        val_masks=1,
    )
    base.update(kw)
    return tr.TrainOptions(**base)


def _fixed_loss(trainer):
    imgs = trainer.sampler.batch(10_000, 8)
    ids, mask = tr.batch_masks(10_000, 0, 8, trainer.cfg.num_patches, 0.75, trainer.device)
    with torch.no_grad():
        return tr.mae_loss(trainer.model, imgs, ids, mask).item()


def test_loss_goes_down(image_folder, tmp_path):
    trainer = tr.Trainer(_opts(image_folder, tmp_path, steps=40, eval_every=40))
    before = _fixed_loss(trainer)
    trainer.run()
    assert _fixed_loss(trainer) < 0.85 * before


def test_split_never_trains_on_validation(image_folder):
    files = tr.list_images(image_folder)
    train_files, val = tr.split(files)
    assert not set(train_files) & set(val)
    assert val == files[::10]


def test_interrupt_and_resume_is_bit_exact(image_folder, tmp_path, monkeypatch):
    straight = tr.Trainer(_opts(image_folder, tmp_path / "a"))
    straight.run()

    calls = {"n": 0}
    real = tr.mae_loss

    def interrupt_on_fourth(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # what Ctrl+C does mid-run
        return real(*args)

    monkeypatch.setattr(tr, "mae_loss", interrupt_on_fourth)
    first = tr.Trainer(_opts(image_folder, tmp_path / "b"))
    assert first.run()["step"] == 3
    monkeypatch.setattr(tr, "mae_loss", real)
    resumed = tr.Trainer(
        _opts(image_folder, tmp_path / "b", resume=str(tmp_path / "b" / "train_state.pt"))
    )
    assert resumed.step == 3
    resumed.run()
    assert resumed.step == 6
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_export_loads_through_the_engine(image_folder, tmp_path):
    trainer = tr.Trainer(_opts(image_folder, tmp_path))
    trainer.run()
    session = ModelSession.open(tmp_path / "best.safetensors", "cpu")
    assert session.checkpoint.format == "mae-desktop"
    assert session.config == trainer.cfg
    prov = session.checkpoint.metadata
    assert prov["steps"] == 6 and prov["samples_seen"] == 48 and "val_psnr_db" in prov
    img = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    rec = session.reconstruct(img, masks.random_mask((4, 4), 0.75, 0))
    assert np.isfinite(rec.prediction).all()


class _FixedPrediction:
    """Stands in for the model in mae_loss: returns a chosen prediction, records its input."""

    def __init__(self, cfg: MAEConfig, pred: torch.Tensor) -> None:
        self.cfg, self.pred, self.seen = cfg, pred, None

    def __call__(self, patches: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        self.seen = (patches.detach().clone(), ids_keep.clone())
        return self.pred


def test_loss_is_the_mse_over_masked_patches_only():
    """Official MAE: target = the normalised image patchified (einsum nchpwq->nhwpqc),
    loss = mean over masked patches of the per-patch MSE. Each patch gets its own known
    error, larger on the visible ones, so a loss over visible or all patches shows."""
    cfg = MAEConfig(**tr.PRESETS["test"])
    b, n, p = 3, cfg.num_patches, cfg.patch_size
    images = torch.rand(b, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mean = torch.tensor(cfg.mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std).view(1, 3, 1, 1)
    x = ((images - mean) / std).reshape(b, 3, 4, p, 4, p)
    target = torch.einsum("nchpwq->nhwpqc", x).reshape(b, n, p * p * 3)
    ids_keep, mask = tr.batch_masks(5, 0, b, n, 0.75, torch.device("cpu"))
    error = torch.where(mask.bool(), 0.1, 2.0) * (1 + torch.arange(n) / n)  # (b, n)
    model = _FixedPrediction(cfg, target + error[..., None])
    loss = tr.mae_loss(model, images, ids_keep, mask)
    masked = mask.bool()
    assert loss.item() == pytest.approx((error[masked] ** 2).mean().item(), rel=1e-5)
    torch.testing.assert_close(model.seen[0], target, rtol=0, atol=1e-5)
    assert torch.equal(model.seen[1], ids_keep)


def test_batch_masks_mask_exactly_the_patches_not_kept():
    ids_keep, mask = tr.batch_masks(3, 1, 5, 49, 0.75, torch.device("cpu"))
    assert ids_keep.shape == (5, 49 - 37) and mask.shape == (5, 49)
    for row in range(5):
        kept = set(ids_keep[row].tolist())
        assert len(kept) == 12
        assert kept == {i for i in range(49) if mask[row, i] == 0}
        assert mask[row].sum() == 37
    again, _ = tr.batch_masks(3, 1, 5, 49, 0.75, torch.device("cpu"))
    assert torch.equal(again, ids_keep)  # keyed on (seed, step) only
    other, _ = tr.batch_masks(4, 1, 5, 49, 0.75, torch.device("cpu"))
    assert not torch.equal(other, ids_keep)


def test_learning_rate_schedule():
    assert tr.lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert tr.lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert tr.lr_at(55, 100, 1.0, 10) == pytest.approx(0.5)
    assert tr.lr_at(100, 100, 1.0, 10) == pytest.approx(0.0)


def test_psnr_and_baselines_known_answers(tmp_path):
    truth = np.full((32, 32, 3), 0.5, np.float32)
    pm = np.zeros((32, 32), bool)
    pm[:16] = True
    assert ev.masked_psnr(truth + 0.1, truth, pm) == pytest.approx(20.0)
    assert ev.masked_psnr(truth + 2.0, truth, pm) == pytest.approx(10 * np.log10(1 / 0.25))
    img = truth.copy()
    img[16:] = 0.2  # visible half
    img[:16] = 0.3  # masked half: the mean-colour fill predicts 0.2, error 0.1
    assert ev.masked_psnr(ev.mean_colour_fill(img, pm), img, pm) == pytest.approx(20.0, abs=1e-4)


def test_evaluate_reports_model_and_baselines(image_folder, tmp_path):
    trainer = tr.Trainer(_opts(image_folder, tmp_path))
    files = tr.list_images(image_folder)[:3]
    result = ev.evaluate(trainer.model, files, masks_per_image=2)
    assert result.images == 3 and result.masks_per_image == 2
    assert {"MAE", "mean colour"} <= set(result.psnr)
    assert "PSNR" in result.table()


def test_cli_train_and_evaluate(image_folder, tmp_path, capsys):
    import json

    from mae_desktop import cli

    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            str(image_folder),
            "--out",
            str(out),
            "--preset",
            "test",
            "--steps",
            "4",
            "--batch-size",
            "4",
            "--eval-every",
            "2",
            "--device",
            "cpu",
            "--amp",
            "off",
        ]
    )
    assert code == 0
    assert (out / "best.safetensors").is_file() and (out / "train_state.pt").is_file()
    assert "stopped at step 4 of 4" in capsys.readouterr().out
    code = cli.main(
        [
            "evaluate",
            str(out / "best.safetensors"),
            str(image_folder),
            "--split",
            "val",
            "--masks-per-image",
            "2",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 2 and "MAE" in result["psnr"]


def test_evaluate_names_a_baseline_it_cannot_run(image_folder, monkeypatch):
    """Without OpenCV the Telea row is left out and `skipped` says why; without baselines
    nothing is skipped (the training loop's validation asks for none)."""
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    files = tr.list_images(image_folder)[:2]
    result = ev.evaluate(None, files, masks_per_image=1)
    assert set(result.psnr) == {ev.MEAN_COLOUR}
    assert result.skipped == {ev.TELEA: ev.OPENCV_MISSING}
    assert 'pip install "mae-desktop[eval]"' in ev.OPENCV_MISSING
    assert result.to_dict()["skipped"] == result.skipped
    assert ev.evaluate(None, files, masks_per_image=1, baselines=False).skipped == {}
