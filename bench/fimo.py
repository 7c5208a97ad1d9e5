"""Benchmark: motifscope FIMO against pymemesuite's FIMO, side by side, with identical hits.

Sequences: ``--n`` random sequences of ``--length`` bp (GC 41%), scanned with the 879 motifs
of JASPAR 2024 CORE vertebrates on both strands at p < 1e-4, uniform background, MEME's
pseudocount 0.1 (computed once and given to both tools as frequencies; see
tests/oracle/test_fimo_oracle.py).

pymemesuite scans one motif at a time in C and is slow at this size (about a second per
2,114-bp sequence for 879 motifs), so it runs on the first ``--n-reference`` sequences and
its time is scaled linearly to ``--n``; motifscope runs on all ``--n`` and is also timed on
the reference subset. Hits are compared on that subset (pymemesuite never scans the window
that ends at the last base; our hits there are set aside). Each tool runs in its own
subprocess (peak RSS reported); ``OMP_WAIT_POLICY=PASSIVE`` is set.

    python bench/fimo.py                                 # 10,000 x 2,114 bp, reference 200
    python bench/fimo.py --n 1000 --n-reference 100 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

KEY = ["motif_id", "sequence_name", "start", "end", "strand"]


def sequences(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    p = np.array([0.295, 0.205, 0.205, 0.295])
    return ["".join(letters[rng.choice(4, length, p=p)]) for _ in range(n)]


def database():
    from motifscope.io import jaspar_motifs

    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    return motifs


def run_motifscope(motifs, seqs, threads):
    import torch

    from motifscope.motifs import fimo
    from motifscope.sequence import one_hot_encode

    torch.set_num_threads(threads)
    X = np.stack([one_hot_encode(s) for s in seqs])
    return fimo(motifs, X, threshold=1e-4, device="cpu")


def run_pymemesuite(motifs, seqs):
    from pymemesuite.common import Alphabet, Background, Matrix, Motif, Sequence
    from pymemesuite.fimo import FIMO

    alphabet = Alphabet.dna()
    background = Background.from_uniform(alphabet)
    records = [Sequence(s, name=str(i).encode()) for i, s in enumerate(seqs)]
    scanner = FIMO(both_strands=True, threshold=1e-4)
    rows = []
    for name, pwm in motifs.items():
        sites = int(motifs.info[name].nsites)
        freqs = (pwm * sites + 0.1 * 0.25) / (sites + 0.1)
        motif = Motif(alphabet, frequencies=Matrix(freqs.T.tolist()), name=name.encode())
        for hit in scanner.score_motif(motif, records, background).matched_elements:
            rows.append((name, int(hit.source.name.decode()), min(hit.start, hit.stop) - 1,
                         max(hit.start, hit.stop), hit.strand, hit.score, hit.pvalue))
    return pd.DataFrame(rows, columns=KEY + ["score", "p-value"])


def worker(tool, n, length, threads, out):
    motifs = database()
    seqs = sequences(n, length)
    t = time.perf_counter()
    if tool == "motifscope":
        hits = run_motifscope(motifs, seqs, threads)
    else:
        hits = run_pymemesuite(motifs, seqs)
    seconds = time.perf_counter() - t
    hits[KEY + ["score", "p-value"]].to_csv(out, sep="\t", index=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tool": tool, "n": n, "seconds": seconds, "hits": len(hits),
                      "peak_rss_mb": rss}))


def measure(tool, n, args):
    out = f"/tmp/bench_fimo_{tool}_{n}_{os.getpid()}.tsv"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, __file__, "--worker", tool, "--n", str(n), "--length",
           str(args.length), "--threads", str(args.threads), "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    hits = pd.read_csv(out, sep="\t")
    os.unlink(out)
    return record, hits


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-reference", type=int, default=200)
    parser.add_argument("--length", type=int, default=2114)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", metavar="TOOL", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.length, args.threads, args.out)
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads={args.threads}, {time.strftime('%Y-%m-%d')}, 879 JASPAR motifs, "
          f"{args.length} bp")
    n_ref = min(args.n_reference, args.n)
    ref, ref_hits = measure("pymemesuite", n_ref, args)
    small, small_hits = measure("motifscope", n_ref, args)
    last = small_hits["end"] == args.length
    merged = small_hits[~last].merge(ref_hits, on=KEY, how="outer", indicator=True)
    both = merged[merged["_merge"] == "both"]
    print(f"reference subset {n_ref} seqs: pymemesuite {ref['seconds']:.1f} s "
          f"({ref['peak_rss_mb']:.0f} MB), motifscope {small['seconds']:.1f} s "
          f"({small['peak_rss_mb']:.0f} MB), speed-up {ref['seconds'] / small['seconds']:.1f}x; "
          f"hits {len(ref_hits)} vs {int((~last).sum())} (+{int(last.sum())} in the last "
          f"window), only pymemesuite {int((merged['_merge'] == 'right_only').sum())}, only "
          f"motifscope {int((merged['_merge'] == 'left_only').sum())}, max |score diff| "
          f"{np.abs(both['score_x'] - both['score_y']).max():.1e}, max p rel diff "
          f"{(np.abs(both['p-value_x'] - both['p-value_y']) / both['p-value_y']).max():.1e}",
          flush=True)
    if args.n > n_ref:
        full, full_hits = measure("motifscope", args.n, args)
        scaled = ref["seconds"] * args.n / n_ref
        print(f"full {args.n} seqs: motifscope {full['seconds']:.1f} s "
              f"({full['peak_rss_mb']:.0f} MB, {full['hits']} hits); pymemesuite scaled from "
              f"{n_ref}: {scaled:.0f} s; speed-up {scaled / full['seconds']:.1f}x")


if __name__ == "__main__":
    main()
