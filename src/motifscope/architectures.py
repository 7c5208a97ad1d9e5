"""Small reference architectures: the demo CNN trained by the embedded demo.

Users bring their own models; these exist so the demo (and tests) have a network whose
first layer is an inspectable ``Conv1d`` and whose weights load safely from a state_dict
through the class path ``motifscope.architectures.DemoCNN``.
"""

from __future__ import annotations

from torch import nn


class DemoCNN(nn.Module):
    """A Basset-like CNN.

    Conv1d -> BatchNorm -> ReLU -> MaxPool -> Conv1d -> BatchNorm -> ReLU -> global MaxPool
    -> Linear. The global max-pool makes motif detection position-invariant, which lets the
    network learn weak motifs from a few thousand simulated windows in a minute on a CPU.

    Parameters
    ----------
    n_targets : int, default 3
        One output (a logit) per target.
    input_length : int, default 400
        L; inputs are (B, 4, L) and must have exactly this length.
    n_filters : int, default 64
        First-layer filters (their PWMs are what the filters stage recovers).
    filter_width : int, default 19
        First-layer kernel width; "same" padding so activation j is centred on base j.
    n_filters2 : int, default 64
    pool : int, default 4
        First pooling width; the second pooling spans the whole track.

    Shapes
    ------
    forward(X): (B, 4, L) float -> (B, n_targets) logits.
    """

    def __init__(self, n_targets: int = 3, input_length: int = 400, n_filters: int = 64,
                 filter_width: int = 19, n_filters2: int = 64, pool: int = 4):
        super().__init__()
        self.input_length = input_length
        self.conv1 = nn.Conv1d(4, n_filters, filter_width, padding=filter_width // 2)
        self.bn1 = nn.BatchNorm1d(n_filters)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool)
        self.conv2 = nn.Conv1d(n_filters, n_filters2, 5, padding=2)
        self.bn2 = nn.BatchNorm1d(n_filters2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(input_length // pool)
        self.flatten = nn.Flatten()
        self.out = nn.Linear(n_filters2, n_targets)

    def forward(self, X):
        if X.shape[-1] != self.input_length:
            raise ValueError(f"DemoCNN expects inputs of shape (B, 4, {self.input_length}), "
                             f"got length {X.shape[-1]}")
        h = self.pool1(self.relu1(self.bn1(self.conv1(X))))
        h = self.pool2(self.relu2(self.bn2(self.conv2(h))))
        return self.out(self.flatten(h))


class DanQ(nn.Module):
    """DanQ (Quang & Xie 2016): convolution, max-pooling, a bidirectional LSTM, two dense
    layers; one logit per target (DanQ used 919 chromatin marks).

    DeepLIFT/SHAP has no exact rule for the LSTM, so motifscope refuses it; interpret the
    model with ``attribution.method: ism`` and the filters stage (``filters.method: danq``).

    Parameters
    ----------
    n_targets : int, default 919
    input_length : int, default 1000
    n_filters : int, default 320
    filter_width : int, default 26
        First-layer kernel (no padding).
    pool : int, default 13
        Max-pooling width and stride.
    hidden : int, default 320
        LSTM units per direction.
    dense : int, default 925

    Shapes
    ------
    forward(X): (B, 4, L) float -> (B, n_targets) logits.
    """

    def __init__(self, n_targets: int = 919, input_length: int = 1000, n_filters: int = 320,
                 filter_width: int = 26, pool: int = 13, hidden: int = 320, dense: int = 925):
        super().__init__()
        self.conv1 = nn.Conv1d(4, n_filters, filter_width)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool, pool)
        self.drop1 = nn.Dropout(0.2)
        self.lstm = nn.LSTM(n_filters, hidden, batch_first=True, bidirectional=True)
        self.drop2 = nn.Dropout(0.5)
        steps = (input_length - filter_width + 1) // pool
        self.dense = nn.Linear(2 * hidden * steps, dense)
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(dense, n_targets)

    def forward(self, X):
        h = self.drop1(self.pool1(self.relu1(self.conv1(X))))
        h, _ = self.lstm(h.transpose(1, 2))
        h = self.drop2(h).flatten(1)
        return self.out(self.relu2(self.dense(h)))
