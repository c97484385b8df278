"""One module per checkpoint format: each maps its files onto a model family's tensor names
and declares itself as a `records.CheckpointFormat` (id, name, detect, convert).

`RECORDS` is the list `engine.checkpoints` loops over, in order: the first record
whose `detect` accepts what was opened converts it. Our own metadata comes first (a file
that says what it is), then Hugging Face (a folder with config.json, or its bare weights),
then the layouts told apart by their tensor names. `common` holds what converters share.
Adding a format: one module with a FORMAT record, and one line here.
"""

from __future__ import annotations

from . import huggingface, official, ours, paperweekly, vitpytorch
from .records import CheckpointFormat

RECORDS: tuple[CheckpointFormat, ...] = (
    ours.FORMAT,
    huggingface.FORMAT,
    official.FORMAT,
    paperweekly.FORMAT,
    vitpytorch.FORMAT,
)


def by_id(format_id: str) -> CheckpointFormat | None:
    """The record of a format id, also of the ids earlier releases wrote."""
    for record in RECORDS:
        if format_id == record.id or format_id in record.aliases:
            return record
    return None


__all__ = ["RECORDS", "by_id"]
