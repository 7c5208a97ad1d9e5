"""The modisco rule's script against modisco-lite's own command, on the same attributions.

    python bench/modisco.py --attributions results/demo/attributions/spi1.h5 \
        --onehot results/demo/loci/onehot.h5 [--repeat 4] [--max-seqlets 20000]

The rule calls modisco-lite 3.0's ``TFMoDISco`` as the command does and also reads the
attribution h5, crops, labels the patterns by TOMTOM and writes the MEME/BED/figure outputs
(:mod:`motifscope.denovo.discover`, ``modisco_patterns.py``); the command is ``modisco
motifs``. Both sides run in a fresh process each, timed by wall clock; memory is the peak
RSS of the largest single process (wait4) and the peak of the RSS summed over the process
and its children (sampled every 0.2 s: modisco-lite forks its kernel compilation and
Leiden runs, and a forked child's RSS also counts the parent's pages it shares). The
settings are the same (target FDR 0.05 as the CLI hard-codes, core 21, flank 10, 2 Leiden
runs). ``--repeat k`` stacks the windows k times (each copy with its own seqlets) to reach
a larger seqlet count. The two h5 files are then compared by the issue's criterion: each
modisco-lite pattern with at least 50 seqlets matched one-to-one by one of ours with CWM
cosine >= 0.9, seqlet counts within 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]

OURS = """
import sys, json
sys.path[:0] = [{src!r}, {scripts!r}]
import modisco_patterns as script
script.main(attributions={attr!r}, onehot={onehot!r}, loci={loci!r}, database={db!r},
            families={fam!r}, target="bench", settings={settings!r},
            out={{k: {out!r} + "/ours." + k for k in
                  ("h5", "table", "meme", "cwm_meme", "bed", "png")}})
"""


def measured(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB of its largest process from wait4, peak MiB of the sum of
    the RSS of the process and all its children, sampled every 0.2 s) of one command."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    tree_peak = [0.0]
    done = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.wait(0.2):
            try:
                members = [root] + root.children(recursive=True)
                total = 0
                for member in members:
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_info().rss
            except psutil.Error:
                break
            tree_peak[0] = max(tree_peak[0], total / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    if status:
        raise SystemExit(f"{cmd[0]} failed (status {status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, tree_peak[0]


def stacked(attributions: str, onehot: str, repeat: int, work: Path, npz: bool = True):
    with h5py.File(attributions) as fa, h5py.File(onehot) as fx:
        attr, x = fa["attr"][:].astype(np.float32), fx["X"][:]
    attr, x = np.concatenate([attr] * repeat), np.concatenate([x] * repeat)
    n, _, length = x.shape
    with h5py.File(work / "attr.h5", "w") as h5:
        h5["attr"] = attr
    with h5py.File(work / "onehot.h5", "w") as h5:
        h5["X"] = x
    if npz:  # modisco motifs' inputs
        np.savez(work / "ohe.npz", x)
        np.savez(work / "shap.npz", attr)
    with open(work / "loci.tsv", "w") as out:
        out.write("idx\tchrom\tstart\tend\tsummit\tname\tscore\n")
        for i in range(n):
            out.write(f"{i}\tchr1\t{i * length}\t{(i + 1) * length}\t{length // 2}\tp{i}\t0\n")
    return n, length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributions", required=True)
    parser.add_argument("--onehot", required=True)
    parser.add_argument("--database", default=str(REPO / "tests/data/motifs.meme"))
    parser.add_argument("--families", default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--max-seqlets", type=int, default=20000)
    parser.add_argument("--window", type=int, default=400)
    parser.add_argument("--ours-only", action="store_true",
                        help="measure only the rule (e.g. its peak memory at 100k seqlets)")
    parser.add_argument("--keep",
                        help="copy the h5 of each side that ran (ours.h5, cli.h5) to this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n, length = stacked(args.attributions, args.onehot, args.repeat, work,
                            npz=not args.ours_only)
        families = args.families or str(work / "families.tsv")
        if not args.families:
            Path(families).write_text("id\talt_id\ttf_family\n")
        settings = {"window": args.window, "max_seqlets": args.max_seqlets,
                    "sliding_window": 21, "flank": 10, "target_fdr": 0.05, "n_leiden": 2,
                    "min_seqlets": 20, "min_ic": 0.6, "trim_threshold": 0.3, "seed": 0}
        cli = [str(Path(sys.executable).with_name("modisco")), "motifs", "-s",
               str(work / "ohe.npz"), "-a", str(work / "shap.npz"), "-n",
               str(args.max_seqlets), "-w", str(args.window), "-z", "21", "-f", "10",
               "-l", "2", "-o", str(work / "cli.h5")]
        code = OURS.format(src=str(REPO / "src"), scripts=str(REPO / "workflow/scripts"),
                           attr=str(work / "attr.h5"), onehot=str(work / "onehot.h5"),
                           loci=str(work / "loci.tsv"), db=args.database, fam=families,
                           settings=settings, out=str(work))
        # ours first: at 20,000 seqlets modisco-lite takes an hour, and a partial run still
        # tells the one number that came back
        ours_wall, ours_rss, ours_tree = measured([sys.executable, "-c", code])
        print(f"motifscope rule: {ours_wall:.1f} s, {ours_rss:.0f} MiB (largest process), "
              f"{ours_tree:.0f} MiB (process tree)", flush=True)
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "ours.h5", Path(args.keep) / "ours.h5")
        if args.ours_only:
            return
        ref_wall, ref_rss, ref_tree = measured(cli)
        with h5py.File(work / "cli.h5") as h5:
            seqlets = sum(int(h5[g][p]["seqlets"]["n_seqlets"][0]) for g in h5 for p in h5[g])
        matched, compared = matched_patterns(work / "ours.h5", work / "cli.h5")
        if args.keep:
            shutil.copy(work / "cli.h5", Path(args.keep) / "cli.h5")
        print(json.dumps({"windows": n, "length": length, "seqlets_in_patterns": seqlets,
                          "modisco_cli_s": round(ref_wall, 1),
                          "modisco_cli_rss_mib": round(ref_rss),
                          "modisco_cli_tree_mib": round(ref_tree),
                          "motifscope_rule_s": round(ours_wall, 1),
                          "motifscope_rule_rss_mib": round(ours_rss),
                          "motifscope_rule_tree_mib": round(ours_tree),
                          "time_ratio": round(ref_wall / ours_wall, 2),
                          "memory_ratio": round(ours_rss / ref_rss, 2),
                          "tree_memory_ratio": round(ours_tree / ref_tree, 2),
                          "patterns_50_seqlets_matched": f"{matched} of {compared}"},
                         indent=1))


def matched_patterns(ours: Path, theirs: Path, min_seqlets: int = 50) -> tuple[int, int]:
    """(matched, compared) by :func:`motifscope.denovo.matched_patterns` on the two h5."""
    sys.path.insert(0, str(REPO / "src"))
    from motifscope.denovo import matched_patterns as pair_up
    from motifscope.io.modisco import read_modisco

    pairs, unmatched = pair_up(read_modisco(ours)[0], read_modisco(theirs)[0], min_seqlets)
    return len(pairs), len(pairs) + len(unmatched)

if __name__ == "__main__":
    main()
