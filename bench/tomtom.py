"""Benchmark: motifscope TOMTOM against memelite 0.5, side by side, with equal p-values.

Cases (JASPAR 2024 CORE vertebrates, 879 motifs, as targets):

- ``all-vs-all``: the 879 motifs against themselves (full p-value matrix);
- ``seqlets``: ``--n-seqlets`` random one-hot seqlets (widths 8-25) against JASPAR, keeping the
  best match (``n_nearest=1``, the annotation use) and, with ``--full``, the full matrix.

memelite runs with ``n_target_bins=None`` (exact, the oracle setting) and, for reference,
with its default ``n_target_bins=100`` (column hashing, approximate). motifscope runs its
CPU engine as ``tomtom_pvalues`` chooses it: the numba kernel for the PWMs, the torch
engine (span distributions shared by composition) for the seqlets. Every timing runs in a
fresh subprocess (peak RSS is that process's), after one warm-up call in the same process
(numba functions are compiled and cached on first use). The tools take turns for
``--repeats`` rounds, so they see the same machine load, and each keeps its best time;
the load average before each case is printed. ``OMP_WAIT_POLICY=PASSIVE`` is set for all
(on a shared, oversubscribed machine OpenMP's busy waiting otherwise dominates).

    python bench/tomtom.py                       # all-vs-all + 10,000 seqlets
    python bench/tomtom.py --cases all-vs-all --repeats 5
    python bench/tomtom.py --cases seqlets --n-seqlets 2000 --threads 1
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

CASES = ("all-vs-all", "seqlets", "seqlets-full")
TOOLS = ("motifscope", "memelite-exact", "memelite-hashed")


def jaspar() -> list[np.ndarray]:
    from motifscope.io import jaspar_motifs

    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    return [np.asarray(m, dtype=np.float64) for m in motifs.values()]


def seqlets(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for w in rng.integers(8, 26, n):
        q = np.zeros((4, w))
        q[rng.integers(0, 4, w), np.arange(w)] = 1
        out.append(q)
    return out


def run_tool(tool: str, queries, targets, n_nearest):
    if tool == "motifscope":
        from motifscope.motifs import tomtom_pvalues

        r = tomtom_pvalues(queries, targets, n_nearest=n_nearest, device="cpu")
        return r.p_values, r.target_idx
    from memelite import tomtom

    bins = None if tool == "memelite-exact" else 100
    r = tomtom(queries, targets, n_nearest=n_nearest, n_target_bins=bins)
    idx = r[5].astype(np.int64) if n_nearest else np.broadcast_to(
        np.arange(len(targets)), r[0].shape)
    return r[0], idx


def worker(tool: str, case: str, n_seqlets: int, repeats: int, threads: int, out: str):
    import torch

    torch.set_num_threads(threads)
    if tool.startswith("memelite"):
        import numba

        numba.set_num_threads(threads)
    targets = jaspar()
    queries = targets if case == "all-vs-all" else seqlets(n_seqlets)
    n_nearest = 1 if case == "seqlets" else None
    run_tool(tool, queries[:8], targets, n_nearest)  # warm-up (numba compilation)
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = run_tool(tool, queries, targets, n_nearest)
        best = min(best, time.perf_counter() - t)
    np.savez(out, p=result[0], idx=result[1])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tool": tool, "case": case, "seconds": best, "peak_rss_mb": rss}))


def measure(tool, case, args):
    """One timed run of ``tool`` in a fresh process: (record, p-values, target indices)."""
    out = f"/tmp/bench_tomtom_{tool}_{case}_{os.getpid()}.npz"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, __file__, "--worker", tool, case, "--n-seqlets", str(args.n_seqlets),
           "--repeats", "1", "--threads", str(args.threads), "--out", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    data = np.load(out)
    os.unlink(out)
    return record, data["p"], data["idx"]


def compare(p, idx, p_ref, idx_ref):
    """Max relative |log p| difference and the share of identical top-1 targets."""
    lp, lr = np.log(p), np.log(p_ref)
    rel = float(np.max(np.abs(lp - lr) / np.maximum(np.abs(lr), 1e-9)))
    top = p.argmin(1) if p.shape[1] > 1 else np.zeros(len(p), dtype=int)
    top_ref = p_ref.argmin(1) if p_ref.shape[1] > 1 else np.zeros(len(p), dtype=int)
    rows = np.arange(len(p))
    same = float(np.mean(idx[rows, top] == idx_ref[rows, top_ref]))
    return rel, same


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=["all-vs-all", "seqlets"],
                        help="seqlets-full: the full seqlet p-value matrix")
    parser.add_argument("--n-seqlets", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; best time kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.n_seqlets, args.repeats, args.threads, args.out)
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads={args.threads}, {time.strftime('%Y-%m-%d %H:%M')}")
    for case in args.cases:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"# {case}: load average {load}", flush=True)
        results = {}
        for _ in range(args.repeats):
            for tool in TOOLS:
                record, p, idx = measure(tool, case, args)
                if tool not in results or record["seconds"] < results[tool][0]["seconds"]:
                    results[tool] = (record, p, idx)
        ours, p, idx = results["motifscope"]
        for tool in TOOLS:
            record, p_t, idx_t = results[tool]
            rel, same = compare(p, idx, p_t, idx_t)
            print(f"{case:12s} {tool:16s} {record['seconds']:8.2f} s  "
                  f"peak {record['peak_rss_mb']:7.0f} MB  "
                  f"{tool}/ours time ratio {record['seconds'] / ours['seconds']:5.2f}  "
                  f"max rel |dlog p| vs ours {rel:.1e}  same top-1 {same:.4f}", flush=True)


if __name__ == "__main__":
    main()
