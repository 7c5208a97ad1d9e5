"""Windows with N: attributed with N held in place in every reference, or dropped by
loci.max_n_fraction (counted, logged, shown in the report)."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from motifscope.attribution import deep_lift_shap
from motifscope.attribution.references import shuffle_keeping_n
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.errors import InputError
from motifscope.io import plan_loci
from motifscope.io.loci import open_fasta
from motifscope.io.ncontent import drop_n_windows, n_fractions


def onehot(n, length, seed=0):
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, length))
    X = np.zeros((n, 4, length), dtype=np.float32)
    np.put_along_axis(X, idx[:, None, :], 1, axis=1)
    return torch.from_numpy(X)


def with_gaps(X):
    X = X.clone()
    X[1, :, 10:16] = 0  # an assembly gap
    X[2, :, :4] = 0  # padding at a contig start
    X[2, :, -3:] = 0  # and at its end
    return X


def dinucleotides(tokens):
    return sorted(zip(tokens[:-1], tokens[1:]))


def test_references_keep_n_in_place_and_dinucleotides():
    X = with_gaps(onehot(4, 50))
    ids = torch.tensor([7, 8, 9, 10])
    refs = shuffle_keeping_n(X, 5, 3, ids)
    assert refs.shape == (4, 5, 4, 50)
    missing = X.amax(dim=1) == 0
    for i in range(4):
        keep = ~missing[i]
        tokens = X[i][:, keep].argmax(0).tolist()
        for j in range(5):
            ref = refs[i, j]
            assert torch.equal(ref.amax(dim=0) == 0, missing[i])  # N exactly where X has N
            shuffled = ref[:, keep].argmax(0).tolist()
            assert dinucleotides(shuffled) == dinucleotides(tokens)
            assert shuffled[0] == tokens[0] and shuffled[-1] == tokens[-1]
        assert not torch.equal(refs[i, 0], X[i])
    # rows without N are dinucleotide_shuffle itself; every row depends only on its id
    clean = dinucleotide_shuffle(X[[0, 3]], n=5, random_state=3, example_ids=ids[[0, 3]])
    assert torch.equal(refs[[0, 3]], clean)
    alone = shuffle_keeping_n(X[1:2], 5, 3, ids[1:2])
    assert torch.equal(alone[0], refs[1])


def test_unshuffleable_window_gets_copies_and_a_warning():
    X = onehot(1, 30)
    X[:, :, 2:] = 0
    with pytest.warns(RuntimeWarning, match="sequence 4 cannot be dinucleotide-shuffled"):
        refs = shuffle_keeping_n(X, 2, 0, torch.tensor([4]))
    assert torch.equal(refs[0, 1], X[0])


class ConvPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7, padding=3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(4, 2)
        self.linear = nn.Linear(6 * 24, 2)

    def forward(self, x):
        return self.linear(self.pool(self.relu(self.conv(x))).flatten(1))


def test_deep_lift_shap_attributes_windows_with_n_like_tangermeme():
    tangermeme_dls = pytest.importorskip("tangermeme.deep_lift_shap")
    torch.manual_seed(0)
    model = ConvPool().eval()
    X = with_gaps(onehot(4, 50, seed=1))
    attr, deltas = deep_lift_shap(model, X, n_shuffles=3, random_state=5, return_deltas=True,
                                  device="cpu", hypothetical=True)
    refs = shuffle_keeping_n(X, 3, 5, torch.arange(4))
    with pytest.warns(UserWarning):  # tangermeme warns about N in X with only_warn
        theirs = tangermeme_dls.deep_lift_shap(model, X, references=refs, hypothetical=True,
                                               device="cpu", only_warn=True,
                                               warning_threshold=1e9)
    assert attr.abs().max() > 1e-2
    assert (attr - theirs).abs().max() <= 1e-5
    projected = deep_lift_shap(model, X, n_shuffles=3, random_state=5, device="cpu")
    assert (projected[1][:, 10:16] == 0).all() and (projected[2][:, :4] == 0).all()
    assert deltas.abs().max() <= 1e-4


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(2)
    chrom = list("".join(rng.choice(list("ACGT"), 400)))
    chrom[150:170] = "N" * 20  # a gap inside the second window
    path = tmp_path / "genome.fa"
    path.write_text(">chr1\n" + "".join(chrom) + "\n")
    return path


def test_max_n_fraction_drops_and_counts(genome):
    fasta = open_fasta(genome)
    peaks = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [40, 140, 300],
                          "end": [80, 180, 340], "summit": [-1] * 3, "name": list("abc"),
                          "score": [1.0] * 3, "line": [1, 2, 3]})
    loci, _ = plan_loci(peaks, {"chr1": 400}, window=40, center="interval")
    kept, stats = drop_n_windows(loci, fasta, 1.0)
    assert stats == {"n_with_n": 1, "n_dropped_n": 0, "max_n_fraction": 1.0}
    assert len(kept) == 3
    kept, stats = drop_n_windows(loci, fasta, 0.25)  # the window has 20/40 = 50% N
    assert stats["n_dropped_n"] == 1 and kept["name"].tolist() == ["a", "c"]
    assert kept["idx"].tolist() == [0, 1]
    assert drop_n_windows(loci, fasta, 0.5)[1]["n_dropped_n"] == 0  # <= is kept
    with pytest.raises(InputError, match="loci.max_n_fraction"):
        drop_n_windows(loci.iloc[[1]], fasta, 0.1)
    np.testing.assert_allclose(n_fractions(np.zeros((2, 4, 5))), [1.0, 1.0])


def test_extract_loci_script_records_counts_for_the_report(genome, tmp_path):
    import extract_loci

    from motifscope.report.input_facts import input_facts
    from motifscope.report.sections import ReportContext

    peaks = tmp_path / "peaks.bed"
    peaks.write_text("chr1\t40\t80\nchr1\t140\t180\nchr1\t300\t340\n")
    run = tmp_path / "run"
    (run / "loci").mkdir(parents=True)
    extract_loci.main(str(genome), str(peaks), 40, "drop", "interval",
                      str(run / "loci/loci.tsv"), str(run / "loci/onehot.h5"),
                      max_n_fraction=0.25)
    with h5py.File(run / "loci/onehot.h5") as h5:
        assert h5["X"].shape == (2, 4, 40) and h5.attrs["n_dropped_n"] == 1
    ctx = ReportContext(run, {"attribution": {"method": "deeplift_shap",
                                              "allow_approximate": True}}, tmp_path / "fig")
    facts = dict(input_facts(ctx))
    assert facts["windows with N"].startswith("1 before filtering; 1 dropped for more than "
                                              "0.25 N")
    assert "approximate" in facts["attribution.allow_approximate"]
