"""The per-target answer (motifscope.evaluation.summary): evidence lines and the call rule."""

import numpy as np
import pandas as pd
import pytest

from motifscope.evaluation.summary import MotifGroups, call, fimo_evidence, marginal_evidence, \
    seqlet_evidence, summarize_target
from motifscope.motifs.enrichment import attribution_enrichment, hit_null_pvalues


@pytest.fixture
def groups():
    clusters = pd.DataFrame({"id": ["A1", "A2", "B1", "C1", "D1"],
                             "alt_id": ["A", "Abis", "B", "C", "D"],
                             "cluster": ["cA", "cA", "cB", "cC", "cD"],
                             "cluster_name": ["A", "A", "B", "C", "D"]})
    database = pd.DataFrame({"id": ["A1", "A2", "B1", "C1", "D1"],
                             "tf_family": ["fa", "fa", "fb", "fc", "fd"]})
    return MotifGroups(clusters, database)


@pytest.mark.parametrize("n_lines, lines_run, expected", [
    (2, 4, "learned"), (3, 4, "learned"), (1, 4, "weak"), (0, 4, "not evidenced"),
    (1, 1, "learned"), (0, 1, "not evidenced"), (1, 2, "weak"), (2, 2, "learned")])
def test_call_rule(n_lines, lines_run, expected):
    assert call(n_lines, lines_run, min_lines=2) == expected


def _fimo_table(rng, n_loci=150, length=100):
    """FIMO-like hits of three motifs over attribution tracks where only A's sites carry
    attribution; B sits in every locus but is ignored; C is ignored and rare."""
    track = rng.normal(scale=0.3, size=(n_loci, length))
    rows = []
    for j in range(n_loci):
        track[j, 30:40] += 1.0
        rows.append(("A1", j, 30, 40))
        b = int(rng.integers(50, 90))
        rows.append(("B1", j, b, b + 10))
        if j % 5 == 0:
            c = int(rng.integers(0, 20))
            rows.append(("C1", j, c, c + 8))
    hits = pd.DataFrame(rows, columns=["motif_id", "sequence_name", "start", "end"])
    hits = hits.join(hit_null_pvalues(hits, track))
    return attribution_enrichment(hits, alpha=0.05)


def test_fimo_line_follows_the_attribution_null(rng, groups):
    table = fimo_evidence(_fimo_table(rng), groups, max_qvalue=0.05, min_effect=0.5)
    assert bool(table.loc["cA", "fimo"]) and table.loc["cA", "fimo_q"] < 1e-6
    assert not table.loc["cB", "fimo"] and table.loc["cB", "fimo_q"] > 0.05
    assert not table.loc["cC", "fimo"]


def test_fimo_line_needs_the_null_columns(groups):
    plain = pd.DataFrame({"motif_id": ["A1"], "n_hits": [10], "n_above": [10]})
    assert fimo_evidence(plain, groups, 0.05, 0.5).empty


def test_marginal_line_needs_z_and_effect(groups):
    table = pd.DataFrame({"motif": ["A1", "A2", "B1", "C1"], "delta_mean": [10.0, 9.0, 2.0, -5],
                          "z": [50.0, 45.0, 12.0, -30.0]})
    out = marginal_evidence(table, groups, min_z=3.0, min_effect=0.5)
    assert out.loc["cA", "motif_id"] == "A1" and out.loc["cA", "marginalize"]
    assert not out.loc["cB", "marginalize"]  # z 12 but 20% of the strongest effect
    assert not out.loc["cC", "marginalize"]  # lowers the prediction


def test_seqlet_line_needs_share_and_null(groups):
    annotated = pd.DataFrame({"seqlet_idx": range(10), "rank": 1,
                              "motif_id": ["A1"] * 6 + ["B1"] * 3 + ["C1"],
                              "q-value": [0.01] * 9 + [0.5]})
    counts = pd.DataFrame({"cluster": ["A", "B"], "motifs": ["A1;A2", "B1"],
                           "n_seqlets": [6, 3], "q-value": [0.001, 0.4]})
    out = seqlet_evidence(annotated, counts, groups, max_qvalue=0.05, min_share=0.05)
    assert out.loc["cA", "seqlet_share"] == pytest.approx(0.6) and out.loc["cA", "seqlets"]
    assert out.loc["cB", "seqlet_share"] == pytest.approx(0.3) and not out.loc["cB", "seqlets"]
    assert "cC" not in out.index  # its only seqlet's match fails the q-value
    without_null = seqlet_evidence(annotated, counts.drop(columns="q-value"), groups, 0.05, 0.05)
    assert not without_null["seqlets"].any()


def test_summary_rows_calls_and_controls(rng, groups):
    evidence = {
        "fimo": fimo_evidence(_fimo_table(rng), groups, 0.05, 0.5),
        "marginalize": marginal_evidence(
            pd.DataFrame({"motif": ["A1", "B1", "C1"], "delta_mean": [10.0, 0.1, 6.0],
                          "z": [50.0, 1.0, 20.0]}), groups, 3.0, 0.5),
    }
    planted = {"A1": "t", "B1": "", "D1": "other"}
    out = summarize_target("t", evidence, groups, ["fimo", "marginalize"], planted).set_index(
        "motif")
    assert out.loc["A", "call"] == "learned" and out.loc["A", "evidence"] == "fimo,marginalize"
    assert out.loc["A", "planted"] == "t" and out.loc["A", "tf_family"] == "fa"
    assert out.loc["C", "call"] == "weak"  # marginalization alone
    assert out.loc["B", "call"] == "not evidenced" and out.loc["B", "planted"] == "distractor"
    assert out.loc["D", "call"] == "not evidenced"  # planted for another target: a row, no call
    assert list(out["call"]) == sorted(out["call"], key=["learned", "weak",
                                                         "not evidenced"].index)
    only_fimo = summarize_target("t", evidence, groups, ["fimo"], {}).set_index("motif")
    assert list(only_fimo.index) == ["A"] and only_fimo.loc["A", "call"] == "learned"
