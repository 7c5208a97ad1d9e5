"""Running the workflow from tests: copy tests/ (tiny config and data) and call snakemake.

`run_snakemake` runs ``python -m snakemake`` (the interpreter running pytest, so the same
virtual environment) with the repository's Snakefile on a working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"


def make_workdir(path: Path, config_overrides: str = "") -> Path:
    """Copy the tiny config and its data into ``path``; append YAML to the config if given."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TESTS / "config", path / "config", dirs_exist_ok=True)
    shutil.copytree(TESTS / "data", path / "data", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    if config_overrides:
        with open(path / "config" / "config.yaml", "a") as fh:
            fh.write("\n" + config_overrides + "\n")
    return path


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1200,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    """Run snakemake on ``workdir`` with the repository's Snakefile; return the process."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), *args]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc
