"""The worker's models pause between transformer blocks, where the lane can serve an
urgent request or stop the pass."""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.core.requests import Analyse, OpenModel
from mae_desktop.core.worker import Interrupted, Worker
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
