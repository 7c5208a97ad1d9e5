import numpy as np
import pytest
import torch

from motifscope.errors import InputError
from motifscope.sequence import (
    characters,
    one_hot_encode,
    one_hot_encode_batch,
    reverse_complement,
)


def test_one_hot_roundtrip_and_case():
    seq = "ACGTacgtNNAC"
    X = one_hot_encode(seq)
    assert X.shape == (4, len(seq)) and X.dtype == np.uint8
    assert characters(X) == seq.upper()
    assert X[:, 8:10].sum() == 0  # N is an all-zero column


def test_iupac_codes_are_all_zero_and_junk_is_an_error():
    assert one_hot_encode("RYKM").sum() == 0
    with pytest.raises(InputError, match="position 3"):
        one_hot_encode("ACG-T")


@pytest.mark.oracle
def test_one_hot_matches_tangermeme():
    from tangermeme.utils import one_hot_encode as tm_one_hot

    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGTN"), size=500))
    ours = one_hot_encode(seq)
    theirs = tm_one_hot(seq).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_batch_requires_equal_lengths():
    assert one_hot_encode_batch(["AC", "GT"]).shape == (2, 4, 2)
    with pytest.raises(InputError, match="different lengths"):
        one_hot_encode_batch(["AC", "GTA"])


def test_characters_ties():
    pwm = np.array([[0.5, 1.0], [0.5, 0.0], [0, 0], [0, 0]])
    with pytest.raises(InputError, match="tied"):
        characters(pwm)
    assert characters(pwm, force=True) == "AA"


def test_reverse_complement_consistent_across_types(random_onehot):
    X = random_onehot(n=3, length=30)
    rc = reverse_complement(X)
    for i in range(3):
        assert characters(rc[i]) == reverse_complement(characters(X[i]))
    torch_rc = reverse_complement(torch.from_numpy(X))
    np.testing.assert_array_equal(torch_rc.numpy(), rc)
    assert reverse_complement("ACGTN") == "NACGT"
    np.testing.assert_array_equal(reverse_complement(rc), X)
