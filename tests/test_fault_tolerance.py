"""Fault tolerance: a run killed mid-way (the snakemake process and a running attribute job,
both with SIGKILL, as a lost login session or a node failure would) resumes with
`snakemake --unlock` and the same command, recomputes only the attribution shards that had
not finished, and ends with the same results as an uninterrupted run."""

import base64
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from slurm.harness import REPO, compare_results, parse_dry_run, snakemake_cmd

pytestmark = pytest.mark.workflow

RUN = "results/tiny"
SHARDS = f"{RUN}/attributions/shards"


def _is_incomplete(workdir: Path, relative: str) -> bool:
    """Whether Snakemake marked ``relative`` as being written by a job that never reported
    back (its marker in .snakemake/incomplete)."""
    marker = base64.urlsafe_b64encode(relative.encode()).decode()
    return (workdir / ".snakemake" / "incomplete" / marker).exists()


def _finished_shards(workdir: Path) -> dict[str, int]:
    """Shard files that are complete: relative path -> mtime in ns."""
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns
            for p in sorted((workdir / SHARDS).glob("*/*.h5"))
            if not _is_incomplete(workdir, str(p.relative_to(workdir)))}


def _running_attribute_jobs(snakemake: psutil.Process) -> list[psutil.Process]:
    jobs = []
    for child in snakemake.children(recursive=True):
        try:
            if any("attribute.py" in part for part in child.cmdline()):
                jobs.append(child)
        except psutil.NoSuchProcess:
            pass
    return jobs


def _kill_mid_attribution(command: list[str], workdir: Path, timeout: float = 600) -> dict:
    """Start ``command``; once a shard is finished and another attribute job is running,
    SIGKILL snakemake and then that job. Returns the finished shards at that moment and
    the PIDs killed."""
    with open(workdir / "killed_run.log", "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    snakemake = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            running = _running_attribute_jobs(snakemake)
            if running and _finished_shards(workdir):
                # Everything below snakemake (the job's python and its shell), by PID.
                tree = snakemake.children(recursive=True)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                for child in tree:
                    try:
                        os.kill(child.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                psutil.wait_procs(tree, timeout=30)
                return {"finished": _finished_shards(workdir),
                        "killed": [p.pid for p in running]}
            time.sleep(0.1)
        raise AssertionError("no attribute job was seen running")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _attribute_jobs_in(log_text: str) -> set[str]:
    return {f"{SHARDS}/{job['wildcards'][0]}/{job['wildcards'][1]}.h5"
            for job in parse_dry_run(log_text) if job["rule"] == "attribute"}


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tiny_run, tmp_path):
    # Start from the uninterrupted run with its attributions removed: everything from the
    # attribute jobs on must be computed again, as after a change of attribution settings.
    workdir = tmp_path / "resumed"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    shutil.rmtree(workdir / RUN / "attributions")
    all_shards = {str(p.relative_to(tiny_run)) for p in (tiny_run / SHARDS).glob("*/*.h5")}
    assert len(all_shards) >= 4

    command = snakemake_cmd(workdir, "--profile", str(REPO / "profiles" / "local"),
                            "--cores", "2")
    state = _kill_mid_attribution(command, workdir)
    finished = state["finished"]
    assert finished and set(finished) < all_shards, state
    assert state["killed"], "no running job was killed"

    # A killed snakemake leaves its lock: the documented recovery is --unlock, then rerun.
    blocked = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert blocked.returncode != 0 and "--unlock" in blocked.stdout + blocked.stderr
    subprocess.run(snakemake_cmd(workdir, "--unlock"), check=True, capture_output=True,
                   timeout=300)
    rerun_started = time.time_ns()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]

    # Only the unfinished shards ran again: by the jobs in the log and by file times.
    assert _attribute_jobs_in(rerun.stdout + rerun.stderr) == all_shards - set(finished)
    for shard in all_shards:
        mtime = (workdir / shard).stat().st_mtime_ns
        if shard in finished:
            assert mtime == finished[shard], f"{shard} was recomputed"
        else:
            assert mtime >= rerun_started, f"{shard} was not recomputed"

    problems = compare_results(tiny_run / RUN, workdir / RUN)
    assert not problems, "\n".join(problems)
    leftovers = [str(p) for p in (workdir / RUN).rglob("*.tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_compare_results_sees_real_differences_only(tmp_path):
    """The comparison used above: equal content passes, any changed value is reported."""
    import h5py
    import numpy as np
    import torch

    def make(root, value=1.0, text="a\t1\n", revision="a" * 40, save_as="model.pt"):
        (root / "model").mkdir(parents=True)
        with h5py.File(root / "attr.h5", "w") as h5:
            h5.create_dataset("attr", data=np.full((2, 4, 3), value, dtype=np.float32))
        # Written under another name first, as atomic writes do: other zip folder name.
        torch.save({"w": torch.ones(3)}, root / "model" / save_as)
        if save_as != "model.pt":
            (root / "model" / save_as).rename(root / "model" / "model.pt")
        (root / "table.tsv").write_text(text)
        digest = hashlib.sha256((root / "model" / "model.pt").read_bytes()).hexdigest()
        (root / "report.html").write_text(f"<td>{revision}+dirty</td><td>{digest}</td>")
        return root

    reference = make(tmp_path / "ref")
    same = make(tmp_path / "same", revision="b" * 40, save_as="model.pt.tmp123")
    pt = "model/model.pt"
    assert (reference / pt).read_bytes() != (same / pt).read_bytes()
    assert compare_results(reference, same) == []
    assert compare_results(reference, make(tmp_path / "h5", value=1.5))[0].startswith(
        "differs: attr.h5")
    assert compare_results(reference, make(tmp_path / "tsv", text="a\t2\n"))[0].startswith(
        "differs: table.tsv")
    changed = make(tmp_path / "html")
    changed.joinpath("report.html").write_text(
        changed.joinpath("report.html").read_text() + "<p>extra</p>")
    assert compare_results(reference, changed)[0].startswith("differs: report.html")
