"""The modisco stage: TF-MoDISco (modisco-lite 3.0, as `modisco motifs` runs it) on planted
attributions, its h5 read by modisco-lite's and Fi-NeMo's own loaders, TOMTOM labels,
genome coordinates, the empty case.

The planted case: 360 random 200 bp windows, 65 % of them with one instance of Spi1
(MA0080.7 of tests/data/motifs.meme) sampled from its PWM on a random strand; hypothetical
attributions are 0.5 x log2(p / 0.25) of the PWM under the instance and Gaussian noise
(sd 0.01) elsewhere, the way a model that learned the PWM would score it.
"""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from motifscope.denovo import (ModiscoSettings, aligned_cosine, discover_patterns,
                               is_modisco_lite_3, matched_patterns, pattern_table,
                               seqlets_on_genome, shared_patterns, trim_span,
                               write_pattern_memes)
from motifscope.errors import InputError
from motifscope.io import read_meme
from motifscope.io.modisco import read_modisco, write_modisco

modiscolite = pytest.importorskip("modiscolite")
from modiscolite import io as modisco_io  # noqa: E402
from modiscolite import tfmodisco  # noqa: E402

MOTIFS = Path(__file__).parent / "data" / "motifs.meme"
PLANTED = "MA0080.7"
N, L = 360, 200
SETTINGS = ModiscoSettings(window=160, max_seqlets=2000, n_leiden=2)


def planted_windows(seed: int = 0):
    """(one-hot (N, 4, L) uint8, hypothetical (N, 4, L) float32, planted (example, start))."""
    rng = np.random.default_rng(seed)
    pwm = read_meme(MOTIFS)[PLANTED]
    width = pwm.shape[1]
    bases = rng.integers(0, 4, size=(N, L))
    hyp = rng.normal(0, 0.01, size=(N, 4, L))
    planted = []
    for i in np.flatnonzero(rng.random(N) < 0.65):
        start = int(rng.integers(40, L - 40 - width))
        matrix = pwm if rng.random() < 0.5 else pwm[::-1, ::-1]
        for j in range(width):
            bases[i, start + j] = rng.choice(4, p=matrix[:, j] / matrix[:, j].sum())
        hyp[i, :, start:start + width] = 0.5 * np.log2(np.maximum(matrix, 1e-3) / 0.25)
        planted.append((i, start))
    onehot = np.zeros((N, 4, L), dtype=np.uint8)
    onehot[np.arange(N)[:, None], bases, np.arange(L)[None, :]] = 1
    return onehot, hyp.astype(np.float32), planted


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    onehot, hyp, planted = planted_windows()
    path = tmp_path_factory.mktemp("modisco") / "spi1.h5"
    result = discover_patterns(onehot, hyp, SETTINGS, verbose=False)
    write_modisco(path, result["pos_patterns"], result["neg_patterns"], result["window"],
                  result["window_offset"])
    return onehot, hyp, planted, path, result


def _reference_h5(onehot, hyp, path):
    """modisco-lite's own TFMoDISco on the crop and settings of SETTINGS, saved by its own
    save_hdf5."""
    lo = L // 2 - SETTINGS.window // 2
    x = onehot[:, :, lo:lo + SETTINGS.window].transpose(0, 2, 1).astype(np.float32)
    h = hyp[:, :, lo:lo + SETTINGS.window].transpose(0, 2, 1).astype(np.float32)
    np.random.seed(SETTINGS.seed)
    pos, neg = tfmodisco.TFMoDISco(
        one_hot=x, hypothetical_contribs=h, sliding_window_size=SETTINGS.sliding_window,
        flank_size=SETTINGS.flank, max_seqlets_per_metacluster=SETTINGS.max_seqlets,
        target_seqlet_fdr=SETTINGS.target_fdr, n_leiden_runs=SETTINGS.n_leiden,
        final_min_cluster_size=SETTINGS.min_seqlets, min_ic_in_window=SETTINGS.min_ic)
    modisco_io.save_hdf5(str(path), pos, neg, SETTINGS.window)
    return path


def _datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def _assert_same_h5(path, reference):
    """Both files hold the same datasets (with seqlet counts), value for value."""
    mine, theirs = _datasets(path), _datasets(reference)
    assert mine.keys() == theirs.keys() and any(k.endswith("n_seqlets") for k in mine)
    for key in theirs:
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


def test_modisco_lite_is_3_0():
    """The tests compare against modisco-lite 3.0, not modisco 2.x's files under its name
    (the Makefile reinstalls 3.0 after bpnet-lite's dependency)."""
    assert is_modisco_lite_3(), "modiscolite here is modisco 2.x's code; see the Makefile"


@pytest.mark.oracle
def test_discover_patterns_is_tfmodisco_value_for_value(discovered, tmp_path):
    """The rule's call writes what modisco-lite's TFMoDISco and save_hdf5 write on the same
    crop and settings, value for value; only our window_offset attribute is added."""
    onehot, hyp, _, ours, _ = discovered
    _assert_same_h5(ours, _reference_h5(onehot, hyp, tmp_path / "reference.h5"))


@pytest.mark.oracle
def test_same_patterns_as_the_modisco_motifs_command(discovered, tmp_path):
    """`modisco motifs` itself on the same windows (npz in its (N, 4, L) layout, the CLI's
    FDR 0.05 given to ours too): the same h5 datasets, value for value."""
    onehot, hyp, _, _, _ = discovered
    command = Path(sys.executable).with_name("modisco")
    if not command.exists():
        pytest.skip("the modisco command is not installed beside this python")
    np.savez(tmp_path / "ohe.npz", onehot.astype(np.float32))
    np.savez(tmp_path / "shap.npz", hyp)
    subprocess.run([str(command), "motifs", "-s", str(tmp_path / "ohe.npz"), "-a",
                    str(tmp_path / "shap.npz"), "-n", str(SETTINGS.max_seqlets), "-w",
                    str(SETTINGS.window), "-z", "21", "-f", "10", "-l", str(SETTINGS.n_leiden),
                    "-o", str(tmp_path / "cli.h5")], check=True, capture_output=True)
    settings = ModiscoSettings(**{**SETTINGS.__dict__, "target_fdr": 0.05})
    result = discover_patterns(onehot, hyp, settings, verbose=False)
    write_modisco(tmp_path / "ours.h5", result["pos_patterns"], result["neg_patterns"],
                  result["window"], result["window_offset"])
    _assert_same_h5(tmp_path / "ours.h5", tmp_path / "cli.h5")


def test_modisco_2_code_is_named_in_a_warning(monkeypatch, caplog):
    """With modisco 2.x's files in place of 3.0's the run goes on and says how to fix it."""
    monkeypatch.delattr(tfmodisco, "forked")
    onehot, _, _ = planted_windows()
    with caplog.at_level("WARNING", logger="motifscope.denovo"):
        discover_patterns(onehot, np.zeros(onehot.shape, np.float32), SETTINGS, verbose=False)
    assert "modisco 2.x" in caplog.text and "--force-reinstall" in caplog.text


def test_largest_positive_pattern_is_the_planted_motif(discovered):
    _, _, planted, path, _ = discovered
    patterns, attrs = read_modisco(path)
    assert attrs == {"window_size": SETTINGS.window, "window_offset": L // 2 - SETTINGS.window // 2}
    positive = [p for p in patterns if p.sign == 1]
    assert positive, "no positive pattern"
    top = max(positive, key=lambda p: p.n_seqlets)
    table = pattern_table(patterns, read_meme(MOTIFS)).set_index("pattern")
    assert table.loc[top.name, "match_1"] == PLANTED and table.loc[top.name, "q_1"] < 0.05
    # most planted instances inside the crop are seqlets of that pattern
    assert top.n_seqlets >= 0.6 * len(planted)


def test_h5_reads_with_modisco_lite_and_finemo_loaders(discovered, tmp_path):
    _, _, _, path, _ = discovered
    meme = tmp_path / "cwm.meme"
    modisco_io.write_meme_from_h5(str(path), modiscolite.util.MemeDataType.CWM, str(meme), True)
    assert "MOTIF pos_patterns.pattern_0" in meme.read_text()
    finemo_io = pytest.importorskip("finemo.data_io")
    motifs_df, cwms, masks, _ = finemo_io.load_modisco_motifs(
        str(path), None, None, 0.3, "cwm", None, None, None, 0.7, True)
    patterns, _ = read_modisco(path)
    assert list(dict.fromkeys(motifs_df["motif_name"].to_list())) == [p.name for p in patterns]
    # finemo scales each CWM to unit norm (float16) and trims it at 0.3 as we do
    forward = np.asarray(cwms[0], dtype=np.float64)
    ours = patterns[0].cwm
    cosine = (forward * ours).sum() / np.linalg.norm(forward) / np.linalg.norm(ours)
    assert cosine > 0.999
    assert tuple(motifs_df.row(0, named=True)[k] for k in ("motif_start", "motif_end")) == \
        trim_span(ours)


def test_memes_and_seqlets_on_the_genome(discovered, tmp_path):
    _, _, planted, path, _ = discovered
    patterns, attrs = read_modisco(path)
    write_pattern_memes(patterns, tmp_path / "p.meme", tmp_path / "c.meme")
    pwms, cwms = read_meme(tmp_path / "p.meme"), (tmp_path / "c.meme").read_text()
    assert list(pwms) == [p.name for p in patterns]
    assert np.allclose([m.sum(axis=0) for m in pwms.values()][0], 1)
    assert "-" in cwms.split("letter-probability")[-1]  # signed CWM entries survive
    loci = pd.DataFrame({"idx": np.arange(N), "chrom": "chr1", "start": np.arange(N) * 1000,
                         "end": np.arange(N) * 1000 + L})
    bed = seqlets_on_genome(patterns, loci, attrs["window_offset"])
    assert len(bed) == sum(p.n_seqlets for p in patterns)
    first = patterns[0].seqlets.iloc[0]
    row = bed[(bed["start"] == first["example_idx"] * 1000 + attrs["window_offset"]
               + first["start"])]
    assert len(row) and (row["name"] == patterns[0].name).any()
    # a planted instance in genome coordinates lies inside a seqlet of the top pattern
    sites = [(i * 1000 + s, i * 1000 + s + 10) for i, s in planted]
    top = bed[bed["name"] == patterns[0].name]
    covered = sum(((top["start"] <= a) & (top["end"] >= b)).any() for a, b in sites)
    assert covered >= 0.6 * len(sites)


def test_matched_patterns_pair_runs_by_cwm_and_count(discovered):
    """A run paired with itself matches every pattern to itself; a pattern whose seqlet
    count is off by more than the tolerance stays unmatched."""
    import dataclasses
    _, _, _, path, _ = discovered
    patterns, _ = read_modisco(path)
    pairs, unmatched = matched_patterns(patterns, patterns)
    assert not unmatched and all(a is b for a, b in pairs) and len(pairs) == len(patterns)
    assert aligned_cosine(patterns[0].cwm, patterns[0].cwm[::-1, ::-1]) > 0.99
    halved = [dataclasses.replace(patterns[0], n_seqlets=patterns[0].n_seqlets // 2)]
    assert matched_patterns(halved, patterns[:1])[1] == patterns[:1]


def test_pattern_figure_draws_each_metaclusters_largest(discovered, tmp_path):
    """Of 20 positive and 2 negative patterns the figure draws the 12 largest positive ones
    and both negative ones, in the table's order, and says how many it left out."""
    import dataclasses

    from motifscope.denovo.plots import drawn_patterns, plot_patterns
    _, _, _, path, _ = discovered
    base = read_modisco(path)[0][0]
    many = [dataclasses.replace(base, name=f"pos_patterns.pattern_{k}", n_seqlets=100 + k % 7)
            for k in range(20)]
    many += [dataclasses.replace(base, name=f"neg_patterns.pattern_{k}", group="neg_patterns")
             for k in range(2)]
    drawn = drawn_patterns(many)
    positive = [p for p in drawn if p.group == "pos_patterns"]
    assert len(positive) == 12 and len(drawn) == 14
    assert min(p.n_seqlets for p in positive) >= max(
        p.n_seqlets for p in many[:20] if p not in positive)
    assert drawn == sorted(drawn, key=many.index)
    plot_patterns(many, pattern_table(many[:1], read_meme(MOTIFS)), read_meme(MOTIFS), 160,
                  tmp_path / "t.patterns.png")
    assert (tmp_path / "t.patterns.png").stat().st_size > 0


def test_shared_patterns_across_targets(discovered):
    _, _, _, path, _ = discovered
    patterns, _ = read_modisco(path)
    table = shared_patterns({"a": patterns, "b": patterns[:1]})
    lead = table[table["pattern"] == patterns[0].name]
    assert set(lead["target"]) == {"a", "b"} and lead["cluster"].nunique() == 1


def test_no_seqlets_gives_an_empty_valid_h5(tmp_path):
    onehot, _, _ = planted_windows()
    flat = np.zeros(onehot.shape, dtype=np.float32)
    result = discover_patterns(onehot, flat, SETTINGS, verbose=False)
    assert result["pos_patterns"] is None and result["neg_patterns"] is None
    path = tmp_path / "empty.h5"
    write_modisco(path, None, None, SETTINGS.window, 20)
    assert read_modisco(path) == ([], {"window_size": SETTINGS.window, "window_offset": 20})
    assert pattern_table([], read_meme(MOTIFS)).empty


def test_progress_names_the_clustering_steps_and_changes_nothing(discovered, capsys,
                                                                   tmp_path):
    """A shown bar counts the 11 steps of each metacluster clustered in this process (the
    planted windows have only a positive one) and names them (Leiden, merging); the
    patterns are the same as without it, value for value, and modisco-lite's functions are
    its own again after the run."""
    from modiscolite import cluster

    onehot, hyp, _, quiet, _ = discovered
    leiden = cluster.LeidenCluster
    result = discover_patterns(onehot, hyp, SETTINGS, verbose=True)
    err = capsys.readouterr().err
    assert "round 2: Leiden" in err and "merging similar patterns" in err and "11/11" in err
    assert cluster.LeidenCluster is leiden
    write_modisco(tmp_path / "shown.h5", result["pos_patterns"], result["neg_patterns"],
                  result["window"], result["window_offset"])
    _assert_same_h5(tmp_path / "shown.h5", quiet)


@pytest.mark.parametrize("window", [159, 400])
def test_window_must_be_even_and_fit(window):
    onehot, hyp, _ = planted_windows()
    with pytest.raises(InputError, match="modisco.window"):
        discover_patterns(onehot[:4], hyp[:4], ModiscoSettings(window=window))
