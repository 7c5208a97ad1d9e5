"""The FIMO attribution null and the seqlet-annotation null (motifscope.motifs.enrichment)."""

import numpy as np
import pandas as pd

from motifscope.motifs.enrichment import annotation_enrichment, attribution_enrichment, \
    hit_null_pvalues


def test_null_pvalues_equal_brute_force(rng):
    track = rng.normal(size=(4, 50))
    hits = pd.DataFrame({"sequence_name": [0, 1, 3, 3], "start": [0, 10, 20, 44],
                         "end": [5, 18, 25, 50]})
    out = hit_null_pvalues(hits, track)
    for k, h in hits.iterrows():
        w = h.end - h.start
        spans = np.array([track[h.sequence_name, s:s + w].sum() for s in range(51 - w)])
        free = np.abs(np.arange(51 - w) - h.start) >= w
        a = track[h.sequence_name, h.start:h.end].sum()
        expected = ((spans[free] > a).sum() + 0.5 * (spans[free] == a).sum()) / free.sum()
        assert np.isclose(out.loc[k, "null_p"], expected)
        assert np.isclose(out.loc[k, "null_mean"], spans[free].mean())
        assert np.isclose(out.loc[k, "attribution"], a)


def test_used_motif_is_enriched_ignored_and_hitchhiking_ones_are_not(rng):
    n, length, w = 200, 100, 8
    track = rng.normal(size=(n, length))
    track[:, 40:48] += 3.0  # the learned motif's site in every locus
    rows = []
    for j in range(n):
        rows.append(("used", j, 40, 48))
        rows.append(("ignored", j, int(rng.integers(0, 30)), None))
        rows.append(("rider", j, 42, 48))  # lies inside the learned site
    hits = pd.DataFrame(rows, columns=["motif_id", "sequence_name", "start", "end"])
    hits["end"] = hits["end"].fillna(hits["start"] + w).astype(int)
    hits = hits.join(hit_null_pvalues(hits, track))
    table = attribution_enrichment(hits, alpha=0.05).set_index("motif_id")
    assert table.loc["used", "q-value"] < 1e-10 and table.loc["used", "q_conditional"] < 1e-10
    assert table.loc["ignored", "p-value"] > 0.01
    assert table.loc["rider", "p-value"] < 1e-10  # marginally it looks learned...
    assert table.loc["rider", "n_independent"] == 0  # ...but every hit is explained away
    assert table.loc["rider", "p_conditional"] == 1.0
    assert table.loc["rider", "explained_by"] == "used"
    assert abs(table.loc["ignored", "mean_null_p"] - 0.5) < 0.1


def test_null_pvalues_are_calibrated_without_signal(rng):
    track = rng.normal(size=(300, 80))
    hits = pd.DataFrame({"motif_id": "m", "sequence_name": np.arange(300),
                         "start": rng.integers(0, 70, 300)})
    hits["end"] = hits["start"] + 10
    hits = hits.join(hit_null_pvalues(hits, track))
    assert abs(hits["null_p"].mean() - 0.5) < 0.05
    assert attribution_enrichment(hits)["p-value"].iloc[0] > 0.001


def test_annotation_enrichment_binomial_test():
    from scipy.stats import binomtest

    counts = pd.DataFrame({"cluster": ["A", "B"], "n_seqlets": [30, 5]})
    null = pd.DataFrame({"cluster": ["A", "B"], "n_seqlets": [4, 12]})
    out = annotation_enrichment(counts, null, "cluster", n_observed=100, n_null=100,
                                n_shuffles=2)
    assert list(out["expected"]) == [2.0, 6.0]
    for _, row in out.iterrows():
        k0 = null.set_index("cluster").loc[row["cluster"], "n_seqlets"]
        ref = binomtest(row["n_seqlets"], row["n_seqlets"] + k0, 1 / 3, alternative="greater")
        assert np.isclose(row["p-value"], ref.pvalue)
    assert out["q-value"].iloc[0] < 1e-6 and out["q-value"].iloc[1] > 0.5
