"""Training the demo model: determinism, and the demo config's held-out auROC >= 0.9."""

import numpy as np
import pytest
import torch
import yaml

from motifscope.io import jaspar_motifs, open_fasta
from motifscope.io.loci import iter_onehot
from motifscope.simulate import PlantedMotif, simulate_genome, write_simulation
from motifscope.train import split_regions, train_demo_model
from workflow_helpers import REPO


def _simulated_training_data(tmp_path, config, jitter):
    motifs, _ = jaspar_motifs(config["motif_db"])
    sim_cfg = config["simulate"]
    planted = [PlantedMotif(m["id"], m["target"], m["peaks"], tuple(m["copies"]))
               for m in sim_cfg["motifs"]]
    sim = simulate_genome(motifs, planted, sim_cfg["chromosomes"], window=config["window"],
                          gc=sim_cfg["gc"], spread=sim_cfg["spread"],
                          negatives=sim_cfg["negatives"], cooccurrence=sim_cfg["cooccurrence"],
                          random_state=config["random_state"])
    paths = [tmp_path / n for n in ("g.fa", "p.bed", "t.tsv", "r.tsv")]
    write_simulation(sim, *paths)
    wide = sim.regions.assign(start=sim.regions["start"] - jitter,
                              end=sim.regions["end"] + jitter)
    X = np.concatenate([x for _, x in iter_onehot(wide, open_fasta(paths[0]))])
    y = sim.regions[list(config["targets"])].to_numpy()
    return X, y, split_regions(sim.regions, sim_cfg["held_out"])


def test_training_is_deterministic(random_onehot):
    X = random_onehot(n=64, length=60, seed=1)
    y = (X[:, 0, 20:40].sum(axis=1) > 5).astype(int)[:, None]
    runs = [train_demo_model(X, y, X, y, input_length=52, jitter=4, epochs=2,
                             model_kwargs={"n_filters": 4, "filter_width": 5}, random_state=3)
            for _ in range(2)]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert runs[0].card == runs[1].card


@pytest.mark.workflow
def test_demo_config_model_reaches_auroc_0_9(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    train_cfg = {"jitter": 40, "epochs": 15, "batch_size": 64, "learning_rate": 3e-3,
                 "n_filters": 64, "filter_width": 19} | config.get("train", {})
    config["simulate"] = {"gc": 0.41, "spread": 60, "cooccurrence": 0.15} | config["simulate"]
    X, y, (train, test) = _simulated_training_data(tmp_path, config, train_cfg["jitter"])
    result = train_demo_model(X[train], y[train], X[test], y[test],
                              input_length=config["window"], jitter=train_cfg["jitter"],
                              epochs=train_cfg["epochs"], batch_size=train_cfg["batch_size"],
                              learning_rate=train_cfg["learning_rate"],
                              model_kwargs={"n_filters": train_cfg["n_filters"],
                                            "filter_width": train_cfg["filter_width"]},
                              random_state=config["random_state"])
    assert min(result.card["auroc"]) >= 0.9, result.card["auroc"]
