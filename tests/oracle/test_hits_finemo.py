"""motifscope.hits.fit_hits against finemo 0.41 (Fi-NeMo) on the same h5 and attributions.

Both sides read the same modisco-lite-layout h5 (finemo through its own loader,
``data_io.load_modisco_motifs``, which also trims at 0.3) and fit the same projected
contributions at the same penalty. A hit is the triple (window, CWM row = pattern x strand,
offset of the untrimmed CWM in the window): both tools report exactly these, so the hit sets
are compared as sets of triples, with no tolerance in position. The fit is convex and both
stop at the same duality-gap threshold, so the sets can only differ through float rounding
(finemo stores the CWMs in float16, we keep float32: relative 1e-3 on each CWM entry), which
can move a coefficient or a similarity across its threshold for borderline hits only;
Jaccard >= 0.95 allows for that. On matched hits the similarities agree to 5e-3 (the float16
rounding) and the coefficients to 2 % plus 1e-3 of the largest (the iterates stop anywhere within
the gap tolerance, which bounds the objective, not each coefficient).
"""

import warnings

import numpy as np
import pytest
import torch

from hits_data import planted_cwms, planted_tracks, write_modisco_h5
from motifscope.hits import fit_hits, read_modisco_cwms

pytestmark = pytest.mark.oracle
finemo_io = pytest.importorskip("finemo.data_io")
finemo_hc = pytest.importorskip("finemo.hitcaller")


@pytest.mark.parametrize("lam,noise", [(0.7, 0.3), (0.5, 0.6)])
def test_hits_equal_finemo(tmp_path, lam, noise):
    rng = np.random.default_rng(1)
    cwms = planted_cwms(rng)
    X, hyp, _ = planted_tracks(rng, cwms, n=96, per_window=5, noise=noise)
    h5 = tmp_path / "modisco.h5"
    write_modisco_h5(h5, cwms)

    motifs_df, f_cwms, f_masks, _ = finemo_io.load_modisco_motifs(
        str(h5), None, None, 0.3, "cwm", None, None, None, lam, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = finemo_hc.fit_contribs(f_cwms, hyp, X.astype(np.int8), f_masks, False,
                                           motifs_df["lambda"].to_numpy(),
                                           device=torch.device("cpu"))
    cs = read_modisco_cwms(h5)
    # same rows in the same order: pattern k forward at 2k, reverse complement at 2k + 1
    assert list(motifs_df["strand"]) == list(cs.strands)
    np.testing.assert_array_equal(f_masks, cs.masks)
    ours, qc = fit_hits(cs.cwms, cs.masks, lam, hyp, X, device="cpu")
    assert qc["converged"].all()

    a = {(int(p), int(m), int(s)): (c, sim) for p, m, s, c, sim in zip(
        theirs["peak_id"], theirs["motif_id"], theirs["hit_start"],
        theirs["hit_coefficient"], theirs["hit_similarity"])}
    b = {(int(p), int(m), int(s)): (c, sim) for p, m, s, c, sim in zip(
        ours["example_idx"], ours["motif_idx"], ours["position"], ours["coefficient"],
        ours["similarity"])}
    assert len(a) > 200
    jaccard = len(a.keys() & b.keys()) / len(a.keys() | b.keys())
    assert jaccard >= 0.95, jaccard
    both = sorted(a.keys() & b.keys())
    ca, sa = np.array([a[k] for k in both]).T
    cb, sb = np.array([b[k] for k in both]).T
    np.testing.assert_allclose(sb, sa, atol=5e-3)
    np.testing.assert_allclose(cb, ca, rtol=0.02, atol=1e-3 * ca.max())
