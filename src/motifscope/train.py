"""Training the demo model on a simulated genome (CPU, a few minutes at most).

Users bring trained models; this exists so the embedded demo and the paper-figure configs
have a model with known ground truth. Training is deterministic for a given
``random_state`` on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from motifscope.architectures import DemoCNN
from motifscope.metrics import average_precision, roc_auc
from motifscope.utils import as_tensor, progress, seed_everything

DEMO_CLASS = "motifscope.architectures.DemoCNN"


@dataclass
class TrainResult:
    """A trained model and its card (everything written to ``model/model.json``)."""

    model: nn.Module
    card: dict = field(default_factory=dict)
    seconds: float = 0.0


def _augment(X: torch.Tensor, length: int, jitter: int, gen: torch.Generator) -> torch.Tensor:
    """Random crop of ``length`` from windows of ``length + 2 * jitter``, random strand."""
    n = X.shape[0]
    shifts = torch.randint(0, 2 * jitter + 1, (n,), generator=gen)
    idx = shifts[:, None] + torch.arange(length)[None, :]
    out = torch.gather(X, 2, idx[:, None, :].expand(n, 4, length))
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = torch.flip(out[flip], dims=(1, 2))
    return out


def _crop_centre(X: torch.Tensor, length: int, jitter: int) -> torch.Tensor:
    return X[:, :, jitter:jitter + length]


def evaluate(model: nn.Module, X, y, batch_size: int = 256) -> dict:
    """Held-out auROC and auPRC per output column.

    Parameters
    ----------
    model : nn.Module
        Returns (B, T) logits.
    X : array, (N, 4, L)
    y : array, (N, T) of 0/1

    Returns
    -------
    dict with "auroc" and "auprc": lists of T floats.
    """
    model.eval()
    with torch.no_grad():
        X = as_tensor(X)
        logits = torch.cat([model(X[i:i + batch_size].float())
                            for i in range(0, len(X), batch_size)]).numpy()
    y = np.asarray(y)
    return {"auroc": [roc_auc(y[:, t], logits[:, t]) for t in range(y.shape[1])],
            "auprc": [average_precision(y[:, t], logits[:, t]) for t in range(y.shape[1])]}


def train_demo_model(X_train, y_train, X_test, y_test, input_length: int, jitter: int = 0,
                     epochs: int = 20, batch_size: int = 64, learning_rate: float = 3e-3,
                     max_seconds: float | None = None, model_kwargs: dict | None = None,
                     random_state: int = 0, verbose=None) -> TrainResult:
    """Train :class:`motifscope.architectures.DemoCNN` with binary cross-entropy.

    Parameters
    ----------
    X_train : array, (N, 4, input_length + 2 * jitter)
        One-hot training windows, wider than the model input by ``jitter`` on each side
        (random crops and reverse complements augment every epoch).
    y_train : array, (N, T) of 0/1
    X_test : array, (M, 4, input_length + 2 * jitter)
        Held-out windows (centre crop, no augmentation).
    y_test : array, (M, T)
    input_length : int
    jitter : int, default 0
    epochs : int, default 20
    batch_size : int, default 64
    learning_rate : float, default 3e-3
    max_seconds : float, optional
        Stop after the epoch that crosses this budget (the model then depends on machine
        speed; off by default so that a config always gives the same model).
    model_kwargs : dict, optional
        Extra DemoCNN arguments (n_filters, filter_width, ...).
    random_state : int, default 0

    Returns
    -------
    TrainResult
        The model (eval mode, CPU), a card with class, kwargs, input length, epochs run,
        sizes and held-out auROC/auPRC per target (lists in target order), and ``seconds``.
    """
    seed_everything(random_state)
    gen = torch.Generator().manual_seed(random_state)
    n_targets = int(np.asarray(y_train).shape[1])
    kwargs = {"n_targets": n_targets, "input_length": input_length, **(model_kwargs or {})}
    model = DemoCNN(**kwargs)
    X_train = as_tensor(X_train, torch.float32)
    y_train = as_tensor(np.asarray(y_train), torch.float32)
    X_eval = _crop_centre(as_tensor(X_test, torch.float32), input_length, jitter)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    epochs_run = 0
    for _ in progress(range(epochs), desc="train", unit="epoch", verbose=verbose):
        model.train()
        order = torch.randperm(len(X_train), generator=gen)
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            xb = _augment(X_train[idx], input_length, jitter, gen)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), y_train[idx])
            loss.backward()
            optimizer.step()
        epochs_run += 1
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    seconds = time.perf_counter() - start
    model.eval()
    scores = evaluate(model, X_eval, y_test)
    # no timings in the card: the same config must give byte-identical files
    card = {"format": "state_dict", "class": DEMO_CLASS, "kwargs": kwargs,
            "input_length": input_length, "epochs": epochs_run, "n_train": int(len(X_train)),
            "n_test": int(len(X_eval)), "random_state": random_state, **scores}
    return TrainResult(model, card, seconds)


def split_regions(regions: pd.DataFrame, held_out: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, test): test regions lie on the held-out chromosomes."""
    test = regions["chrom"].isin(held_out).to_numpy()
    return ~test, test
