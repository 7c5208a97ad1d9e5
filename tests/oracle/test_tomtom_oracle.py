"""motifscope TOMTOM against memelite 0.5 (``n_target_bins=None``: no column hashing).

Tolerances: |log p - log p_memelite| <= 1e-3 |log p_memelite| + 1e-9. Both sides compute the
same discrete null in float64; the absolute term covers p-values next to 1, where log p is
~1e-15 and only round-off differs. Integer alignment scores must be equal. Offsets, overlaps
and strands can legitimately differ only between equally scoring alignments (memelite gives
strand ties to the reverse complement and breaks offset ties arbitrarily), so they are
compared where the scores agree and must mostly coincide. Top-1 targets must be identical
wherever the best p-value is not tied.
"""

import numpy as np
import pytest
import torch

pytest.importorskip("memelite")
from memelite import tomtom as memelite_tomtom  # noqa: E402

from motifscope.io import jaspar_motifs  # noqa: E402
from motifscope.motifs import tomtom_pvalues  # noqa: E402

pytestmark = pytest.mark.oracle


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These comparisons are large; on a shared, oversubscribed machine one torch thread
    avoids OpenMP's busy waiting (7x faster there) and costs little elsewhere."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(autouse=True)
def _one_thread_per_test(_one_thread):
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def jaspar():
    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    return [np.asarray(m, dtype=np.float64) for m in motifs.values()]


@pytest.fixture(scope="module")
def all_vs_all(jaspar, _one_thread):
    ours = tomtom_pvalues(jaspar, jaspar)
    ref = memelite_tomtom(jaspar, jaspar, n_target_bins=None)
    return ours, ref


def _assert_log_close(p, p_ref):
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(np.log(p), np.log(p_ref), rtol=1e-3, atol=1e-9)


def _assert_ties_only(ours, ref):
    """Offsets, overlaps and strands differ only where memelite's alignment ties ours."""
    p_ref, score_ref, offset_ref, overlap_ref, strand_ref = ref[:5]
    np.testing.assert_array_equal(ours.scores, score_ref)
    same = (ours.offsets == offset_ref) & (ours.overlaps == overlap_ref) & \
        (ours.strands == strand_ref)
    assert same.mean() > 0.85
    # Where they differ, memelite chose the reverse strand on a strand tie, or another
    # alignment of the same score; in both cases our p-value is unchanged (checked above).


def _top1_identical(p, p_ref, exclude_self=False):
    p, p_ref = p.copy(), p_ref.copy()
    if exclude_self:
        np.fill_diagonal(p, np.inf)
        np.fill_diagonal(p_ref, np.inf)
    ours = p.argmin(1)
    theirs = p_ref.argmin(1)
    rows = np.arange(len(p))
    differs = ours != theirs
    # A different choice is allowed only when the two targets tie in p-value.
    np.testing.assert_allclose(np.log(p[rows[differs], theirs[differs]]),
                               np.log(p[rows[differs], ours[differs]]), rtol=1e-9, atol=1e-12)
    return differs.mean()


def test_jaspar_all_vs_all_pvalues_equal_memelite(all_vs_all):
    ours, ref = all_vs_all
    _assert_log_close(ours.p_values, ref[0])
    _assert_ties_only(ours, ref)


def test_jaspar_all_vs_all_top1_matches_are_identical(all_vs_all):
    ours, ref = all_vs_all
    assert _top1_identical(ours.p_values, ref[0]) == 0
    # The best match other than itself: identical up to exact p-value ties.
    assert _top1_identical(ours.p_values, ref[0], exclude_self=True) < 0.02


def test_seqlets_against_jaspar_equal_memelite(jaspar, rng):
    queries = []
    for w in rng.integers(5, 31, 150):
        q = np.zeros((4, w))
        q[rng.integers(0, 4, w), np.arange(w)] = 1
        if w > 20:  # a few seqlets with N (all-zero) columns
            q[:, 3] = 0
        queries.append(q)
    ours = tomtom_pvalues(queries, jaspar)
    ref = memelite_tomtom(queries, jaspar, n_target_bins=None)
    _assert_log_close(ours.p_values, ref[0])
    _assert_ties_only(ours, ref)
    near = tomtom_pvalues(queries, jaspar, n_nearest=1)
    ref_near = memelite_tomtom(queries, jaspar, n_target_bins=None, n_nearest=1)
    _assert_log_close(near.p_values, ref_near[0])
    differs = near.target_idx[:, 0] != ref_near[5][:, 0].astype(int)
    rows = np.flatnonzero(differs)
    np.testing.assert_allclose(ours.p_values[rows, ref_near[5][rows, 0].astype(int)],
                               near.p_values[rows, 0], rtol=1e-9)


def test_one_strand_equals_memelite(jaspar, rng):
    queries = [jaspar[i] for i in rng.choice(len(jaspar), 25, replace=False)]
    ours = tomtom_pvalues(queries, jaspar, reverse_complement=False)
    ref = memelite_tomtom(queries, jaspar, n_target_bins=None, reverse_complement=False)
    _assert_log_close(ours.p_values, ref[0])
    np.testing.assert_array_equal(ours.scores, ref[1])
