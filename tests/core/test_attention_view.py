"""Which attention map is shown (core/attention_view.py), and its label.

Guards: the chosen layer and head (0-based in the options, counted from 1 in the label);
a negative or too large layer shows the last one, a too large head the mean of heads;
'max' and 'mean' reduce over the heads; rollout replaces the layer's map only when the
result has one (the decoder has none); the label names part, layer, heads and query.
"""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.core.attention_view import attention_view
from mae_desktop.engine.attention import AttentionMaps

LAYERS, HEADS, GH, GW = 3, 2, 2, 2


def maps(part: str = "encoder", query="cls", rollout: bool = True) -> AttentionMaps:
    # layer i, head h holds the value 10 * i + h + cell / 100 in every cell
    cell = np.arange(GH * GW, dtype=np.float32).reshape(GH, GW) / 100
    m = np.stack([np.stack([10 * i + h + cell for h in range(HEADS)]) for i in range(LAYERS)])
    roll = np.full((GH, GW), 0.25, np.float32) if rollout else None
    return AttentionMaps(m.astype(np.float32), part, query, roll)


CELL = np.array([[0.0, 0.01], [0.02, 0.03]])


@pytest.mark.parametrize(
    ("layer", "shown"), [(0, 0), (1, 1), (2, 2), (-1, 2), (-3, 2), (3, 2), (99, 2)]
)
def test_the_layer_shown(layer: int, shown: int) -> None:
    view = attention_view(maps(), layer, "mean", rollout=False)
    assert view.layer == shown
    np.testing.assert_allclose(view.values, 10 * shown + 0.5 + CELL, rtol=1e-6)
    assert view.label == f"encoder layer {shown + 1}, mean of heads, CLS"


def test_heads_mean_max_and_one() -> None:
    view = attention_view(maps(), 1, "max", rollout=False)
    np.testing.assert_allclose(view.values, 11 + CELL, rtol=1e-6)
    assert view.label == "encoder layer 2, max of heads, CLS"
    view = attention_view(maps(), 1, 0, rollout=False)
    np.testing.assert_allclose(view.values, 10 + CELL, rtol=1e-6)
    assert view.label == "encoder layer 2, head 1, CLS"
    view = attention_view(maps(), 0, 1, rollout=False)
    np.testing.assert_allclose(view.values, 1 + CELL, rtol=1e-6)
    assert view.label == "encoder layer 1, head 2, CLS"


@pytest.mark.parametrize("head", [2, 7])
def test_a_head_the_model_does_not_have_shows_the_mean(head: int) -> None:
    view = attention_view(maps(), 0, head, rollout=False)
    np.testing.assert_allclose(view.values, 0.5 + CELL, rtol=1e-6)
    assert view.label == "encoder layer 1, mean of heads, CLS"


def test_rollout_when_the_result_has_one() -> None:
    view = attention_view(maps(query="mean"), 0, 1, rollout=True)
    np.testing.assert_array_equal(view.values, np.full((GH, GW), 0.25))
    assert view.label == "rollout, mean of queries"
    assert view.layer == -1


def test_rollout_asked_of_the_decoder_shows_the_layer() -> None:
    view = attention_view(maps("decoder", query=(0, 1), rollout=False), 0, 1, rollout=True)
    assert view.layer == 0
    np.testing.assert_allclose(view.values, 1 + CELL, rtol=1e-6)
    assert view.label == "decoder layer 1, head 2, query patch row 1, col 2"
