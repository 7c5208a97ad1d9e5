"""The tiny config end to end on a real single-node Slurm (Debian's slurm-wlm and munge,
started on localhost for this module and stopped by PID), through `--executor slurm` and
the slurm-gpu profile with its site values set for the test cluster and GPUs overridden to
0. Its results must equal those of the local run."""

import subprocess

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
