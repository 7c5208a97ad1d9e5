import os

import numpy as np
import pandas as pd
import pytest

from motifscope.errors import InputError
from motifscope.io import extract_loci, plan_loci, read_onehot, read_peaks, write_onehot
from motifscope.io.loci import open_fasta
from motifscope.sequence import one_hot_encode

RNG = np.random.default_rng(3)
CHROMS = {"chr1": "".join(RNG.choice(list("ACGT"), 500)),
          "chr2": "".join(RNG.choice(list("ACGT"), 300))}
CHROMS["chr2"] = CHROMS["chr2"][:100] + "NNNNN" + CHROMS["chr2"][105:]


@pytest.fixture
def genome(tmp_path):
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{k}\n{v}\n" for k, v in CHROMS.items()))
    return path


def _narrowpeak(tmp_path, rows):
    path = tmp_path / "peaks.narrowPeak"
    path.write_text("".join("\t".join(map(str, (c, s, e, f"p{i}", 1, ".", 1, -1, -1, summit)))
                            + "\n" for i, (c, s, e, summit) in enumerate(rows)))
    return path


def test_windows_centre_on_summit_or_interval(tmp_path, genome):
    peaks = _narrowpeak(tmp_path, [("chr1", 100, 200, 10), ("chr2", 80, 130, -1)])
    loci, X = extract_loci(peaks, genome, window=40)
    assert loci[["start", "end", "summit"]].values.tolist() == [[90, 130, 110],
                                                                [85, 125, 105]]
    np.testing.assert_array_equal(X[0], one_hot_encode(CHROMS["chr1"][90:130]))
    # the N run at chr2:100-105 is all-zero
    assert X[1][:, 15:20].sum() == 0 and X[1][:, :15].sum() == 15


def test_off_chrom_drop_or_pad_and_duplicates(tmp_path, genome):
    peaks = read_peaks(_narrowpeak(tmp_path, [("chr1", 0, 20, 5), ("chr1", 0, 20, 5),
                                              ("chr1", 200, 260, 30), ("chr2", 280, 300, 19)]))
    sizes = {k: len(v) for k, v in CHROMS.items()}
    loci, stats = plan_loci(peaks, sizes, window=50, off_chrom="drop")
    assert stats == {"n_peaks": 4, "n_duplicates": 1, "n_off_chrom": 2, "off_chrom": "drop",
                     "n_loci": 1}
    loci, stats = plan_loci(peaks, sizes, window=50, off_chrom="pad")
    assert len(loci) == 3 and loci["idx"].tolist() == [0, 1, 2]
    loci, X = extract_loci(peaks, genome, window=50, off_chrom="pad")
    # chr1 window [-20, 30): the first 20 columns are padding
    assert X[0][:, :20].sum() == 0
    np.testing.assert_array_equal(X[0][:, 20:], one_hot_encode(CHROMS["chr1"][:30]))
    assert X[2][:, -24:].sum() == 0  # chr2 window [274, 324) runs 24 bp past the end


def test_contig_naming_mismatch_shows_both_namings(tmp_path, genome):
    path = tmp_path / "p.bed"
    path.write_text("1\t10\t20\n")
    with pytest.raises(InputError, match=r"line 1: contig '1' is not in .*chr1.*add a 'chr'"):
        extract_loci(path, genome, window=10)


def test_window_longer_than_contig(tmp_path, genome):
    with pytest.raises(InputError, match=r"'chr2' \(300 bp .*shorter than window 400"):
        extract_loci(_narrowpeak(tmp_path, [("chr2", 10, 20, 2)]), genome, window=400)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_fasta_without_index_in_read_only_folder(tmp_path, genome):
    folder = tmp_path / "ro"
    folder.mkdir()
    fasta = folder / "g.fa"
    fasta.write_text(genome.read_text())
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="read-only; run `samtools faidx"):
            open_fasta(fasta)
    finally:
        folder.chmod(0o755)


def test_read_only_folder_check_uses_access(tmp_path, genome, monkeypatch):
    """The same check as above, made testable as root by faking os.access."""
    import motifscope.io.loci as loci_module

    monkeypatch.setattr(loci_module.os, "access", lambda *a: False)
    with pytest.raises(InputError, match="no index genome.fa.fai and its folder is read-only"):
        open_fasta(genome)


def test_onehot_h5_streams_in_chunks(tmp_path, genome):
    peaks = read_peaks(_narrowpeak(tmp_path, [("chr1", s, s + 10, 5) for s in range(30, 400, 20)]))
    fasta = open_fasta(genome)
    loci, _ = plan_loci(peaks, {k: len(v) for k, v in CHROMS.items()}, window=40)
    path = write_onehot(loci, fasta, tmp_path / "onehot.h5", 40, chunk_size=4)
    import h5py

    with h5py.File(path) as h5:
        assert h5["X"].chunks == (4, 4, 40) and h5["X"].compression == "gzip"
    X = read_onehot(path)
    _, expected = extract_loci(peaks, fasta, window=40)
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(read_onehot(path, 3, 7), expected[3:7])


@pytest.mark.oracle
def test_matches_tangermeme_extract_loci(tmp_path, genome):
    from tangermeme.io import extract_loci as tm_extract_loci

    rows = [("chr1", s, s + 60, int(RNG.integers(0, 60))) for s in range(0, 440, 37)]
    rows += [("chr2", 120, 200, 40)]
    path = _narrowpeak(tmp_path, rows)
    loci, X = extract_loci(path, genome, window=64)
    df = pd.read_csv(path, sep="\t", header=None)
    theirs = tm_extract_loci(df, str(genome), in_window=64, summits=True,
                             ignore=list("N")).numpy()
    np.testing.assert_array_equal(X, theirs)
