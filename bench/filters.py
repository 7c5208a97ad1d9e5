"""Benchmark: first-layer filter PWMs and influence against the reference recipes.

Basset (Lua Torch7) and FactorNet (Keras 1) cannot run here, so the references are
literal ports of their loops (the same ports the tests use as oracles):

- Basset PWMs: one forward pass keeping all activations (N, F, L) in memory, then
  ``basset_motifs.py``'s loop over filters, sequences and positions, cutting k-mer
  strings and counting them;
- FactorNet PWMs: activations of both strands in memory, then the per-sequence argmax
  loop of ``visualize.py``;
- Basset influence: per batch and per filter, the network is re-run with that channel
  replaced (``basset_motifs_infl.lua``), here as one full forward per filter with a hook.

Each method runs in its own process so that peak resident memory (ru_maxrss) is its own.
Usage: ``python bench/filters.py [--n 2000] [--length 400] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

ALPHABET = "ACGT"


def make_inputs(n: int, length: int):
    from motifscope.architectures import DemoCNN

    torch.manual_seed(0)
    model = DemoCNN(n_targets=3, input_length=length).eval()
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size=(n, length))].transpose(0, 2, 1)
    y = rng.integers(0, 2, size=(n, 3)).astype(np.float32)
    return model, np.ascontiguousarray(X), y


def ours_basset(model, X, y):
    from motifscope.filters import filter_pwms

    return filter_pwms(model, X, method="basset", batch_size=128, device="cpu").nsites


def ours_danq(model, X, y):
    from motifscope.filters import filter_pwms

    return filter_pwms(model, X, method="danq", batch_size=128, device="cpu").nsites


def ours_influence(model, X, y, filters_per_pass=None):
    from motifscope.filters import filter_influence

    return filter_influence(model, X, y=y, batch_size=128, filters_per_pass=filters_per_pass,
                            device="cpu")["delta_mean"].to_numpy()


def ours_influence_4(model, X, y):
    return ours_influence(model, X, y, filters_per_pass=4)


def ours_influence_8(model, X, y):
    return ours_influence(model, X, y, filters_per_pass=8)


def _all_activations(model, X, rc=False):
    """Every first-layer activation (output of model.relu1), kept in memory as Basset does."""
    x = torch.tensor(X).float()
    if rc:
        x = torch.flip(x, dims=(1, 2))
    kept = []
    handle = model.relu1.register_forward_hook(lambda m, i, o: kept.append(o.clone()))
    with torch.no_grad():
        for batch in x.split(128):
            model(batch)
    handle.remove()
    return torch.cat(kept).numpy()


def reference_basset(model, X, y):
    """basset_motifs.py: all activations in memory, then a k-mer loop per filter."""
    from test_filters import basset_reference, decode

    outs = _all_activations(model, X)
    seqs = [decode(x) for x in X]
    return basset_reference(seqs, outs, width=model.conv1.kernel_size[0])[1]


def reference_danq(model, X, y):
    """FactorNet visualize.py on both strands. The demo model pads "same", so the loop is
    given only the full-window positions (as filter_pwms counts them)."""
    from test_filters import factornet_reference

    w = model.conv1.kernel_size[0]
    pad = w // 2
    fwd = _all_activations(model, X)[:, :, pad:X.shape[2] - pad]
    rc = _all_activations(model, X, rc=True)[:, :, pad:X.shape[2] - pad]
    return factornet_reference(X, fwd, rc, width=w)[1]


def reference_influence(model, X, y):
    """basset_motifs_infl: per batch, per filter, re-run with the channel set to its mean."""
    acts_mean = _all_activations(model, X).astype(np.float64).mean(axis=(0, 2))
    F = model.conv1.out_channels
    deltas = np.zeros((F, 3))
    for xb in torch.tensor(X).float().split(128):
        with torch.no_grad():
            base = model(xb)
            for f in range(F):
                def hook(module, inputs, output, f=f):
                    output = output.clone()
                    output[:, f] = float(acts_mean[f])
                    return output
                handle = model.relu1.register_forward_hook(hook)
                deltas[f] += (base - model(xb)).double().sum(0).numpy()
                handle.remove()
    return (deltas / len(X)).ravel()


def _run(name, n, length, threads, queue):
    torch.set_num_threads(threads)
    import motifscope.filters  # noqa: F401 - imports are not part of the timing
    import test_filters  # noqa: F401
    model, X, y = make_inputs(n, length)
    func = globals()[name]
    start = time.perf_counter()
    result = func(model, X, y)
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               np.asarray(result, float)))


def measure(name, n, length, threads, repeats):
    """Best wall time and largest peak RSS over ``repeats`` fresh processes (the machine is
    shared, so the minimum is the least noisy estimate)."""
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(name, n, length, threads, queue))
        proc.start()
        runs.append(queue.get())
        proc.join()
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# filters benchmark: DemoCNN (32 filters, width 19), N={args.n}, L={args.length}, "
          f"{args.threads} torch threads, best of {args.repeats}, "
          f"CPU {platform.processor() or platform.machine()}")
    print("| task | motifscope s | reference s | speed-up | motifscope MB | reference MB "
          "| results agree |")
    print("|---|---|---|---|---|---|---|")
    pairs = [("Basset PWMs", "ours_basset", "reference_basset"),
             ("DanQ PWMs (both strands)", "ours_danq", "reference_danq"),
             ("influence (CPU default: 1 filter/pass)", "ours_influence",
              "reference_influence"),
             ("influence, 4 filters/pass", "ours_influence_4", None),
             ("influence, 8 filters/pass", "ours_influence_8", None)]
    reference_influence_result = None
    for label, ours, ref in pairs:
        t_ours, mb_ours, r_ours = measure(ours, args.n, args.length, args.threads, args.repeats)
        if ref is not None:
            t_ref, mb_ref, r_ref = measure(ref, args.n, args.length, args.threads, args.repeats)
            if ref == "reference_influence":
                reference_influence_result = r_ref
        else:
            t_ref, mb_ref, r_ref = float("nan"), float("nan"), reference_influence_result
        agree = np.allclose(r_ours, r_ref, rtol=1e-3, atol=1e-6)
        speedup = f"{t_ref / t_ours:.1f}x" if np.isfinite(t_ref) else "-"
        print(f"| {label} | {t_ours:.2f} | {t_ref:.2f} | {speedup} | "
              f"{mb_ours:.0f} | {mb_ref:.0f} | {agree} |")


if __name__ == "__main__":
    main()
