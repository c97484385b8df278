"""The worker's models pause between transformer blocks, where the lane can serve an
urgent request or stop the pass."""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.core.requests import Analyse, OpenModel, Sweep
from mae_desktop.core.worker import Interrupted, Skip, Worker
from mae_desktop.engine import masks


def test_every_pass_pauses_after_each_encoder_and_decoder_block(hf_pair):
    worker = Worker(threads=1)
    worker.execute(OpenModel(str(hf_pair[1])))
    cfg = worker.session.config
    calls = []
    worker.pause_point = lambda: calls.append(1)
    image = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    request = Analyse(image=image, mask=masks.random_mask((4, 4), 0.5, 0), generation=1)
    outcome = worker.execute(request)
    assert len(calls) == cfg.depth + cfg.decoder_depth
    assert outcome.analysis.reconstruction is not None

    def stop() -> None:
        raise Interrupted("stop")

    worker.pause_point = stop
    with pytest.raises(Interrupted):
        worker.execute(request)


def test_a_query_made_for_the_previous_model_is_skipped(hf_pair, tmp_path):
    """Once another checkpoint is loaded (a 14x14 grid instead of 4x4), queries built for
    the old one (its image size, its mask grid) are skipped, never run on the new model;
    queries for the new one run."""
    from tests.helpers import hf_model

    other = tmp_path / "grid14"
    hf_model(seed=5, image_size=56, patch_size=4).save_pretrained(other)
    worker = Worker(threads=1)
    assert worker.execute(OpenModel(str(hf_pair[1]))).generation == 1
    image = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    old_mask = masks.random_mask((4, 4), 0.5, 0)
    analyse = Analyse(image=image, mask=old_mask, generation=1)
    sweep = Sweep(image=image, mask=old_mask, generation=1, seeds=1, ratios=(0.5,))
    assert worker.execute(OpenModel(str(other))).generation == 2
    for request in (analyse, sweep):
        with pytest.raises(Skip, match="the model changed"):
            worker.execute(request)
    image14 = np.random.default_rng(1).random((56, 56, 3), dtype=np.float32)
    fresh = Analyse(image=image14, mask=masks.random_mask((14, 14), 0.5, 0), generation=2)
    rec = worker.execute(fresh).analysis.reconstruction
    assert rec.composite.shape == (56, 56, 3)
