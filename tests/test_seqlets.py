"""Unit tests of motifscope.seqlets (no reference tool needed; oracle tests are in tests/oracle).

The recursive caller is checked against a brute-force implementation written here from the
algorithm's definition (every sub-span significant, longest first, then by prefix p-value),
on many small random inputs; the streaming path against the in-memory functions.
"""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

import motifscope.seqlets.recursive as seqlets_module
from motifscope.errors import InputError
from motifscope.seqlets import (
    SEQLET_COLUMNS, _greedy_select, _span_sum_tails, check_attribution_files, recursive_null,
    recursive_seqlets, seqlets_from_h5, seqlets_to_bed, tfmodisco_seqlets, to_genome_coordinates)

DATA = Path(__file__).parent / "data" / "attr_tracks.npz"


# ---------------------------------------------------------------------------------------
# a brute-force reference of the recursive algorithm
# ---------------------------------------------------------------------------------------

def brute_force_tails(bins: np.ndarray, n_bins: int, max_len: int) -> dict[int, np.ndarray]:
    f = np.bincount(bins.ravel(), minlength=n_bins) / bins.size
    dist, tails = f, {}
    for k in range(1, max_len + 1):
        if k > 1:
            dist = np.convolve(dist, f)
        tails[k] = np.cumsum(dist[::-1])[::-1]
    return tails


def brute_force_seqlets(X, threshold, min_seqlet_len, max_seqlet_len, additional_flanks=0,
                        n_bins=1000):
    """Rows (example, start, end, attribution, p-value), straight from the definition."""
    min_len, max_len, flanks = min_seqlet_len, max_seqlet_len, additional_flanks
    X = np.asarray(X, dtype=np.float32)
    xmin = X.min()
    width = float(X.max() - xmin) / (n_bins - 1)
    bins = np.clip(np.floor((X - xmin).astype(np.float64) / width), 0, n_bins - 1).astype(int)
    tails = brute_force_tails(bins, n_bins, max_len)
    rows = []
    length = X.shape[1]
    for i in range(X.shape[0]):
        c = np.concatenate([[0], np.cumsum(bins[i])])

        def p(s, k):
            return tails[k][c[s + k] - c[s]]

        def all_sub_spans_pass(s, k):
            return all(p(a, b - a) < threshold for a in range(s, s + k)
                       for b in range(a + min_len, s + k + 1))

        called = np.zeros(length, dtype=bool)
        for k in range(max_len, min_len - 1, -1):
            cands = sorted((max(p(s, j) for j in range(min_len, k + 1)), s)
                           for s in range(length - k + 1) if all_sub_spans_pass(s, k))
            for _, s in cands:
                if not called[s:s + k].any():
                    called[s:s + k] = True
                    a, b = max(s - flanks, 0), min(s + k + flanks, length)
                    rows.append((i, a, b, float(X[i, a:b].astype(np.float64).sum()), p(s, k)))
    return rows


def by_position(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["example_idx", "start"]).reset_index(drop=True)


def assert_same_rows(ours: pd.DataFrame, rows) -> None:
    expected = by_position(pd.DataFrame(rows, columns=SEQLET_COLUMNS))
    got = by_position(ours)
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got[["example_idx", "start", "end"]].to_numpy(),
                                  expected[["example_idx", "start", "end"]].to_numpy())
    np.testing.assert_allclose(got["p-value"], expected["p-value"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got["attribution"], expected["attribution"], rtol=1e-9, atol=1e-9)


def bumpy_tracks(seed: int, n: int = 6, length: int = 40) -> np.ndarray:
    """Laplace noise with a few positive bumps, some touching either end."""
    rng = np.random.default_rng(seed)
    X = rng.laplace(0, 0.05, size=(n, length)).astype(np.float32)
    for i in range(n):
        for start in rng.choice([0, length - 5, *rng.integers(0, length - 5, 3)], 2):
            X[i, start:start + 5] += rng.uniform(0.2, 0.5)
    return X


# ---------------------------------------------------------------------------------------
# recursive_seqlets
# ---------------------------------------------------------------------------------------

@pytest.fixture(params=["numba", "torch"])
def engine(request, monkeypatch):
    """The CPU engine of the recursive caller: numba kernels (the default) or torch (what
    CUDA runs use)."""
    if request.param == "torch":
        monkeypatch.setattr(seqlets_module, "_USE_CPU_KERNEL", False)
    return request.param


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("params", [dict(threshold=0.05, min_seqlet_len=3, max_seqlet_len=8),
                                    dict(threshold=0.2, min_seqlet_len=1, max_seqlet_len=6,
                                         additional_flanks=2),
                                    dict(threshold=0.01, min_seqlet_len=4, max_seqlet_len=10,
                                         n_bins=50)])
def test_recursive_matches_brute_force(seed, params, engine):
    X = bumpy_tracks(seed)
    assert_same_rows(recursive_seqlets(X, **params), brute_force_seqlets(X, **params))


@pytest.mark.parametrize("params", [dict(threshold=0.01),
                                    dict(threshold=0.2, min_seqlet_len=1, max_seqlet_len=30,
                                         n_bins=200, additional_flanks=4, sign="both"),
                                    dict(threshold=0.05, min_seqlet_len=6, max_seqlet_len=6),
                                    # int32 bins; few distinct values keep the null cheap
                                    dict(threshold=0.05, n_bins=40_000, batch_size=7,
                                         quantised_only=True)])
def test_numba_and_torch_engines_give_the_same_table(params, monkeypatch):
    X = np.load(DATA)["attr"]
    quantised = np.round(X * 50) / 50  # many ties
    params = dict(params)
    if params.pop("quantised_only", False):
        X = quantised
    else:
        X = np.concatenate([X, X[:, ::-1].copy(), quantised])  # reversed: calls at both ends
    kernel = recursive_seqlets(X, **params)
    assert len(kernel) > 10
    monkeypatch.setattr(seqlets_module, "_USE_CPU_KERNEL", False)
    # same rows in the same order, same p-values and attributions to the last bit
    pd.testing.assert_frame_equal(kernel, recursive_seqlets(X, **params), check_exact=True)
    tails = _span_sum_tails(np.bincount(np.arange(50) % 7, minlength=30) / 50, 25)
    monkeypatch.setattr(seqlets_module, "_USE_CPU_KERNEL", True)
    np.testing.assert_array_equal(
        _span_sum_tails(np.bincount(np.arange(50) % 7, minlength=30) / 50, 25), tails)


def test_recursive_quantised_ties_match_brute_force(engine):
    # values on a coarse grid: many spans share a bin sum, so many p-values tie
    rng = np.random.default_rng(3)
    X = rng.integers(-2, 4, size=(5, 50)).astype(np.float32)
    params = dict(threshold=0.1, min_seqlet_len=2, max_seqlet_len=6, n_bins=6)
    ours = recursive_seqlets(X, **params)
    assert_same_rows(ours, brute_force_seqlets(X, **params))
    assert ours["p-value"].is_monotonic_increasing


def test_recursive_invariant_to_batch_size_and_dtype():
    X = bumpy_tracks(7, n=9, length=60)
    ref = recursive_seqlets(X, threshold=0.05)
    for batch_size in (1, 4):
        pd.testing.assert_frame_equal(recursive_seqlets(X, threshold=0.05, batch_size=batch_size),
                                      ref)
    pd.testing.assert_frame_equal(recursive_seqlets(torch.from_numpy(X), threshold=0.05), ref)
    half = recursive_seqlets(X.astype(np.float16), threshold=0.05)
    assert list(half.columns) == SEQLET_COLUMNS  # float16 is upcast, not refused


def test_recursive_seqlets_reach_both_ends():
    X = np.zeros((2, 30), dtype=np.float32)
    X[:, 1::2] = 0.01
    X[0, :5] = 1.0
    X[1, -5:] = 1.0
    df = by_position(recursive_seqlets(X, threshold=0.05, min_seqlet_len=3, max_seqlet_len=5))
    assert df[["example_idx", "start", "end"]].values.tolist() == [[0, 0, 5], [1, 25, 30]]
    flanked = by_position(recursive_seqlets(X, threshold=0.05, min_seqlet_len=3,
                                            max_seqlet_len=5, additional_flanks=3))
    assert flanked[["start", "end"]].values.tolist() == [[0, 8], [22, 30]]
    # the attribution covers the flanked span
    np.testing.assert_allclose(flanked["attribution"], [5.0 + 0.02, 5.0 + 0.01], rtol=1e-6)


def test_recursive_cores_do_not_overlap_and_sorted_by_p():
    X = np.load(DATA)["attr"]
    df = recursive_seqlets(X, threshold=0.01, min_seqlet_len=3, max_seqlet_len=20)
    assert df["p-value"].is_monotonic_increasing
    for _, g in df.groupby("example_idx"):
        g = g.sort_values("start")
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1]).all()
    assert ((df["end"] - df["start"]) >= 3).all() and ((df["end"] - df["start"]) <= 20).all()


def test_constant_tracks_give_no_seqlets():
    for X in (np.zeros((3, 20), np.float32), np.full((1, 20), 0.7, np.float32)):
        df = recursive_seqlets(X)
        assert list(df.columns) == SEQLET_COLUMNS and len(df) == 0
        assert recursive_null(X) is None
        assert len(tfmodisco_seqlets(X, window_size=5, flank=2)) == 0


def test_null_tails_are_convolutions():
    rng = np.random.default_rng(0)
    f = rng.random(30) * (rng.random(30) < 0.5)
    f /= f.sum()
    tails = _span_sum_tails(f, 5)
    dist = f
    for k in range(1, 6):
        if k > 1:
            dist = np.convolve(dist, f)
        np.testing.assert_allclose(tails[k, :dist.size], np.cumsum(dist[::-1])[::-1],
                                   rtol=1e-12, atol=1e-300)
        assert tails[k, 0] == pytest.approx(1.0)
        assert (np.diff(tails[k]) <= 0).all()
        # an empty bin gives exactly the same tail as the next one (no rounding noise)
        empty = np.flatnonzero(dist[:-1] == 0)
        np.testing.assert_array_equal(tails[k, empty], tails[k, empty + 1])


def test_greedy_select_equals_sequential_greedy():
    rng = np.random.default_rng(0)
    for trial in range(40):
        n, reach = int(rng.integers(1, 60)), int(rng.integers(0, 6))
        key = np.sort(rng.choice(200, size=n, replace=False))
        priority = rng.integers(0, 5, size=n).astype(np.float64)  # many ties
        selected = np.zeros(n, dtype=bool)
        for i in sorted(range(n), key=lambda i: (priority[i], key[i])):
            if not any(selected[j] and abs(key[j] - key[i]) <= reach for j in range(n)):
                selected[i] = True
        got = _greedy_select(torch.from_numpy(key), torch.from_numpy(priority), reach).numpy()
        np.testing.assert_array_equal(got, selected)


# ---------------------------------------------------------------------------------------
# negative seqlets
# ---------------------------------------------------------------------------------------

def test_negative_seqlets_are_positive_seqlets_of_minus_x():
    X = np.load(DATA)["attr"][:40]
    neg = recursive_seqlets(X, threshold=0.01, sign="negative", additional_flanks=1)
    pos_of_minus = recursive_seqlets(-X, threshold=0.01, additional_flanks=1)
    assert len(neg) > 0
    pd.testing.assert_frame_equal(neg[["example_idx", "start", "end", "p-value"]],
                                  pos_of_minus[["example_idx", "start", "end", "p-value"]])
    np.testing.assert_allclose(neg["attribution"], -pos_of_minus["attribution"])


def test_both_signs_drop_negatives_overlapping_positives():
    X = np.zeros((1, 40), dtype=np.float32)
    X[0, ::2] = 0.01
    X[0, 5:10] = 1.0      # positive seqlet
    X[0, 25:30] = -1.0    # negative seqlet
    params = dict(threshold=0.05, min_seqlet_len=3, max_seqlet_len=5)
    both = by_position(recursive_seqlets(X, sign="both", **params))
    assert both[["start", "end"]].values.tolist() == [[5, 10], [25, 30]]
    assert (np.sign(both["attribution"]) == [1, -1]).all()
    # a negative core overlapping a positive core is dropped
    Y = X.copy()
    Y[0, 25:30] = 0.0
    Y[0, 8:12] = [1.0, -1.0, -1.0, -1.0]
    pos = recursive_seqlets(Y, **params)
    neg = recursive_seqlets(Y, sign="negative", **params)
    both = recursive_seqlets(Y, sign="both", **params)
    kept_neg = both[both["attribution"] < 0]
    for _, r in kept_neg.iterrows():
        assert not ((pos["start"] < r["end"]) & (pos["end"] > r["start"])).any()
    assert len(both) == len(pos) + len(kept_neg) and len(kept_neg) < len(neg) + 1


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=0), "strictly between 0 and 1"),
    (dict(threshold=1), "strictly between 0 and 1"),
    (dict(threshold=-0.5), "strictly between 0 and 1"),
    (dict(threshold=float("nan")), "strictly between 0 and 1"),
    (dict(min_seqlet_len=10, max_seqlet_len=5), "min_seqlet_len \\(10\\) is above max_seqlet_len"),
    (dict(min_seqlet_len=0), "min_seqlet_len must be an integer >= 1"),
    (dict(additional_flanks=-1), "additional_flanks"),
    (dict(n_bins=1), "n_bins"),
    (dict(sign="up"), "sign must be one of"),
])
def test_bad_parameters_raise_one_line(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        recursive_seqlets(np.ones((2, 10), np.float32), **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("X, match", [
    (np.ones((2, 4, 10), np.float32), "sum projected attributions over the 4 channels"),
    (np.ones(10, np.float32), "X\\[None\\]"),
    (np.ones((0, 10), np.float32), "empty"),
    (np.array([[0.0, np.nan, 1.0]], np.float32), "NaN or infinite"),
    (np.array([[0.0, np.inf, 1.0]], np.float32), "NaN or infinite"),
    ([[0.0, 1.0]], "numpy array or torch tensor"),
])
def test_bad_tracks_raise(X, match):
    with pytest.raises(InputError, match=match):
        recursive_seqlets(X)


def test_cuda_without_cuda_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(InputError, match="CUDA is not available"):
        recursive_seqlets(np.ones((1, 10), np.float32), device="cuda")


# ---------------------------------------------------------------------------------------
# tfmodisco_seqlets (the tangermeme comparison is an oracle test)
# ---------------------------------------------------------------------------------------

def test_tfmodisco_seqlets_shape_and_suppression():
    X = np.load(DATA)["attr"]
    df = tfmodisco_seqlets(X, window_size=11, flank=5)
    assert list(df.columns) == ["example_idx", "start", "end", "attribution"]
    assert ((df["end"] - df["start"]) == 21).all()
    assert (df["start"] >= 0).all() and (df["end"] <= X.shape[1]).all()
    for _, g in df.groupby("example_idx", sort=False):
        centres = np.sort(g["start"].to_numpy())
        assert (np.diff(centres) > 5 + 5).all()  # suppress = window // 2 + flank
        assert (np.diff(np.abs(g["attribution"].to_numpy())) <= 1e-6).all() or len(g) < 3
    assert (df["example_idx"].diff().dropna() >= 0).all()


def test_tfmodisco_bad_parameters():
    X = np.ones((2, 30), np.float32)
    with pytest.raises(InputError, match="window_size \\(40\\) is longer"):
        tfmodisco_seqlets(X, window_size=40)
    with pytest.raises(InputError, match="target_fdr"):
        tfmodisco_seqlets(X, target_fdr=1.5)
    with pytest.raises(InputError, match="min_passing_frac"):
        tfmodisco_seqlets(X, min_passing_frac=0.5, max_passing_frac=0.1)


# ---------------------------------------------------------------------------------------
# streaming from HDF5 and genome coordinates
# ---------------------------------------------------------------------------------------

def write_h5_pair(tmp_path, track: np.ndarray, bases: np.ndarray, dtype=np.float32):
    """An attributions file whose projection is ``track`` (hypothetical values on the other
    bases are noise, which the projection must drop) and the matching one-hot file."""
    n, length = track.shape
    onehot = np.zeros((n, 4, length), np.uint8)
    np.put_along_axis(onehot, bases[:, None, :].astype(np.int64), 1, axis=1)
    noise = np.random.default_rng(0).normal(size=(n, 4, length)).astype(dtype)
    attr = np.where(onehot == 1, track[:, None, :].astype(dtype), noise)
    attr_path, onehot_path = tmp_path / "attr.h5", tmp_path / "onehot.h5"
    with h5py.File(attr_path, "w") as h5:
        h5.create_dataset("attr", data=attr, chunks=(min(8, n), 4, length))
    with h5py.File(onehot_path, "w") as h5:
        h5.create_dataset("X", data=onehot, chunks=(min(8, n), 4, length), compression="gzip")
    return attr_path, onehot_path, attr.astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_streamed_recursive_equals_in_memory(tmp_path, dtype):
    d = np.load(DATA)
    attr_path, onehot_path, attr = write_h5_pair(tmp_path, d["attr"], d["bases"], dtype)
    projected = np.where(np.arange(4)[None, :, None] == d["bases"][:, None, :], attr, 0).sum(1)
    params = dict(threshold=0.01, min_seqlet_len=3, max_seqlet_len=20, sign="both",
                  additional_flanks=2)
    expected = recursive_seqlets(projected.astype(np.float32), **params)
    got = seqlets_from_h5(attr_path, onehot_path, shard_size=7, batch_size=5, **params)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, expected)


def test_streamed_tfmodisco_equals_in_memory(tmp_path):
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, d["attr"], d["bases"])
    expected = tfmodisco_seqlets(d["attr"], window_size=15, flank=5)
    got = seqlets_from_h5(attr_path, onehot_path, method="tfmodisco", shard_size=10,
                          window_size=15, flank=5)
    pd.testing.assert_frame_equal(got.drop(columns="p-value"), expected)
    assert got["p-value"].isna().all()


def test_genome_coordinates_and_bed(tmp_path):
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, d["attr"], d["bases"])
    n = d["attr"].shape[0]
    loci = pd.DataFrame({"idx": np.arange(n)[::-1], "chrom": [f"chr{i % 3}" for i in range(n)],
                         "start": 1000 * np.arange(n) - 500, "end": 1000 * np.arange(n) + 500})
    table = seqlets_from_h5(attr_path, onehot_path, loci=loci, threshold=0.01)
    calls = recursive_seqlets(d["attr"], threshold=0.01)
    row_of = loci.set_index("idx")
    assert (table["example_idx"] == calls["example_idx"]).all()
    np.testing.assert_array_equal(table["start"],
                                  row_of.loc[calls["example_idx"], "start"].to_numpy() + calls["start"])
    assert (table["end"] - table["start"] == calls["end"] - calls["start"]).all()
    assert (table["chrom"] == row_of.loc[calls["example_idx"], "chrom"].to_numpy()).all()
    assert (table["window_start"] == calls["start"]).all()
    bed = seqlets_to_bed(table)
    assert list(bed.columns) == ["chrom", "start", "end", "name", "score", "strand"]
    assert (bed["start"] >= 0).all() and (bed["end"] > bed["start"]).all()
    assert bed["score"].between(0, 1000).all() and (bed["score"] > 0).all()
    with pytest.raises(InputError, match="has no row in the loci table"):
        to_genome_coordinates(calls, loci.iloc[:3])


def test_bad_attribution_files(tmp_path):
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, d["attr"][:4], d["bases"][:4])
    with h5py.File(tmp_path / "noattr.h5", "w") as h5:
        h5.create_dataset("scores", data=np.zeros((4, 4, 1000), np.float32))
    with h5py.File(tmp_path / "flat.h5", "w") as h5:
        h5.create_dataset("attr", data=np.zeros((4, 1000), np.float32))
    with h5py.File(tmp_path / "short.h5", "w") as h5:
        h5.create_dataset("attr", data=np.zeros((3, 4, 1000), np.float32))
    (tmp_path / "text.h5").write_text("not hdf5")
    cases = [(tmp_path / "noattr.h5", onehot_path, "no dataset 'attr'"),
             (tmp_path / "flat.h5", onehot_path, "expected \\(N, 4, L\\)"),
             (tmp_path / "short.h5", onehot_path, "does not match 'X' shape"),
             (tmp_path / "text.h5", onehot_path, "cannot open as HDF5"),
             (attr_path, attr_path, "no dataset 'X'")]
    for a, x, match in cases:
        with pytest.raises(InputError, match=match) as err:
            seqlets_from_h5(a, x)
        assert "\n" not in str(err.value)
    assert check_attribution_files(attr_path, onehot_path) == (4, 1000)
    with pytest.raises(InputError, match="method must be"):
        seqlets_from_h5(attr_path, onehot_path, method="modisco")


# ---------------------------------------------------------------------------------------
# the workflow script
# ---------------------------------------------------------------------------------------

def workflow_settings(**overrides):
    settings = dict(method="recursive", threshold=0.01, min_seqlet_len=4, max_seqlet_len=25,
                    additional_flanks=0, n_bins=1000, sign="both", window_size=21, flank=10,
                    target_fdr=0.2, min_passing_frac=0.03, max_passing_frac=0.2,
                    shard_size=16, mem_mb=1000, runtime=10)
    settings.update(overrides)
    return settings


@pytest.mark.parametrize("method", ["recursive", "tfmodisco"])
def test_call_seqlets_script(tmp_path, method):
    call_seqlets = pytest.importorskip("call_seqlets")
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, d["attr"], d["bases"])
    n = d["attr"].shape[0]
    loci = pd.DataFrame({"idx": np.arange(n), "chrom": "chr1", "start": 5000 * np.arange(n),
                         "end": 5000 * np.arange(n) + 1000, "summit": 5000 * np.arange(n) + 500,
                         "name": [f"peak{i}" for i in range(n)], "score": 1.0})
    loci_path = tmp_path / "loci.tsv"
    loci.to_csv(loci_path, sep="\t", index=False)
    out = tmp_path / "seqlets"
    call_seqlets.main(str(attr_path), str(onehot_path), str(loci_path), "t0",
                      workflow_settings(method=method), "cpu", str(out / "t0.tsv"),
                      str(out / "t0.bed"), str(out / "t0.png"))
    table = pd.read_csv(out / "t0.tsv", sep="\t")
    assert list(table.columns) == ["chrom", "start", "end", "example_idx", "attribution",
                                   "p-value", "window_start", "window_end"]
    expected = (recursive_seqlets(d["attr"], threshold=0.01, sign="both") if method == "recursive"
                else tfmodisco_seqlets(d["attr"]))
    assert len(table) == len(expected) > 0
    np.testing.assert_array_equal(table["start"], 5000 * expected["example_idx"] + expected["start"])
    bed = pd.read_csv(out / "t0.bed", sep="\t", header=None)
    assert bed.shape == (len(table), 6)
    assert (out / "t0.png").stat().st_size > 0 and (out / "t0.pdf").exists()
    assert sorted(p.name for p in out.iterdir()) == ["t0.bed", "t0.pdf", "t0.png", "t0.tsv"]


def test_call_seqlets_script_bad_config_leaves_no_output(tmp_path):
    call_seqlets = pytest.importorskip("call_seqlets")
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, d["attr"][:4], d["bases"][:4])
    loci_path = tmp_path / "loci.tsv"
    pd.DataFrame({"idx": range(4), "chrom": "chr1", "start": 0, "end": 1000, "summit": 500,
                  "name": "p", "score": 1.0}).to_csv(loci_path, sep="\t", index=False)
    with pytest.raises(InputError, match="min_seqlet_len \\(30\\) is above max_seqlet_len"):
        call_seqlets.main(str(attr_path), str(onehot_path), str(loci_path), "t0",
                          workflow_settings(min_seqlet_len=30), "cpu", str(tmp_path / "o.tsv"),
                          str(tmp_path / "o.bed"), str(tmp_path / "o.png"))
    assert not list(tmp_path.glob("o.*"))


def test_call_seqlets_script_with_no_seqlets(tmp_path):
    call_seqlets = pytest.importorskip("call_seqlets")
    d = np.load(DATA)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, np.zeros((4, 1000), np.float32),
                                              d["bases"][:4])
    loci_path = tmp_path / "loci.tsv"
    pd.DataFrame({"idx": range(4), "chrom": "chr1", "start": 0, "end": 1000, "summit": 500,
                  "name": "p", "score": 1.0}).to_csv(loci_path, sep="\t", index=False)
    call_seqlets.main(str(attr_path), str(onehot_path), str(loci_path), "t0",
                      workflow_settings(), "cpu", str(tmp_path / "o.tsv"),
                      str(tmp_path / "o.bed"), str(tmp_path / "o.png"))
    assert len(pd.read_csv(tmp_path / "o.tsv", sep="\t")) == 0
    assert (tmp_path / "o.bed").read_text() == "" and (tmp_path / "o.png").exists()


def test_bed_clips_windows_padded_past_the_contig_start():
    table = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [-10, -3, 50],
                          "end": [-2, 4, 60], "example_idx": [0, 0, 1],
                          "attribution": [1.0, 2.0, -1.0], "p-value": [1e-5, 0.0, np.nan],
                          "window_start": [0, 7, 100], "window_end": [8, 14, 110]})
    bed = seqlets_to_bed(table)
    assert bed[["chrom", "start", "end", "score"]].values.tolist() == [["chr1", 0, 4, 1000],
                                                                       ["chr2", 50, 60, 0]]
    assert bed["name"].tolist() == ["0:7-14", "1:100-110"]


def test_streamed_tfmodisco_on_a_sample_is_close_to_in_memory(tmp_path):
    # more than 1e6 windows: the streamed null is fitted on a 1e6 sample, the in-memory one
    # on every window, so only the margin may differ
    d = np.load(DATA)
    rng = np.random.default_rng(0)
    X = np.tile(d["attr"], (11, 1))[:1024] + rng.laplace(0, 1e-3, (1024, 1000)).astype(np.float32)
    attr_path, onehot_path, _ = write_h5_pair(tmp_path, X, np.tile(d["bases"], (11, 1))[:1024])
    ours = seqlets_from_h5(attr_path, onehot_path, method="tfmodisco", shard_size=256)
    full = tfmodisco_seqlets(X)
    key = ["example_idx", "start"]
    shared = len(ours.merge(full, on=key))
    assert shared / max(len(ours), len(full)) > 0.95
