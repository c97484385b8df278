"""Which attention map the user is looking at: the result's maps reduced by the view options
(layer, head, rollout), with the one-line label every view uses. Layers and heads count
from 1 in labels (the options store 0-based indices)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.attention import AttentionMaps, head_label, query_label


@dataclass(frozen=True)
class AttentionView:
    """values: float32 (gh, gw) attention weights in [0, 1] (NaN = no token there);
    label: e.g. "encoder layer 12, mean of heads, CLS"."""

    values: np.ndarray
    label: str
    layer: int  # 0-based index of the layer shown (-1 for rollout)


def attention_view(att: AttentionMaps, layer: int, head: str | int, rollout: bool) -> AttentionView:
    """The map the options select (an out-of-range layer or head falls back to the last
    layer / the mean, as a model with fewer layers or heads would show)."""
    layers, heads = att.maps.shape[:2]
    if rollout and att.rollout is not None:
        return AttentionView(att.rollout, f"rollout, {query_label(att.query)}", -1)
    layer = layers - 1 if layer < 0 else min(layer, layers - 1)
    if not isinstance(head, str) and head >= heads:
        head = "mean"
    values = att.reduce(head)[layer]
    label = f"{att.part} layer {layer + 1}, {head_label(head)}, {query_label(att.query)}"
    return AttentionView(values, label, layer)
