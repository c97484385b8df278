"""Text users read speaks of the product, not of how it was built.

Scanned: README.md, docs/**/*.md, models/MODEL_CARD.md, resources/*.desktop, every string
literal and comment of mae_desktop/**/*.py (via tokenize), and the --help of the command line
and of each subcommand. One test per file (one for all the help), so a failure names the file;
its message lists every offending line as path:line.

Random seeds are product vocabulary ("--seed", "the seed (0)", "seeds: 3", "a seed"): only
phrases that name a seed *article, format or file* are refused.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = [
    (r"\bseed article\b", "seed article"),
    (r"\bseed's\b", "seed's"),
    (
        r"\bseed[- ](?:format|mae|files?|checkpoints?|transformers?|layers?|weights|models?|"
        r"state[- ]dicts?|layout|code|classes?)\b",
        "seed as a format or source",
    ),
    (r"\(official, seed\)", "(official, seed)"),
    (r"\blent\b", "lent (machine)"),
    (r"\bbrief\b", "brief"),
    (r"\bregistr(?:y|ies)\b", "registry"),
    (r"\b(?:our|this project's) build machine\b", "build machine"),
    (r"\.\./shared\b", "../shared"),
    (r"\bshared/", "shared/"),
    (r"guide/platform-notes", "guide/platform-notes"),
    (r"\bplatform-notes\.md\b", "platform-notes.md"),
    (r"\bthis machine's measurements\b", "this machine's measurements"),
]
PATTERNS = [(re.compile(p, re.IGNORECASE), label) for p, label in FORBIDDEN]


def offences(text: str, where: str, first_line: int = 1) -> list[str]:
    """'where:line: label: the line' for every forbidden phrase in text, also where a phrase
    is wrapped across lines (Markdown paragraphs, docstrings, argparse's wrapped help)."""
    lines = text.splitlines()
    words, starts, line_of = [], [], []
    pos = 0
    for n, line in enumerate(lines):
        for word in line.split():
            words.append(word)
            starts.append(pos)
            line_of.append(n)
            pos += len(word) + 1
    joined = " ".join(words)  # every run of whitespace, newlines included, as one space
    found: dict[tuple[int, str], str] = {}
    for pattern, label in PATTERNS:
        for match in pattern.finditer(joined):
            n = line_of[bisect.bisect_right(starts, match.start()) - 1]
            found.setdefault((n, label), f"{where}:{n + first_line}: {label}: {lines[n].strip()}")
    return [found[key] for key in sorted(found)]


def python_offences(path: Path) -> list[str]:
    """Forbidden phrases in the string literals and comments of one Python file."""
    where = str(path.relative_to(ROOT))
    found = []
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT) or tok.type == getattr(
                tokenize, "FSTRING_MIDDLE", -1
            ):
                found += offences(tok.string, where, tok.start[0])
    return found


def _text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "models" / "MODEL_CARD.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted((ROOT / "resources").glob("*.desktop"))
    return [f for f in files if f.is_file()]


def _python_files() -> list[Path]:
    return sorted((ROOT / "mae_desktop").rglob("*.py"))


def _help_texts() -> dict[str, str]:
    from mae_desktop.cli import build_parser

    parser = build_parser()
    texts = {"mae-desktop --help": parser.format_help()}
    for action in parser._actions:  # argparse keeps the subcommands' parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                texts[f"mae-desktop {name} --help"] = sub.format_help()
    return texts


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _text_files(), ids=_rel)
def test_documents_speak_of_the_product(path):
    found = offences(path.read_text(encoding="utf-8"), _rel(path))
    assert not found, "words about how the project was built:\n" + "\n".join(found)


@pytest.mark.parametrize("path", _python_files(), ids=_rel)
def test_strings_and_comments_speak_of_the_product(path):
    found = python_offences(path)
    assert not found, "words about how the project was built:\n" + "\n".join(found)


def test_help_of_every_command_speaks_of_the_product():
    texts = _help_texts()
    assert {"reconstruct", "info", "train", "evaluate"} <= {
        key.split()[1] for key in texts if key.count(" ") == 2
    }
    found = [line for command, text in texts.items() for line in offences(text, command)]
    assert not found, "words about how the project was built:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text",
    [
        "mask seed (default 0)",
        "Deterministic given the seed (0); every random draw is keyed on (seed, step)",
        "mean ± std over 3 seeds",
        "a seed gives the same mask",
        "--seed N",
        "Small and briefly trained",
        "shared with other work on the same 2 cores",
        "the seeds' masks",
    ],
)
def test_product_words_pass(text):
    assert offences(text, "sample") == []


@pytest.mark.parametrize(
    "text",
    [
        "the seed article's MAE class",
        "a seed checkpoint",
        "seed Transformer layers",
        "for formats that do not store it (official, seed)",
        "the seed's layout",
        "a lent GPU",
        "where the brief was silent",
        "package registries",
        "measured on our build machine",
        "cp -r ../shared/datasets/x data/",
        "see guide/platform-notes.md",
        "The recipe came from this machine's measurements",
        "where the\n    brief was silent",  # wrapped across lines
    ],
)
def test_build_words_are_caught(text):
    assert offences(text, "sample")


def test_the_bundled_model_says_nothing_of_how_it_was_made():
    """`mae-desktop info --json` shows the bundled model's provenance metadata."""
    from safetensors import safe_open

    path = ROOT / "models" / "default.safetensors"
    with safe_open(str(path), "pt") as f:
        metadata = json.dumps(f.metadata())
    found = offences(metadata, "models/default.safetensors metadata")
    assert not found, "\n".join(found)
