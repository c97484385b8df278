"""Debian's deb822 format: paragraphs, field rendering and parsing, licence text cleaning
and the copyright statements found in licence texts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

COPYRIGHT_LINE = re.compile(
    r"^\s*(?:copyright|\(c\)|©)\s*:?\s*((?:\(c\)|©)?\s*(?:\d{4}|\(c\)|©).*)$", re.IGNORECASE
)


@dataclass
class Paragraph:
    fields: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: str | None) -> Paragraph:
        if value is not None and value.strip():
            self.fields.append((name, value))
        return self

    def render(self) -> str:
        return "\n".join(render_field(name, value) for name, value in self.fields)


def clean_text(text: str) -> str:
    """Licence text as deb822 can carry it: no carriage returns, form feeds or other
    control characters, no trailing blanks, no blank lines at either end."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def render_field(name: str, value: str) -> str:
    """'Name: first line', then each further line indented by one space ('.' for blanks)."""
    first, *rest = value.split("\n")
    out = [f"{name}: {first.strip()}"]
    for line in rest:
        out.append(" ." if not line.strip() else " " + line.rstrip())
    return "\n".join(out)


def parse_deb822(text: str) -> list[dict[str, str]]:
    """Paragraphs of a deb822 file as {field: value}; continuation lines joined with \\n
    (' .' read as an empty line). Raises ValueError on a line that is neither."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = None
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last is None:
                raise ValueError(f"line {number}: continuation line outside a field")
            current[last] += "\n" + ("" if line.strip() == "." else line[1:])
        elif line.startswith("#"):
            continue
        else:
            name, sep, value = line.partition(":")
            if not sep or not name or " " in name:
                raise ValueError(f"line {number}: not 'Field: value': {line!r}")
            current[name], last = value.strip(), name
    if current:
        paragraphs.append(current)
    return paragraphs


def copyright_lines(texts: Iterable[str], limit: int = 12) -> list[str]:
    """The distinct 'Copyright (c) YEAR HOLDER' statements in licence texts, in order."""
    found: list[str] = []
    for text in texts:
        for line in text.split("\n"):
            if match := COPYRIGHT_LINE.match(line):
                statement = re.sub(r"\s+", " ", match.group(1)).strip()
                if statement and statement not in found:
                    found.append(statement)
    if len(found) > limit:
        found = [*found[:limit], "and others: see the licence texts"]
    return found


def read(path: Path) -> str:
    return clean_text(path.read_text(encoding="utf-8", errors="replace"))


def files_field(patterns: Iterable[str]) -> str:
    patterns = sorted(dict.fromkeys(patterns))
    return "\n".join(" ".join(patterns[i : i + 4]) for i in range(0, len(patterns), 4))
