"""Benchmark: motifscope.seqlets against tangermeme 1.6, side by side, with equal results.

Tracks: N x L rows built from the real DeepLIFT/SHAP tracks of tests/data/attr_tracks.npz
(a tiny CNN on planted motifs): each row concatenates random stretches of the real rows,
plus a little Laplace noise so that no two rows are equal.

    python bench/seqlets.py                      # 10,000 x 2,114, recursive + tfmodisco
    python bench/seqlets.py --n 2000 --skip-tfmodisco
    python bench/seqlets.py --stream 10000 30000 # peak memory of the streamed caller

Timings are the best of --repeats runs after a warm-up (tangermeme compiles numba
functions on its first call; that time is reported apart). torch uses --threads threads
(default 1: tangermeme's numba code is single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRACKS = ROOT / "tests" / "data" / "attr_tracks.npz"


def make_tracks(n: int, length: int, seed: int = 0) -> np.ndarray:
    """(n, length) float32 rows made of random stretches (50-400 bp) of the real tracks."""
    real = np.load(TRACKS)["attr"]
    rng = np.random.default_rng(seed)
    out = np.empty((n, length), dtype=np.float32)
    filled = 0
    flat = out.reshape(-1)
    total = n * length
    while filled < total:
        size = min(int(rng.integers(50, 400)), total - filled)
        row = int(rng.integers(0, real.shape[0]))
        start = int(rng.integers(0, real.shape[1] - size + 1))
        flat[filled:filled + size] = real[row, start:start + size]
        filled += size
    out += rng.laplace(0, 1e-4, size=out.shape).astype(np.float32)
    return out


def best_time(fn, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def same_rows(a, b) -> bool:
    cols = ["example_idx", "start", "end"]
    a = a.sort_values(cols).reset_index(drop=True)
    b = b.sort_values(cols).reset_index(drop=True)
    if len(a) != len(b) or not (a[cols].to_numpy() == b[cols].to_numpy()).all():
        return False
    ok = np.allclose(a["attribution"], b["attribution"], rtol=1e-5, atol=1e-6)
    if "p-value" in b:
        ok &= bool((np.abs(a["p-value"] - b["p-value"]) < 1e-6).all())
    return bool(ok)


def bench_recursive(X, repeats: int) -> list[dict]:
    import tangermeme.seqlet as tm
    from motifscope.seqlets import recursive_seqlets

    t = time.perf_counter()
    tm.recursive_seqlets(X[:2])
    compile_s = time.perf_counter() - t
    rows = []
    for threshold in (0.01, 0.001):
        t_tm, theirs = best_time(lambda: tm.recursive_seqlets(X, threshold=threshold), repeats)
        t_ms, ours = best_time(lambda: recursive_seqlets(X, threshold=threshold), repeats)
        rows.append({"caller": "recursive_seqlets", "threshold": threshold,
                     "tangermeme_s": t_tm, "motifscope_s": t_ms, "speedup": t_tm / t_ms,
                     "seqlets": len(ours), "equal": same_rows(ours, theirs),
                     "tangermeme_numba_compile_s": compile_s})
    return rows


def bench_tfmodisco(X, repeats: int) -> list[dict]:
    import torch
    import tangermeme.seqlet as tm
    from motifscope.seqlets import tfmodisco_seqlets

    t_tm, theirs = best_time(lambda: tm.tfmodisco_seqlets(torch.from_numpy(X)), repeats)
    t_ms, ours = best_time(lambda: tfmodisco_seqlets(X), repeats)
    # equality with tangermeme once its one deviation (unsorted threshold values) is fixed
    original = tm._isotonic_thresholds

    def sorted_first(values, null_values, increasing, target_fdr, min_frac_neg=0.95):
        values = torch.sort(values, descending=not increasing)[0]
        return original(values, null_values, increasing, target_fdr, min_frac_neg)

    tm._isotonic_thresholds = sorted_first
    try:
        fixed = tm.tfmodisco_seqlets(torch.from_numpy(X))
    finally:
        tm._isotonic_thresholds = original
    return [{"caller": "tfmodisco_seqlets", "tangermeme_s": t_tm, "motifscope_s": t_ms,
             "speedup": t_tm / t_ms, "seqlets": len(ours), "tangermeme_seqlets": len(theirs),
             "equal_to_sorted_tangermeme": same_rows(ours, fixed)}]


def write_h5(n: int, length: int, folder: Path):
    import h5py

    attr_path, onehot_path = folder / f"attr_{n}.h5", folder / f"onehot_{n}.h5"
    chunk = 256
    rng = np.random.default_rng(2)
    with h5py.File(attr_path, "w") as fa, h5py.File(onehot_path, "w") as fx:
        a = fa.create_dataset("attr", (n, 4, length), np.float16, chunks=(chunk, 4, length))
        x = fx.create_dataset("X", (n, 4, length), np.uint8, chunks=(chunk, 4, length),
                              compression="gzip")
        for s in range(0, n, chunk):
            rows = min(chunk, n - s)
            oh = np.zeros((rows, 4, length), np.uint8)
            np.put_along_axis(oh, rng.integers(0, 4, size=(rows, 1, length)), 1, axis=1)
            a[s:s + rows] = oh * make_tracks(rows, length, seed=s)[:, None, :]
            x[s:s + rows] = oh
    return attr_path, onehot_path


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, not ru_maxrss: on Linux ru_maxrss keeps
    the high-water mark of the parent the process was forked from across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_child(attr_path: str, onehot_path: str) -> None:
    """Run in a fresh process: call seqlets from the files, print time and peak RSS."""
    from motifscope.seqlets import seqlets_from_h5

    rss_at_import = peak_rss_mb()
    t = time.perf_counter()
    df = seqlets_from_h5(attr_path, onehot_path, threshold=0.001)
    print(json.dumps({"seconds": time.perf_counter() - t, "seqlets": len(df),
                      "peak_rss_mb": peak_rss_mb(), "rss_after_imports_mb": rss_at_import}))


def bench_stream(sizes: list[int], length: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            attr_path, onehot_path = write_h5(n, length, Path(tmp))
            out = subprocess.run([sys.executable, __file__, "--stream-child", str(attr_path),
                                  str(onehot_path)], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(n=n, length=length,
                          attr_file_mb=attr_path.stat().st_size / 2 ** 20,
                          projected_track_mb=n * length * 4 / 2 ** 20)
            rows.append(result)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=2_114)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-recursive", action="store_true")
    parser.add_argument("--skip-tfmodisco", action="store_true")
    parser.add_argument("--stream", type=int, nargs="*", default=None,
                        help="also measure the streamed caller's peak memory for these N")
    parser.add_argument("--stream-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    if args.stream_child:
        stream_child(*args.stream_child)
        return

    X = make_tracks(args.n, args.length)
    print(f"# {args.n} x {args.length} tracks, torch threads {args.threads}, "
          f"cpu count {os.cpu_count()}")
    rows = [] if args.skip_recursive else bench_recursive(X, args.repeats)
    for r in rows:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}),
              flush=True)
    if not args.skip_tfmodisco:
        for r in bench_tfmodisco(X, 1):
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                              for k, v in r.items()}), flush=True)
    if args.stream:
        for r in bench_stream(args.stream, args.length):
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                              for k, v in r.items()}))


if __name__ == "__main__":
    main()
