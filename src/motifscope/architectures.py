"""Small reference architectures: the demo CNN trained by the embedded demo.

Users bring their own models; these exist so the demo (and tests) have a network whose
first layer is an inspectable ``Conv1d`` and whose weights load safely from a state_dict
through the class path ``motifscope.architectures.DemoCNN``.
"""

from __future__ import annotations

from torch import nn


class DemoCNN(nn.Module):
    """A Basset-like CNN: Conv1d -> ReLU -> MaxPool -> Conv1d -> ReLU -> MaxPool -> dense.

    Parameters
    ----------
    n_targets : int, default 3
        One output (a logit) per target.
    input_length : int, default 400
        L; inputs are (B, 4, L).
    n_filters : int, default 32
        First-layer filters (their PWMs are what the filters stage recovers).
    filter_width : int, default 19
        First-layer kernel width; "same" padding so activation j is centred on base j.
    n_filters2 : int, default 32
    pool : int, default 4
    hidden : int, default 32

    Shapes
    ------
    forward(X): (B, 4, L) float -> (B, n_targets) logits.
    """

    def __init__(self, n_targets: int = 3, input_length: int = 400, n_filters: int = 32,
                 filter_width: int = 19, n_filters2: int = 32, pool: int = 4, hidden: int = 32):
        super().__init__()
        self.conv1 = nn.Conv1d(4, n_filters, filter_width, padding=filter_width // 2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool)
        self.conv2 = nn.Conv1d(n_filters, n_filters2, 5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(pool)
        length = input_length // pool // pool
        self.flatten = nn.Flatten()
        self.dense = nn.Linear(n_filters2 * length, hidden)
        self.relu3 = nn.ReLU()
        self.out = nn.Linear(hidden, n_targets)

    def forward(self, X):
        h = self.pool1(self.relu1(self.conv1(X)))
        h = self.pool2(self.relu2(self.conv2(h)))
        return self.out(self.relu3(self.dense(self.flatten(h))))
