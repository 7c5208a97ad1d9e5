"""motifscope.seqlets against tangermeme 1.6 (recursive_seqlets, tfmodisco_seqlets) and
scikit-learn (isotonic regression), on real attribution tracks and on edge cases.

Tolerances: rows (example, start, end) must be identical; p-values agree to 1e-12 relative
(both nulls are float64 direct convolutions, summed in a different order); attributions to
1e-9 relative for recursive seqlets (float64 sums) and 1e-5 for tfmodisco seqlets
(tangermeme sums in float32). Each documented deviation has a test showing both behaviours.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("tangermeme")
import tangermeme.seqlet as tm  # noqa: E402

from motifscope.errors import InputError  # noqa: E402
from motifscope.seqlets import (  # noqa: E402
    _isotonic_fit, _isotonic_predict, _quantile, recursive_seqlets, tfmodisco_seqlets)

# tangermeme calls numpy functions on tensors, which numpy 2 warns about on every call
pytestmark = [pytest.mark.oracle, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
TRACKS = np.load(Path(__file__).parents[1] / "data" / "attr_tracks.npz")["attr"]


def by_position(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["example_idx", "start", "end"]).reset_index(drop=True)


def assert_same_seqlets(ours: pd.DataFrame, theirs: pd.DataFrame, attr_rtol=1e-9) -> None:
    a, b = by_position(ours), by_position(theirs)
    assert len(a) == len(b)
    np.testing.assert_array_equal(a[["example_idx", "start", "end"]].to_numpy(),
                                  b[["example_idx", "start", "end"]].to_numpy())
    np.testing.assert_allclose(a["attribution"], b["attribution"], rtol=attr_rtol, atol=1e-9)
    if "p-value" in b:
        np.testing.assert_allclose(a["p-value"], b["p-value"], rtol=1e-12, atol=1e-300)
        assert (np.abs(a["p-value"] - b["p-value"]) < 1e-6).all()


# ---------------------------------------------------------------------------------------
# recursive_seqlets on real tracks
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    dict(),
    dict(threshold=0.001),
    dict(threshold=0.05, additional_flanks=3),
    dict(threshold=0.01, min_seqlet_len=2, max_seqlet_len=12),
    dict(threshold=0.2, min_seqlet_len=1, max_seqlet_len=30, n_bins=200),
])
def test_recursive_real_tracks(params):
    ours = recursive_seqlets(TRACKS, **params)
    theirs = tm.recursive_seqlets(TRACKS, **params)
    assert len(ours) > 10
    assert_same_seqlets(ours, theirs)


def test_recursive_real_tracks_torch():
    # (float64 works too, but would make tangermeme compile its numba functions again)
    X = torch.from_numpy(TRACKS[:50])
    assert_same_seqlets(recursive_seqlets(X, threshold=0.05),
                        tm.recursive_seqlets(X, threshold=0.05))


def test_negative_seqlets_are_tangermemes_on_minus_x():
    ours = recursive_seqlets(TRACKS, threshold=0.01, sign="negative")
    theirs = tm.recursive_seqlets(-TRACKS, threshold=0.01)
    theirs["attribution"] = -theirs["attribution"]
    assert len(ours) > 5
    assert_same_seqlets(ours, theirs)


# ---------------------------------------------------------------------------------------
# recursive_seqlets on edge cases
# ---------------------------------------------------------------------------------------

def noise(n, length, seed=0, scale=0.01):
    return np.random.default_rng(seed).laplace(0, scale, size=(n, length)).astype(np.float32)


def test_all_zero_track():
    X = np.zeros((4, 100), np.float32)
    assert len(recursive_seqlets(X)) == 0 == len(tm.recursive_seqlets(X))


def test_single_example():
    X = noise(1, 500)
    X[0, 100:110] += 0.2
    ours, theirs = recursive_seqlets(X), tm.recursive_seqlets(X)
    assert len(ours) >= 1
    assert_same_seqlets(ours, theirs)


def test_one_huge_outlier():
    # the outlier stretches the bins: most values share a few bins and little is significant,
    # in both implementations alike
    X = noise(20, 300, seed=1)
    X[:, 50:58] += 0.1
    X[3, 200] = 1000.0
    ours, theirs = recursive_seqlets(X, threshold=0.05), tm.recursive_seqlets(X, threshold=0.05)
    assert_same_seqlets(ours, theirs)
    without = X.copy()
    without[3, 200] = 0.0
    assert len(recursive_seqlets(without, threshold=0.05)) > len(ours)


def test_seqlets_at_both_ends_keep_their_last_base():
    # tangermeme <= 1.4 clamped the end to L - 1; 1.6 keeps the last base, and so do we
    X = noise(2, 200, seed=2)
    X[0, :8] += 0.3
    X[1, -8:] += 0.3
    ours, theirs = recursive_seqlets(X), tm.recursive_seqlets(X)
    assert_same_seqlets(ours, theirs)
    assert (ours["start"] == 0).any() and (ours["end"] == 200).any()
    assert (theirs["end"] == 200).any()
    flanked = recursive_seqlets(X, additional_flanks=5)
    assert_same_seqlets(flanked, tm.recursive_seqlets(X, additional_flanks=5))
    assert flanked["start"].min() == 0 and flanked["end"].max() == 200


def test_span_ending_just_before_the_end():
    # tangermeme 1.4 set P[:, L - min_seqlet_len] = 1, blocking spans at that start; 1.6 does
    # not, and a span of min_seqlet_len ending at L is called by both
    X = noise(3, 60, seed=4, scale=0.001)
    X[:, -4:] += 0.5
    ours = recursive_seqlets(X, min_seqlet_len=4, max_seqlet_len=4, threshold=0.05)
    assert_same_seqlets(ours, tm.recursive_seqlets(X, min_seqlet_len=4, max_seqlet_len=4,
                                                   threshold=0.05))
    assert (ours["start"] == 56).sum() == 3


def test_ties_same_rows_and_stable_order():
    """Deviation: row order among equal p-values. tangermeme sorts with an unstable
    quicksort; we keep the call order (example, longer first, start) among ties."""
    rng = np.random.default_rng(5)
    X = rng.integers(-1, 3, size=(60, 80)).astype(np.float32)  # many equal span sums
    params = dict(threshold=0.05, min_seqlet_len=3, max_seqlet_len=8, n_bins=4)
    ours, theirs = recursive_seqlets(X, **params), tm.recursive_seqlets(X, **params)
    assert_same_seqlets(ours, theirs)
    assert ours["p-value"].is_monotonic_increasing and theirs["p-value"].is_monotonic_increasing
    # the same multiset of rows within every group of equal p-values, and ours in call order
    # (p-values are exact lookups of the same null cells, so ties are shared by both tables)
    tied = ours.groupby("p-value").size()
    assert tied.max() > 10
    for p, group in ours.groupby("p-value"):
        keys = list(zip(group["example_idx"], -(group["end"] - group["start"]), group["start"]))
        assert keys == sorted(keys)


# ---------------------------------------------------------------------------------------
# recursive_seqlets: input checks where tangermeme silently returns something
# ---------------------------------------------------------------------------------------

def test_threshold_outside_open_unit_interval():
    X = noise(5, 100)
    X[:, 10:20] += 0.1
    # tangermeme accepts 1 (every span passes) and returns nothing at 0
    assert len(tm.recursive_seqlets(X, threshold=1.0)) > 0
    assert len(tm.recursive_seqlets(X, threshold=0.0)) == 0
    for threshold in (0.0, 1.0):
        with pytest.raises(InputError, match="strictly between 0 and 1"):
            recursive_seqlets(X, threshold=threshold)


def test_min_length_above_max_length():
    X = noise(5, 100)
    assert len(tm.recursive_seqlets(X, min_seqlet_len=10, max_seqlet_len=5)) == 0
    with pytest.raises(InputError, match="above max_seqlet_len"):
        recursive_seqlets(X, min_seqlet_len=10, max_seqlet_len=5)


def test_float16_track():
    # tangermeme's numba code has no float16; we upcast to float32 first
    X = TRACKS[:30].astype(np.float16)
    with pytest.raises(NotImplementedError):
        tm.recursive_seqlets(X)
    assert_same_seqlets(recursive_seqlets(X, threshold=0.05),
                        tm.recursive_seqlets(X.astype(np.float32), threshold=0.05))


def test_nan_track():
    X = noise(5, 100)
    X[:, 10:20] += 0.1
    X[2, 3] = np.nan
    tm.recursive_seqlets(X)  # tangermeme bins everything against a NaN minimum, silently
    with pytest.raises(InputError, match="NaN or infinite"):
        recursive_seqlets(X)


# ---------------------------------------------------------------------------------------
# tfmodisco_seqlets
# ---------------------------------------------------------------------------------------

def sorted_isotonic_thresholds(monkeypatch):
    """tangermeme with the one fix we make: the values sorted before picking the first
    passing one (as modisco-lite does)."""
    original = tm._isotonic_thresholds

    def fixed(values, null_values, increasing, target_fdr, min_frac_neg=0.95):
        values = torch.sort(values, descending=not increasing)[0]
        return original(values, null_values, increasing, target_fdr, min_frac_neg)

    monkeypatch.setattr(tm, "_isotonic_thresholds", fixed)


# (more than 1e6 window sums, where both subsample with the same seed, is compared at scale
# in bench/seqlets.py: tangermeme's Python loops make it too slow for a test)
@pytest.mark.parametrize("params", [dict(), dict(window_size=11, flank=4, target_fdr=0.05),
                                    dict(window_size=7, flank=0, max_passing_frac=0.5)])
def test_tfmodisco_equals_tangermeme_with_sorted_thresholds(monkeypatch, params):
    sorted_isotonic_thresholds(monkeypatch)
    ours = tfmodisco_seqlets(TRACKS, **params)
    theirs = tm.tfmodisco_seqlets(torch.from_numpy(TRACKS), **params)
    assert len(ours) > 50
    assert_same_seqlets(ours, theirs, attr_rtol=1e-5)
    # same row order too: example, then decreasing |window sum|
    np.testing.assert_array_equal(ours[["example_idx", "start"]].to_numpy(),
                                  theirs[["example_idx", "start"]].to_numpy())


def test_tfmodisco_unsorted_threshold_deviation():
    """Deviation: tangermeme picks the first passing value in array order, an arbitrary
    passing value above the smallest one, so its positive threshold is never lower than
    ours and it calls at most as many windows."""
    X = torch.from_numpy(TRACKS)
    sums = X.unfold(-1, 21, 1).sum(-1).flatten()
    pos_null, _ = tm._laplacian_null(sums)
    values = sums[sums >= 0]
    theirs = tm._isotonic_thresholds(values, pos_null, True, 0.2)
    ours = tm._isotonic_thresholds(torch.sort(values)[0], pos_null, True, 0.2)
    assert ours < theirs
    ours_df, theirs_df = tfmodisco_seqlets(TRACKS), tm.tfmodisco_seqlets(X)
    assert len(ours_df) >= len(theirs_df)


def test_isotonic_fit_equals_sklearn():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.exponential(1.0, 3000), rng.exponential(0.3, 800),
                        np.repeat(rng.random(20), 5)])  # with exact duplicates
    y = np.concatenate([np.ones(3000), np.zeros(800), rng.integers(0, 2, 100)]).astype(float)
    w = np.concatenate([np.ones(3000), np.full(800, 3000 / 800), np.ones(100)])
    for increasing in (True, False):
        model = IsotonicRegression(out_of_bounds="clip", increasing=increasing)
        model.fit(x, y, sample_weight=w)
        knots, fit = _isotonic_fit(x, y, w, increasing)
        t = np.concatenate([x, [-1.0, 100.0]])
        np.testing.assert_allclose(_isotonic_predict(knots, fit, t), model.transform(t),
                                   rtol=1e-12, atol=1e-15)


def test_quantile_matches_torch_and_has_no_size_limit():
    rng = np.random.default_rng(0)
    values = torch.from_numpy(rng.normal(size=10_001).astype(np.float32))
    q = torch.arange(19) * 5.0 / 100
    torch.testing.assert_close(_quantile(values, q), torch.quantile(values, q), rtol=0, atol=0)
    big = torch.zeros(2 ** 24 + 1)
    with pytest.raises(RuntimeError):
        torch.quantile(big, q)
    assert _quantile(big, q).abs().max() == 0


def test_tfmodisco_degenerate_inputs():
    """Deviation: tangermeme fails on a constant track and on a track with no negative
    window sum; we return no seqlets, and the seqlets of the one sign there is."""
    zeros = torch.zeros(4, 100)
    with pytest.raises(RuntimeError):
        tm.tfmodisco_seqlets(zeros)
    assert len(tfmodisco_seqlets(zeros)) == 0
    positive_only = zeros.clone()
    positive_only[:, 10:20] = 1.0
    with pytest.raises(ValueError):
        tm.tfmodisco_seqlets(positive_only)
    df = tfmodisco_seqlets(positive_only)
    assert df[["example_idx", "start", "end"]].values.tolist() == [[i, 0, 41] for i in range(4)]
    np.testing.assert_allclose(df["attribution"], 10.0)
