"""config/examples/danq.yaml, made runnable on tiny files, plans the whole workflow: targets
from an index range named by target_labels plus a summed group, ISM attribution, and the
filter stage on loci positive for the group (a dry run; the scripts themselves run in
tests/test_model_zoo.py)."""

import re
import shutil

import numpy as np
import pytest
import torch
import yaml

from workflow_helpers import REPO, run_snakemake

pytestmark = pytest.mark.workflow


def test_danq_example_plans_ism_and_filters(tmp_path):
    from motifscope.architectures import DanQ

    rng = np.random.default_rng(0)
    (tmp_path / "genome.fa").write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 3000))
                                        + "\n")
    (tmp_path / "peaks.bed").write_text("chr1\t500\t700\nchr1\t1500\t1700\n")
    (tmp_path / "labels.txt").write_text("".join(f"mark{i}\n" for i in range(13)))
    (tmp_path / "peak_labels.tsv").write_text("idx\tnrsf\n0\t1\n1\t0\n")
    shutil.copy(REPO / "tests/data/motifs.meme", tmp_path / "motifs.meme")
    torch.save(DanQ(n_targets=13, input_length=1000).state_dict(), tmp_path / "danq.pt")
    config = yaml.safe_load((REPO / "config/examples/danq.yaml").read_text())
    config.update(genome="genome.fa", peaks="peaks.bed", motif_db="motifs.meme",
                  target_labels="labels.txt")
    config["model"]["path"] = "danq.pt"
    config["model"]["kwargs"]["n_targets"] = 13
    config["filters"]["influence"]["labels"] = "peak_labels.tsv"
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, "-n", "--quiet", "rules")
    for rule in ("attribute", "filter_pwms", "filter_influence", "report"):
        assert re.search(rf"\n{rule} ", proc.stdout), proc.stdout
    assert "marginalize" not in proc.stdout
    proc = run_snakemake(tmp_path, "-n", "-p", "results/danq/attributions/nrsf.h5",
                         "results/danq/attributions/mark4.h5")
    assert "attribute" in proc.stdout


def test_danq_like_model_runs_end_to_end_with_ism_and_filters(tmp_path):
    """A small DanQ (CNN + BiLSTM) through the real workflow: ISM on a summed target,
    filter PFMs (DanQ rule) from the positive loci, TOMTOM, influence and the report."""
    from motifscope.architectures import DanQ

    rng = np.random.default_rng(1)
    (tmp_path / "genome.fa").write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 4000))
                                        + "\n")
    (tmp_path / "peaks.bed").write_text("".join(f"chr1\t{s}\t{s + 100}\n"
                                                for s in range(300, 3600, 300)))
    (tmp_path / "peak_labels.tsv").write_text("idx\tnrsf\n" + "".join(
        f"{i}\t{i % 2}\n" for i in range(11)))
    shutil.copy(REPO / "tests/data/motifs.meme", tmp_path / "motifs.meme")
    kwargs = {"n_targets": 4, "input_length": 200, "n_filters": 8, "filter_width": 9,
              "pool": 8, "hidden": 4, "dense": 8}
    torch.manual_seed(0)
    torch.save(DanQ(**kwargs).state_dict(), tmp_path / "danq.pt")
    config = yaml.safe_load((REPO / "config/examples/danq.yaml").read_text())
    config.update(genome="genome.fa", peaks="peaks.bed", motif_db="motifs.meme",
                  window=200, device="cpu", targets={"nrsf": [0, 2, 3]})
    del config["target_labels"]
    config["model"].update(path="danq.pt", kwargs=kwargs)
    config["attribution"].update(ism_start=50, ism_end=150, shard_size=100)
    config["filters"]["influence"]["labels"] = "peak_labels.tsv"
    config["stages"] = {"seqlets": False, "fimo": False, "marginalize": False}
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, "--cores", "2")
    run = tmp_path / "results/danq"
    import h5py

    with h5py.File(run / "attributions/nrsf.h5") as handle:
        assert handle.attrs["method"] == "ism" and handle["attr"].shape == (11, 4, 200)
    assert (run / "filters/filters.meme").read_text().count("MOTIF") >= 1
    log = (tmp_path / "logs/danq/filter_pwms.log").read_text()
    assert "5 of 11 loci positive for nrsf" in log
    assert (run / "report.html").exists()
