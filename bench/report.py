"""Benchmark: the paper benchmark's kernels against DragoNN's algorithms, and the report build.

1. Positional PRC (``motifscope.evaluation.positional_prc``: prefix-sum window scores, labels
   per instance, one pooled curve) versus DragoNN's ``positionalPRC`` procedure written out
   window by window with scikit-learn's curve and ``auc`` (the reference; DragoNN itself
   needs Keras/TensorFlow 1 and is not installable here). Tutorial sizes: L = 1000, 2 to 4
   instances per sequence. The auPRC values must agree to 1e-12.
2. The motif scan (``motif_scan_scores``: one float64 conv1d over both strands) versus
   DragoNN's ``get_pssm_scores`` procedure (SciPy ``correlate2d`` base by base, both strands);
   scores must agree to 1e-5.
3. Building report.html (every section and figure) for a run folder (``--run``, e.g.
   ``results/demo``), or for the synthetic folder of the tests; there is no reference tool.

Each measurement runs in its own process so that peak resident memory (ru_maxrss) is its own.
Usage: ``python bench/report.py [--sequences 200] [--length 1000] [--run results/demo
--config config/config.yaml]``.
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

ROOT = Path(__file__).resolve().parents[1]
GATA = "AGATAAGA"


def _pwm(seq: str, top: float = 0.85) -> np.ndarray:
    pwm = np.full((4, len(seq)), (1 - top) / 3)
    for i, c in enumerate(seq):
        pwm["ACGT".index(c), i] = top
    return pwm


def _design(n: int, length: int):
    from motifscope.evaluation import simulate_design

    design = {"design": "density_localization", "motif": "GATA", "center_size": 150,
              "min_counts": 2, "max_counts": 4, "num_pos": n // 2, "num_neg": n - n // 2,
              "gc": 0.4}
    return simulate_design({"GATA": _pwm(GATA)}, design, length, random_state=0)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prc_ours(n, length, queue):
    from motifscope.evaluation import positional_prc

    sim = _design(n, length)
    scores = np.random.default_rng(1).normal(size=(n, length))
    start = time.perf_counter()
    table = positional_prc(sim.embeddings, scores)
    queue.put((time.perf_counter() - start, _peak_mib(), float(table["auprc"].iloc[0])))


def prc_reference(n, length, queue):
    """DragoNN's positionalPRC, window by window (labels max-combined, ambiguous dropped)."""
    from sklearn.metrics import auc, precision_recall_curve

    sim = _design(n, length)
    scores = np.random.default_rng(1).normal(size=(n, length))
    start = time.perf_counter()
    labels, sums = [], []
    for example, own in sim.embeddings.groupby("example_idx"):
        width = int((own.end - own.start).iloc[0])
        window_scores = np.lib.stride_tricks.sliding_window_view(scores[example], width)
        for j in range(length - width + 1):
            label = 0.0
            for e in own.itertuples():
                overlap = max(0, min(j + width, e.end) - max(j, e.start))
                label = max(label, 1.0 if overlap >= 0.8 * width else 0.5 if overlap else 0.0)
            if label != 0.5:
                labels.append(label)
                sums.append(window_scores[j].sum())
    precision, recall, _ = precision_recall_curve(labels, sums)
    queue.put((time.perf_counter() - start, _peak_mib(), float(auc(recall, precision))))


def scan_ours(n, length, queue):
    from motifscope.evaluation import motif_scan_scores

    sim = _design(n, length)
    start = time.perf_counter()
    scores = motif_scan_scores(sim.X, _pwm(GATA), 0.4)
    queue.put((time.perf_counter() - start, _peak_mib(), scores))


def scan_reference(n, length, queue):
    from scipy.signal import correlate2d

    sim = _design(n, length)
    pssm = np.log(_pwm(GATA)) - np.log(0.5 * np.array([0.6, 0.4, 0.4, 0.6]))[:, None]
    start = time.perf_counter()
    X = sim.X.astype(float)
    forward = sum(correlate2d(X[:, b, :], pssm[b][None], mode="same") for b in range(4))
    reverse = sum(correlate2d(X[:, 3 - b, :], pssm[b][None, ::-1], mode="same")
                  for b in range(4))
    scores = np.maximum(forward, reverse)
    queue.put((time.perf_counter() - start, _peak_mib(), scores))


def report_build(run_dir, config_file, queue):
    import tempfile

    import yaml
    from snakemake.utils import validate

    from motifscope.report import build_report

    if run_dir:
        config = yaml.safe_load(Path(config_file).read_text())
        validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
        run = Path(run_dir)
    else:
        sys.path.insert(0, str(ROOT / "tests"))
        from report_helpers import make_config, make_run

        run, config = make_run(Path(tempfile.mkdtemp())), make_config()
    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    written = build_report(run, config, out / "report.html", out / "figures", source_dir=ROOT)
    size = (out / "report.html").stat().st_size / 2**20
    queue.put((time.perf_counter() - start, _peak_mib(), (len(written), size)))


def _run(target, *args):
    queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--run", default=None, help="a results/<run> folder to report on")
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    args = parser.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    n, length = args.sequences, args.length

    ours, reference = _run(prc_ours, n, length), _run(prc_reference, n, length)
    print(f"positional PRC, {n} x {length} bp: motifscope {ours[0]:.3f} s {ours[1]:.0f} MiB | "
          f"DragoNN procedure {reference[0]:.3f} s {reference[1]:.0f} MiB | "
          f"{reference[0] / ours[0]:.1f}x faster | |auPRC diff| {abs(ours[2] - reference[2]):.1e}")

    n_scan = 10 * n
    ours, reference = _run(scan_ours, n_scan, length), _run(scan_reference, n_scan, length)
    diff = float(np.abs(ours[2] - reference[2]).max())
    print(f"motif scan, {n_scan} x {length} bp: motifscope {ours[0]:.3f} s {ours[1]:.0f} MiB | "
          f"DragoNN procedure {reference[0]:.3f} s {reference[1]:.0f} MiB | "
          f"{reference[0] / ours[0]:.1f}x faster | max |diff| {diff:.1e}")

    seconds, mib, (n_files, size) = _run(report_build, args.run, args.config)
    print(f"report.html for {args.run or 'the synthetic test run'}: {seconds:.1f} s, {mib:.0f} "
          f"MiB peak, {n_files} figure files, page {size:.1f} MiB")


if __name__ == "__main__":
    main()
