"""Make tests/data/attr_tracks.npz: real attribution tracks for the seqlet oracle tests.

A tiny CNN (8 convolution filters, a global max-pool and one linear output; smaller than
motifscope.architectures.DemoCNN so that it trains in seconds) learns to tell random 1 kb
sequences with planted GATA (AGATAAGG) and E-box (CCACGTGG) sites from sequences without
them; tangermeme's deep_lift_shap (10 dinucleotide shuffles) then gives projected
attributions, summed over the 4 channels into an (N, L) track.

Saved arrays:
    attr    float32 (N, L)  projected attribution per position
    bases   uint8   (N, L)  base index 0..3 (A, C, G, T), to rebuild the one-hot
    planted int64   (N, 2)  start of the planted GATA and E-box sites (-1: none)

Run once from the repository root (well under a minute on two cores):
    python tests/data/make_attr_tracks.py
"""

from pathlib import Path

import numpy as np
import torch

N_TRAIN, N_KEEP, LENGTH = 1024, 96, 1000
MOTIFS = ("AGATAAGG", "CCACGTGG")
OUT = Path(__file__).with_name("attr_tracks.npz")


def planted_sequences(n: int, rng: np.random.Generator):
    """Random sequences; in half of them both motifs are planted at random places."""
    bases = rng.integers(0, 4, size=(n, LENGTH)).astype(np.uint8)
    planted = np.full((n, 2), -1, dtype=np.int64)
    for i in range(0, n, 2):
        for m, motif in enumerate(MOTIFS):
            start = int(rng.integers(0, LENGTH - len(motif)))
            bases[i, start:start + len(motif)] = ["ACGT".index(c) for c in motif]
            planted[i, m] = start
    labels = (planted[:, 0] >= 0).astype(np.float32)
    return bases, planted, labels


def one_hot(bases: np.ndarray) -> torch.Tensor:
    X = np.zeros((bases.shape[0], 4, bases.shape[1]), dtype=np.float32)
    np.put_along_axis(X, bases[:, None, :].astype(np.int64), 1.0, axis=1)
    return torch.from_numpy(X)


def tiny_cnn() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv1d(4, 8, 11, padding=5), torch.nn.ReLU(), torch.nn.MaxPool1d(LENGTH),
        torch.nn.Flatten(), torch.nn.Linear(8, 1))


def train(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int = 15) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        order = torch.randperm(X.shape[0])
        for b in range(0, X.shape[0], 64):
            idx = order[b:b + 64]
            opt.zero_grad()
            loss = loss_fn(model(X[idx])[:, 0], y[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}")


def main() -> None:
    from tangermeme.deep_lift_shap import deep_lift_shap

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    bases, planted, labels = planted_sequences(N_TRAIN, rng)
    X = one_hot(bases)
    model = tiny_cnn()
    train(model, X, torch.from_numpy(labels))
    model.eval()
    keep = slice(0, N_KEEP)
    attr = deep_lift_shap(model, X[keep], target=0, n_shuffles=10, random_state=0)
    track = attr.sum(dim=1).detach().numpy().astype(np.float32)
    np.savez_compressed(OUT, attr=track, bases=bases[keep], planted=planted[keep])
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
