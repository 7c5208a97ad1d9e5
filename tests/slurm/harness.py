"""Helpers for the cluster tests: a private single-node Slurm, the profile adapted to it,
the jobs of a dry run, and the comparison of two runs' results.

The cluster is started by ``tests/slurm/start.sh`` (munged, slurmctld and slurmd with all
state in one temporary folder, on free localhost ports) and stopped by ``stop.sh`` through
the PID files start.sh wrote, so nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHIPPED_PROFILE = REPO / "profiles" / "slurm-gpu" / "config.yaml"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel")


def why_no_slurm() -> str | None:
    """Why this machine cannot run the test cluster, or None when it can."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        return (f"{', '.join(missing)} not installed: apt-get install slurm-wlm munge "
                "(.ci/run does this when it runs as root)")
    if os.geteuid() != 0:
        return (f"slurmd must run as root to start jobs as the submitting user; these tests "
                f"run as uid {os.geteuid()}")
    return None


@contextlib.contextmanager
def local_slurm(directory: Path, cpus: int | None = None):
    """Start a single-node Slurm in ``directory``; yield the environment to submit with.

    The node claims ``cpus`` CPUs, by default twice the machine's: each job spends most of
    its time in single-threaded Python start-up (two Snakemake processes per job), so two
    jobs at once use two cores better than one. Skips the calling test, with the reason,
    when the daemons cannot run here. The daemons are stopped by PID on exit, whatever
    happens in between.
    """
    cpus = cpus or 2 * (os.cpu_count() or 1)
    reason = why_no_slurm()
    if reason:
        pytest.skip(reason)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        start = subprocess.run([str(HERE / "start.sh"), str(directory), str(cpus)],
                               capture_output=True, text=True, timeout=120)
        if start.returncode != 0:
            tail = " | ".join((start.stdout + start.stderr).strip().splitlines()[-6:])
            pytest.skip(f"the Slurm daemons do not start on this machine: {tail}")
        env = {**os.environ, "SLURM_CONF": str(directory / "slurm.conf"),
               "PATH": f"{directory / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        yield env
    finally:
        subprocess.run([str(HERE / "stop.sh"), str(directory)], capture_output=True, timeout=120)


def profile_for_test_cluster(path: Path, partition: str = "debug", max_threads: int = 2) -> Path:
    """``profiles/slurm-gpu`` adapted to the test cluster; returns the profile folder.

    Only the site values change: the test partition everywhere, no account (no slurmdbd),
    GPUs overridden to 0 (the test node has none), threads capped at the node's CPUs,
    squeue for job states (no accounting) with a 1 s first status check, kept Slurm
    logs for debugging, and no conda_cuda (no conda on the test cluster). Everything else (retries, rerun-incomplete, memory, runtime) is the
    shipped profile's.
    """
    profile = yaml.safe_load(SHIPPED_PROFILE.read_text())
    quoted = f"'{partition}'"
    defaults = profile["default-resources"]
    defaults.pop("slurm_account", None)
    defaults["slurm_partition"] = quoted
    gpu_rules = {}
    for rule, resources in profile["set-resources"].items():
        resources = {k: v for k, v in resources.items() if k not in ("gpu_model", "cpus_per_gpu")}
        gpu_rules[rule] = {**resources, "gpu": 0, "slurm_partition": quoted}
    profile["set-resources"] = gpu_rules
    # conda_cuda only picks the conda env of GPU rules; the test cluster runs without conda,
    # and the local run it is compared with has the config's default
    profile.pop("config", None)
    profile.update({"slurm-no-account": True, "max-threads": max_threads,
                    "slurm-status-command": "squeue",
                    "slurm-init-seconds-before-status-checks": 1,
                    "slurm-keep-successful-logs": True})
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """``python -m snakemake`` on the repository's Snakefile in ``workdir``."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), *args]


def dry_run_jobs(workdir: Path, *args: str, env: dict | None = None) -> list[dict]:
    """Jobs of ``snakemake -n -F`` in ``workdir`` (see :func:`parse_dry_run`)."""
    proc = subprocess.run(snakemake_cmd(workdir, "-n", "-F", *args), capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return parse_dry_run(proc.stdout)


def parse_dry_run(text: str) -> list[dict]:
    """Jobs of a printed dry run: dicts with rule, local (bool: a local rule), output
    (list), benchmark (list: the benchmark table, if any), wildcards (list of values, in
    order) and resources (dict of strings)."""
    local = local_rules()
    jobs, job = [], None
    for line in text.splitlines():
        head = re.match(r"^(local)?rule (\w+):$", line)
        if head:
            job = {"rule": head.group(2), "local": head.group(2) in local, "output": [],
                   "benchmark": [], "wildcards": [], "resources": {}}
            jobs.append(job)
            continue
        field = re.match(r"^    (\w+): (.*)$", line)
        if job is None or not field:
            continue
        key, value = field.groups()
        if key in ("output", "benchmark"):
            job[key] = value.split(", ")
        elif key == "wildcards":
            job["wildcards"] = [item.split("=", 1)[1] for item in value.split(", ")]
        elif key == "resources":
            job["resources"] = dict(item.split("=", 1) for item in value.split(", "))
    return jobs


def local_rules() -> set[str]:
    """Rules that run in the main Snakemake process (``localrule: True`` or ``localrules:``),
    read from the Snakefile and rules/*.smk (a dry run does not say which they are)."""
    names = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        for block in re.split(r"^(?=rule \w+:)", text, flags=re.M):
            head = re.match(r"rule (\w+):", block)
            if head and re.search(r"^\s+localrule:\s*True", block, flags=re.M):
                names.add(head.group(1))
        for listed in re.findall(r"^localrules:\s*(.+)$", text, flags=re.M):
            names.update(name.strip() for name in listed.split(",") if name.strip())
    return names


def slurm_comment(job: dict) -> str:
    """The ``--comment`` the Slurm plugin gives a job: rule_<rule>[_wildcards_<values>]."""
    comment = f"rule_{job['rule']}"
    return comment + (f"_wildcards_{'_'.join(job['wildcards'])}" if job["wildcards"] else "")


# --- comparing the results of two runs ---------------------------------------------------

def _result_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def _h5_items(path: Path) -> dict:
    items = {}
    with h5py.File(path, "r") as handle:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                items[name] = (obj.dtype.str, obj[()])
            items[name + "@attrs"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                      for k, v in obj.attrs.items()}
        handle.visititems(visit)
        items["@attrs"] = dict(handle.attrs.items())
    return items


def _same_h5(a: Path, b: Path) -> bool:
    left, right = _h5_items(a), _h5_items(b)
    if left.keys() != right.keys():
        return False
    for key, value in left.items():
        other = right[key]
        if key.endswith("@attrs"):
            if json.dumps(value, sort_keys=True, default=str) != json.dumps(
                    other, sort_keys=True, default=str):
                return False
        elif value[0] != other[0] or not np.array_equal(value[1], other[1], equal_nan=True):
            return False
    return True


def _same_state_dict(a: Path, b: Path) -> bool:
    import torch

    left = torch.load(a, map_location="cpu", weights_only=True)
    right = torch.load(b, map_location="cpu", weights_only=True)
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


# Keys of the model card that measure the machine, not the model.
TIMING_KEYS = ("train_seconds",)


def _same_json(a: Path, b: Path) -> bool:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    for key in TIMING_KEYS:
        left.pop(key, None)
        right.pop(key, None)
    return left == right


# The report names the workflow's git revision: a commit between the two runs (never in
# CI, often on a shared development checkout) changes it and nothing else.
GIT_REVISION = re.compile(rb"\b[0-9a-f]{40}(\+dirty)?\b")


def _sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).hexdigest().encode()


def _same_html(a: Path, b: Path, equivalent: dict[str, tuple[Path, Path]]) -> bool:
    """HTML equal but for the git revision and the SHA-256 of files whose bytes differ
    while their content was found equal (``equivalent``: name -> both paths)."""
    left, right = a.read_bytes(), b.read_bytes()
    for name, (x, y) in equivalent.items():
        left = left.replace(_sha256(x), f"<sha256 of {name}>".encode())
        right = right.replace(_sha256(y), f"<sha256 of {name}>".encode())
    return GIT_REVISION.sub(b"<rev>", left) == GIT_REVISION.sub(b"<rev>", right)


def _first_difference(a: Path, b: Path) -> str:
    """The first differing line of two text files, shortened, for the failure message."""
    try:
        left, right = a.read_text().splitlines(), b.read_text().splitlines()
    except UnicodeDecodeError:
        return "binary"
    for number, (x, y) in enumerate(zip(left, right), 1):
        if x != y:
            start = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), 0)
            return f"line {number}: {x[max(0, start - 40):start + 80]!r} vs " \
                   f"{y[max(0, start - 40):start + 80]!r}"
    return f"{len(left)} vs {len(right)} lines"


def compare_results(reference: Path, other: Path) -> list[str]:
    """Differences between two ``results/`` trees; an empty list when they are equal.

    Files must be byte-identical, except: HDF5 files are compared dataset by dataset
    (values, dtypes, attributes; HDF5 metadata bytes may differ), ``.pt`` files by their tensors (the
    zip archive's folder name comes from the file name it was first written to), JSON
    files without timing keys (``train_seconds``), and HTML without the git revision and
    without the checksums of files that passed one of these content comparisons.
    """
    left, right = _result_files(reference), _result_files(other)
    problems = [f"only in {reference}: {p}" for p in sorted(left - right)]
    problems += [f"only in {other}: {p}" for p in sorted(right - left)]
    content_compare = {".h5": _same_h5, ".pt": _same_state_dict, ".json": _same_json}
    # gzip files are compared byte for byte: they are written with mtime 0 and a fixed
    # inner name (motifscope.utils.write_tsv_gz)
    equivalent, pages = {}, []
    for name in sorted(left & right):
        a, b = reference / name, other / name
        if a.suffix == ".html":
            pages.append(name)
            continue
        if a.read_bytes() == b.read_bytes():
            continue
        if a.suffix in content_compare and content_compare[a.suffix](a, b):
            equivalent[name] = (a, b)
        else:
            problems.append(f"differs: {name} ({_first_difference(a, b)})")
    for name in pages:
        a, b = reference / name, other / name
        if not _same_html(a, b, equivalent):
            problems.append(f"differs: {name} ({_first_difference(a, b)})")
    return problems
