"""Setuptools hook: put the bundled model (models/) inside the package when building a wheel,
at mae_desktop/resources/models/, where mae_desktop.paths looks first. Editable installs and
source checkouts read models/ directly. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL_FILES = ("default.safetensors", "MODEL_CARD.md")


class BuildPyWithModel(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "mae_desktop" / "resources" / "models"
        for name in MODEL_FILES:
            src = Path(__file__).parent / "models" / name
            if src.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / name)


setup(cmdclass={"build_py": BuildPyWithModel})
