"""Stand-ins for the Slurm commands the executor plugin calls, for tests without a cluster.

``python fake_slurm.py NAME ARGS...`` behaves as Slurm's NAME (sbatch, squeue, sacct,
scontrol, sinfo, sacctmgr, sshare, scancel) would, with state in ``$FAKE_SLURM_DIR``:

- ``calls.jsonl``: one JSON line per sbatch call, ``{"id": ..., "argv": [...]}``.
- ``outputs.json`` (written by the test): sbatch comment (``rule_<rule>_wildcards_<values>``)
  -> output paths of that job. sbatch creates them at once (empty files; a path whose
  name has no suffix is a ``directory()`` output) and the job reads as COMPLETED, so
  Snakemake goes on to submit the next jobs of the DAG without running anything.
- ``fail.json`` (optional): comment -> how many submissions of that job end as
  OUT_OF_MEMORY, without outputs, before one succeeds.
- ``jobs.json``: job id -> state, what squeue and sacct report.

``$FAKE_SLURM_ACCOUNT`` is the account sacctmgr and sshare list.
"""

import fcntl
import json
import os
import shlex
import sys
from pathlib import Path



def _state() -> Path:
    return Path(os.environ["FAKE_SLURM_DIR"])


def _load(name, default):
    path = _state() / name
    return json.loads(path.read_text()) if path.exists() else default


def _option(argv, *names):
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def sbatch(argv):
    state = _state()
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jobs = _load("jobs.json", {})
        job_id = str(1000 + len(jobs))
        comment = _option(argv, "--comment")
        workdir = Path(_option(argv, "-D", "--chdir") or ".")
        previous = sum(1 for line in _calls() if _option(line["argv"], "--comment") == comment)
        if previous < _load("fail.json", {}).get(comment, 0):
            jobs[job_id] = "OUT_OF_MEMORY"
        else:
            for output in _load("outputs.json", {}).get(comment, []):
                path = workdir / output
                if Path(output).suffix:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                else:
                    path.mkdir(parents=True, exist_ok=True)
            jobs[job_id] = "COMPLETED"
        with open(state / "calls.jsonl", "a") as fh:
            fh.write(json.dumps({"id": job_id, "argv": argv}) + "\n")
        (state / "jobs.json").write_text(json.dumps(jobs))
    print(job_id)


def _calls():
    path = _state() / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def squeue(argv):
    for job_id, state in _load("jobs.json", {}).items():
        print(f"{job_id}|{state}")


def sacct(argv):
    """The status query (``--format=JobIdRaw,State``) answers as squeue does; the per-step
    failure-reason queries (``-j ID.STEP``) find nothing."""
    if "-j" not in argv:
        squeue(argv)


def scontrol(argv):
    if argv[:2] == ["show", "config"]:
        print("MinJobAge               = 300 sec")


def accounts(argv):
    print(os.environ.get("FAKE_SLURM_ACCOUNT", ""))


COMMANDS = {"sbatch": sbatch, "squeue": squeue, "scontrol": scontrol, "sacctmgr": accounts,
            "sshare": accounts, "sacct": sacct, "sinfo": lambda argv: None,
            "scancel": lambda argv: None}


def install(bin_dir: Path) -> Path:
    """Write one executable per Slurm command into ``bin_dir`` (put it first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                          f"{shlex.quote(str(Path(__file__).resolve()))} {name} \"$@\"\n")
        script.chmod(0o755)
    return bin_dir


def calls(state_dir: Path) -> list[dict]:
    """The recorded sbatch calls: ``{"id", "argv", "rule", "comment"}`` in submission order."""
    records = []
    for line in (state_dir / "calls.jsonl").read_text().splitlines():
        record = json.loads(line)
        comment = _option(record["argv"], "--comment")
        record["comment"] = comment
        record["rule"] = comment[len("rule_"):].split("_wildcards_")[0]
        records.append(record)
    return records


if __name__ == "__main__":
    COMMANDS[sys.argv[1]](sys.argv[2:])
