"""Shared fixtures: a small random DNA batch and a seeded generator."""

import numpy as np
import pytest
import torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def random_onehot(rng):
    """Return a function making an (n, 4, L) uint8 one-hot batch of uniform random DNA."""

    def make(n=8, length=100, seed=None):
        r = rng if seed is None else np.random.default_rng(seed)
        idx = r.integers(0, 4, size=(n, length))
        X = np.zeros((n, 4, length), dtype=np.uint8)
        np.put_along_axis(X, idx[:, None, :], 1, axis=1)
        return X

    return make


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(2)
    yield
