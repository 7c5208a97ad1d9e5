"""End to end, as a user would compare: the peers chained by hand against the workflow.

    python bench/e2e.py --demo results/demo [--targets spi1] [--work /tmp/e2e]

Both sides start from the same files of a finished demo run (genome, peaks, trained model,
motif database) and do the same stages for every target: one-hot windows, DeepLIFT/SHAP
(10 shuffles), seqlets, TOMTOM annotation of the seqlets, FIMO with the attribution of each
hit, TF-MoDISco patterns, and hit calling from the patterns.

- peers: one Python script chaining tangermeme (``extract_loci``, ``deep_lift_shap``,
  ``recursive_seqlets``, ``annotate_seqlets``), memelite (``fimo``) and the command-line
  tools of modisco-lite (``modisco motifs``) and finemo (``extract-regions-modisco-fmt``,
  ``call-hits``), as their tutorials do;
- motifscope: ``snakemake --cores 2`` on a config with the same stages (the filters,
  marginalization, tracks, summary and report stages switched off, since the peers have no
  counterpart; the workflow always adds its predictions).

Each side runs as one process tree, timed by wall clock; the peak memory is ``ru_maxrss``
from ``wait4``: the largest resident set of any single process of the tree (snakemake runs
each job in its own process, the peers' script runs modisco and finemo as children).
The workflow is given the settings ``modisco motifs`` fixes (target FDR 0.05, where the
workflow's default is modisco-lite's library default 0.2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

PEERS = r'''
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, torch
sys.path.insert(0, {src!r})
from motifscope.architectures import DemoCNN
from tangermeme.io import extract_loci
from tangermeme.deep_lift_shap import deep_lift_shap
from tangermeme.seqlet import recursive_seqlets
from tangermeme.annotate import annotate_seqlets
from memelite import fimo

torch.set_num_threads(2)
work = Path({work!r})
spec = json.loads(Path({model_json!r}).read_text())
model = DemoCNN(**spec["kwargs"])
model.load_state_dict(torch.load({model!r}, weights_only=True))
model.eval()
peaks = pd.read_csv({peaks!r}, sep="\t", header=None)
# windows centred on the summit, as the workflow places them
centre = peaks[1] + peaks[9]
loci = pd.DataFrame({{0: peaks[0], 1: centre - {window} // 2, 2: centre - {window} // 2 + {window}}})
X = extract_loci(loci, {genome!r}, in_window={window}).float()
for target, index in {targets!r}.items():
    attr = deep_lift_shap(model, X, target=index, n_shuffles=10, random_state=0,
                          batch_size=128, device="cpu")
    projected = (attr * X).sum(dim=1)
    seqlets = recursive_seqlets(projected, threshold=0.001)
    annotate_seqlets(X, seqlets, {motifs!r})
    hits = pd.concat(fimo({motifs!r}, X.numpy()))
    totals = []
    for row in hits.itertuples(index=False):
        totals.append(float(projected[int(row.sequence_name), int(row.start):int(row.end)].sum()))
    hits["attribution"] = totals
    np.savez(work / f"{{target}}.ohe.npz", X.numpy())
    np.savez(work / f"{{target}}.shap.npz", attr.numpy())
    subprocess.run(["modisco", "motifs", "-s", work / f"{{target}}.ohe.npz",
                    "-a", work / f"{{target}}.shap.npz", "-n", "20000", "-w", "{window}",
                    "-z", "21", "-f", "10", "-o", work / f"{{target}}.modisco.h5"], check=True)
    subprocess.run(["finemo", "extract-regions-modisco-fmt", "-s", work / f"{{target}}.ohe.npz",
                    "-a", work / f"{{target}}.shap.npz", "-o", work / f"{{target}}.regions.npz",
                    "-w", "{window}"], check=True)
    subprocess.run(["finemo", "call-hits", "-r", work / f"{{target}}.regions.npz",
                    "-m", work / f"{{target}}.modisco.h5", "-o", work / f"{{target}}.finemo",
                    "-l", "0.7", "-b", "1024"], check=True)
    print(target, len(seqlets), "seqlets,", len(hits), "FIMO hits", flush=True)
'''


def measured(cmd: list[str], env: dict | None = None, log: Path | None = None):
    """(wall seconds, peak RSS MiB of the largest process of the tree) of one command."""
    out = open(log, "w") if log else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"{cmd[:3]} failed (status {status}); see {log}")
    return wall, usage.ru_maxrss / 1024


def workflow_config(demo: Path, targets: dict, window: int) -> dict:
    return {
        "run": "e2e", "genome": str(demo / "sim/genome.fa"),
        "peaks": str(demo / "sim/peaks.narrowPeak"), "window": window,
        "motif_db": str(demo / "motifs/database.meme"), "device": "cpu",
        "random_state": 0, "targets": targets,
        "model": {"path": str(demo / "model/model.pt"), "format": "state_dict",
                  "class": "motifscope.architectures.DemoCNN",
                  "kwargs": json.loads((demo / "model/model.json").read_text())["kwargs"]},
        "attribution": {"method": "deeplift_shap", "n_shuffles": 10, "shard_size": 600},
        # what `modisco motifs` fixes: target FDR 0.05, core 21 (-z), flank 10 (-f)
        "modisco": {"target_fdr": 0.05, "sliding_window": 21, "flank": 10,
                    "max_seqlets": 20000},
        "stages": {"filters": False, "marginalize": False, "tracks": False,
                   "summary": False, "report": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", default=str(REPO / "results/demo"))
    parser.add_argument("--targets", nargs="*", help="default: every target of the demo")
    parser.add_argument("--work", default="/tmp/motifscope-e2e")
    parser.add_argument("--skip", choices=["peers", "motifscope"])
    args = parser.parse_args()
    demo = Path(args.demo).resolve()
    spec = json.loads((demo / "model/model.json").read_text())
    targets = {t: i for t, i in spec["targets"].items()
               if not args.targets or t in args.targets}
    window = int(spec["input_length"])
    work = Path(args.work)
    (work / "peers").mkdir(parents=True, exist_ok=True)
    (work / "ours").mkdir(parents=True, exist_ok=True)
    results = {"targets": list(targets), "loci": sum(1 for _ in open(demo / "sim/peaks.narrowPeak"))}
    if args.skip != "peers":
        script = PEERS.format(src=str(REPO / "src"), work=str(work / "peers"),
                              model_json=str(demo / "model/model.json"),
                              model=str(demo / "model/model.pt"),
                              peaks=str(demo / "sim/peaks.narrowPeak"),
                              genome=str(demo / "sim/genome.fa"),
                              motifs=str(demo / "motifs/database.meme"), window=window,
                              targets=targets)
        (work / "peers/chain.py").write_text(script)
        bin_dir = str(Path(sys.executable).parent)
        results["peers"] = measured([sys.executable, str(work / "peers/chain.py")],
                                    env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
                                    log=work / "peers/log.txt")
        print("peers (hand-chained): %.1f s, peak %.0f MiB" % results["peers"], flush=True)
    if args.skip != "motifscope":
        config = work / "ours/config.yaml"
        config.write_text(yaml.safe_dump(workflow_config(demo, targets, window)))
        results["motifscope"] = measured(
            [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
             "--directory", str(work / "ours"), "--configfile", str(config), "--cores", "2",
             "--forceall"], env={"PYTHONPATH": f"{REPO / 'src'}"}, log=work / "ours/log.txt")
        print("motifscope (snakemake --cores 2): %.1f s, peak %.0f MiB"
              % results["motifscope"], flush=True)
    if "peers" in results and "motifscope" in results:
        results["ratio"] = results["peers"][0] / results["motifscope"][0]
        print("wall-time ratio peers / motifscope: %.2fx" % results["ratio"])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
