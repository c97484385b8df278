"""Where bundled files live, found the same way from a checkout, an install and a frozen app."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DEFAULT_MODEL_NAME = "default.safetensors"


def package_resources() -> Path:
    """mae_desktop/resources (inside the package, so PyInstaller and wheels carry it)."""
    return Path(str(resources.files("mae_desktop") / "resources"))


def default_model_candidates() -> list[Path]:
    """Where the bundled default model is looked for, in order.

    $MAE_DESKTOP_DEFAULT_MODEL, then the package's resources/models/ (installed and frozen
    copies), then models/ beside the package (a source checkout).
    """
    out = []
    if env := os.environ.get("MAE_DESKTOP_DEFAULT_MODEL"):
        out.append(Path(env))
    out.append(package_resources() / "models" / DEFAULT_MODEL_NAME)
    out.append(Path(__file__).resolve().parent.parent / "models" / DEFAULT_MODEL_NAME)
    return out


def default_model() -> Path | None:
    """The bundled default checkpoint, or None when there is none."""
    return next((p for p in default_model_candidates() if p.is_file()), None)


MODELS_CACHE_ENV = "MAE_DESKTOP_CACHE"


def models_cache_dir() -> Path:
    """The per-user folder that downloaded checkpoints go to (not created here).

    $MAE_DESKTOP_CACHE when set, else the platform's user cache folder for "mae-desktop"
    plus /models (~/.cache/mae-desktop/models on Linux, ~/Library/Caches/mae-desktop/models
    on macOS, %LOCALAPPDATA%\\mae-desktop\\Cache\\models on Windows).
    """
    if env := os.environ.get(MODELS_CACHE_ENV):
        return Path(env).expanduser()
    from platformdirs import user_cache_dir  # imported here: only downloads need it

    return Path(user_cache_dir("mae-desktop", appauthor=False)) / "models"
