"""TOMTOM: p-values, alignments and tables checked against brute-force enumeration.

The reference below recomputes everything from the definition with plain loops: column
scores (Euclidean or MEME's Pearson), memelite's binned median, the integer scores, every
alignment of every oriented target, and the null distribution of every alignment by
enumerating all combinations of database columns (so no convolution is involved).
"""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from motifscope.errors import InputError
from motifscope.motifs import tomtom, tomtom_pvalues
from motifscope.motifs.tomtom import TOMTOM_COLUMNS


def _similarity(a, b, distance):
    if distance == "ed":
        return -math.sqrt(float(((a - b) ** 2).sum()))
    x, y = a - 0.25, b - 0.25
    den = math.sqrt(float((x ** 2).sum() * (y ** 2).sum()))
    return 0.0 if den == 0 else float((x * y).sum()) / den


def _binned_median(row, n_bins=1000):
    lo, hi = min(row), max(row)
    if hi == lo:
        return lo
    index = [int((v - lo) / (hi - lo) * (n_bins - 1)) for v in row]
    cumulative = 0
    for b in range(n_bins):
        members = [v for v, k in zip(row, index) if k == b]
        cumulative += len(members)
        if cumulative >= len(row) / 2:
            return sum(members) / len(members)


def brute_tomtom(query, targets, distance="ed", rc=True, min_overlap=1, n_bins=100):
    """Best (p, score, offset, overlap, strand) of one query against each target."""
    oriented = list(targets) + ([t[::-1, ::-1] for t in targets] if rc else [])
    columns = np.concatenate(oriented, axis=1)
    n_col = columns.shape[1]
    nq = query.shape[1]
    g = [[_similarity(query[:, i], columns[:, j], distance) for j in range(n_col)]
         for i in range(nq)]
    med = [_binned_median(row) for row in g]
    z_min = min(min(row) - m for row, m in zip(g, med))
    z_max = max(max(row) - m for row, m in zip(g, med))
    i_min = math.floor(z_min)
    scale = math.floor(n_bins / max(z_max - i_min, 1.0))
    offset = -i_min * scale
    x = [[math.floor((v - (m + i_min)) * scale + 0.5) for v in row] for row, m in zip(g, med)]

    def spans(t):
        for a in range(nq + t - 1):
            yield a, [i for i in range(nq) if 0 <= a - nq + 1 + i < t]

    null_cache = {}

    def p_below(cols, s):
        """P(sum of x over query columns `cols`, database columns drawn uniformly, plus
        offset per unaligned column < s), by enumeration."""
        key = tuple(cols)
        if key not in null_cache:
            sums = [sum(x[i][j] for i, j in zip(cols, combo)) + offset * (nq - len(cols))
                    for combo in itertools.product(range(n_col), repeat=len(cols))]
            null_cache[key] = np.array(sums)
        return float((null_cache[key] < s).mean())

    results = []
    start = 0
    best_per_oriented = []
    for tgt in oriented:
        t = tgt.shape[1]
        best = None
        for a, cols in spans(t):
            overlap = len(cols)
            if overlap < min(min_overlap, nq, t):
                continue
            score = nq * offset + sum(x[i][start + a - nq + 1 + i] - offset for i in cols)
            key = (score, overlap, -a)
            if best is None or key > best[0]:
                best = (key, a)
        best_per_oriented.append((best[0][0], best[0][1], best[1] - nq + 1, t))
        start += t
    n = len(targets)
    for k in range(n):
        fwd = best_per_oriented[k]
        strand, chosen = 0, fwd
        if rc:
            rev = best_per_oriented[k + n]
            if (rev[0], rev[1]) > (fwd[0], fwd[1]):
                strand, chosen = 1, rev
        score, overlap, off, t = chosen
        log_below = sum(math.log(max(p_below(cols, score), 1e-300)) for _, cols in spans(t))
        p_one = 1 - math.exp(log_below)
        p = 1 - (1 - p_one) ** 2 if rc else p_one
        results.append((p, score, off, overlap, strand))
    return results


def _random_pwm(rng, width):
    return rng.dirichlet(np.full(4, 0.7), size=width).T


@pytest.fixture
def small_db(rng):
    return [_random_pwm(rng, w) for w in (2, 3, 2)]


@pytest.mark.parametrize("distance", ["ed", "pearson"])
@pytest.mark.parametrize("rc", [True, False])
def test_pvalues_match_brute_force_enumeration(rng, small_db, distance, rc):
    queries = [_random_pwm(rng, 3), _random_pwm(rng, 1), _random_pwm(rng, 2)]
    result = tomtom_pvalues(queries, small_db, distance=distance, reverse_complement=rc)
    for qi, query in enumerate(queries):
        expected = brute_tomtom(query, small_db, distance, rc=rc)
        for ti, (p, score, off, overlap, strand) in enumerate(expected):
            assert result.p_values[qi, ti] == pytest.approx(p, rel=1e-9, abs=1e-12)
            assert result.scores[qi, ti] == score
            assert result.offsets[qi, ti] == off
            assert result.overlaps[qi, ti] == overlap
            assert result.strands[qi, ti] == strand


def test_one_hot_queries_share_span_nulls_and_match_brute_force(rng, small_db):
    # One-hot queries take the composition-sharing path (few column kinds per class).
    queries = []
    for w in (3, 3, 2, 1):
        q = np.zeros((4, w))
        q[rng.integers(0, 4, w), np.arange(w)] = 1
        queries.append(q)
    result = tomtom_pvalues(queries, small_db)
    for qi, query in enumerate(queries):
        for ti, (p, score, *_rest) in enumerate(brute_tomtom(query, small_db)):
            assert result.p_values[qi, ti] == pytest.approx(p, rel=1e-9, abs=1e-12)
            assert result.scores[qi, ti] == score


def test_min_overlap_restricts_the_search_not_the_null(rng, small_db):
    queries = [_random_pwm(rng, 3)]
    result = tomtom_pvalues(queries, small_db, min_overlap=2)
    for ti, (p, score, off, overlap, strand) in enumerate(
            brute_tomtom(queries[0], small_db, min_overlap=2)):
        assert result.p_values[0, ti] == pytest.approx(p, rel=1e-9, abs=1e-12)
        assert result.overlaps[0, ti] == overlap >= min(2, small_db[ti].shape[1])


def test_shared_and_per_span_paths_agree(rng):
    db = [_random_pwm(rng, w) for w in rng.integers(4, 12, 30)]
    onehot = []
    for w in rng.integers(3, 15, 12):
        q = np.zeros((4, w))
        q[rng.integers(0, 4, w), np.arange(w)] = 1
        onehot.append(q)
    alone = tomtom_pvalues(onehot, db)
    # A wide PWM query in the same batch has one class with many column kinds, which
    # switches the batch to one distribution per span.
    mixed = tomtom_pvalues(onehot + [_random_pwm(rng, 14)], db)
    np.testing.assert_allclose(mixed.p_values[:-1], alone.p_values, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(mixed.scores[:-1], alone.scores)


def test_n_nearest_is_the_head_of_the_full_ranking(rng):
    db = [_random_pwm(rng, w) for w in rng.integers(4, 14, 40)]
    queries = [_random_pwm(rng, w) for w in (5, 8, 12)] + [db[3], db[7][:, 2:]]
    full = tomtom_pvalues(queries, db)
    near = tomtom_pvalues(queries, db, n_nearest=4)
    for qi in range(len(queries)):
        order = sorted(range(len(db)), key=lambda t: (full.p_values[qi, t], t))[:4]
        np.testing.assert_array_equal(near.target_idx[qi], order)
        np.testing.assert_allclose(near.p_values[qi], full.p_values[qi, order], rtol=1e-12)
        np.testing.assert_array_equal(near.offsets[qi], full.offsets[qi, order])


def test_identical_and_reverse_complement_targets_rank_first(rng):
    db = [_random_pwm(rng, w) for w in rng.integers(6, 14, 40)]
    table = tomtom({"same": db[5], "rc": db[9][::-1, ::-1].copy(), "part": db[11][:, 1:5]},
                   db)
    best = table.groupby("query_id", sort=False).head(1).set_index("query_id")
    assert best.loc["same", "target_id"] == "5"
    assert best.loc["same", "orientation"] == "+" and best.loc["same", "optimal_offset"] == 0
    assert best.loc["rc", "target_id"] == "9" and best.loc["rc", "orientation"] == "-"
    assert best.loc["part", "target_id"] == "11" and best.loc["part", "optimal_offset"] == 1
    assert best.loc["part", "overlap"] == 4


def test_table_columns_order_evalues_and_qvalues(rng):
    db = {f"m{i}": _random_pwm(rng, w) for i, w in enumerate(rng.integers(5, 12, 25))}
    queries = {"b": _random_pwm(rng, 7), "a": db["m3"]}
    table = tomtom(queries, db)
    assert list(table.columns) == TOMTOM_COLUMNS
    assert list(table["query_id"].unique()) == ["b", "a"]  # input order
    for _, group in table.groupby("query_id"):
        assert len(group) == 25
        assert group["p-value"].is_monotonic_increasing
        assert group["q-value"].is_monotonic_increasing
        np.testing.assert_allclose(group["E-value"], group["p-value"] * 25)
        # Benjamini-Hochberg from the p-values, computed directly.
        p = np.sort(group["p-value"].to_numpy())
        bh = np.minimum.accumulate((p * 25 / np.arange(1, 26))[::-1])[::-1].clip(max=1)
        np.testing.assert_allclose(group["q-value"].to_numpy(), bh, rtol=1e-12)
    row = table[(table.query_id == "a") & (table.target_id == "m3")].iloc[0]
    assert row["query_consensus"] == row["target_consensus"]
    assert len(tomtom(queries, db, thresh=0.01)) == (table["q-value"] <= 0.01).sum()


def test_pseudocount_matches_meme_formula(rng):
    db = [_random_pwm(rng, w) for w in rng.integers(5, 10, 20)]
    q = _random_pwm(rng, 6)
    pc = 0.1
    smoothed = lambda m: (m * 20 + pc * 0.25) / (20 + pc)  # noqa: E731
    direct = tomtom_pvalues([smoothed(q)], [smoothed(m) for m in db])
    via = tomtom_pvalues([q], db, pseudocount=pc)
    np.testing.assert_allclose(via.p_values, direct.p_values, rtol=1e-12)


def test_cuda_without_a_gpu_is_an_error(rng):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="CUDA"):
        tomtom_pvalues([_random_pwm(rng, 4)], [_random_pwm(rng, 4)], device="cuda")


def test_bad_input_gives_one_line_errors(rng, tmp_path):
    db = [_random_pwm(rng, 5) for _ in range(3)]
    cases = [
        (dict(queries=[np.zeros((4, 0))], targets=db), "width 0"),
        (dict(queries=[_random_pwm(rng, 70)], targets=db), "max_query_width"),
        (dict(queries=[_random_pwm(rng, 5).T], targets=db), "transposed"),
        (dict(queries=[], targets=db), "no motifs"),
        (dict(queries=[np.full((4, 3), np.nan)], targets=db), "NaN"),
        (dict(queries=[np.zeros((4, 3))], targets=db), "all zeros"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError, match=message) as err:
            tomtom_pvalues(**kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="distance"):
        tomtom(db, db, distance="sandelin")
    protein = tmp_path / "protein.meme"
    protein.write_text("MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n\nMOTIF x\n"
                       "letter-probability matrix: alength= 20 w= 1\n" + " 0.05" * 20 + "\n")
    with pytest.raises(InputError, match="not DNA"):
        tomtom(str(protein), db)


def test_wide_seqlet_queries_up_to_fifty_columns(rng):
    db = [_random_pwm(rng, w) for w in rng.integers(6, 20, 20)]
    q = np.zeros((4, 50))
    q[rng.integers(0, 4, 50), np.arange(50)] = 1
    q[:, 20:28] = (db[4][:, :8] > 0.5) | (db[4][:, :8] == db[4][:, :8].max(0))
    result = tomtom_pvalues([q], db, n_nearest=3)
    assert result.p_values.shape == (1, 3)
    assert np.all((result.p_values >= 0) & (result.p_values <= 1))
