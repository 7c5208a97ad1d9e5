"""Provenance of a run: input checksums, package versions, git revision, device."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from motifscope.errors import InputError
from motifscope.utils import resolve_device

PACKAGES = ("motifscope", "torch", "numpy", "pandas", "scipy", "h5py", "pyfaidx", "matplotlib",
            "logomaker", "snakemake", "pyjaspar")


def sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (memory stays at ``chunk_size``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(files: dict) -> list[tuple[str, str, str, int | None]]:
    """(label, path, sha256, size in bytes) of every input; missing files say so.

    Parameters
    ----------
    files : dict label -> path or None
        E.g. ``{"genome": ..., "peaks": ..., "model": ..., "motif database": ...}``;
        ``None`` entries are listed as "not given".
    """
    rows = []
    for label, path in files.items():
        if not path:
            rows.append((label, "", "not given", None))
        elif not Path(path).is_file():
            rows.append((label, str(path), "file not found", None))
        else:
            rows.append((label, str(path), sha256(path), Path(path).stat().st_size))
    return rows


def package_versions(packages=PACKAGES) -> dict[str, str]:
    """Installed versions of the packages (``"not installed"`` when absent)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision(directory: str | os.PathLike) -> str | None:
    """``HEAD`` of the git checkout holding ``directory`` (``+dirty`` with uncommitted
    changes to tracked files), or None when it is not a git checkout or git is missing."""
    try:
        head = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=20)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(directory), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    revision = head.stdout.strip()
    return revision + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def device_description(device: str = "auto") -> str:
    """What ``device`` resolves to on this machine, e.g. ``"cpu (CUDA not available)"``."""
    import torch


    try:
        resolved = resolve_device(device)
    except InputError as err:
        return f"{device}: {err}"
    if resolved.type == "cuda":
        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        return f"{resolved} ({torch.cuda.get_device_name(index)})"
    cuda = "CUDA available" if torch.cuda.is_available() else "CUDA not available"
    return f"{resolved} ({cuda})"
