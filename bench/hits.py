"""motifscope's hit caller against finemo 0.41 on the same modisco h5 and attributions.

    python bench/hits.py --modisco results/demo/modisco/spi1.h5 \
        --attributions results/demo/attributions/spi1.h5 --onehot results/demo/loci/onehot.h5

Both sides get the same CWMs (finemo through its own loader, trimmed at 0.3), the same
hypothetical attributions and the same penalty, on the CPU, each in a fresh process (wall
time of the fit and the process's peak RSS). Measured: ``motifscope.hits.fit_hits`` (what
rule call_hits runs, without writing files) against ``finemo.hitcaller.fit_contribs`` (what
``finemo call-hits`` runs). The hit sets are compared by Jaccard.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _isolated import run_isolated  # noqa: E402


def ours(modisco, attributions, onehot, lam):
    from motifscope.hits import fit_hits, read_modisco_cwms

    cs = read_modisco_cwms(modisco)
    with h5py.File(attributions) as fa, h5py.File(onehot) as fx:
        hyp, x = fa["attr"][:].astype(np.float32), fx["X"][:]
    start = time.perf_counter()
    hits, _ = fit_hits(cs.cwms, cs.masks, lam, hyp, x, device="cpu")
    wall = time.perf_counter() - start
    return wall, {(int(p), int(m), int(s)) for p, m, s in
                  zip(hits["example_idx"], hits["motif_idx"], hits["position"])}


def theirs(modisco, attributions, onehot, lam):
    from finemo import data_io, hitcaller

    motifs, cwms, masks, _ = data_io.load_modisco_motifs(
        modisco, None, None, 0.3, "cwm", None, None, None, lam, True)
    with h5py.File(attributions) as fa, h5py.File(onehot) as fx:
        hyp, x = fa["attr"][:].astype(np.float32), fx["X"][:].astype(np.int8)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hits, _ = hitcaller.fit_contribs(cwms, hyp, x, masks, False,
                                         motifs["lambda"].to_numpy(),
                                         device=torch.device("cpu"))
    wall = time.perf_counter() - start
    return wall, {(int(p), int(m), int(s)) for p, m, s in
                  zip(hits["peak_id"], hits["motif_id"], hits["hit_start"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modisco", required=True)
    parser.add_argument("--attributions", required=True)
    parser.add_argument("--onehot", required=True)
    parser.add_argument("--penalty", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    inputs = (args.modisco, args.attributions, args.onehot, args.penalty)
    (ref_s, ref_hits), ref_rss = run_isolated(theirs, inputs, args.threads)
    (our_s, our_hits), our_rss = run_isolated(ours, inputs, args.threads)
    jaccard = len(ref_hits & our_hits) / max(len(ref_hits | our_hits), 1)
    print(json.dumps({"finemo_s": round(ref_s, 2), "finemo_rss_mib": round(ref_rss),
                      "motifscope_s": round(our_s, 2), "motifscope_rss_mib": round(our_rss),
                      "speedup": round(ref_s / our_s, 2), "hits_finemo": len(ref_hits),
                      "hits_motifscope": len(our_hits), "jaccard": round(jaccard, 4)},
                     indent=1))


if __name__ == "__main__":
    main()
