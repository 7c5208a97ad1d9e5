"""Shared fixtures: random DNA batches, and one end-to-end run of the tiny workflow config."""

import os

# Idle OpenMP threads spin by default; on a shared 2-core machine that starves the other
# process (snakemake jobs, oracle tools). Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny config (tests/config) run once end to end; returns its working directory.

    Tests that only read outputs share this run; tests that modify or rerun the workflow
    must copy the directory first (``shutil.copytree``).
    """
    from workflow_helpers import make_workdir, run_snakemake

    workdir = make_workdir(tmp_path_factory.mktemp("tiny_run"))
    run_snakemake(workdir, "--cores", "2")
    return workdir
