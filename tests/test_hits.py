"""The hits stage: CWM loading, the sparse fit on planted sites, genome outputs (TSV, BED9,
bigBed, counts), genome tracks read back, motif syntax statistics, and the rules' DAG.

finemo itself is compared in tests/oracle/test_hits_finemo.py.
"""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hits_data import planted_cwms, planted_tracks, write_modisco_h5
from motifscope.errors import InputError
from motifscope.hits import fit_hits, read_meme_cwms, read_modisco_cwms, trim_span
from motifscope.hits.outputs import HITS_COLUMNS, pattern_colours
from motifscope.syntax import cooccurrence, spacing
from motifscope.tracks import window_cells

L = 200


def test_trim_and_strands_of_modisco_patterns(tmp_path):
    rng = np.random.default_rng(0)
    cwms = planted_cwms(rng, n_patterns=12)
    write_modisco_h5(tmp_path / "m.h5", cwms)
    cs = read_modisco_cwms(tmp_path / "m.h5")
    # numeric pattern order (pattern_10 after pattern_2), forward then reverse complement
    assert cs.names[:3] == ["pos_patterns.pattern_0", "pos_patterns.pattern_1",
                            "pos_patterns.pattern_2"] and cs.names[-1].endswith("_11")
    np.testing.assert_allclose(cs.cwms[1], cs.cwms[0][::-1, ::-1], atol=1e-7)
    np.testing.assert_allclose(np.sqrt((cs.cwms[0] ** 2).sum()), 1, rtol=1e-6)
    a, b = trim_span(cwms[0])
    assert (cs.trim_bounds()[0] == (a, b)).all()
    assert (cs.trim_bounds()[1] == (30 - b, 30 - a)).all()
    assert cs.n_seqlets[0] == 20


def test_meme_cwms_negative_values_and_probabilities(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
                    "MOTIF cwm1\nletter-probability matrix: alength= 4 w= 3\n"
                    "0.5 -0.1 0 0\n0 0 0.9 0\n-0.2 0 0 0.4\n\n"
                    "MOTIF pwm1 NAME\nletter-probability matrix: alength= 4 w= 2\n"
                    "1 0 0 0\n0.25 0.25 0.25 0.25\n")
    cs = read_meme_cwms(path)
    assert cs.names == ["cwm1", "pwm1"] and cs.cwms.shape == (4, 4, 3)
    raw = np.array([[0.5, -0.1, 0, 0], [0, 0, 0.9, 0], [-0.2, 0, 0, 0.4]]).T
    np.testing.assert_allclose(cs.cwms[0], raw / np.sqrt((raw ** 2).sum()), atol=1e-6)
    # a probability matrix becomes letter heights: a certain A (2 bits), a flat column (0)
    assert cs.cwms[2, 0, 0] > 0.99 and np.abs(cs.cwms[2, :, 1]).max() < 1e-6
    assert cs.masks[2].tolist() == [1, 0, 0]  # padded column masked out
    bad = tmp_path / "bad.meme"
    bad.write_text("MOTIF x\nletter-probability matrix:\n0.1 0.2 0.7\n")
    with pytest.raises(InputError, match="bad.meme:3"):
        read_meme_cwms(bad)


def test_fit_recovers_planted_sites_and_sums_attribution():
    rng = np.random.default_rng(3)
    cwms = planted_cwms(rng)
    X, hyp, sites = planted_tracks(rng, cwms, n=40, per_window=3, noise=0.1)
    from motifscope.hits import cwm_set

    cs = cwm_set({f"p{k}": c for k, c in enumerate(cwms)})
    hits, qc = fit_hits(cs.cwms, cs.masks, 0.7, hyp, X, device="cpu", batch_size=16)
    assert qc["converged"].all() and len(qc) == 40
    called = set(zip(hits.example_idx, cs.pattern_of_row[hits.motif_idx], hits.position,
                     cs.strands[hits.motif_idx]))
    planted = set(sites)
    assert len(called & planted) / len(planted) >= 0.95
    assert len(called & planted) / len(called) >= 0.9
    proj = (hyp * X).sum(axis=1)
    bounds = cs.trim_bounds()
    for row in hits.head(20).itertuples():
        a, b = bounds[row.motif_idx]
        span = proj[row.example_idx, row.position + a:row.position + b]
        np.testing.assert_allclose(row.attribution, span.sum(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(row.importance, np.abs(span).sum(), rtol=1e-4, atol=1e-5)
        assert row.similarity >= 0.7


def test_window_cells_nearest_centre_rule():
    loci = pd.DataFrame({"chrom": ["c1", "c1", "c1", "c1", "c2"],
                         "start": [100, 0, 150, 150, 0], "end": [300, 200, 350, 350, 200]})
    cells = window_cells(loci, ["c1", "c2"])
    owner = {}
    for r in cells.itertuples():
        for b in range(r.start, r.end):
            assert (r.chrom, b) not in owner
            owner[(r.chrom, b)] = r.row
    for chrom in ("c1", "c2"):
        sub = loci[loci["chrom"] == chrom]
        for b in range(0, 400):
            inside = sub[(sub["start"] <= b) & (b < sub["end"])]
            if inside.empty:
                assert (chrom, b) not in owner
                continue
            dist = np.abs((inside["start"] + inside["end"]) / 2 - (b + 0.5))
            nearest = inside.index[dist == dist.min()]
            # ties: the window first in genome order (by centre), then in loci order
            centres = (inside["start"] + inside["end"]).loc[nearest]
            expect = min(nearest, key=lambda i: (centres[i], i))
            assert owner[(chrom, b)] == expect, (chrom, b)


def test_cooccurrence_matches_fisher_and_spacing_counts_pairs():
    rng = np.random.default_rng(0)
    n = 60
    a = rng.random(n) < 0.5
    b = a & (rng.random(n) < 0.8)  # b mostly with a
    c = rng.random(n) < 0.3
    counts = pd.DataFrame({"peak": [f"p{i}" for i in range(n)], "A": a * 1, "B": b * 2,
                           "C": c * 1})
    table = cooccurrence(counts)
    row = table[(table.pattern_a == "A") & (table.pattern_b == "B")].iloc[0]
    both = int((a & b).sum())
    _, p = stats.fisher_exact([[both, int((a & ~b).sum())], [int((~a & b).sum()),
                               int((~a & ~b).sum())]], alternative="greater")
    assert row.observed == both and row.expected == pytest.approx(a.sum() * b.sum() / n)
    assert row.p_value == pytest.approx(p, rel=1e-9)
    assert row.q_value >= row.p_value and (table.q_value <= 1).all()

    hits = pd.DataFrame({
        "peak": ["x", "x", "x", "y", "y"], "pattern": ["A", "B", "A", "A", "B"],
        "strand": ["+", "-", "+", "-", "-"], "window_offset": [10, 30, 60, 0, 5],
        "start": [0] * 5, "end": [10] * 5})
    sp = spacing(hits, pairs=[("A", "B"), ("A", "A")])
    ab = sp[(sp.pattern_a == "A") & (sp.pattern_b == "B")]
    got = sorted(zip(ab.orientation, ab.distance, ab["count"]))
    assert got == [("+-", -30, 1), ("+-", 20, 1), ("--", 5, 1)]
    aa = sp[(sp.pattern_a == "A") & (sp.pattern_b == "A")]
    assert list(zip(aa.orientation, aa.distance)) == [("++", 50)]


def test_pattern_colours_are_distinct_rgb():
    colours = pattern_colours([f"p{i}" for i in range(8)])
    assert len(set(colours.values())) == 8
    for v in colours.values():
        assert all(0 <= int(x) <= 255 for x in v.split(","))


# --- the scripts on a small fake run ----------------------------------------------------------


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """Loci (some overlapping) on a 2-contig genome, planted attributions, a modisco h5 and
    a patterns.tsv with TOMTOM labels."""
    d = tmp_path_factory.mktemp("hits_run")
    rng = np.random.default_rng(5)
    cwms = planted_cwms(rng)
    n = 24
    X, hyp, sites = planted_tracks(rng, cwms, n=n, per_window=3, noise=0.1)
    sizes = {"chr1": 6000, "chr2": 4000}
    with open(d / "genome.fa", "w") as fh:
        for c, s in sizes.items():
            fh.write(f">{c}\n" + "".join(rng.choice(list("ACGT"), s)) + "\n")
    starts = np.concatenate([np.arange(16) * 150 + 100, np.arange(8) * 120 + 50])
    chroms = ["chr1"] * 16 + ["chr2"] * 8
    loci = pd.DataFrame({"idx": np.arange(n), "chrom": chroms, "start": starts,
                         "end": starts + L, "summit": L // 2,
                         "name": [f"peak{i}" for i in range(n)], "score": 1.0})
    loci.to_csv(d / "loci.tsv", sep="\t", index=False)
    with h5py.File(d / "onehot.h5", "w") as h5:
        h5.create_dataset("X", data=X)
    with h5py.File(d / "attr.h5", "w") as h5:
        h5.create_dataset("attr", data=hyp)
    write_modisco_h5(d / "modisco.h5", cwms)
    pd.DataFrame({"pattern": ["pos_patterns.pattern_0", "pos_patterns.pattern_1"],
                  "match_1": ["MA0139.2", ""], "match_1_alt": ["CTCF", ""],
                  "family_1": ["C2H2 zinc finger", ""]}).to_csv(
        d / "patterns.tsv", sep="\t", index=False)
    pd.DataFrame({"idx": np.arange(n), "chrom": chroms, "start": starts, "end": starts + L,
                  "name": loci["name"], "tf": rng.random(n)}).to_csv(
        d / "predictions.tsv", sep="\t", index=False)
    return d, sizes, X, hyp, loci


def test_call_hits_writes_tsv_bed9_bigbed_and_counts(fake_run):
    import call_hits
    import pybigtools

    d, sizes, _, _, loci = fake_run
    settings = {"penalty": 0.7, "trim_threshold": 0.3, "tol": 5e-4, "max_steps": 10000,
                "batch_size": 10}
    call_hits.main(motifs=str(d / "modisco.h5"), patterns=str(d / "patterns.tsv"),
                   attributions=str(d / "attr.h5"), onehot=str(d / "onehot.h5"),
                   loci=str(d / "loci.tsv"), genome=str(d / "genome.fa"), target="tf",
                   settings=settings, device="cpu", tsv=str(d / "hits.tsv"),
                   bed=str(d / "hits.bed"), bb=str(d / "hits.bb"),
                   counts=str(d / "hits.counts.tsv"))
    table = pd.read_csv(d / "hits.tsv", sep="\t", keep_default_na=False)
    assert list(table.columns) == HITS_COLUMNS and len(table) > 40
    assert set(table.loc[table.pattern == "pos_patterns.pattern_0", "label"]) == {"CTCF"}
    assert set(table.loc[table.pattern == "pos_patterns.pattern_2", "label"]) == {
        "pos_patterns.pattern_2"}
    # genome start = window start + offset in the window
    wstart = loci.set_index("name").loc[table.peak, "start"].to_numpy()
    assert (table.start.to_numpy() == wstart + table.window_offset.to_numpy()).all()
    bed = pd.read_csv(d / "hits.bed", sep="\t", header=None)
    assert bed.shape[1] == 9 and (bed[6] == bed[1]).all() and (bed[7] == bed[2]).all()
    assert bed[8].nunique() == table.pattern.nunique()
    # sites seen in two overlapping windows appear once in the BED
    assert len(bed) == len(table.drop_duplicates(["chrom", "start", "end", "strand",
                                                  "pattern"]))
    bb = pybigtools.open(str(d / "hits.bb"))
    got = [(c, s, e, n, int(sc), st) for c in sizes for s, e, n, sc, st, *_ in bb.records(c)]
    want = list(bed[[0, 1, 2, 3, 4, 5]].itertuples(index=False, name=None))
    assert sorted(got) == sorted(want)
    counts = pd.read_csv(d / "hits.counts.tsv", sep="\t")
    assert list(counts.peak) == list(loci.name)
    assert counts.drop(columns="peak").to_numpy().sum() == len(table)


def test_no_modisco_pattern_gives_empty_valid_hit_files(fake_run, tmp_path):
    """TF-MoDISco found nothing: empty tables and a bigBed that UCSC-format readers open
    (pybigtools itself writes an unreadable file for zero records)."""
    import call_hits
    import pyBigWig
    import pybigtools

    from motifscope.io.modisco import write_modisco

    d, sizes, _, _, loci = fake_run
    write_modisco(tmp_path / "empty.h5", None, None, window_size=20, window_offset=0)
    settings = {"penalty": 0.7, "trim_threshold": 0.3, "tol": 5e-4, "max_steps": 100,
                "batch_size": 10}
    out = {k: str(tmp_path / f"hits.{k}") for k in ("tsv", "bed", "bb")}
    call_hits.main(motifs=str(tmp_path / "empty.h5"), patterns=str(d / "patterns.tsv"),
                   attributions=str(d / "attr.h5"), onehot=str(d / "onehot.h5"),
                   loci=str(d / "loci.tsv"), genome=str(d / "genome.fa"), target="tf",
                   settings=settings, device="cpu", counts=str(tmp_path / "counts.tsv"),
                   **out)
    table = pd.read_csv(out["tsv"], sep="\t")
    assert list(table.columns) == HITS_COLUMNS and table.empty
    assert Path(out["bed"]).read_text() == ""
    assert list(pd.read_csv(tmp_path / "counts.tsv", sep="\t").peak) == list(loci.name)
    bb = pybigtools.open(out["bb"])
    assert bb.chroms() == sizes and all(list(bb.records(c)) == [] for c in sizes)
    other = pyBigWig.open(out["bb"])
    assert other.isBigBed() and other.chroms() == sizes
    assert not other.entries("chr1", 0, sizes["chr1"])
    assert b"table hits" in other.SQL()
    with pytest.raises(InputError, match="holds no modisco patterns"):
        call_hits.main(motifs=str(tmp_path / "empty.h5"), patterns=None,
                       attributions=str(d / "attr.h5"), onehot=str(d / "onehot.h5"),
                       loci=str(d / "loci.tsv"), genome=str(d / "genome.fa"), target="tf",
                       settings=settings, device="cpu", counts=str(tmp_path / "c2.tsv"),
                       **out)


def test_tracks_read_back_equal_to_the_hdf5(fake_run):
    import pyBigWig
    import track_hub
    import tracks

    d, sizes, X, hyp, loci = fake_run
    tracks.main(attributions=str(d / "attr.h5"), onehot=str(d / "onehot.h5"),
                loci=str(d / "loci.tsv"), genome=str(d / "genome.fa"),
                predictions=str(d / "predictions.tsv"), target="tf",
                bigwig=str(d / "tf.bw"), prediction_bw=str(d / "tf.prediction.bw"),
                prediction_bedgraph=str(d / "tf.prediction.bedGraph"))
    proj = (hyp * X).sum(axis=1).astype(np.float32)
    cells = window_cells(loci, list(sizes))
    bw = pyBigWig.open(str(d / "tf.bw"))
    assert bw.chroms() == sizes
    pred = pd.read_csv(d / "predictions.tsv", sep="\t")["tf"].to_numpy()
    pbw = pyBigWig.open(str(d / "tf.prediction.bw"))
    covered = 0
    for r in cells.itertuples():
        got = np.array(bw.values(r.chrom, int(r.start), int(r.end)), dtype=np.float32)
        want = proj[r.row, r.start - r.wstart:r.end - r.wstart]
        np.testing.assert_array_equal(got, want)
        pv = np.array(pbw.values(r.chrom, int(r.start), int(r.end)))
        np.testing.assert_allclose(pv, pred[r.row], rtol=1e-6)
        covered += r.end - r.start
    # every base of every window has a value; nothing outside the windows
    union = sum(len(set().union(*[range(s, e) for s, e in zip(g.start, g.end)]))
                for _, g in loci.groupby("chrom"))
    assert covered == union
    assert np.isnan(bw.values("chr1", 5990, 6000)).all()
    bg = pd.read_csv(d / "tf.prediction.bedGraph", sep="\t", header=None, skiprows=1)
    assert len(bg) == len(cells)
    track_hub.main(targets=["tf"], hits=True, prediction=True, trackdb=str(d / "trackDb.txt"),
                   readme=str(d / "README"))
    text = (d / "trackDb.txt").read_text()
    assert "bigDataUrl tf.bw" in text and "type bigBed 9 ." in text
    assert "IGV" in (d / "README").read_text()


def test_motif_syntax_script(fake_run, tmp_path):
    import motif_syntax

    d = fake_run[0]
    if not (d / "hits.tsv").exists():
        pytest.skip("needs test_call_hits_writes_tsv_bed9_bigbed_and_counts first")
    motif_syntax.main(hits=str(d / "hits.tsv"), counts=str(d / "hits.counts.tsv"), target="tf",
                      top=3, cooc_tsv=str(tmp_path / "c.tsv"), spacing_tsv=str(tmp_path / "s.tsv"),
                      cooc_png=str(tmp_path / "c.png"), spacing_png=str(tmp_path / "s.png"))
    cooc = pd.read_csv(tmp_path / "c.tsv", sep="\t")
    assert len(cooc) == 3  # three patterns, three pairs
    sp = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert sp[["pattern_a", "pattern_b"]].drop_duplicates().shape[0] <= 3
    assert (tmp_path / "c.png").exists() and (tmp_path / "s.pdf").exists()


@pytest.mark.workflow
def test_dry_run_lists_hits_and_tracks_rules(tmp_path):
    from workflow_helpers import make_workdir, run_snakemake

    on = run_snakemake(make_workdir(tmp_path / "on", "hits: {motifs: data/motifs.meme}\n"
                                    "stages: {hits: true}"),
                       "-n", "--quiet", "rules").stdout
    for rule in ("call_hits", "motif_syntax", "tracks", "track_hub"):
        assert f"\n{rule} " in on, f"{rule} missing:\n{on}"
    off = run_snakemake(make_workdir(tmp_path / "off", "hits: {motifs: data/motifs.meme}\n"
                                     "stages: {hits: false, tracks: false}"),
                        "-n", "--quiet", "rules").stdout
    assert "\ncall_hits " not in off and "\ntracks " not in off


def test_report_hits_section_and_marks(fake_run, tmp_path):
    import shutil

    from motifscope.report.sections.hits import hits_calls, hits_marks, hits_section
    from motifscope.report.sections import ReportContext

    d = fake_run[0]
    if not (d / "hits.tsv").exists():
        pytest.skip("needs test_call_hits_writes_tsv_bed9_bigbed_and_counts first")
    run = tmp_path / "tiny"
    for src, dst in (("hits.tsv", "hits/tf.tsv"), ("hits.counts.tsv", "hits/tf.counts.tsv"),
                     ("loci.tsv", "loci/loci.tsv"), ("patterns.tsv", "modisco/tf.patterns.tsv")):
        (run / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(d / src, run / dst)
    ctx = ReportContext(run, {"targets": {"tf": 0}}, run / "figures")
    section = hits_section(ctx)
    html = "".join(str(part) for part in section.body)
    assert section.status == "ok" and "CTCF" in html and "trackDb.txt" in html
    marks = hits_marks(ctx, "tf")
    hits = pd.read_csv(run / "hits/tf.tsv", sep="\t", keep_default_na=False)
    assert len(marks) == len(hits) and (marks["end"] - marks["start"] > 0).all()
    calls = hits_calls(ctx)["tf"]
    assert set(calls.loc[hits["pattern"] == "pos_patterns.pattern_0", "motif_id"]) == {"MA0139.2"}
