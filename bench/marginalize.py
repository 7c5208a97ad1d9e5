"""Benchmark: dinucleotide shuffles and database-wide marginalization against tangermeme.

1. ``dinucleotide_shuffle``: motifscope (vectorised torch Euler walk, counter-based seeds)
   versus tangermeme 1.6 (numba, one call per sequence) on the same one-hot batch; both are
   checked to keep every dinucleotide count.
2. Marginalization of every JASPAR CORE vertebrates motif (consensus at the centre) on 100
   uniform backgrounds with the demo CNN: ``motifscope.marginalize.marginalize_motifs``
   (backgrounds predicted once, motifs batched) versus a loop of tangermeme's
   ``marginalize`` (one call per motif, as its docs suggest). The per-motif mean deltas must
   agree to 1e-4.

Each side runs in its own process so peak resident memory (ru_maxrss) is its own.
Usage: ``python bench/marginalize.py [--threads 2] [--length 400] [--backgrounds 100]
[--only shuffle|marginalize]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from _isolated import run_isolated


def _random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(
        np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))].transpose(0, 2, 1))


def _dinucleotide_counts(tokens: np.ndarray) -> np.ndarray:
    pairs = tokens[..., :-1] * 4 + tokens[..., 1:]
    return np.stack([(pairs == k).sum(-1) for k in range(16)], axis=-1)


def _counts_kept(X: np.ndarray, shuffled) -> bool:
    tokens = np.asarray(shuffled).argmax(axis=2)
    return bool((_dinucleotide_counts(tokens) == _dinucleotide_counts(X.argmax(1))[:, None]).all())


def shuffle_ours(X, n):
    from motifscope.ersatz import dinucleotide_shuffle

    start = time.perf_counter()
    out = dinucleotide_shuffle(torch.from_numpy(X), n=n, random_state=0)
    return time.perf_counter() - start, _counts_kept(X, out)


def shuffle_tangermeme(X, n):
    from tangermeme.ersatz import dinucleotide_shuffle

    dinucleotide_shuffle(torch.from_numpy(X[:2]), n=2, random_state=0)  # numba compile/load
    start = time.perf_counter()
    out = dinucleotide_shuffle(torch.from_numpy(X), n=n, random_state=0)
    return time.perf_counter() - start, _counts_kept(X, out)


def _demo_model(length: int):
    from motifscope.architectures import DemoCNN

    torch.manual_seed(0)
    return DemoCNN(n_targets=3, input_length=length).eval()


def marginalize_ours(length, n_backgrounds):
    from motifscope.io import jaspar_motifs
    from motifscope.marginalize import make_backgrounds, marginalize_motifs

    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    backgrounds = make_backgrounds("uniform", n_backgrounds, length, random_state=0)
    start = time.perf_counter()
    table = marginalize_motifs(_demo_model(length), backgrounds, motifs, device="cpu",
                               batch_size=256)
    seconds = time.perf_counter() - start
    first = table[table.target == "target_0"].set_index("motif").delta_mean
    return seconds, first.to_dict()


def marginalize_tangermeme(length, n_backgrounds):
    from tangermeme.marginalize import marginalize
    from tangermeme.predict import predict

    from motifscope.io import jaspar_motifs
    from motifscope.marginalize import consensus, make_backgrounds

    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    X = torch.from_numpy(make_backgrounds("uniform", n_backgrounds, length, random_state=0))
    X = X.float()
    model = _demo_model(length)
    start = time.perf_counter()
    deltas = {}
    for name, pwm in motifs.items():
        motif = torch.from_numpy(consensus(pwm))[None].float()
        before, after = marginalize(model, X, motif, func=predict, batch_size=256, device="cpu")
        deltas[name] = float((after - before)[:, 0].mean())
    return time.perf_counter() - start, deltas


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--backgrounds", type=int, default=100)
    parser.add_argument("--shuffle-n", type=int, default=64, help="sequences to shuffle")
    parser.add_argument("--shuffle-length", type=int, default=1000)
    parser.add_argument("--shuffles", type=int, default=20)
    parser.add_argument("--only", choices=["shuffle", "marginalize"], default=None,
                        help="run one of the two benchmarks")
    args = parser.parse_args(argv)
    print(f"# machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {args.threads} threads; GPU not measured")

    if args.only != "marginalize":
        bench_shuffle(args)
    if args.only != "shuffle":
        bench_marginalize(args)


def bench_shuffle(args):
    X = _random_onehot(args.shuffle_n, args.shuffle_length)
    rows = {}
    for label, func in (("motifscope", shuffle_ours), ("tangermeme", shuffle_tangermeme)):
        (seconds, kept), rss = run_isolated(func, (X, args.shuffles), args.threads)
        rows[label] = seconds
        print(f"dinucleotide_shuffle {label:10s} N={args.shuffle_n} L={args.shuffle_length} "
              f"n={args.shuffles}: {seconds:7.2f} s, peak RSS {rss:6.0f} MiB, counts kept: {kept}")
    print(f"dinucleotide_shuffle speed-up vs tangermeme: "
          f"{rows['tangermeme'] / rows['motifscope']:.2f}x")


def bench_marginalize(args):
    results = {}
    for label, func in (("motifscope", marginalize_ours), ("tangermeme", marginalize_tangermeme)):
        (seconds, deltas), rss = run_isolated(func, (args.length, args.backgrounds),
                                              args.threads)
        results[label] = (seconds, deltas)
        print(f"marginalize {len(deltas)} JASPAR motifs x {args.backgrounds} backgrounds "
              f"(L={args.length}) {label:10s}: {seconds:7.2f} s, peak RSS {rss:6.0f} MiB")
    ours, theirs = results["motifscope"][1], results["tangermeme"][1]
    worst = max(abs(ours[k] - theirs[k]) for k in ours)
    print(f"marginalize speed-up vs tangermeme loop: "
          f"{results['tangermeme'][0] / results['motifscope'][0]:.2f}x; "
          f"max |mean delta difference| {worst:.2e}")


if __name__ == "__main__":
    main()
