#!/usr/bin/env python3
"""Mutation score of a bounded set of engine and core modules, measured by mutmut.

scripts/mutation_check.py plants bugs we thought of; this lets a tool we did not write
(mutmut 3) make every small change it can (operators, numbers, strings, arguments,
conditions) in a few pure, fast-to-test modules, runs a short test selection against each
change, and counts how many the tests catch.

The script copies the repository (tracked files plus the working tree's changes and new,
not-ignored files) into a temporary folder and runs mutmut there, one module at a time with
that module's own test selection, so mutmut's `mutants/` folder never appears in the
checkout. The copy is removed at the end (also on Ctrl+C) unless --keep is given.

Score = (killed + timeout + equivalent) / all mutants. A timeout is a change that made the
tests hang (e.g. a loop that no longer ends): caught. An equivalent mutant is one that
cannot change behaviour; each is listed in benchmarks/mutation_equivalents.txt with the
mutated line and the reason, and one whose line no longer matches counts as survived.
"no tests" (no selected test runs that function) counts as survived too.

A measurement for developers (minutes), not part of CI:

    .venv/bin/python benchmarks/mutation_score.py                 # every module
    .venv/bin/python benchmarks/mutation_score.py --module brush  # one (repeatable)
    .venv/bin/python benchmarks/mutation_score.py --json out/mutation.json
    .venv/bin/python benchmarks/mutation_score.py --list          # modules and their tests

Settings every module shares (source folder, pytest options, timeouts) are in
pyproject.toml's [tool.mutmut] table; the modules and their tests are in MODULES below.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "benchmarks" / "mutation_equivalents.txt"

# property tests of the same modules (tests/property), written with Hypothesis
PROPERTY_PATCHES_BRUSH = "tests/property/test_patches_brush.py"
PROPERTY_HISTORY = "tests/property/test_history.py"
PROPERTY_GENERATORS = "tests/property/test_generators.py"
PROPERTY_MASK_FILES = "tests/property/test_mask_files.py"

# module -> its fast test selection (mutmut runs, for each mutant, the tests of this
# selection that call the mutated function; paths that do not exist are skipped, items
# starting with "-" are pytest options)
MODULES: dict[str, tuple[str, ...]] = {
    "mae_desktop/engine/brush.py": (
        "tests/engine/test_brush.py",
        # dense sampling of 200 random segments: 12 s per mutant under mutmut's trampolines;
        # segment_cells is covered by the border properties and test_brush's other tests
        "--deselect=tests/engine/test_brush.py::test_random_segments_cross_exactly_the_cells_they_touch",
        "tests/engine/test_brush_rules.py",
        PROPERTY_PATCHES_BRUSH,
        PROPERTY_HISTORY,
    ),
    "mae_desktop/engine/masks.py": (
        "tests/engine/test_masks.py",
        "tests/engine/test_mask_rules.py",
        "tests/engine/test_hostile_files.py",
        PROPERTY_GENERATORS,
        PROPERTY_MASK_FILES,
    ),
    "mae_desktop/engine/patches.py": (PROPERTY_PATCHES_BRUSH,),
    "mae_desktop/engine/metrics.py": ("tests/engine/test_metrics.py",),
    "mae_desktop/engine/render.py": ("tests/engine/test_render.py",),
    "mae_desktop/core/readout.py": ("tests/core/test_readout.py",),
    "mae_desktop/core/attention_view.py": ("tests/core/test_attention_view.py",),
}


def present_tests(root: Path, tests: tuple[str, ...]) -> list[str]:
    """The selection without the test files that are not in `root` (options kept when a
    file is left)."""
    files = [t for t in tests if not t.startswith("-") and (root / t.split("::")[0]).is_file()]
    return [t for t in tests if t.startswith("-")] + files if files else []


# mutmut's exit codes -> our four kinds (anything else: "other", counted as not caught)
KILLED = {"killed", "caught by type check"}
TIMEOUT = {"timeout"}
SURVIVED = {"survived", "no tests"}


@dataclass
class Equivalent:
    name: str
    line: str  # the mutated line as mutmut shows it, without the leading "+"
    why: str


@dataclass
class ModuleScore:
    module: str
    tests: list[str]
    total: int = 0
    killed: int = 0
    timeout: int = 0
    equivalent: int = 0
    survived: int = 0
    no_tests: int = 0
    other: int = 0
    seconds: float = 0.0
    survivors: list[dict[str, str]] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)

    @property
    def caught(self) -> int:
        return self.killed + self.timeout + self.equivalent

    @property
    def score(self) -> float:
        return 100.0 * self.caught / self.total if self.total else 100.0


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, Equivalent]:
    """Blocks of: the mutant's name at the start of a line, then indented '+ <mutated line>'
    and 'why: <reason>' lines; '#' starts a comment line."""
    found: dict[str, Equivalent] = {}
    if not path.is_file():
        return found
    current: dict[str, str] = {}

    def flush() -> None:
        if current:
            if not current.get("line") or not current.get("why"):
                raise SystemExit(f"{path.name}: {current['name']} needs a '+' line and a 'why:'")
            found[current["name"]] = Equivalent(current["name"], current["line"], current["why"])
            current.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw[0].isspace():
            flush()
            current["name"] = raw.strip()
        elif raw.strip().startswith("+"):
            current["line"] = raw.strip()[1:].strip()
        elif raw.strip().startswith("why:"):
            current["why"] = raw.strip()[4:].strip()
    flush()
    return found


# -- the copy --------------------------------------------------------------------------------
class Interrupted(Exception):
    """SIGTERM: stop, clean up."""


def repo_files(root: Path) -> list[str]:
    """Tracked files that exist (with their working-tree contents) and new, not-ignored ones,
    minus a stray mutmut folder."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(
        f
        for f in set(out.split("\0"))
        if f and not f.startswith(("mutants/", ".hypothesis/")) and (root / f).is_file()
    )


def copy_repo(root: Path, dest: Path) -> None:
    for rel in repo_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)


def shared_settings(pyproject: Path) -> dict:
    return dict(tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"])


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def write_module_config(copy: Path, settings: dict, module: str, tests: list[str]) -> None:
    """Replace the copy's [tool.mutmut] table by the shared settings plus this module and its
    tests."""
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    table = dict(settings, only_mutate=[module], pytest_add_cli_args_test_selection=tests)
    body = "[tool.mutmut]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())
    pattern = re.compile(r"^\[tool\.mutmut\]\n(?:(?!^\[).*\n?)*", re.MULTILINE)
    if not pattern.search(text):
        raise SystemExit("pyproject.toml has no [tool.mutmut] table")
    pyproject.write_text(pattern.sub(lambda _m: body + "\n", text, count=1), encoding="utf-8")


def tool_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS="1",  # one core per worker: the tests here are small
    )
    env.pop("PYTHONPATH", None)  # mutmut puts its mutants/ folder first itself
    return env


# -- reading mutmut's results ----------------------------------------------------------------
_DIFFS = r"""
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], sys.argv[2:]
print(json.dumps({n: get_diff_for_mutant(n, path=path) for n in names}))
"""


def mutant_diffs(python: str, copy: Path, module: str, names: list[str]) -> dict[str, str]:
    """mutmut's diff of each mutant (one process for all; `mutmut show` per name as a
    fallback)."""
    if not names:
        return {}
    proc = subprocess.run(
        [python, "-c", _DIFFS, module, *names],
        cwd=copy,
        env=tool_env(copy),
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    out = {}
    for n in names:
        show = subprocess.run(
            [python, "-m", "mutmut", "show", n],
            cwd=copy,
            env=tool_env(copy),
            capture_output=True,
            text=True,
        )
        out[n] = show.stdout
    return out


def changed_lines(diff: str) -> tuple[str, str]:
    """('- line(s)', '+ line(s)') of a unified diff, stripped, joined by ' / '."""
    minus = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    plus = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    return " / ".join(minus), " / ".join(plus)


def statuses(copy: Path, module: str) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    meta = copy / "mutants" / (module + ".meta")
    if not meta.is_file():
        return {}
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def run_module(
    python: str,
    copy: Path,
    settings: dict,
    module: str,
    tests: list[str],
    workers: int,
) -> Path:
    """Run mutmut on one module in the copy; returns the folder that keeps its results
    (copy/.scores/<module stem>: mutmut's mutants/ folder, the config and the log)."""
    keep = copy / ".scores" / Path(module).stem
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    shutil.rmtree(copy / "mutants", ignore_errors=True)
    write_module_config(copy, settings, module, tests)
    log = keep / "mutmut.log"
    t0 = time.perf_counter()
    cmd = [python, "-m", "mutmut", "run", "--max-children", str(workers)]
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=copy,
            env=tool_env(copy),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    seconds = time.perf_counter() - t0
    if code != 0 or not statuses(copy, module):
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {module} (exit {code}):\n{tail}")
    shutil.move(copy / "mutants", keep / "mutants")
    shutil.copyfile(copy / "pyproject.toml", keep / "pyproject.toml")
    (keep / "run.json").write_text(
        json.dumps({"module": module, "tests": tests, "seconds": seconds}), encoding="utf-8"
    )
    return keep


def score_module(python: str, keep: Path, equivalents: dict[str, Equivalent]) -> ModuleScore:
    """Count the results kept by run_module against the list of equivalent mutants."""
    run = json.loads((keep / "run.json").read_text(encoding="utf-8"))
    module = run["module"]
    score = ModuleScore(module, run["tests"], seconds=run["seconds"])
    found = statuses(keep, module)
    score.total = len(found)
    open_names = []
    for name, status in found.items():
        if status in KILLED:
            score.killed += 1
        elif status in TIMEOUT:
            score.timeout += 1
        elif status in SURVIVED:
            open_names.append(name)
        else:
            score.other += 1
            score.survivors.append({"name": name, "status": status, "old": "", "new": ""})
    diffs = mutant_diffs(python, keep, module, open_names)
    for name in open_names:
        old, new = changed_lines(diffs.get(name, ""))
        eq = equivalents.get(name)
        if eq is not None and found[name] == "survived":
            if eq.line == new:
                score.equivalent += 1
                continue
            score.stale_equivalents.append(name)
        if found[name] == "no tests":
            score.no_tests += 1
        else:
            score.survived += 1
        score.survivors.append({"name": name, "status": found[name], "old": old, "new": new})
    return score


# -- output ----------------------------------------------------------------------------------
def print_table(scores: list[ModuleScore], total: ModuleScore) -> None:
    head = (
        "module",
        "mutants",
        "killed",
        "timeout",
        "equiv.",
        "survived",
        "no tests",
        "score",
        "time",
    )
    rows = [
        (
            s.module.removeprefix("mae_desktop/"),
            str(s.total),
            str(s.killed),
            str(s.timeout),
            str(s.equivalent),
            str(s.survived),
            str(s.no_tests + s.other),
            f"{s.score:.1f}%",
            f"{s.seconds:.0f} s",
        )
        for s in [*scores, total]
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join([f"{{:<{widths[0]}}}"] + [f"{{:>{w}}}" for w in widths[1:]])
    print(fmt.format(*head))
    print(fmt.format(*("-" * w for w in widths)))
    for i, r in enumerate(rows):
        if i == len(rows) - 1:
            print(fmt.format(*("-" * w for w in widths)))
        print(fmt.format(*r))


def mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--module",
        action="append",
        metavar="NAME",
        help="only this module (its file name without .py, e.g. brush; repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="print the modules and their tests")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the scores here")
    parser.add_argument("--workers", type=int, default=1, help="mutmut's worker processes (1)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with mutmut")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument(
        "--rescore",
        type=Path,
        metavar="COPY",
        help="count the results a --keep run left in COPY again (no mutmut run)",
    )
    parser.add_argument(
        "--min-score", type=float, default=90.0, help="exit 1 below this total score (90)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every survivor")
    args = parser.parse_args(argv)

    chosen = dict(MODULES)
    if args.module:
        by_stem = {Path(m).stem: m for m in MODULES}
        unknown = [n for n in args.module if n not in by_stem]
        if unknown:
            print(
                f"unknown module(s): {', '.join(unknown)}; known: {', '.join(by_stem)}",
                file=sys.stderr,
            )
            return 2
        chosen = {by_stem[n]: MODULES[by_stem[n]] for n in args.module}
    if args.list:
        for module, tests in chosen.items():
            present = present_tests(ROOT, tests)
            missing = [t for t in tests if t not in present]
            print(module)
            for t in present:
                print(f"    {t}")
            for t in missing:
                print(f"    ({t}: not there, skipped)")
        return 0

    equivalents = load_equivalents()
    settings = shared_settings(ROOT / "pyproject.toml")

    def report(s: ModuleScore) -> None:
        print(
            f"    {s.total} mutants: {s.killed} killed, {s.timeout} timeout, "
            f"{s.equivalent} equivalent, {s.survived} survived, {s.no_tests} no tests"
            f" -> {s.score:.1f}% ({s.seconds:.0f} s)",
            flush=True,
        )
        for name in s.stale_equivalents:
            print(f"    listed as equivalent but its line changed: {name}", flush=True)
        if args.verbose:
            for sv in s.survivors:
                print(
                    f"    {sv['status']}: {sv['name']}\n"
                    f"        - {sv['old']}\n        + {sv['new']}"
                )

    scores: list[ModuleScore] = []
    t_start = time.perf_counter()
    if args.rescore:
        # count the results of a kept copy again (after editing the list of equivalents)
        for keep in sorted((args.rescore / ".scores").glob("*/run.json")):
            s = score_module(args.python, keep.parent, equivalents)
            if s.module in chosen:
                print(f"{s.module} (kept results) …")
                report(s)
                scores.append(s)
    else:

        def on_term(_signo, _frame):
            raise Interrupted

        signal.signal(signal.SIGTERM, on_term)
        copy = Path(tempfile.mkdtemp(prefix="mae-mutmut-"))
        try:
            copy_repo(ROOT, copy)
            for i, (module, tests) in enumerate(chosen.items(), 1):
                present = present_tests(copy, tests)
                if not present:
                    print(f"{module}: none of its tests exist, skipped", file=sys.stderr)
                    continue
                shown = ", ".join(t for t in present if not t.startswith("-"))
                print(f"[{i}/{len(chosen)}] {module} with {shown} …", flush=True)
                keep = run_module(args.python, copy, settings, module, present, args.workers)
                s = score_module(args.python, keep, equivalents)
                report(s)
                scores.append(s)
        except (KeyboardInterrupt, Interrupted):
            print("interrupted; removing the copy", file=sys.stderr)
            return 130
        finally:
            if args.keep:
                print(f"kept the copy (--rescore {copy}): {copy}", file=sys.stderr)
            else:
                shutil.rmtree(copy, ignore_errors=True)
    if not scores:
        return 2
    total = ModuleScore("total", sorted({t for s in scores for t in s.tests}))
    for s in scores:
        for f in ("total", "killed", "timeout", "equivalent", "survived", "no_tests", "other"):
            setattr(total, f, getattr(total, f) + getattr(s, f))
    total.seconds = (
        sum(s.seconds for s in scores) if args.rescore else time.perf_counter() - t_start
    )
    print()
    print_table(scores, total)
    print(
        f"\nmutation score {total.score:.1f}% ({total.caught}/{total.total}), "
        f"{total.seconds / 60:.1f} min"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "tool": "mutmut",
            "mutmut_version": mutmut_version(),
            "modules": [dict(asdict(s), caught=s.caught, score=round(s.score, 2)) for s in scores],
            "total": {
                k: v
                for k, v in asdict(total).items()
                if k not in ("survivors", "stale_equivalents", "tests")
            }
            | {"caught": total.caught, "score": round(total.score, 2)},
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if total.score >= args.min_score else 1


if __name__ == "__main__":
    raise SystemExit(main())
