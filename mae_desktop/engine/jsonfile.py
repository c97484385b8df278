"""JSON from files a user opens, with one clear reason for every way it can be wrong.

Configuration files, checkpoint metadata and sessions are a few levels deep; JSON nested
hundreds of levels deep is valid, but it makes the parser (and anything that walks it later,
on any thread) run out of stack. It is refused here, with its depth, instead of surfacing
as a RecursionError somewhere else.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import MAEError

MAX_DEPTH = 64  # our deepest files are 4 levels deep


def depth(data: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (a scalar: 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(text: str | bytes, what: str) -> Any:
    """Parse `text` (bytes: UTF-8); MAEError naming `what` when it is not UTF-8 or not JSON
    (with the line and column) or nests more than MAX_DEPTH levels."""
    try:
        # bytes are UTF-8 (json.loads alone would also take UTF-16 and UTF-32)
        data = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:
        raise MAEError(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except UnicodeDecodeError as exc:
        raise MAEError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MAEError(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    found = depth(data)
    if found > MAX_DEPTH:
        raise MAEError(f"{what} is nested {found} levels deep (at most {MAX_DEPTH})")
    return data


__all__ = ["MAX_DEPTH", "depth", "loads"]
