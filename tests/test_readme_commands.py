"""The README's Quick start commands are the ones CI runs, and the test command installs
what the suite imports (a fresh clone must pass it exactly as written).

Independent of scripts/readme_command.py where it matters: the README is read here with
its own small parser, and the extras the suite needs are found from the tests' own imports.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPT = ROOT / "scripts" / "readme_command.py"


def _bash_blocks_before_notes() -> list[str]:
    start = README.index("## Quick start")
    end = README.index("**Step by step", start)
    section = README[start:end]
    return [b.strip() for b in section.split("```bash\n")[1:] for b in [b.split("```")[0]]]


def _script(which: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), which], capture_output=True, text=True, check=False
    )


def test_the_script_prints_the_readme_commands_in_order():
    blocks = _bash_blocks_before_notes()
    assert len(blocks) == 2, blocks
    app, tests = (_script(w) for w in ("app", "tests"))
    assert app.returncode == 0 and tests.returncode == 0, (app.stderr, tests.stderr)
    assert [app.stdout.strip(), tests.stdout.strip()] == blocks
    assert app.stdout.strip().endswith("mae-desktop")
    assert "pytest" in tests.stdout and "mae-desktop" not in tests.stdout.split("&&")[-1]


def test_the_script_refuses_a_readme_of_another_shape(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("readme_command", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    three = "## Quick start\n" + "```bash\necho x\n```\n" * 3 + "## Next\n"
    with pytest.raises(ValueError, match="exactly two"):
        module.quick_start_commands(three)
    multi = "## Quick start\n```bash\necho a\necho b\n```\n```bash\necho c\n```\n"
    with pytest.raises(ValueError, match="exactly two"):
        module.quick_start_commands(multi)
    with pytest.raises(ValueError, match="no '## Quick start'"):
        module.quick_start_commands("# nothing\n")
    assert _script("neither").returncode == 2


def test_ci_runs_the_readme_command_rather_than_a_copy():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/readme_command.py tests" in ci
    test_command = _bash_blocks_before_notes()[1]
    # no pip line of the README's command is repeated in CI (a copy would drift)
    for part in test_command.split("&&"):
        if "pip install" in part:
            assert part.strip() not in ci, part


def _extras_installed_by(command: str) -> set[str]:
    found = re.findall(r'-e "?\.\[([a-z,]+)\]"?', command)
    return {x for group in found for x in group.split(",")}


def _modules_used(path: Path) -> set[str]:
    """Top-level modules a test file imports or looks up (find_spec/importorskip)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("find_spec", "importorskip")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def test_the_test_command_installs_every_extra_whose_packages_the_tests_import():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    installed = _extras_installed_by(_bash_blocks_before_notes()[1])
    # module names of each extra's distributions, as the tests import them
    module_of = {"pyinstaller": "PyInstaller", "pytest-qt": "pytestqt", "pypdf": "pypdf"}
    imported = set()
    for f in (ROOT / "tests").rglob("*.py"):
        imported |= _modules_used(f)
    provided: dict[str, set[str]] = {}  # module -> the extras that install it
    for extra, requirements in extras.items():
        for req in requirements:
            dist = re.split(r"[<>=!~; \[]", req, maxsplit=1)[0].lower()
            provided.setdefault(module_of.get(dist, dist.replace("-", "_")), set()).add(extra)
    for module, by in provided.items():
        if module in imported and by != {"eval"}:  # eval: optional baselines, tests skip
            assert by & installed, f"tests use {module} ({', '.join(sorted(by))}): not installed"
