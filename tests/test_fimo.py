"""FIMO: scores, p-values and hits against a brute-force scan written from MEME's formulas.

The reference builds MEME's integer PSSM from its definition, scores every window with
Python loops, and gets p-values by enumerating all 4^w words of short motifs.
"""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from motifscope.errors import InputError
from motifscope.motifs import fimo, fimo_counts
from motifscope.motifs.fimo import FIMO_COLUMNS, PSSM
from motifscope.sequence import one_hot_encode, reverse_complement

LETTERS = "ACGT"


def meme_pssm(pwm, bg, nsites=20, pseudo=0.1):
    """(integer matrix (w, 4), scale, offset) following MEME's pssm.c."""
    f = (pwm.T * int(nsites) + pseudo * bg) / (int(nsites) + pseudo)
    lo = np.log(f / bg) * 1.44269504
    offset = math.floor(lo.min())
    scale = math.floor(1000 / (lo.max() - offset))
    ints = np.array([[int((v - offset) * scale + 0.5) for v in row] for row in lo])
    return ints, scale, offset


def enumerate_pvalue(ints, bg, score):
    """P(S >= score) over all words, letters drawn from bg."""
    total = 0.0
    for word in itertools.product(range(4), repeat=len(ints)):
        if sum(ints[i, a] for i, a in enumerate(word)) >= score:
            total += math.prod(bg[a] for a in word)
    return total


def brute_scan(pwms, seqs, bg, threshold, both=True):
    rows = []
    for name, pwm in pwms.items():
        ints, scale, offset = meme_pssm(pwm, bg)
        w = len(ints)
        rc_ints = ints[::-1, ::-1]
        for seq_name, seq in seqs.items():
            for start in range(len(seq) - w + 1):
                word = seq[start:start + w]
                if any(c not in LETTERS for c in word):
                    continue
                for strand, mat in [("+", ints)] + ([("-", rc_ints)] if both else []):
                    s = sum(mat[i, LETTERS.index(c)] for i, c in enumerate(word))
                    rows.append((name, seq_name, start, start + w, strand, s,
                                 s / scale + w * offset))
    table = pd.DataFrame(rows, columns=["motif_id", "sequence_name", "start", "end", "strand",
                                        "int_score", "score"])
    return table


@pytest.fixture
def motifs(rng):
    return {f"m{i}": rng.dirichlet(np.full(4, 0.4), size=w).T for i, w in enumerate((3, 4, 5))}


def _random_seq(rng, n):
    return "".join(rng.choice(list(LETTERS), n))


def test_pssm_and_pvalue_table_follow_meme_definition(motifs, rng):
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    for pwm in motifs.values():
        ints, scale, offset = meme_pssm(pwm, bg)
        f = (pwm * 20 + 0.1 * bg[:, None]) / 20.1
        p = PSSM(f, bg)
        np.testing.assert_array_equal(p.matrix, ints.T)
        assert (p.scale, p.offset) == (scale, offset)
        assert p.pvalues[0] == pytest.approx(1.0)
        assert np.all(np.diff(p.pvalues) <= 0)
        for s in rng.choice(ints.max(1).sum() + 1, 12, replace=False):
            assert p.pvalues[s] == pytest.approx(enumerate_pvalue(ints, bg, s), rel=1e-12)


@pytest.mark.parametrize("both", [True, False])
def test_hits_scores_and_pvalues_match_brute_force(motifs, rng, both):
    seqs = {f"s{i}": _random_seq(rng, 60 + 7 * i) for i in range(4)}
    seqs["s1"] = seqs["s1"][:20] + "NN" + seqs["s1"][22:]
    bg = np.full(4, 0.25)
    threshold = 0.02
    table = fimo(motifs, seqs, threshold=threshold, reverse_complement=both)
    assert list(table.columns) == FIMO_COLUMNS
    brute = brute_scan(motifs, seqs, bg, threshold, both)
    expected = []
    for name, group in brute.groupby("motif_id"):
        ints, _, _ = meme_pssm(motifs[name], bg)
        pv = {s: enumerate_pvalue(ints, bg, s) for s in group["int_score"].unique()}
        group = group.assign(p=group["int_score"].map(pv))
        expected.append(group[group["p"] < threshold])
    expected = pd.concat(expected)
    key = ["motif_id", "sequence_name", "start", "end", "strand"]
    merged = table.merge(expected, on=key, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    np.testing.assert_allclose(merged["score_x"], merged["score_y"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(merged["p-value"], merged["p"], rtol=1e-12)
    # Windows with N are not scanned.
    s1 = table[table.sequence_name == "s1"]
    assert not ((s1.start < 22) & (s1.end > 20)).any()


def test_matched_sequence_strand_and_planted_site(motifs, rng):
    pwm = motifs["m2"]
    consensus = "".join(LETTERS[i] for i in pwm.argmax(0))
    seq = _random_seq(rng, 30) + consensus + _random_seq(rng, 30)
    rc_seq = reverse_complement(seq)
    hits = fimo({"m2": pwm}, {"fwd": seq, "rev": rc_seq}, threshold=1e-3)
    fwd = hits[(hits.sequence_name == "fwd") & (hits.start == 30)]
    assert list(fwd.strand) == ["+"] and fwd.matched_sequence.iloc[0] == consensus
    rev = hits[(hits.sequence_name == "rev") & (hits.start == len(seq) - 35)]
    assert list(rev.strand) == ["-"] and rev.matched_sequence.iloc[0] == consensus
    assert fwd.score.iloc[0] == pytest.approx(rev.score.iloc[0])
    # The window ending at the last base is scanned (pymemesuite 0.1.0a4 misses it).
    tail = fimo({"m2": pwm}, [_random_seq(rng, 30) + consensus], threshold=1e-3)
    assert ((tail.start == 30) & (tail.end == 35) & (tail.strand == "+")).any()


def test_one_hot_strings_and_padding_agree(motifs, rng):
    seqs = [_random_seq(rng, 80) for _ in range(3)]
    X = np.stack([one_hot_encode(s) for s in seqs])
    from_array = fimo(motifs, X, threshold=0.01)
    from_list = fimo(motifs, seqs, threshold=0.01)
    pd.testing.assert_frame_equal(from_array, from_list)
    assert set(from_array["sequence_name"]) <= {0, 1, 2}
    # Strings of different lengths are padded with N, which no window may use.
    ragged = fimo(motifs, {"a": seqs[0][:50], "b": seqs[1]}, threshold=0.01)
    assert (ragged[ragged.sequence_name == "a"]["end"] <= 50).all()
    named = fimo(motifs, X, threshold=0.01, sequence_names=["x", "y", "z"])
    assert list(named["sequence_name"].unique()) == [n for n in "xyz"
                                                     if n in set(named["sequence_name"])]


def test_attribution_sums_and_counts(motifs, rng):
    seqs = [_random_seq(rng, 70) for _ in range(4)]
    X = np.stack([one_hot_encode(s) for s in seqs]).astype(np.float32)
    attr = rng.normal(size=X.shape).astype(np.float32)
    hits = fimo(motifs, X, threshold=0.05, attributions=attr)
    projected = (attr * X).sum(1)
    for row in hits.itertuples():
        expected = projected[row.sequence_name, row.start:row.end].sum()
        assert row.attribution == pytest.approx(expected, rel=1e-5, abs=1e-6)
    counts = fimo_counts(hits, attribution_threshold=0.5, motifs=motifs)
    assert set(counts.motif_id) == set(motifs)
    for row in counts.itertuples():
        mine = hits[hits.motif_id == row.motif_id]
        assert row.n_hits == len(mine)
        assert row.n_above == (mine.attribution >= 0.5).sum()
    assert counts["n_above"].is_monotonic_decreasing


def test_qvalues_are_benjamini_hochberg_over_all_windows(motifs, rng):
    seqs = [_random_seq(rng, 100) for _ in range(3)]
    hits = fimo(motifs, seqs, threshold=0.05)
    for name, group in hits.groupby("motif_id"):
        w = motifs[name].shape[1]
        n_tests = 3 * (100 - w + 1) * 2
        p = group["p-value"].to_numpy()
        order = np.argsort(p, kind="stable")
        bh = p[order] * n_tests / np.arange(1, len(p) + 1)
        bh = np.minimum.accumulate(bh[::-1])[::-1].clip(max=1)
        np.testing.assert_allclose(group["q-value"].to_numpy()[order], bh, rtol=1e-12)
    assert fimo(motifs, seqs, threshold=0.05, qvalues=False)["q-value"].isna().all()


def test_background_from_file_is_symmetrised(tmp_path, motifs, rng):
    from motifscope.io import read_meme, write_meme
    path = tmp_path / "m.meme"
    write_meme(motifs, path, background=[0.3, 0.2, 0.1, 0.4])
    seqs = [_random_seq(rng, 60)]
    via_file = fimo(str(path), seqs, background="file", threshold=0.05)
    explicit = fimo(read_meme(path), seqs, background=[0.35, 0.15, 0.15, 0.35],
                    threshold=0.05)
    pd.testing.assert_frame_equal(via_file, explicit)


def test_bad_input_gives_one_line_errors(motifs, rng):
    X = np.stack([one_hot_encode(_random_seq(rng, 30)) for _ in range(2)])
    soft = X.astype(float) * 0.5
    cases = [
        (lambda: fimo(motifs, soft), "not one-hot"),
        (lambda: fimo(motifs, X, attributions=np.zeros((2, 4, 29))), "attributions"),
        (lambda: fimo(motifs, [X[0], X[1][:, :20]]), "different lengths"),
        (lambda: fimo(motifs, X, threshold=0), "threshold"),
        (lambda: fimo(motifs, ["ACGTXACGT"]), "not DNA"),
        (lambda: fimo({"z": np.zeros((4, 0))}, X), "width 0"),
        (lambda: fimo({"neg": -np.ones((4, 3))}, X), "negative"),
        (lambda: fimo(motifs, X, background=[0.5, 0.5, 0, 0]), "background"),
        (lambda: fimo(motifs, X, background="file"), "MEME file"),
        (lambda: fimo(motifs, X.transpose(0, 2, 1)), "shape"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message) as err:
            call()
        assert "\n" not in str(err.value)


def test_cuda_without_a_gpu_is_an_error(motifs):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="CUDA"):
        fimo(motifs, ["ACGTACGTAC"], device="cuda")


def test_workflow_scripts_scan_and_threshold(tmp_path, motifs, rng):
    import h5py

    import fimo as fimo_script
    import fimo_attribution
    from motifscope.io import write_meme

    n, length = 5, 90
    X = np.stack([one_hot_encode(_random_seq(rng, length)) for _ in range(n)])
    attr = rng.normal(size=X.shape).astype(np.float32)
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5["X"] = X
    with h5py.File(tmp_path / "attr.h5", "w") as h5:
        h5["attr"] = attr
    loci = pd.DataFrame({"idx": range(n), "chrom": "chr1", "start": np.arange(n) * 1000 + 7,
                         "end": np.arange(n) * 1000 + 7 + length, "summit": 45, "name": ".",
                         "score": 0})
    loci.to_csv(tmp_path / "loci.tsv", sep="\t", index=False)
    write_meme(motifs, tmp_path / "db.meme")
    settings = {"threshold": 0.01, "pseudocount": 0.1, "background": "uniform", "motifs": [],
                "attribution_threshold": 0.0, "null_alpha": 0.05, "batch_size": None}
    fimo_script.main(str(tmp_path / "onehot.h5"), str(tmp_path / "loci.tsv"),
                     str(tmp_path / "db.meme"), settings, "cpu", str(tmp_path / "scan.tsv.gz"))
    fimo_attribution.main(str(tmp_path / "scan.tsv.gz"), str(tmp_path / "onehot.h5"),
                          str(tmp_path / "attr.h5"), str(tmp_path / "db.meme"), settings,
                          str(tmp_path / "hits.tsv.gz"), str(tmp_path / "counts.tsv"))
    hits = pd.read_csv(tmp_path / "hits.tsv.gz", sep="\t")
    direct = fimo(str(tmp_path / "db.meme"), X, threshold=0.01, attributions=attr)
    assert len(hits) == len(direct) > 0
    np.testing.assert_allclose(hits["attribution"], direct["attribution"], rtol=1e-9)
    np.testing.assert_array_equal(hits["genome_start"] - hits["start"],
                                  loci["start"].to_numpy()[hits["sequence_name"]])
    counts = pd.read_csv(tmp_path / "counts.tsv", sep="\t")
    assert set(counts["motif_id"]) == set(motifs)
    assert counts["n_above"].sum() == (direct["attribution"] >= 0).sum()
    with pytest.raises(InputError, match="fimo.motifs"):
        fimo_script.main(str(tmp_path / "onehot.h5"), str(tmp_path / "loci.tsv"),
                         str(tmp_path / "db.meme"), dict(settings, motifs=["NOPE"]), "cpu",
                         str(tmp_path / "x.tsv.gz"))
    assert not (tmp_path / "x.tsv.gz").exists()
