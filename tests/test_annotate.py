"""Seqlet annotation, annotation counts and motif clusters."""

import numpy as np
import pandas as pd
import pytest

from motifscope.errors import InputError
from motifscope.io import MotifInfo, MotifSet
from motifscope.motifs import annotate_seqlets, cluster_motifs, count_annotations, \
    tomtom_pvalues

LETTERS = "ACGT"


@pytest.fixture
def database(rng):
    """30 random motifs plus two near-copies of m0 (a redundant family)."""
    motifs = {f"m{i}": rng.dirichlet(np.full(4, 0.3), size=w).T
              for i, w in enumerate(rng.integers(6, 12, 30))}
    base = motifs["m0"]
    for k in (1, 2):
        noisy = base + rng.uniform(0, 0.03, base.shape)
        motifs[f"m0_copy{k}"] = noisy / noisy.sum(0)
    info = {k: MotifInfo(id=k, alt_id=f"TF_{k}") for k in motifs}
    return MotifSet(motifs, info=info)


def _plant(rng, database, n=12, length=120):
    """One-hot windows with the consensus of a known motif at a known place."""
    X = np.zeros((n, 4, length), dtype=np.uint8)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None]] = 1
    names = list(database)
    rows = []
    for i in range(n):
        name = names[(3 * i) % 30]
        cons = database[name].argmax(0)
        start = int(rng.integers(5, length - 30))
        X[i, :, start:start + len(cons)] = 0
        X[i, cons, np.arange(start, start + len(cons))] = 1
        rows.append((i, start, start + len(cons), name, float(rng.normal())))
    seqlets = pd.DataFrame(rows, columns=["example_idx", "start", "end", "planted",
                                          "attribution"])
    return X, seqlets


def test_planted_consensus_is_the_best_match(rng, database):
    X, seqlets = _plant(rng, database)
    table = annotate_seqlets(X, seqlets, database, n_nearest=3)
    assert len(table) == 3 * len(seqlets)
    best = table[table["rank"] == 1]
    assert (best["motif_id"] == best["planted"]).all()
    assert (best["orientation"] == "+").all() and (best["optimal_offset"] == 0).all()
    assert (best["motif_alt_id"] == "TF_" + best["planted"]).all()
    # Columns of the seqlet table are kept, ranks are sorted by p-value.
    assert {"planted", "attribution", "seqlet_idx"} <= set(table.columns)
    for _, group in table.groupby("seqlet_idx"):
        assert list(group["rank"]) == [1, 2, 3]
        assert group["p-value"].is_monotonic_increasing


def test_annotation_equals_tomtom_on_the_extracted_sequences(rng, database):
    X, seqlets = _plant(rng, database, n=6)
    table = annotate_seqlets(X, seqlets, database, n_nearest=2)
    queries = [X[r.example_idx, :, r.start:r.end].astype(float) for r in seqlets.itertuples()]
    direct = tomtom_pvalues(queries, database, n_nearest=2)
    np.testing.assert_allclose(table["p-value"].to_numpy(), direct.p_values.ravel())
    names = np.array(list(database))
    np.testing.assert_array_equal(table["motif_id"], names[direct.target_idx.ravel()])


def test_counts_by_motif_cluster_and_family(rng, database):
    X, seqlets = _plant(rng, database)
    table = annotate_seqlets(X, seqlets, database, n_nearest=2)
    by_motif = count_annotations(table)
    assert by_motif["n_seqlets"].sum() == len(seqlets)  # best match only
    expected = seqlets["planted"].value_counts()
    assert dict(zip(by_motif["motif_id"], by_motif["n_seqlets"])) == expected.to_dict()
    assert "mean_attribution" in by_motif.columns
    # Grouping: the redundant copies of m0 share a family with m0.
    family = pd.DataFrame({"id": list(database),
                           "tf_family": ["fam0" if k.startswith("m0") else f"fam_{k}"
                                         for k in database]})
    by_family = count_annotations(table, by="tf_family", groups=family)
    assert by_family["n_seqlets"].sum() == len(seqlets)
    assert by_family.columns[0] == "tf_family"
    mapping = {k: ("A" if k in ("m3", "m6") else "B") for k in database}
    grouped = count_annotations(table, by="cluster", groups=mapping)
    n_a = seqlets["planted"].isin(["m3", "m6"]).sum()
    assert dict(zip(grouped["cluster"], grouped["n_seqlets"])).get("A", 0) == n_a
    every = count_annotations(table, best_only=False)
    assert every["n_seqlets"].sum() == len(table)
    strict = count_annotations(table, max_pvalue=0.0)
    assert len(strict) == 0 and list(strict.columns)[0] == "motif_id"


def test_redundant_motifs_form_one_cluster(database):
    clusters = cluster_motifs(database)
    assert list(clusters["id"]) == list(database)
    family = clusters.set_index("id").loc[["m0", "m0_copy1", "m0_copy2"], "cluster"]
    assert family.nunique() == 1
    assert clusters.set_index("id").loc["m0", "cluster_size"] >= 3
    assert clusters["cluster"].iloc[0].startswith("cluster_")
    # Clusters are numbered by decreasing size.
    sizes = clusters.groupby("cluster")["cluster_size"].first()
    numbers = sizes.index.str.replace("cluster_", "").astype(int)
    assert list(sizes.loc[sizes.index[np.argsort(numbers)]]) == sorted(sizes, reverse=True)


def test_bad_input_gives_one_line_errors(rng, database):
    X, seqlets = _plant(rng, database, n=3)
    cases = [
        (lambda: annotate_seqlets(X, seqlets.drop(columns="end"), database), "lacks"),
        (lambda: annotate_seqlets(X, seqlets.assign(end=500), database), "outside"),
        (lambda: annotate_seqlets(X, seqlets.assign(example_idx=7), database), "example_idx"),
        (lambda: annotate_seqlets(X, seqlets.assign(start=0, end=90), database), "max_seqlet_width"),
        (lambda: annotate_seqlets([X[0], X[1][:, :50]], seqlets, database), "lengths"),
        (lambda: count_annotations(pd.DataFrame({"x": [1]})), "motif_id"),
        (lambda: count_annotations(annotate_seqlets(X, seqlets, database), by="tf_family"),
         "needs groups"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message) as err:
            call()
        assert "\n" not in str(err.value)
    empty = annotate_seqlets(X, seqlets.iloc[:0], database)
    assert len(empty) == 0 and "motif_id" in empty.columns


def test_workflow_scripts_annotate_and_cluster(tmp_path, rng, database):
    import h5py

    import annotate_seqlets as script
    import motif_clusters
    from motifscope.io import write_meme

    X, seqlets = _plant(rng, database, n=8)
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5["X"] = X
    write_meme(database, tmp_path / "db.meme")
    pd.DataFrame({"id": list(database), "alt_id": [database.alt_id(k) for k in database],
                  "tf_class": "c", "tf_family": ["f0" if k.startswith("m0") else f"f_{k}"
                                                for k in database]}
                 ).to_csv(tmp_path / "db.tsv", sep="\t", index=False)
    motif_clusters.main(str(tmp_path / "db.meme"), 1e-4, 5, "cpu", str(tmp_path / "cl.tsv"))
    # The seqlet caller's layout: genome start/end, window_start/window_end, its p-value.
    table = pd.DataFrame({"chrom": "chr2", "start": seqlets["start"] + 5000,
                          "end": seqlets["end"] + 5000, "example_idx": seqlets["example_idx"],
                          "attribution": seqlets["attribution"], "p-value": 1e-4,
                          "window_start": seqlets["start"], "window_end": seqlets["end"]})
    table.to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
    settings = {"n_nearest": 2, "n_null_shuffles": 2, "min_overlap": 1, "max_qvalue": 0.05, "group_by": "cluster",
                "batch_size": None}
    script.main(str(tmp_path / "seqlets.tsv"), str(tmp_path / "onehot.h5"),
                str(tmp_path / "db.meme"), str(tmp_path / "db.tsv"), str(tmp_path / "cl.tsv"),
                settings, "cpu", str(tmp_path / "ann.tsv"), str(tmp_path / "counts.tsv"))
    annotated = pd.read_csv(tmp_path / "ann.tsv", sep="\t")
    assert len(annotated) == 2 * len(seqlets)
    best = annotated[annotated["rank"] == 1].reset_index(drop=True)
    assert (best["start"] - best["window_start"] == 5000).all()
    assert (best["seqlet_p-value"] == 1e-4).all()
    assert (best["motif_id"] == seqlets["planted"]).all()
    assert {"cluster", "cluster_name", "tf_family"} <= set(annotated.columns)
    counts = pd.read_csv(tmp_path / "counts.tsv", sep="\t")
    assert counts.columns[0] == "cluster" and counts["n_seqlets"].sum() <= len(seqlets)
    with pytest.raises(InputError, match="group_by"):
        script.main(str(tmp_path / "seqlets.tsv"), str(tmp_path / "onehot.h5"),
                    str(tmp_path / "db.meme"), str(tmp_path / "db.tsv"),
                    str(tmp_path / "cl.tsv"), dict(settings, group_by="genus"), "cpu",
                    str(tmp_path / "a2.tsv"), str(tmp_path / "c2.tsv"))
