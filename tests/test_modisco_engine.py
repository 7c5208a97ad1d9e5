"""motifscope's TF-MoDISco kernels against the modisco-lite functions they stand in for.

Each kernel gets the inputs modisco-lite gives it inside ``seqlets_to_patterns`` on the
planted windows of test_modisco.py (real seqlets, their gapped k-mers, their Jaccard
neighbourhoods), and must return what modisco-lite's own function returns. Tolerances:
the Jaccard kernels sum float32 values in float32 and in another order than modisco-lite's
float64 loops (5e-6 absolute on scores in [-1, 1]); sparse products and rank sums differ
from modisco-lite's merge loops only in the last bits (1e-9); neighbour lists and Leiden
memberships must be identical.
"""

import numpy as np
import pytest
import scipy.sparse

from motifscope.denovo import ModiscoSettings, discover_patterns
from motifscope.errors import InputError

modiscolite = pytest.importorskip("modiscolite")
from modiscolite import affinitymat, core, extract_seqlets, tfmodisco, util  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from test_modisco import planted_windows  # noqa: E402

from motifscope.denovo import engine  # noqa: E402


@pytest.fixture(scope="module")
def seqlets():
    """The positive seqlets of the planted windows, as modisco-lite makes them."""
    onehot, hyp, _ = planted_windows()
    x = onehot[:, :, 20:180].transpose(0, 2, 1).astype(np.float32)
    h = hyp[:, :, 20:180].transpose(0, 2, 1).astype(np.float32)
    contrib = x * h
    tracks = core.TrackSet(one_hot=x, contrib_scores=contrib, hypothetical_contribs=h)
    coords, threshold = extract_seqlets.extract_seqlets(
        attribution_scores=contrib.sum(axis=2), window_size=21, flank=10, suppress=20,
        target_fdr=0.2, min_passing_windows_frac=0.03, max_passing_windows_frac=0.2,
        weak_threshold_for_counting_sign=0.8)
    found = [s for s in tracks.create_seqlets(coords) if s.contrib_scores.sum() > 0]
    assert len(found) > 150
    return found


@pytest.mark.oracle
def test_coarse_neighbours_equal_modisco_lite(seqlets):
    theirs = affinitymat.cosine_similarity_from_seqlets(seqlets, n_neighbors=100, sign=1)
    ours = engine.cosine_similarity_from_seqlets(seqlets, n_neighbors=100, sign=1)
    np.testing.assert_allclose(ours[0], theirs[0], atol=1e-9)
    # the order of neighbours with exactly equal similarity is the row order on both sides
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.oracle
@pytest.mark.parametrize("sparse", [True, False])
def test_sliding_jaccard_equals_modisco_lite(seqlets, sparse):
    fwd, rev = util.get_2d_data_from_patterns(seqlets)
    rng = np.random.default_rng(1)
    neighbours = np.stack([rng.permutation(len(seqlets))[:40] for _ in seqlets])
    for X in (fwd, rev):
        theirs = affinitymat.jaccard(X, fwd, min_overlap=0.7, seqlet_neighbors=neighbours,
                                     func=int, return_sparse=sparse)
        ours = engine.jaccard(X, fwd, min_overlap=0.7, seqlet_neighbors=neighbours, func=int,
                              return_sparse=sparse)
        assert ours.shape == theirs.shape
        if sparse:
            np.testing.assert_allclose(ours, theirs, atol=5e-6)
        else:
            np.testing.assert_allclose(ours[..., 0], theirs[..., 0], atol=5e-6)
            # the best offset may move only between offsets whose scores tie within 5e-6
            moved = ours[..., 1] != theirs[..., 1]
            assert moved.mean() < 0.01


@pytest.mark.oracle
def test_all_pairs_jaccard_and_pearson_alignment_equal_modisco_lite(seqlets):
    fwd, _ = util.get_2d_data_from_patterns(seqlets)
    flat = fwd.reshape(len(fwd), -1)
    theirs = affinitymat.pairwise_jaccard(flat, 32)
    ours = engine.pairwise_jaccard(flat, 32)
    np.testing.assert_allclose(ours[0], theirs[0], atol=5e-6)
    # neighbours may swap only where two similarities tie within that tolerance
    assert (ours[1] == theirs[1]).mean() > 0.99
    # rows in blocks of 7 give the same neighbours as one block
    saved, engine._PAIRWISE_BLOCK_BYTES = engine._PAIRWISE_BLOCK_BYTES, 7 * 16 * len(flat)
    try:
        blocked = engine.pairwise_jaccard(flat, 32)
    finally:
        engine._PAIRWISE_BLOCK_BYTES = saved
    np.testing.assert_array_equal(blocked[0], ours[0])
    np.testing.assert_array_equal(blocked[1], ours[1])
    for a, b in ((fwd[0], fwd[1]), (fwd[2:4], fwd[5:7]), (fwd[4], np.zeros_like(fwd[4]))):
        np.testing.assert_allclose(engine.pearson_correlation(a, b, min_overlap=0.7),
                                   affinitymat.pearson_correlation(a, b, min_overlap=0.7),
                                   atol=1e-9)


@pytest.mark.oracle
def test_correlation_filter_equals_modisco_lite(seqlets):
    coarse, neighbours = engine.cosine_similarity_from_seqlets(seqlets, n_neighbors=60, sign=1)
    fine = affinitymat.jaccard_from_seqlets(seqlets, min_overlap=0.7,
                                            seqlet_neighbors=neighbours)
    # a threshold that drops some seqlets, so that the renumbering is exercised
    threshold = float(np.quantile([np.nan_to_num(tfmodisco.scipy.stats.spearmanr(
        f[f > 0], c[f > 0]).correlation) for f, c in zip(fine, coarse)], 0.3))
    theirs = tfmodisco._filter_by_correlation(seqlets, neighbours, coarse, fine, threshold)
    ours = engine.filter_by_correlation(seqlets, neighbours, coarse, fine, threshold)
    assert 0 < len(ours[0]) < len(seqlets)
    assert [id(s) for s in ours[0]] == [id(s) for s in theirs[0]]
    for mine, their in zip(ours[1:], theirs[1:]):
        assert len(mine) == len(their)
        for a, b in zip(mine, their):
            np.testing.assert_array_equal(a, np.asarray(b))


@pytest.mark.oracle
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_compact_tracks_read_as_modisco_lite_arrays(dtype):
    """The one-hot (uint8, or float32 as given) and the contributions computed per read
    give modisco-lite's float32 arrays bit for bit, forward and reverse complement, and the
    same projected scores its seqlet extraction thresholds."""
    from motifscope.denovo._trackset import compact_track_set

    onehot, hyp, _ = planted_windows()
    tracks, projected = compact_track_set(onehot.astype(dtype), hyp, slice(20, 180))
    x = onehot[:, :, 20:180].transpose(0, 2, 1).astype(np.float32)
    h = hyp[:, :, 20:180].transpose(0, 2, 1).astype(np.float32)
    theirs = core.TrackSet(one_hot=x, contrib_scores=x * h, hypothetical_contribs=h)
    np.testing.assert_array_equal(projected, (x * h).sum(axis=2))
    assert tracks.length == theirs.length == 160
    def coords():  # create_seqlets fills the seqlets it is given, so each side gets its own
        return [core.Seqlet(example_idx=i, start=s, end=s + 41, is_revcomp=rc)
                for i, s, rc in ((0, 0, False), (3, 50, True), (7, 119, False))]

    for mine, their in zip(tracks.create_seqlets(coords()), theirs.create_seqlets(coords())):
        for name in ("sequence", "contrib_scores", "hypothetical_contribs"):
            a, b = getattr(mine, name), getattr(their, name)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.oracle
def test_density_adaptation_and_leiden_equal_modisco_lite(seqlets):
    fwd, rev = util.get_2d_data_from_patterns(seqlets)
    _, neighbours = affinitymat.cosine_similarity_from_seqlets(seqlets, n_neighbors=60, sign=1)
    fine = affinitymat.jaccard_from_seqlets(seqlets, min_overlap=0.7,
                                            seqlet_neighbors=neighbours)
    rows, cols = list(fine), list(neighbours)
    theirs = tfmodisco._density_adaptation(rows, cols, 10.0)
    ours = engine.density_adaptation(rows, cols, 10.0)
    assert abs(ours - theirs).max() < 1e-9 and ours.nnz == theirs.nnz
    membership = modiscolite.cluster.LeidenCluster(theirs, n_seeds=3)
    assert len(set(membership)) > 1
    for parallel_from in (10**9, 0):  # in this process, then a worker process per run
        engine._PARALLEL_LEIDEN_EDGES, saved = parallel_from, engine._PARALLEL_LEIDEN_EDGES
        try:
            np.testing.assert_array_equal(engine.leiden_cluster(theirs, n_seeds=3), membership)
        finally:
            engine._PARALLEL_LEIDEN_EDGES = saved


def test_leiden_of_an_asymmetric_matrix_sums_both_directions():
    """A pair stored once or twice, in one direction or both, is one edge of the summed
    weight: the same communities as modisco-lite's graph of parallel edges."""
    rng = np.random.default_rng(3)
    blocks = scipy.sparse.block_diag([rng.random((12, 12)) for _ in range(3)]).tocsr()
    noise = scipy.sparse.random(36, 36, density=0.2, random_state=4) * 0.05
    matrix = scipy.sparse.csr_matrix(scipy.sparse.triu(blocks + noise, k=-3))
    np.testing.assert_array_equal(engine.leiden_cluster(matrix, n_seeds=2),
                                  modiscolite.cluster.LeidenCluster(matrix, n_seeds=2))


def test_a_failed_leiden_process_is_reported(tmp_path):
    """A worker that fails (here an edge to a vertex the graph lacks) raises with its own
    error, rather than leaving a membership missing."""
    graph = tmp_path / "graph.npz"
    np.savez(graph, n=3, edges=np.array([[0, 1], [1, 5]], dtype=np.int32), weights=np.ones(2))
    with pytest.raises(RuntimeError, match="Leiden run failed"):
        engine._leiden_in_processes(str(graph), [100, 200], -1,
                                    engine.progress(total=2, verbose=False))


def test_auroc_equals_sklearn_with_ties():
    rng = np.random.default_rng(5)
    for _ in range(5):
        scores = np.round(rng.random(300), 2).astype(np.float32)
        labels = (rng.random(300) < 0.4).astype(int)
        assert engine.roc_auc_score(labels, scores) == pytest.approx(
            roc_auc_score(labels, scores), abs=1e-12)


def test_kernels_are_restored_after_an_error():
    before = affinitymat.jaccard
    with pytest.raises(RuntimeError):
        with engine.substituted_kernels():
            assert affinitymat.jaccard is engine.jaccard
            raise RuntimeError("inside")
    assert affinitymat.jaccard is before


def test_unknown_engine_is_refused():
    onehot, hyp, _ = planted_windows()
    with pytest.raises(InputError, match="modisco.engine"):
        discover_patterns(onehot, hyp, ModiscoSettings(window=160, engine="fast"),
                          verbose=False)


def test_long_phases_show_progress(capsys, monkeypatch):
    """With progress on, the affinity passes and the Leiden runs each show a bar (the
    size thresholds lowered so that the small planted case counts as long)."""
    monkeypatch.setattr(engine, "_FINE_PROGRESS_PAIRS", 0)
    monkeypatch.setattr(engine, "_PARALLEL_LEIDEN_EDGES", 0)
    monkeypatch.setattr(engine, "_COARSE_BLOCK", 64)
    onehot, hyp, _ = planted_windows()
    result = discover_patterns(onehot, hyp, ModiscoSettings(window=160), verbose=True)
    assert result["pos_patterns"]
    shown = capsys.readouterr().err
    for phase in ("coarse affinity (gapped k-mers)", "fine affinity (sliding Jaccard)",
                  "Leiden (", "TF-MoDISco on 360 windows"):
        assert phase in shown, phase
