"""Training in a project folder, timed: the same command for ours and for the anchor.

The command is the product's own (`python -m bot.training`, what `make train` runs): Rasa's
`rasa train` with each YAML text parsed and schema-checked once (bot/training.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import ROOT

PROJECT_FILES = ("config.yml", "domain.yml", "data")  # what `rasa train` reads of our project


def copy_our_project(folder: Path) -> Path:
    """Our config, domain and training data, copied into `folder` (created) so that training leaves no trace."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy2(source, folder / name)
    return folder


def rasa_train(
    folder: Path, name: str, log: Path, nlu_only: bool = False, timeout: float = 4 * 3600
) -> tuple[Path, float]:
    """Train the project in `folder` with `python -m bot.training`; returns the model and the seconds it took.

    Runs in `folder`, so Rasa's cache (`.rasa/cache`) starts empty: nothing is reused across runs.
    """
    command = [sys.executable, "-m", "bot.training"]
    if nlu_only:
        command += ["nlu", "--config", "config.yml", "--nlu", "data"]
    command += ["--out", "models", "--fixed-model-name", name]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "wb") as out:
        result = subprocess.run(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"`rasa train` in {folder} failed with exit code {result.returncode}; see {log}")
    return folder / "models" / f"{name}.tar.gz", seconds
