"""TOMTOM's two engines: the fused numba kernel (CPU) and the torch engine (CUDA, sequences).

Each engine is forced in turn and checked against the brute-force enumeration of
``test_tomtom.py``; then the engines are compared with each other on random PWMs, where
they compute the same discrete null in a different floating-point order: p-values agree
to 1e-12 relative (the sums differ in the last bits only) and integer scores, offsets,
overlaps and strands are identical (column scores are the same, so only a score landing
exactly on a rounding boundary could differ, which random inputs do not produce).
"""

import sys

import numpy as np
import pytest
import torch
from test_tomtom import _random_pwm, brute_tomtom

from motifscope.motifs import tomtom_pvalues

engine_module = sys.modules["motifscope.motifs._tomtom_engine"]
pytest.importorskip("numba")


def _one_hot(rng, width):
    q = np.zeros((4, width))
    q[rng.integers(0, 4, width), np.arange(width)] = 1
    return q


@pytest.fixture(params=["kernel", "torch"])
def engine(request, monkeypatch):
    """Force one engine for every query (sequences included)."""
    if request.param == "torch":
        monkeypatch.setattr(engine_module, "_USE_CPU_KERNEL", False)
    else:
        monkeypatch.setattr(engine_module, "_MIN_SHARED_QUERIES", 10**9)
    return request.param


def _run(engine_name, monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        if engine_name == "torch":
            m.setattr(engine_module, "_USE_CPU_KERNEL", False)
        else:
            m.setattr(engine_module, "_MIN_SHARED_QUERIES", 10**9)
        return tomtom_pvalues(*args, **kwargs)


@pytest.mark.parametrize("distance", ["ed", "pearson"])
@pytest.mark.parametrize("rc", [True, False])
def test_each_engine_matches_brute_force(engine, rng, distance, rc):
    db = [_random_pwm(rng, w) for w in (2, 3, 2)]
    queries = [_random_pwm(rng, 3), _one_hot(rng, 2), _random_pwm(rng, 1), _one_hot(rng, 3)]
    result = tomtom_pvalues(queries, db, distance=distance, reverse_complement=rc)
    for qi, query in enumerate(queries):
        for ti, (p, score, off, overlap, strand) in enumerate(
                brute_tomtom(query, db, distance, rc=rc)):
            assert result.p_values[qi, ti] == pytest.approx(p, rel=1e-9, abs=1e-12)
            assert result.scores[qi, ti] == score
            assert result.offsets[qi, ti] == off
            assert result.overlaps[qi, ti] == overlap
            assert result.strands[qi, ti] == strand


def test_each_engine_applies_min_overlap_to_the_search_only(engine, rng):
    db = [_random_pwm(rng, w) for w in (2, 4, 3)]
    query = _random_pwm(rng, 3)
    result = tomtom_pvalues([query], db, min_overlap=3)
    for ti, (p, score, off, overlap, strand) in enumerate(
            brute_tomtom(query, db, min_overlap=3)):
        assert result.p_values[0, ti] == pytest.approx(p, rel=1e-9, abs=1e-12)
        assert (result.scores[0, ti], result.offsets[0, ti]) == (score, off)


@pytest.mark.parametrize("distance", ["ed", "pearson"])
def test_kernel_and_torch_engines_agree(rng, monkeypatch, distance):
    db = [_random_pwm(rng, w) for w in rng.integers(4, 22, 60)]
    # Queries wider and narrower than every target, one-hot and PWM, with repeats.
    queries = [_random_pwm(rng, w) for w in (1, 3, 7, 12, 21, 30)] + [db[5], db[9][:, 2:]]
    queries += [_one_hot(rng, w) for w in (5, 18)]
    for n_nearest in (None, 3):
        kernel = _run("kernel", monkeypatch, queries, db, distance=distance,
                      n_nearest=n_nearest)
        reference = _run("torch", monkeypatch, queries, db, distance=distance,
                         n_nearest=n_nearest)
        np.testing.assert_allclose(kernel.p_values, reference.p_values, rtol=1e-12, atol=0)
        for name in ("scores", "offsets", "overlaps", "strands", "target_idx"):
            np.testing.assert_array_equal(getattr(kernel, name), getattr(reference, name),
                                          err_msg=name)


def test_kernel_results_do_not_depend_on_threads_or_batches(rng, monkeypatch):
    db = [_random_pwm(rng, w) for w in rng.integers(4, 16, 40)]
    queries = [_random_pwm(rng, w) for w in rng.integers(2, 25, 30)]
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tomtom_pvalues(queries, db)
        # numba's thread setting is OpenMP's, which torch shares: left as it was.
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        two = tomtom_pvalues(queries, db, batch_size=7)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)
    np.testing.assert_array_equal(one.p_values, two.p_values)
    np.testing.assert_array_equal(one.scores, two.scores)
    np.testing.assert_array_equal(one.offsets, two.offsets)


def test_many_sequences_use_the_torch_engine_and_agree_with_the_kernel(rng, monkeypatch):
    db = [_random_pwm(rng, w) for w in rng.integers(4, 14, 30)]
    queries = [_one_hot(rng, w) for w in rng.integers(3, 15, 70)]
    calls = []
    original = engine_module._Engine._run_batch

    def spy(self, batch, *args):
        calls.append(len(batch))
        return original(self, batch, *args)

    monkeypatch.setattr(engine_module._Engine, "_run_batch", spy)
    shared = tomtom_pvalues(queries, db, n_nearest=2)
    assert sum(calls) == len(queries)  # 70 >= _MIN_SHARED_QUERIES sequences
    calls.clear()
    few = tomtom_pvalues(queries[:5], db, n_nearest=2)
    assert calls == []  # too few to share: the kernel
    np.testing.assert_allclose(few.p_values, shared.p_values[:5], rtol=1e-12)
    np.testing.assert_array_equal(few.target_idx, shared.target_idx[:5])


def test_without_numba_the_torch_engine_runs_everything(rng, monkeypatch):
    db = [_random_pwm(rng, w) for w in (3, 5, 4, 6)]
    queries = [_random_pwm(rng, 4), _random_pwm(rng, 2)]
    with_kernel = tomtom_pvalues(queries, db)
    monkeypatch.delitem(sys.modules, "motifscope.motifs._tomtom_cpu", raising=False)
    monkeypatch.delattr(sys.modules["motifscope.motifs"], "_tomtom_cpu", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    assert engine_module._cpu_kernel(torch.device("cpu")) is None
    without = tomtom_pvalues(queries, db)
    np.testing.assert_allclose(without.p_values, with_kernel.p_values, rtol=1e-12)
    np.testing.assert_array_equal(without.scores, with_kernel.scores)


def test_the_kernel_leaves_torch_threads_alone_in_a_fresh_process():
    # numba's first parallel launch sets OpenMP's thread count (shared with torch) to all
    # cores; a caller's torch.set_num_threads must survive it.
    import subprocess

    code = ("import numpy as np, torch; torch.set_num_threads(1); "
            "from motifscope.motifs import tomtom_pvalues; "
            "rng = np.random.default_rng(0); "
            "db = [rng.dirichlet(np.ones(4), 6).T for _ in range(5)]; "
            "tomtom_pvalues(db[:2], db); print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "1"
