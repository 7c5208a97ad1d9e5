"""Execution profiles: the slurm-gpu profile parses, installs for `--profile slurm-gpu`, and
submits GPU rules with exactly one GPU and every other rule with none (recorded flags of a
fake `sbatch`); failed jobs come back with more memory and time."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from motifscope.cli import install_profile, main, render_profile, unfilled
from motifscope.errors import InputError
from slurm import fake_slurm
from slurm.harness import (SHIPPED_PROFILE, dry_run_jobs, parse_dry_run, slurm_comment,
                           snakemake_cmd)
from workflow_helpers import REPO, make_workdir

pytestmark = pytest.mark.workflow

SITE = {"account": "acme_lab", "cpu_partition": "short", "gpu_partition": "gpu_a100"}


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory):
    return make_workdir(tmp_path_factory.mktemp("profiles"))


@pytest.fixture(scope="module")
def plain_jobs(tiny_workdir):
    """Every job of the tiny config, as the workflow declares it (no profile)."""
    return dry_run_jobs(tiny_workdir)


@pytest.fixture(scope="module")
def gpu_rules(plain_jobs):
    """Rules that declare `resources: gpu=1` in rules/*.smk."""
    rules = {job["rule"] for job in plain_jobs if job["resources"].get("gpu") == "1"}
    assert "attribute" in rules
    return rules


def _sbatch_flags(argv):
    """sbatch arguments without the wrapped job command."""
    return [arg for arg in argv if not arg.startswith("--wrap")]


def _option_values(flags, *names):
    values = []
    for i, flag in enumerate(flags):
        for name in names:
            if flag == name:
                values.append(flags[i + 1])
            elif flag.startswith(name + "="):
                values.append(flag.split("=", 1)[1])
    return values


# --- the profile file ----------------------------------------------------------------


def test_shipped_profile_has_the_cluster_settings(gpu_rules):
    profile = yaml.safe_load(SHIPPED_PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    assert profile["latency-wait"] >= 30
    for rule in gpu_rules:
        resources = profile["set-resources"].get(rule)
        assert resources, f"GPU rule {rule} has no set-resources entry in the profile"
        assert resources["gpu"] == 1 and "gpus" not in resources
        assert resources["cpus_per_gpu"] >= 1
        assert profile["set-threads"][rule] == resources["cpus_per_gpu"]
        assert resources["slurm_partition"] == "'EDIT_gpu_partition'"
    # Site values are placeholders, marked for editing; the GPU type is optional.
    text = SHIPPED_PROFILE.read_text()
    assert [p for _, p in unfilled(text)] == ["EDIT_account", "EDIT_cpu_partition",
                                              "EDIT_gpu_partition"]
    assert "# gpu_model: \"'EDIT_gpu_model'\"" in text
    for line in text.splitlines():
        if "EDIT_" in line.split("#", 1)[0]:
            assert "# EDIT" in line, f"site value without an EDIT mark: {line}"


def test_render_fills_every_site_value():
    text = render_profile(SHIPPED_PROFILE.read_text(), gpu_model="a100", **SITE)
    assert unfilled(text) == []
    profile = yaml.safe_load(text)
    assert profile["default-resources"]["slurm_account"] == "'acme_lab'"
    assert profile["default-resources"]["slurm_partition"] == "'short'"
    assert profile["set-resources"]["attribute"]["slurm_partition"] == "'gpu_a100'"
    assert profile["set-resources"]["attribute"]["gpu_model"] == "'a100'"


def test_render_without_account():
    profile = yaml.safe_load(render_profile(SHIPPED_PROFILE.read_text(), no_account=True))
    assert profile["slurm-no-account"] is True
    assert "slurm_account" not in profile["default-resources"]
    with pytest.raises(InputError, match="either --account or --no-account"):
        render_profile(SHIPPED_PROFILE.read_text(), account="a", no_account=True)


@pytest.mark.parametrize("option,value", [("account", "a'b"), ("gpu_partition", "gpu part"),
                                          ("gpu_model", "a100-80gb")])
def test_render_rejects_values_that_would_break_the_profile(option, value):
    with pytest.raises(InputError, match="use only"):
        render_profile(SHIPPED_PROFILE.read_text(), **{option: value})


def test_install_profile_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["install-profile", "slurm-gpu", "--account", "acme_lab"]) == 0
    target = tmp_path / "snakemake" / "slurm-gpu" / "config.yaml"
    err = capsys.readouterr().err
    assert "EDIT_cpu_partition" in err and "EDIT_gpu_partition" in err
    assert "EDIT_account" not in err
    assert "'acme_lab'" in target.read_text()
    # A second install with other values would lose the first: refused without --force.
    assert main(["install-profile", "slurm-gpu", "--account", "other"]) == 2
    assert "--force" in capsys.readouterr().err
    assert "'acme_lab'" in target.read_text()
    assert main(["install-profile", "slurm-gpu", "--account", "other", "--force"]) == 0
    assert "'other'" in target.read_text()
    with pytest.raises(InputError, match="choose one of local, slurm-gpu"):
        install_profile("slurm", dest=tmp_path)


# --- (a) dry runs ------------------------------------------------------------------------


def test_dry_run_with_profile_as_typed(plain_jobs, gpu_rules, tmp_path):
    """`snakemake --profile slurm-gpu -n` after `motifscope install-profile`, exactly as typed
    (from the clone), plans every job with the profile's partitions and one GPU."""
    install_profile("slurm-gpu", dest=tmp_path / "xdg" / "snakemake", **SITE)
    workdir = make_workdir(tmp_path / "work")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    snakemake = Path(sys.executable).with_name("snakemake")
    proc = subprocess.run([str(snakemake), "--profile", "slurm-gpu", "-n",
                           "--directory", str(workdir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    assert sorted(j["rule"] for j in jobs) == sorted(j["rule"] for j in plain_jobs)
    for job in jobs:
        resources = job["resources"]
        if job["rule"] in gpu_rules:
            assert resources["gpu"] == "1" and resources["cpus_per_gpu"] == "4", job
            assert resources["slurm_partition"] == "gpu_a100", job
        else:
            assert resources.get("gpu", "0") == "0" and "cpus_per_gpu" not in resources, job
            assert resources["slurm_partition"] == "short", job
        assert resources["slurm_account"] == "acme_lab"
        assert int(resources["mem_mb"]) > 0 and int(resources["runtime"]) > 0


@pytest.mark.parametrize("profile", ["slurm-gpu", "local"])
def test_dry_run_with_workflow_profile(tiny_workdir, profile):
    """The shipped profiles, unedited, as workflow profiles (the documented alternative)."""
    proc = subprocess.run(snakemake_cmd(tiny_workdir, "--workflow-profile",
                                        str(REPO / "profiles" / profile), "-n", "-F"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "rule attribute:" in proc.stdout


# --- (b) recorded sbatch flags --------------------------------------------------------------

FAILING_JOB = "rule_attribute_wildcards_ctcf_0001"


@pytest.fixture(scope="module")
def fake_cluster_run(tmp_path_factory, plain_jobs):
    """The tiny workflow submitted through the installed profile to fake Slurm commands.

    The fake sbatch records its flags and creates the job's outputs at once, so Snakemake
    submits the whole DAG in seconds without running anything; FAILING_JOB ends as
    OUT_OF_MEMORY on its first attempt. The fake sacct answers the status queries, as
    sacct does on clusters with accounting (the plugin's default).
    """
    root = tmp_path_factory.mktemp("fake_slurm")
    workdir = make_workdir(root / "work")
    state = root / "state"
    state.mkdir()
    (state / "outputs.json").write_text(json.dumps(
        {slurm_comment(job): job["output"] + job["benchmark"] for job in plain_jobs
         if not job["local"]}))
    (state / "fail.json").write_text(f'{{"{FAILING_JOB}": 1}}')
    install_profile("slurm-gpu", dest=root / "xdg" / "snakemake", **SITE)
    bin_dir = fake_slurm.install(root / "bin")
    env = {**os.environ, "XDG_CONFIG_HOME": str(root / "xdg"), "FAKE_SLURM_DIR": str(state),
           "FAKE_SLURM_ACCOUNT": SITE["account"],
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SLURM_CONF", None)
    # Local rules (the report, `all`) would run here on the empty files: ask for the
    # outputs of the cluster jobs only.
    targets = [path for job in plain_jobs if not job["local"] for path in job["output"]]
    proc = subprocess.run(snakemake_cmd(workdir, "--profile", "slurm-gpu",
                                        "--slurm-init-seconds-before-status-checks", "1",
                                        "--latency-wait", "5", *targets),
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return fake_slurm.calls(state)


def test_every_job_went_through_sbatch(fake_cluster_run, plain_jobs):
    submitted = {call["comment"] for call in fake_cluster_run}
    expected = {slurm_comment(job) for job in plain_jobs if not job["local"]}
    assert submitted == expected


def test_gpu_rules_ask_for_one_gpu_and_cpu_rules_for_none(fake_cluster_run, gpu_rules):
    for call in fake_cluster_run:
        flags = _sbatch_flags(call["argv"])
        gpus = _option_values(flags, "--gpus", "-G", "--gpus-per-node", "--gpus-per-task")
        gres = _option_values(flags, "--gres")
        where = f"{call['comment']}: sbatch {shlex.join(flags)}"
        assert _option_values(flags, "-A", "--account") == [SITE["account"]], where
        assert len(_option_values(flags, "--mem")) == 1, where
        assert len(_option_values(flags, "-t", "--time")) == 1, where
        if call["rule"] in gpu_rules:
            assert gpus == ["1"] and gres == [], where
            assert _option_values(flags, "--cpus-per-gpu") == ["4"], where
            assert _option_values(flags, "--cpus-per-task") == [], where
            assert _option_values(flags, "-p", "--partition") == [SITE["gpu_partition"]], where
        else:
            assert gpus == [] and gres == [], where
            assert _option_values(flags, "--cpus-per-gpu") == [], where
            assert len(_option_values(flags, "--cpus-per-task")) == 1, where
            assert _option_values(flags, "-p", "--partition") == [SITE["cpu_partition"]], where


def test_failed_job_is_resubmitted_with_more_memory_and_time(fake_cluster_run, plain_jobs):
    attempts = [_sbatch_flags(c["argv"]) for c in fake_cluster_run if c["comment"] == FAILING_JOB]
    assert len(attempts) == 2
    (mem1,), (mem2,) = (_option_values(f, "--mem") for f in attempts)
    (time1,), (time2,) = (_option_values(f, "-t", "--time") for f in attempts)
    assert int(mem2) == 2 * int(mem1) and int(time2) == 2 * int(time1)
    # The first attempt asks for what the rule declares (config attribution.mem_mb, runtime).
    declared = next(j["resources"] for j in plain_jobs if slurm_comment(j) == FAILING_JOB)
    assert (mem1, time1) == (declared["mem_mb"], declared["runtime"])
