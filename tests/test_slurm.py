"""The tiny config end to end on a real single-node Slurm (Debian's slurm-wlm and munge,
started on localhost for this module and stopped by PID), through `--executor slurm` and
the slurm-gpu profile with its site values set for the test cluster and GPUs overridden to
0. Its results must equal those of the local run, also after a kill -9 of snakemake and its
Slurm jobs followed by the README's recovery (--unlock, the same command)."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from slurm.harness import (REPO, compare_results, local_slurm, profile_for_test_cluster,
                           snakemake_cmd)

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def _jobs_seen_by_slurm(env) -> dict[str, str]:
    """Slurm job id -> state of every job the cluster has seen (finished ones included)."""
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return dict(line.split("|", 1) for line in out.split())


def test_tiny_config_end_to_end_on_slurm(slurm_env, tiny_run, tmp_path):
    from workflow_helpers import make_workdir

    workdir = make_workdir(tmp_path / "work")
    profile = profile_for_test_cluster(tmp_path / "profile")
    before = _jobs_seen_by_slurm(slurm_env)
    proc = subprocess.run(snakemake_cmd(workdir, "--profile", str(profile)), env=slurm_env,
                          capture_output=True, text=True, timeout=1500)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]

    # Every non-local job was a Slurm job, and all of them completed.
    submitted = log.count("has been submitted with SLURM jobid")
    jobs = {k: v for k, v in _jobs_seen_by_slurm(slurm_env).items() if k not in before}
    assert submitted >= 20 and len(jobs) == submitted, log[-3000:]
    assert set(jobs.values()) == {"COMPLETED"}, jobs
    slurm_logs = workdir / ".snakemake" / "slurm_logs"
    assert (slurm_logs / "rule_attribute").is_dir() and (slurm_logs / "rule_train").is_dir()

    problems = compare_results(tiny_run / "results" / "tiny", workdir / "results" / "tiny")
    assert not problems, "\n".join(problems)


def test_profile_for_the_test_cluster_changes_only_site_values(tmp_path):
    import yaml

    shipped = yaml.safe_load((REPO / "profiles" / "slurm-gpu" / "config.yaml").read_text())
    adapted = yaml.safe_load((profile_for_test_cluster(tmp_path) / "config.yaml").read_text())
    for key in ("executor", "retries", "rerun-incomplete", "latency-wait", "set-threads"):
        assert adapted[key] == shipped[key]
    for rule, resources in adapted["set-resources"].items():
        assert resources["gpu"] == 0 and rule in shipped["set-resources"]
    assert adapted["default-resources"]["mem_mb"] == shipped["default-resources"]["mem_mb"]


def _slurm_jobs(env, states: str = "all") -> dict[str, tuple[str, str]]:
    """Slurm job id -> (state, comment = rule_<rule>[_wildcards_...]) of the cluster's jobs."""
    out = subprocess.run(["squeue", f"--states={states}", "--noheader", "--format=%i|%T|%k"],
                         env=env, capture_output=True, text=True, check=True).stdout
    jobs = {}
    for line in out.split():
        job_id, state, comment = line.split("|", 2)
        jobs[job_id] = (state, comment)
    return jobs


def test_run_killed_under_slurm_resumes_with_the_documented_commands(slurm_env, tiny_run,
                                                                     tmp_path):
    """kill -9 of snakemake and scancel of its running jobs (a lost login node), then the
    README's recovery (`snakemake --unlock`, the same command again): the final results
    equal the uninterrupted local run's byte for byte (HDF5 by content)."""
    workdir = tmp_path / "killed"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    shutil.rmtree(workdir / "results" / "tiny" / "attributions")
    shutil.rmtree(workdir / ".snakemake" / "slurm_logs", ignore_errors=True)
    profile = profile_for_test_cluster(tmp_path / "profile")
    command = snakemake_cmd(workdir, "--profile", str(profile))
    shards = workdir / "results" / "tiny" / "attributions" / "shards"
    before = set(_slurm_jobs(slurm_env))
    with open(workdir / "killed_run.log", "w") as log:
        proc = subprocess.Popen(command, env=slurm_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            running = [i for i, (state, comment) in _slurm_jobs(slurm_env, "RUNNING").items()
                       if i not in before and comment.startswith("rule_attribute")]
            if running and any(shards.glob("*/*.h5")):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("no attribute job was seen running on Slurm")
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and anything it started locally
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    ours = [i for i in _slurm_jobs(slurm_env) if i not in before]
    subprocess.run(["scancel", "--signal=KILL", "--full", *ours], env=slurm_env,
                   capture_output=True, timeout=60)
    subprocess.run(["scancel", *ours], env=slurm_env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 120
    while any(state in {"RUNNING", "PENDING", "COMPLETING"}
              for i, (state, _) in _slurm_jobs(slurm_env).items() if i in ours):
        assert time.monotonic() < deadline, "the cancelled Slurm jobs did not end"
        time.sleep(0.5)

    blocked = subprocess.run(command, env=slurm_env, capture_output=True, text=True,
                             timeout=300)
    assert blocked.returncode != 0 and "--unlock" in blocked.stdout + blocked.stderr
    subprocess.run(snakemake_cmd(workdir, "--unlock"), env=slurm_env, check=True,
                   capture_output=True, timeout=300)
    rerun = subprocess.run(command, env=slurm_env, capture_output=True, text=True,
                           timeout=1500)
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]

    problems = compare_results(tiny_run / "results" / "tiny", workdir / "results" / "tiny")
    assert not problems, "\n".join(problems)
    leftovers = [str(p) for p in (workdir / "results" / "tiny").rglob("*.tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
