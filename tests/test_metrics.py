import numpy as np
import pytest

from motifscope.metrics import average_precision, roc_auc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_sklearn(seed):
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # rounding creates ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_degenerate_labels():
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))
    assert np.isnan(average_precision([0, 0], [0.1, 0.2]))
