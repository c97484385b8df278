"""Attention maps on the patch grid (numpy), from per-layer attention weights.

Encoder sequences hold [CLS] + the visible patches only, so encoder maps are scattered back
onto the grid through the kept indices and masked cells are NaN (absent), never zero. Decoder
sequences hold [CLS] + every patch, so decoder maps cover the whole grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import MAEError

Query = str | tuple[int, int]  # "cls", "mean" (all patch queries averaged) or (row, col)


@dataclass
class AttentionMaps:
    """maps: float32 (layers, heads, gh, gw), what the query attends to on each patch (NaN =
    absent); rollout: float32 (gh, gw) attention rollout (encoder only) or None."""

    maps: np.ndarray
    part: str
    query: Query
    rollout: np.ndarray | None = None

    def reduce(self, heads: str | int = "mean") -> np.ndarray:
        """(layers, gh, gw): 'mean' or 'max' over heads, or one head by index."""
        return reduce_heads(self.maps, heads)


def query_label(query: Query) -> str:
    """How labels name a query: 'CLS', 'mean of queries', or 'query patch row r, col c'
    (rows and columns count from 1 in everything users read)."""
    if query == "cls":
        return "CLS"
    if query == "mean":
        return "mean of queries"
    row, col = query  # type: ignore[misc]
    return f"query patch row {row + 1}, col {col + 1}"


def head_label(head: str | int) -> str:
    """'mean' -> 'mean of heads', 'max' -> 'max of heads', index 3 -> 'head 4'."""
    return f"{head} of heads" if isinstance(head, str) else f"head {head + 1}"


def reduce_heads(maps: np.ndarray, heads: str | int = "mean") -> np.ndarray:
    """(layers, heads, gh, gw) -> (layers, gh, gw) by head mean, head max or one head."""
    if heads == "mean":
        return maps.mean(axis=1)
    if heads == "max":
        return maps.max(axis=1)
    if isinstance(heads, int) and 0 <= heads < maps.shape[1]:
        return maps[:, heads]
    raise MAEError(f"bad head selection {heads!r}: use 'mean', 'max' or 0..{maps.shape[1] - 1}")


def _query_rows(
    query: Query, positions: np.ndarray, has_cls: bool, grid: tuple[int, int], part: str
) -> np.ndarray:
    """Sequence rows to average for a query. positions[j] = patch index of token c + j."""
    c = 1 if has_cls else 0
    if query == "cls":
        if not has_cls:
            raise MAEError("this model has no CLS token; pick a query patch or 'mean'")
        return np.array([0])
    if query == "mean":
        return c + np.arange(positions.size)
    if not (isinstance(query, tuple) and len(query) == 2):
        raise MAEError(f"bad attention query {query!r}: use 'cls', 'mean' or (row, col)")
    r, col = query
    gh, gw = grid
    if not (0 <= r < gh and 0 <= col < gw):
        raise MAEError(
            f"query patch row {r + 1}, col {col + 1} is outside the {gh}x{gw} grid "
            "(rows and columns count from 1)"
        )
    hits = np.flatnonzero(positions == r * gw + col)
    if hits.size == 0:
        raise MAEError(
            f"query patch row {r + 1}, col {col + 1} is masked: the {part} never sees it; "
            "pick a visible patch, or the decoder"
        )
    return c + hits


def grid_maps(
    weights: np.ndarray,
    positions: np.ndarray,
    grid: tuple[int, int],
    has_cls: bool,
    query: Query,
    part: str = "encoder",
) -> np.ndarray:
    """Scatter attention weights onto the grid.

    weights: (layers, heads, L, L) with L = [1 +] len(positions); positions: int patch index
    of each non-CLS token. Returns float32 (layers, heads, gh, gw), NaN where no token is.
    """
    rows = _query_rows(query, positions, has_cls, grid, part)
    c = 1 if has_cls else 0
    picked = weights[:, :, rows, c:].mean(axis=2)  # (layers, heads, K)
    out = np.full((*weights.shape[:2], grid[0] * grid[1]), np.nan, dtype=np.float32)
    out[:, :, positions] = picked
    return out.reshape(*weights.shape[:2], *grid)


def rollout(
    weights: np.ndarray,
    positions: np.ndarray,
    grid: tuple[int, int],
    has_cls: bool,
    query: Query,
) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) over the encoder's tokens.

    Each layer's head-mean attention is mixed with the identity (0.5 A + 0.5 I, rows
    renormalised) to account for the residual path, and the layers are multiplied in order.
    Returns float32 (gh, gw): the query's row over the patch tokens, NaN where masked.
    """
    n = weights.shape[-1]
    eye = np.eye(n)
    joint = eye
    for layer in weights.astype(np.float64):
        a = 0.5 * layer.mean(axis=0) + 0.5 * eye
        a /= a.sum(axis=-1, keepdims=True)
        joint = a @ joint
    return grid_maps(joint[None, None].astype(np.float32), positions, grid, has_cls, query)[0, 0]
