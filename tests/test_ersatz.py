"""Tests for motifscope.ersatz: sequence edits and shuffles (properties and tangermeme oracle)."""

from collections import Counter

import numpy as np
import pytest
import torch

from motifscope import ersatz
from motifscope.errors import InputError
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.sequence import characters, one_hot_encode, one_hot_encode_batch


def _dinucleotide_counts(tokens: np.ndarray) -> np.ndarray:
    """(..., S) base indices -> (..., 16) dinucleotide counts."""
    pairs = tokens[..., :-1] * 4 + tokens[..., 1:]
    return np.stack([(pairs == k).sum(-1) for k in range(16)], axis=-1)


def _tokens(X) -> np.ndarray:
    return np.asarray(X).argmax(axis=-2)


# ------------------------------------------------------------------ dinucleotide_shuffle


@pytest.mark.parametrize("start,end", [(0, -1), (10, 70), (0, 50), (25, 100)])
def test_dinucleotide_shuffle_keeps_counts_ends_and_flanks(random_onehot, start, end):
    X = random_onehot(n=6, length=100, seed=1)
    Y = dinucleotide_shuffle(X, n=7, start=start, end=end, random_state=3)
    assert isinstance(Y, np.ndarray) and Y.dtype == X.dtype and Y.shape == (6, 7, 4, 100)
    stop = 100 if end == -1 else end
    assert (Y.sum(axis=2) == 1).all()
    tok_x, tok_y = _tokens(X), _tokens(Y)
    span_x, span_y = tok_x[:, None, start:stop], tok_y[:, :, start:stop]
    assert (_dinucleotide_counts(span_y) == _dinucleotide_counts(span_x)).all()
    assert (span_y[..., 0] == span_x[..., 0]).all() and (span_y[..., -1] == span_x[..., -1]).all()
    assert (tok_y[:, :, :start] == tok_x[:, None, :start]).all()
    assert (tok_y[:, :, stop:] == tok_x[:, None, stop:]).all()
    # it actually shuffles: shuffles differ from the input and from each other
    assert (span_y != span_x).any(axis=-1).mean() > 0.9
    assert len({tuple(r) for r in span_y.reshape(-1, span_y.shape[-1])}) == 6 * 7


def test_dinucleotide_shuffle_is_deterministic_and_seeded(random_onehot):
    X = torch.from_numpy(random_onehot(n=4, length=60, seed=2)).float()
    a = dinucleotide_shuffle(X, n=5, random_state=11)
    b = dinucleotide_shuffle(X, n=5, random_state=11)
    c = dinucleotide_shuffle(X, n=5, random_state=12)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.dtype == torch.float32 and a.device == X.device


def test_dinucleotide_shuffle_independent_of_batch_and_n(random_onehot):
    X = torch.from_numpy(random_onehot(n=9, length=80, seed=4))
    full = dinucleotide_shuffle(X, n=3, random_state=5)
    one = dinucleotide_shuffle(X, n=1, random_state=5)
    assert torch.equal(one[:, 0], full[:, 0])
    # a sub-batch with its global ids gives the same rows, in any order
    rows = [7, 2, 5]
    part = dinucleotide_shuffle(X[rows], n=3, random_state=5, example_ids=rows)
    assert torch.equal(part, full[rows])
    as_tensor_ids = dinucleotide_shuffle(X[rows], n=3, random_state=5,
                                         example_ids=torch.tensor(rows))
    assert torch.equal(as_tensor_ids, full[rows])
    # without ids, position in the batch is the id: moving an example changes its shuffles
    moved = dinucleotide_shuffle(X[rows], n=3, random_state=5)
    assert not torch.equal(moved[0], full[7])


def test_dinucleotide_shuffle_chunking_does_not_change_results(random_onehot, monkeypatch):
    X = torch.from_numpy(random_onehot(n=7, length=50, seed=6))
    whole = dinucleotide_shuffle(X, n=4, random_state=8)
    monkeypatch.setattr(ersatz, "_MAX_CHUNK_ELEMENTS", 4 * 50 * 2)  # two examples per chunk
    assert torch.equal(dinucleotide_shuffle(X, n=4, random_state=8), whole)


def test_dinucleotide_shuffle_none_seed_draws_fresh(random_onehot):
    X = random_onehot(n=2, length=200, seed=7)
    a = dinucleotide_shuffle(X, n=2)
    b = dinucleotide_shuffle(X, n=2)
    assert not np.array_equal(a, b)


def test_dinucleotide_shuffle_string():
    out = dinucleotide_shuffle("CATCACGCATACG", n=4, random_state=0)
    assert isinstance(out, list) and len(out) == 4
    ref = _dinucleotide_counts(_tokens(one_hot_encode("CATCACGCATACG")))
    for s in out:
        assert len(s) == 13 and s[0] == "C" and s[-1] == "G"
        assert (_dinucleotide_counts(_tokens(one_hot_encode(s))) == ref).all()


def test_hash_matches_uint64_splitmix_reference():
    values = np.array([0, 1, 2**40 + 7, 2**63 + 5, 2**64 - 1], dtype=np.uint64)

    def splitmix(z):
        with np.errstate(over="ignore"):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

    ours = ersatz._mix64(torch.from_numpy(values.view(np.int64))).numpy().view(np.uint64)
    assert np.array_equal(ours, splitmix(values))


@pytest.mark.parametrize("seq", ["AAAAAAAAAA", "AATA", "ACACACACAC", "ACGACGACGA"])
def test_dinucleotide_shuffle_rejects_unshuffleable(seq):
    # every 4-mer is unshuffleable, so AATA is tested alone
    X = one_hot_encode_batch(["ACGTTGCAAGCT"[: len(seq)], seq] if len(seq) > 4 else [seq])
    with pytest.raises(InputError, match=f"example {len(X) - 1} cannot be shuffled") as info:
        dinucleotide_shuffle(X, n=1, random_state=0)
    assert "\n" not in str(info.value)


def test_dinucleotide_shuffle_rejects_too_short_span():
    with pytest.raises(InputError, match="at least 3"):
        dinucleotide_shuffle("AC", n=3, random_state=0)


def test_dinucleotide_shuffle_rejects_n_naming_example_and_position():
    X = one_hot_encode_batch(["ACGTTGCAAGCTGCATCAG", "ACGTTNCAAGCTGCATCAG"])
    with pytest.raises(InputError, match=r"example 1 \(id 41\) has N .* position 5"):
        dinucleotide_shuffle(X, n=2, random_state=0, example_ids=[40, 41])
    # N outside the shuffled span is fine and is copied
    Y = dinucleotide_shuffle(X, n=2, start=6, random_state=0)
    assert characters(Y[1, 0])[:6] == "ACGTTN"


@pytest.mark.parametrize("kwargs,match", [
    ({"start": 5, "end": 5}, "empty"), ({"end": 500}, "falls off"), ({"n": 0}, "n must be"),
])
def test_dinucleotide_shuffle_bad_arguments(random_onehot, kwargs, match):
    with pytest.raises(InputError, match=match):
        dinucleotide_shuffle(random_onehot(n=2, length=40), random_state=0, **kwargs)


def test_dinucleotide_shuffle_bad_shape():
    with pytest.raises(InputError, match=r"\(N, 4, L\)"):
        dinucleotide_shuffle(np.zeros((4, 10), dtype=np.uint8))


@pytest.mark.oracle
def test_dinucleotide_shuffle_same_distribution_as_tangermeme():
    """Same sampler as tangermeme (fixed last edges): same support, same frequencies.

    ``ACCCACGATGATA`` has 9 reachable shuffles under this scheme (tangermeme issue #27).
    With 4000 draws each, a chi-square homogeneity test at a fixed seed must not reject.
    """
    from scipy.stats import chi2_contingency
    from tangermeme.ersatz import dinucleotide_shuffle as tm_shuffle

    seq = "ACCCACGATGATA"
    X = torch.from_numpy(one_hot_encode(seq))[None].float()
    ours = Counter(characters(y) for y in dinucleotide_shuffle(X, n=4000, random_state=1)[0])
    theirs = Counter(characters(y) for y in tm_shuffle(X, n=4000, random_state=1)[0])
    assert set(ours) == set(theirs)
    assert len(ours) == 9
    keys = sorted(ours)
    table = np.array([[ours[k] for k in keys], [theirs[k] for k in keys]])
    assert chi2_contingency(table).pvalue > 1e-3


# ------------------------------------------------------------------ uniform (Eulerian) mode


def _brute_force_shuffles(seq: str) -> set:
    """Every sequence with the same first and last base and dinucleotide counts as ``seq``."""
    from itertools import product

    target = sorted(seq[i:i + 2] for i in range(len(seq) - 1))
    found = set()
    for middle in product("ACGT", repeat=len(seq) - 2):
        candidate = seq[0] + "".join(middle) + seq[-1]
        if sorted(candidate[i:i + 2] for i in range(len(candidate) - 1)) == target:
            found.add(candidate)
    return found


@pytest.mark.parametrize("seq", ["ACCCACGA", "CAACC", "GATTACAG", "CCAGGC", "AACCAGTA"])
def test_uniform_shuffle_reaches_every_arrangement(seq):
    """The uniform mode's support is every dinucleotide-preserving sequence (brute force);
    the deeplift mode's is a subset of it."""
    expected = _brute_force_shuffles(seq)
    assert len(expected) > 1
    uniform = set(dinucleotide_shuffle(seq, n=600, random_state=2, method="uniform"))
    assert uniform == expected
    try:
        deeplift = set(dinucleotide_shuffle(seq, n=600, random_state=2))
    except InputError:  # e.g. CAACC: the fixed last edges leave only the input
        deeplift = {seq}
    assert deeplift <= expected


@pytest.mark.oracle
def test_uniform_shuffle_is_uniform_on_tangermeme_issue_27():
    """``ACCCACGATGATA``: 72 arrangements (uShuffle's count in tangermeme issue #27), drawn
    with equal frequency: chi-square goodness of fit on 14,400 draws must not reject."""
    from scipy.stats import chisquare

    counts = Counter(dinucleotide_shuffle("ACCCACGATGATA", n=14400, random_state=5,
                                          method="uniform"))
    assert len(counts) == 72
    assert chisquare(list(counts.values())).pvalue > 1e-3


def test_uniform_shuffle_properties(random_onehot):
    X = torch.from_numpy(random_onehot(n=6, length=90, seed=21))
    Y = dinucleotide_shuffle(X, n=5, start=5, end=80, random_state=1, method="uniform")
    tok_x, tok_y = _tokens(X.numpy()), _tokens(Y.numpy())
    counts_y = _dinucleotide_counts(tok_y[:, :, 5:80])
    assert (counts_y == _dinucleotide_counts(tok_x[:, None, 5:80])).all()
    assert (tok_y[:, :, :5] == tok_x[:, None, :5]).all()
    assert (tok_y[:, :, 80:] == tok_x[:, None, 80:]).all()
    rows = [4, 0]
    part = dinucleotide_shuffle(X[rows], n=5, start=5, end=80, random_state=1, method="uniform",
                                example_ids=rows)
    assert torch.equal(part, Y[rows])
    assert torch.equal(dinucleotide_shuffle(X, n=2, start=5, end=80, random_state=1,
                                            method="uniform"), Y[:, :2])


def test_arrangement_count_matches_brute_force():
    """The BEST-theorem count behind the uniform mode's 'cannot be shuffled' check equals the
    number of brute-force arrangements, for random short sequences."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        seq = "".join(rng.choice(list("ACGT"), int(rng.integers(4, 9))))
        tokens = torch.from_numpy(one_hot_encode(seq)).argmax(0)[None].long()
        counts = ersatz._pair_counts(tokens)
        weights = ersatz._tree_weights(tokens, counts)
        expected = len(_brute_force_shuffles(seq))
        if expected == 1:
            with pytest.raises(InputError, match="cannot be shuffled"):
                ersatz._check_uniform_shuffleable(tokens, counts, weights, 0, None)
        else:
            ersatz._check_uniform_shuffleable(tokens, counts, weights, 0, None)
            assert len(set(dinucleotide_shuffle(seq, n=300, random_state=0, method="uniform"))) \
                == expected


def test_uniform_shuffle_errors():
    # ACAT: A must leave through C first, so ACAT is its only arrangement
    with pytest.raises(InputError, match="example 0 cannot be shuffled"):
        dinucleotide_shuffle("ACAT", n=3, random_state=0, method="uniform")
    with pytest.raises(InputError, match="method 'exact' is unknown"):
        dinucleotide_shuffle("ACGTAC", method="exact")


# ------------------------------------------------------------------ deterministic edits


def test_substitute_centres_motif_and_keeps_n_columns(random_onehot):
    X = random_onehot(n=3, length=21, seed=9)
    Y = ersatz.substitute(X, "GANTC")
    assert isinstance(Y, np.ndarray) and Y.shape == X.shape and Y.dtype == X.dtype
    start = 21 // 2 - 5 // 2
    for x, y in zip(X, Y):
        sx, sy = characters(x), characters(y)
        assert sy[:start] == sx[:start] and sy[start + 5:] == sx[start + 5:]
        assert sy[start:start + 5] == "GA" + sx[start + 2] + "TC"
    assert characters(X[0]) == characters(random_onehot(n=3, length=21, seed=9)[0])  # X untouched


def test_substitute_strings_and_paired_motifs():
    assert ersatz.substitute("AAAAAAAAAA", "CG", start=0) == "CGAAAAAAAA"
    X = torch.from_numpy(one_hot_encode_batch(["AAAAAA", "TTTTTT"]))
    motifs = torch.from_numpy(one_hot_encode_batch(["CC", "GG"]))
    Y = ersatz.substitute(X, motifs, start=4)
    assert [characters(y) for y in Y] == ["AAAACC", "TTTTGG"]


@pytest.mark.parametrize("call,match", [
    (lambda X: ersatz.substitute(X, "A" * 30), "longer than"),
    (lambda X: ersatz.substitute(X, "ACG", start=19), "off the end"),
    (lambda X: ersatz.substitute(X, np.full((4, 3), 0.25)), "not one-hot"),
    (lambda X: ersatz.insert(X, "ACG", start=21), "outside"),
    (lambda X: ersatz.delete(X, 5, 5), "start < end"),
    (lambda X: ersatz.multisubstitute(X, ["ACG", "TT"], spacing=[1, 2]), "spacing"),
    (lambda X: ersatz.multisubstitute(X, ["ACGTACGT", "TTTTTTTT"], spacing=6), "longer than"),
])
def test_edit_errors_are_one_line(random_onehot, call, match):
    with pytest.raises(InputError, match=match) as info:
        call(random_onehot(n=2, length=20, seed=1))
    assert "\n" not in str(info.value)


def test_insert_and_delete_lengths_and_inverse(random_onehot):
    X = random_onehot(n=4, length=30, seed=3)
    Y = ersatz.insert(X, "ACGTA", start=7)
    assert Y.shape == (4, 4, 35)
    assert all(characters(y)[7:12] == "ACGTA" for y in Y)
    assert np.array_equal(ersatz.delete(Y, 7, 12), X)
    assert ersatz.insert("AAAA", "GG") == "AAGGAA"
    assert ersatz.delete("ACGTACGT", 2, 5) == "ACCGT"


def test_reverse_complement_reexported():
    assert ersatz.reverse_complement("AACGN") == "NCGTT"


@pytest.mark.oracle
def test_deterministic_edits_equal_tangermeme(random_onehot):
    from tangermeme import ersatz as tm

    X = torch.from_numpy(random_onehot(n=5, length=40, seed=12)).to(torch.int8)
    motif = torch.from_numpy(one_hot_encode("ACNNGT"))[None].to(torch.int8)
    for start in (None, 0, 34):
        assert torch.equal(ersatz.substitute(X, motif, start=start),
                           tm.substitute(X, motif, start=start))
        assert torch.equal(ersatz.insert(X, motif[:, :, :2], start=start),
                           tm.insert(X, motif[:, :, :2], start=start))
    assert torch.equal(ersatz.delete(X, 3, 17), tm.delete(X, 3, 17))
    for spacing, start in ((3, None), ([0, 5], None), ([2, 1], 4)):
        motifs = ["ACGT", "GG", "TTAC"]
        assert torch.equal(ersatz.multisubstitute(X, motifs, spacing, start=start),
                           tm.multisubstitute(X, motifs, spacing, start=start))


# ------------------------------------------------------------------ random edits


def test_shuffle_keeps_composition_and_flanks(random_onehot):
    X = torch.from_numpy(random_onehot(n=5, length=50, seed=13))
    X[2, :, 20] = 0  # an N inside the span is moved, not lost
    Y = ersatz.shuffle(X, start=10, end=40, n=6, random_state=2)
    assert Y.shape == (5, 6, 4, 50) and Y.dtype == X.dtype
    assert torch.equal(Y[:, :, :, 10:40].sum(-1), X[:, None, :, 10:40].sum(-1).expand(5, 6, 4))
    assert torch.equal(Y[:, :, :, :10], X[:, None, :, :10].expand(5, 6, 4, 10))
    assert torch.equal(Y[:, :, :, 40:], X[:, None, :, 40:].expand(5, 6, 4, 10))
    assert int((Y[2].sum(1) == 0).sum()) == 6
    same = ersatz.shuffle(X[:1].repeat(2, 1, 1), n=1, random_state=2)
    assert not torch.equal(same[0, 0], same[1, 0])  # each example gets its own permutation
    assert torch.equal(Y, ersatz.shuffle(X, start=10, end=40, n=6, random_state=2))
    rows = [4, 1]
    part = ersatz.shuffle(X[rows], 10, 40, n=6, random_state=2, example_ids=rows)
    assert torch.equal(part, Y[rows])
    out = ersatz.shuffle("AACCGGTTAC", n=3, random_state=0)
    assert len(out) == 3 and all(sorted(s) == sorted("AACCGGTTAC") for s in out)


def test_randomize_frequencies_and_determinism(random_onehot):
    X = random_onehot(n=20, length=300, seed=14)
    probs = [0.1, 0.2, 0.3, 0.4]
    Y = ersatz.randomize(X, start=50, end=250, probs=probs, n=5, random_state=4)
    assert Y.shape == (20, 5, 4, 300) and Y.dtype == X.dtype
    assert (Y.sum(axis=2) == 1).all()
    assert np.array_equal(Y[:, :, :, :50], np.broadcast_to(X[:, None, :, :50], (20, 5, 4, 50)))
    freq = Y[:, :, :, 50:250].mean(axis=(0, 1, 3))
    # 20k draws per base: binomial sd <= 0.0035, so 0.015 is > 4 sd
    assert np.abs(freq - probs).max() < 0.015
    assert np.array_equal(Y, ersatz.randomize(X, 50, 250, probs=probs, n=5, random_state=4))
    assert not np.array_equal(Y, ersatz.randomize(X, 50, 250, probs=probs, n=5, random_state=5))
    per_row = ersatz.randomize(X[:2], 0, -1, probs=[[1, 0, 0, 0], [0, 0, 0, 1]], random_state=0)
    assert characters(per_row[0, 0]) == "A" * 300 and characters(per_row[1, 0]) == "T" * 300
    with pytest.raises(InputError, match="probs"):
        ersatz.randomize(X, 0, 10, probs=[0.5, 0.5, 0.5, 0.5])
