"""Per-target peak sets: config `peaks` as a mapping target -> file.

Each target is attributed, and its seqlets, FIMO hits and tracks are placed, on its own
windows (loci/targets/<target>/); predict and the target-independent stages read the union
(loci/). The library pieces are checked on small tables, the workflow on a tiny random
genome and model."""

import gzip
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from motifscope.errors import InputError
from motifscope.io import read_loci
from motifscope.io.loci import loci_folder, plan_union, target_peak_files, union_rows
from motifscope.validation import check_target_peaks
from workflow_helpers import REPO, run_snakemake


def _write_bed(path, starts, width=100, chrom="chr1"):
    path.write_text("".join(f"{chrom}\t{s}\t{s + width}\tp{s}\n" for s in starts))
    return path


def test_union_keeps_each_window_once_in_file_order(tmp_path):
    a = _write_bed(tmp_path / "a.bed", [300, 900, 1500])
    b = _write_bed(tmp_path / "b.bed", [900, 2100])
    loci, stats = plan_union([a, b], {"chr1": 4000}, window=200)
    assert loci["start"].tolist() == [250, 850, 1450, 2050]
    assert loci["idx"].tolist() == [0, 1, 2, 3]
    assert stats["n_peaks"] == 5 and stats["n_duplicates"] == 1 and stats["n_loci"] == 4


def test_union_rows_match_windows_and_refuse_strangers():
    union = pd.DataFrame({"idx": [0, 1, 2], "chrom": ["chr1", "chr1", "chr2"],
                          "start": [10, 50, 10], "end": [30, 70, 30]})
    mine = pd.DataFrame({"idx": [0, 1], "chrom": ["chr2", "chr1"], "start": [10, 50],
                         "end": [30, 70]})
    assert union_rows(mine, union).tolist() == [2, 1]
    stranger = mine.assign(start=[11, 50])
    with pytest.raises(InputError, match="chr2:11-30 is not in loci/loci.tsv"):
        union_rows(stranger, union, "b.bed")


def test_loci_folder_follows_the_peaks_mapping():
    mapping = {"peaks": {"ctcf": "c.bed"}, "simulate": {"enabled": False}}
    assert loci_folder(mapping, "ctcf") == "loci/targets/ctcf"
    assert loci_folder(mapping, "spi1") == "loci"
    assert loci_folder(mapping) == "loci"
    assert loci_folder({"peaks": "all.bed", "simulate": {"enabled": False}}, "ctcf") == "loci"
    assert target_peak_files({"peaks": {"ctcf": "c.bed"}, "simulate": {"enabled": True}}) == {}


def test_a_mapping_key_that_is_not_a_target_is_refused(tmp_path):
    bed = _write_bed(tmp_path / "c.bed", [300])
    with pytest.raises(InputError, match=r"peaks\.ctfc: 'ctfc' is not a target; did you "
                                         r"mean ctcf\?"):
        check_target_peaks({"ctfc": str(bed)}, ["ctcf", "spi1"])
    with pytest.raises(InputError, match=r"peaks\.ctcf: peak file .*missing.bed does not "
                                         "exist"):
        check_target_peaks({"ctcf": str(tmp_path / "missing.bed")}, ["ctcf"])
    check_target_peaks({"ctcf": str(bed)}, ["ctcf", "spi1"])


def test_positive_for_without_labels_uses_the_targets_own_windows():
    from motifscope.io.labels import positive_in_peak_sets

    union = pd.DataFrame({"idx": np.arange(5)})
    own = [pd.DataFrame({"union_idx": [3, 1]}), pd.DataFrame({"union_idx": [1]})]
    assert positive_in_peak_sets(union, own).tolist() == [False, True, False, True, False]


def _per_target_workdir(tmp_path, **extra):
    """A random genome, two overlapping peak files (a: 10 peaks, b: 6, 2 shared), a random
    DemoCNN with two outputs and a config mapping each target to its file."""
    from motifscope.architectures import DemoCNN

    rng = np.random.default_rng(3)
    (tmp_path / "genome.fa").write_text(
        ">chr1\n" + "".join(rng.choice(list("ACGT"), 6000)) + "\n")
    _write_bed(tmp_path / "a.bed", range(300, 3300, 300))      # 10 peaks
    _write_bed(tmp_path / "b.bed", [2400, 2700, 3600, 4200, 4800, 5400])  # 2 shared with a
    shutil.copy(REPO / "tests/data/motifs.meme", tmp_path / "motifs.meme")
    kwargs = {"n_targets": 2, "input_length": 200, "n_filters": 8, "filter_width": 9,
              "n_filters2": 8, "pool": 4}
    torch.manual_seed(0)
    torch.save(DemoCNN(**kwargs).eval().state_dict(), tmp_path / "cnn.pt")
    config = {
        "run": "pertarget", "genome": "genome.fa", "motif_db": "motifs.meme", "window": 200,
        "device": "cpu", "peaks": {"a": "a.bed", "b": "b.bed"}, "targets": {"a": 0, "b": 1},
        "model": {"path": "cnn.pt", "format": "state_dict",
                  "class": "motifscope.architectures.DemoCNN", "kwargs": kwargs},
        "attribution": {"shard_size": 8, "n_shuffles": 4},
        "stages": {"filters": False, "marginalize": False, "modisco": False,
                   "hits": False},
        **extra,
    }
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


@pytest.mark.workflow
def test_filters_positive_for_uses_the_targets_peak_files(tmp_path):
    """filters.positive_for without a labels file: the PFMs come from b's 6 windows."""
    workdir = _per_target_workdir(tmp_path, filters={"positive_for": ["b"]},
                                  stages={"marginalize": False, "modisco": False})
    run_snakemake(workdir, "--cores", "2", "results/pertarget/filters/pwms.tsv")
    log = (workdir / "logs/pertarget/filter_pwms.log").read_text()
    assert "6 of 14 loci positive for b (filters.positive_for)" in log


@pytest.mark.workflow
def test_each_target_is_analysed_on_its_own_peaks(tmp_path):
    run_snakemake(_per_target_workdir(tmp_path), "--cores", "2")
    run = tmp_path / "results/pertarget"

    union = read_loci(run / "loci/loci.tsv")
    assert len(union) == 14  # 10 + 6 - 2 shared windows
    assert len(pd.read_csv(run / "predictions/predictions.tsv", sep="\t")) == 14
    for target, bed, n in (("a", "a.bed", 10), ("b", "b.bed", 6)):
        own = read_loci(run / f"loci/targets/{target}/loci.tsv")
        assert len(own) == n
        starts = pd.read_csv(tmp_path / bed, sep="\t", header=None)[1] - 50  # centre - window / 2
        assert own["start"].tolist() == starts.tolist()
        # union_idx points at the same window of loci/loci.tsv
        assert (union.loc[own["union_idx"], "start"].to_numpy() == own["start"]).all()
        with h5py.File(run / f"attributions/{target}.h5") as h5:
            assert h5["attr"].shape == (n, 4, 200)
        with h5py.File(run / f"loci/targets/{target}/onehot.h5") as h5, \
                h5py.File(run / "loci/onehot.h5") as whole:
            np.testing.assert_array_equal(h5["X"][:], whole["X"][:][own["union_idx"]])
        with gzip.open(run / f"fimo/{target}.hits.tsv.gz", "rt") as fh:
            hits = pd.read_csv(fh, sep="\t", dtype={"chrom": str})
        # FIMO's hits renumbered to the target's windows, on the genome where those lie
        assert hits["sequence_name"].between(0, n - 1).all()
        window_start = own["start"].to_numpy()[hits["sequence_name"].to_numpy()]
        np.testing.assert_array_equal(hits["genome_start"], window_start + hits["start"])
        seqlets = pd.read_csv(run / f"seqlets/{target}.tsv", sep="\t", dtype={"chrom": str})
        assert len(seqlets) and seqlets["example_idx"].between(0, n - 1).all()
        np.testing.assert_array_equal(
            seqlets["start"], own["start"].to_numpy()[seqlets["example_idx"]]
            + seqlets["window_start"])
    html = (run / "report.html").read_text()
    assert "peaks (a)" in html and "peaks (b)" in html
