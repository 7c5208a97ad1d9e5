"""Benchmark: DeepLIFT/SHAP attributions, motifscope versus tangermeme 1.6.

Side by side on the same model, the same one-hot inputs and the same R = 20 references
tensor (so the results must agree; the max |difference| is printed):

1. the demo CNN (``motifscope.architectures.DemoCNN``, L = 400, 3 targets);
2. a bpnet-lite BPNet (64 filters, 8 dilated residual layers, L = 2114) through its
   ``CountWrapper`` with a control track, the usual BPNet attribution target.

Both sides use the same ``batch_size`` (pairs per pass). A second line per model times the
whole call with default references (motifscope: vectorised dinucleotide shuffles; tangermeme:
its numba shuffles), where the references, and so the values, differ.

3. Memory: deep_lift_shap on ``--memory-n`` windows of 2114 bp (batch ``--batch-size``) with a
   tiny model (one 4-filter conv, ReLU, global max-pool: the model's own activations are
   then negligible, so what is left is the method's bookkeeping: references, one-hot
   batches, attributions), once with N/4 and once with N windows: the
   peak resident memory minus the input (uint8) and output (float32) arrays is the working
   set, which must not grow with N (references are generated per chunk, never N x R).

Each measurement runs in a fresh process (ru_maxrss is its own); the two sides alternate
and each reports its best of ``--repeats`` runs. Times are wall-clock and process CPU
seconds; on a shared machine the CPU seconds (with ``--threads 1``) are the steadier number.
Usage: ``python bench/attribution.py [--threads 1] [--n-demo 64] [--n-bpnet 8]
[--batch-size 64] [--device cpu] [--repeats 3] [--memory-n 2000] [--only memory]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch
from _isolated import run_isolated

R = 20


def _random_onehot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))].transpose(0, 2, 1)
    return torch.from_numpy(np.ascontiguousarray(X))


def _model(name: str):
    torch.manual_seed(0)
    if name == "demo":
        from motifscope.architectures import DemoCNN

        return DemoCNN(n_targets=3, input_length=400).eval(), 400, False
    from bpnetlite.bpnet import BPNet, CountWrapper

    net = BPNet(n_filters=64, n_layers=8, n_control_tracks=2, verbose=False)
    return CountWrapper(net).eval(), 2114, True


def _inputs(name: str, n: int):
    from motifscope.ersatz import dinucleotide_shuffle

    model, length, control = _model(name)
    X = _random_onehot(n, length)
    args = (torch.rand(n, 2, length, generator=torch.Generator().manual_seed(1)),) \
        if control else None
    refs = dinucleotide_shuffle(X, n=R, random_state=0)
    return model, X, args, refs


def attribute(side: str, name: str, n: int, batch_size: int, device: str, given: bool):
    model, X, args, refs = _inputs(name, n)
    if side == "motifscope":
        from motifscope.attribution import deep_lift_shap

        def call(X_, args_, refs_):
            return deep_lift_shap(model, X_, args=args_, references=refs_, n_shuffles=R,
                                  random_state=0, batch_size=batch_size, device=device,
                                  warning_threshold=float("inf"))
    else:
        from tangermeme.deep_lift_shap import deep_lift_shap as tangermeme_dls
        from tangermeme.ersatz import dinucleotide_shuffle

        def call(X_, args_, refs_):
            return tangermeme_dls(model, X_, args=args_, n_shuffles=R, random_state=0,
                                  references=dinucleotide_shuffle if refs_ is None else refs_,
                                  batch_size=batch_size, device=device,
                                  warning_threshold=float("inf"))
    k = min(n, 8)  # warm-up with full batches: numba compilation, oneDNN kernel selection
    call(X[:k], None if args is None else (args[0][:k],), refs[:k] if given else None)
    wall, cpu = time.perf_counter(), time.process_time()
    attr = call(X, args, refs if given else None)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, attr.float().numpy()


def memory_probe(n: int, device: str, batch_size: int):
    from motifscope.attribution import deep_lift_shap

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 5, padding=2), torch.nn.ReLU(),
                                torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 1)).eval()
    tokens = np.random.default_rng(3).integers(0, 4, size=(n, 1, 2114), dtype=np.uint8)
    X = np.zeros((n, 4, 2114), dtype=np.uint8)  # built as uint8: no float copy in the base
    np.put_along_axis(X, tokens, 1, axis=1)
    X = torch.from_numpy(X)
    del tokens
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    attr = deep_lift_shap(model, X, n_shuffles=R, random_state=0, batch_size=batch_size,
                          device=device)
    return (base, X.numel() / 2 ** 20, attr.numel() * attr.element_size() / 2 ** 20,
            time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-demo", type=int, default=64)
    parser.add_argument("--n-bpnet", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--only", choices=["demo", "bpnet", "memory"],
                        help="run one part only")
    args = parser.parse_args(argv)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "not measured"
    print(f"# machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}; "
          f"GPU: {gpu}")

    for name, n in (("demo", args.n_demo), ("bpnet", args.n_bpnet)):
        if args.only not in (None, name):
            continue
        for given in (True, False):
            runs = {"motifscope": [], "tangermeme": []}
            for _ in range(args.repeats):  # alternate the sides; keep each side's best run
                for side in runs:
                    runs[side].append(run_isolated(
                        attribute, (side, name, n, args.batch_size, args.device, given),
                        args.threads))
            rows = {}
            for side, results in runs.items():
                wall = min(r[0][0] for r in results)
                cpu = min(r[0][1] for r in results)
                rss = max(r[1] for r in results)
                rows[side] = (wall, cpu, results[0][0][2])
                print(f"{name:5s} N={n:3d} R={R} refs={'same tensor' if given else 'default':11s}"
                      f" {side:10s}: {wall:7.2f} s wall, {cpu:7.2f} s CPU, "
                      f"{n / wall:7.2f} examples/s, peak RSS {rss:6.0f} MiB")
            ours, theirs = rows["motifscope"], rows["tangermeme"]
            same = f", max |ours - tangermeme| {np.abs(ours[2] - theirs[2]).max():.2e}" \
                if given else ""
            print(f"{name:5s} speed-up vs tangermeme: {theirs[0] / ours[0]:.2f}x wall, "
                  f"{theirs[1] / ours[1]:.2f}x CPU{same}")

    if args.only in (None, "memory"):
        for n in (args.memory_n // 4, args.memory_n):
            (base, x_mib, out_mib, seconds), rss = run_isolated(
                memory_probe, (n, args.device, args.batch_size), args.threads)
            print(f"memory N={n:6d} x 2114 bp, R={R}, batch {args.batch_size}: peak RSS "
                  f"{rss:6.0f} MiB = before the call {base:5.0f} MiB (incl. X uint8 "
                  f"{x_mib:4.0f} MiB) + attributions {out_mib:5.0f} MiB + working set "
                  f"{rss - base - out_mib:5.0f} MiB ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
