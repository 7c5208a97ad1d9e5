"""The paper configuration: DragoNN's positional auPRC, the motif scan, DragoNN designs as a
genome, the benchmark script and reproducible paper figures."""

import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from motifscope import benchmark as B
from motifscope.errors import InputError
from motifscope.plot import save_figure
from motifscope.report import figures as F
from report_helpers import REPO

CONSENSUS = {"GATA": "AGATAAGA", "EBOX": "CACGTG"}


def _pwm(seq, top=0.94):
    pwm = np.full((4, len(seq)), (1 - top) / 3)
    for i, c in enumerate(seq):
        pwm["ACGT".index(c), i] = top
    return pwm


MOTIFS = {name: _pwm(seq) for name, seq in CONSENSUS.items()}
DESIGN = {"design": "density_localization", "motif": "GATA", "center_size": 40,
          "min_counts": 1, "max_counts": 3, "num_pos": 30, "num_neg": 30, "gc": 0.4}


# --- motif scan and precision-recall against their references -----------------------------


def _dragonn_scan(X, pwm, gc):
    """DragoNN's get_pssm_scores on log-odds: SciPy correlate2d('same') base by base, the
    reverse complement through the complementary base row and the reversed PWM row."""
    from scipy.signal import correlate2d

    background = 0.5 * np.array([1 - gc, gc, gc, 1 - gc])
    pssm = np.log(pwm) - np.log(background)[:, None]
    X = X.astype(float)
    forward = sum(correlate2d(X[:, b, :], pssm[b][None], mode="same") for b in range(4))
    reverse = sum(correlate2d(X[:, 3 - b, :], pssm[b][None, ::-1], mode="same")
                  for b in range(4))
    return np.maximum(forward, reverse)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["GATA", "EBOX"])
def test_motif_scan_equals_dragonns_scipy_scan(name, random_onehot):
    X = random_onehot(7, 90, seed=3)
    X[2, :, 40:50] = 0  # N bases score 0 in both
    expected = _dragonn_scan(X, MOTIFS[name], 0.4)
    got = B.motif_scan_scores(X, MOTIFS[name], gc_fraction=0.4)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


@pytest.mark.oracle
def test_odd_width_scan_equals_scipy(random_onehot):
    pwm = _pwm("TGACTCA")
    X = random_onehot(4, 50, seed=5)
    np.testing.assert_allclose(B.motif_scan_scores(X, pwm, 0.5), _dragonn_scan(X, pwm, 0.5),
                               rtol=1e-6, atol=1e-5)


@pytest.mark.oracle
def test_precision_recall_and_areas_match_scikit_learn(rng):
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve

    y = rng.random(800) < 0.07
    scores = np.round(rng.normal(size=800) + 1.5 * y, 1)  # many ties
    for ours, theirs in zip(B.precision_recall_curve(y, scores),
                            precision_recall_curve(y, scores)):
        np.testing.assert_allclose(ours, theirs)
    precision, recall, _ = precision_recall_curve(y, scores)
    assert B.pr_auc(y, scores) == pytest.approx(auc(recall, precision), abs=1e-12)
    assert B.average_precision(y, scores) == pytest.approx(average_precision_score(y, scores),
                                                           abs=1e-12)


# --- positional PRC ------------------------------------------------------------------------


def test_window_labels_by_hand():
    instance = pd.DataFrame({"example_idx": [0], "start": [20], "end": [30]})
    labels = B.window_labels(instance, 1, 50, width=10, coverage=0.8)[0]
    assert np.flatnonzero(labels == 1).tolist() == [18, 19, 20, 21, 22]
    assert np.flatnonzero(labels == 0.5).tolist() == [11, 12, 13, 14, 15, 16, 17,
                                                      23, 24, 25, 26, 27, 28, 29]
    assert len(labels) == 41 and labels.sum() == 5 + 0.5 * 14


def _direct_positional_prc(embeddings, scores, coverage=0.8):
    """DragoNN's positionalPRC written out window by window (the reference)."""
    from sklearn.metrics import auc, precision_recall_curve

    out = {}
    length = scores.shape[1]
    for motif, rows in embeddings.groupby("motif"):
        width = int((rows.end - rows.start).max())
        labels, sums = [], []
        for example, own in rows.groupby("example_idx"):
            for start in range(length - width + 1):
                label = 0.0
                for e in own.itertuples():
                    overlap = max(0, min(start + width, e.end) - max(start, e.start))
                    size = e.end - e.start
                    label = max(label, 1.0 if overlap >= coverage * size else
                                0.5 if overlap > 0 else 0.0)
                if label != 0.5:
                    labels.append(label)
                    sums.append(scores[example, start:start + width].sum())
        precision, recall, _ = precision_recall_curve(labels, sums)
        out[motif] = (len(labels), int(sum(labels)), auc(recall, precision))
    return out


@pytest.mark.oracle
def test_positional_prc_equals_the_direct_implementation(rng):
    sim = B.simulate_design(MOTIFS, {**DESIGN, "num_pos": 12, "num_neg": 8}, 80, 4)
    scores = rng.normal(size=(20, 80)) + 2 * B.window_labels(
        sim.embeddings, 20, 80, width=1, coverage=1.0)
    table = B.positional_prc(sim.embeddings, scores, method="m")
    reference = _direct_positional_prc(sim.embeddings, scores)
    for row in table.itertuples():
        n_windows, n_positive, auprc = reference[row.motif]
        assert (row.n_windows, row.n_positive) == (n_windows, n_positive)
        assert row.auprc == pytest.approx(auprc, abs=1e-12)
        assert row.n_sequences == 20  # negatives carry instances too in this design


def test_perfect_and_random_scores(rng):
    sim = B.simulate_design(MOTIFS, DESIGN, 100, 1)
    truth = B.window_labels(sim.embeddings, len(sim.X), 100, width=1, coverage=1.0)
    perfect = B.positional_prc(sim.embeddings, truth).iloc[0]
    assert perfect["auprc"] == pytest.approx(1.0) and perfect["average_precision"] == 1.0
    noise = B.positional_prc(sim.embeddings, rng.normal(size=truth.shape)).iloc[0]
    # a random ranking's auPRC is the positive fraction, up to sampling noise
    assert abs(noise["auprc"] - noise["baseline"]) < 0.05 and noise["baseline"] < 0.1


def test_collapse_rules():
    attr = np.array([[[1.0, -3.0], [0.0, 0.5], [-2.0, 0.0], [0.0, 0.0]]])
    assert B.position_scores(attr, "max").tolist() == [[1.0, 0.5]]
    assert B.position_scores(attr, "max_abs").tolist() == [[2.0, 3.0]]
    assert B.position_scores(attr, "sum").tolist() == [[-1.0, -2.5]]
    with pytest.raises(InputError, match="collapse must be one of"):
        B.position_scores(attr, "mean")


# --- a DragoNN design as a genome -----------------------------------------------------------


def test_design_genome_gives_back_the_design():
    design = {**DESIGN, "num_pos": 20, "num_neg": 12}
    sim = B.simulate_design(MOTIFS, design, 60, random_state=7)
    genome = B.simulate_design_genome(MOTIFS, design, 60, "gata", test_fraction=0.25,
                                      random_state=7, alt_ids={"GATA": "GATA1"})
    assert set(genome.chromosomes) == {"train", "test"}
    assert len(genome.chromosomes["test"]) == 60 * 8  # 5 positives + 3 negatives held out
    regions = genome.regions
    assert list(regions.columns) == ["chrom", "start", "end", "kind", "name", "gata"]
    assert (regions["gata"] == (regions["kind"] == "peak")).all()
    assert regions["name"].is_unique and genome.peaks["name"].is_unique
    windows = sorted(genome.chromosomes[r.chrom][r.start:r.end] for r in regions.itertuples())
    from motifscope.sequence import characters

    assert windows == sorted(characters(x) for x in sim.X)
    peaks = genome.peaks
    assert ((peaks["end"] - peaks["start"]) == 60).all() and (peaks["summit"] == 30).all()
    for row in genome.truth.itertuples():
        assert genome.chromosomes[row.chrom][row.start:row.end] == row.sequence
    assert set(genome.truth["target"]) == {"gata"} and len(genome.truth) == len(sim.embeddings)
    with pytest.raises(InputError, match="simulate.dragonn.motif"):
        B.simulate_design(MOTIFS, {**design, "motif": "nope"}, 60)


def test_select_sequences_balances_peaks_and_negatives():
    regions = pd.DataFrame({"kind": ["peak"] * 10 + ["negative"] * 3, "start": range(13)})
    chosen = B.select_sequences(regions, 8)
    assert (chosen["kind"] == "peak").sum() == 5 and len(chosen) == 8
    assert len(B.select_sequences(regions, 100)) == 13


# --- the benchmark end to end ---------------------------------------------------------------


class MotifDetector(nn.Module):
    """Sums the (ReLU-clipped) log-odds of the GATA motif over the sequence: every instance
    raises the output, so a faithful attribution method lights up all of them."""

    def __init__(self):
        super().__init__()
        pssm = np.log(MOTIFS["GATA"] / 0.25)
        self.conv = nn.Conv1d(4, 2, 8)
        with torch.no_grad():
            self.conv.weight[0] = torch.tensor(pssm, dtype=torch.float32)
            self.conv.weight[1] = torch.tensor(pssm[::-1, ::-1].copy(), dtype=torch.float32)
            self.conv.bias.fill_(-8.0)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.out = nn.Linear(2, 1)
        with torch.no_grad():
            self.out.weight.fill_(1.0)
            self.out.bias.zero_()

    def forward(self, X):
        return self.out(self.flatten(self.pool(self.relu(self.conv(X)))))


def test_benchmark_finds_the_planted_instances():
    sim = B.simulate_design(MOTIFS, {**DESIGN, "num_pos": 12, "num_neg": 12}, 100, 3)
    embeddings = sim.embeddings.assign(target="gata")
    table, curves, scores = B.run_benchmark(MotifDetector(), sim.X, embeddings, MOTIFS,
                                            {"gata": 0}, gc_fraction=0.4, n_shuffles=4,
                                            device="cpu", random_state=0)
    assert sorted(table["method"]) == ["deeplift_shap", "ism", "scan"]
    auprc = table.set_index("method")["auprc"]
    baseline = table["baseline"].iloc[0]
    # the model scores exactly the instances, so both attribution methods rank them first;
    # summed raw log-odds also rise on partial background matches (DragoNN's observation
    # that the scan ranks worse), yet stay well above chance
    assert auprc["ism"] > 0.8 and auprc["deeplift_shap"] > 0.8
    assert auprc["scan"] > 3 * baseline and baseline < 0.1
    assert set(curves) == {("gata", m, "GATA") for m in ("ism", "deeplift_shap", "scan")}
    assert scores[("gata", "ism")].shape == (24, 100)


def test_benchmark_script_writes_reproducible_outputs(tmp_path):
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    import benchmark as script

    from motifscope.io import write_meme
    from motifscope.simulate.genome import write_simulation

    design = {**DESIGN, "num_pos": 16, "num_neg": 16}
    genome = B.simulate_design_genome(MOTIFS, design, 80, "gata", 0.25, random_state=2)
    paths = {k: tmp_path / k for k in ("genome.fa", "peaks.narrowPeak", "truth.tsv",
                                       "regions.tsv")}
    write_simulation(genome, *paths.values())
    write_meme(MOTIFS, tmp_path / "motifs.meme")
    torch.save(MotifDetector().state_dict(), tmp_path / "model.pt")
    spec = {"path": str(tmp_path / "model.pt"), "format": "state_dict",
            "class": f"{__file__}:MotifDetector", "kwargs": {}, "input_length": 80,
            "output": None, "extra_inputs": []}
    settings = {"n_sequences": 10, "n_shuffles": 3, "batch_size": 64, "coverage": 0.8,
                "stride": 1}
    outputs = []
    for attempt in ("a", "b"):
        out = {k: str(tmp_path / attempt / v) for k, v in {
            "table": "positional_prc.tsv", "curves": "pr_curves.tsv", "scores": "scores.h5",
            "prc": "positional_prc.png", "prc_pdf": "positional_prc.pdf",
            "tracks": "tracks.png", "tracks_pdf": "tracks.pdf"}.items()}
        script.main(spec, str(paths["genome.fa"]), str(paths["truth.tsv"]),
                    str(paths["regions.tsv"]), str(tmp_path / "motifs.meme"), {"gata": 0},
                    ["test"], 0.4, settings, "cpu", 0, out)
        outputs.append(out)
    table = pd.read_csv(outputs[0]["table"], sep="\t")
    assert list(table["method"]) == ["ism", "deeplift_shap", "scan"]
    assert (table["n_sequences"] > 0).all() and (table["auprc"] > table["baseline"]).all()
    for key in ("table", "curves", "prc", "prc_pdf", "tracks", "tracks_pdf"):
        with open(outputs[0][key], "rb") as first, open(outputs[1][key], "rb") as second:
            assert first.read() == second.read(), key
    with pytest.raises(InputError, match="simulate.held_out"):
        script.main(spec, str(paths["genome.fa"]), str(paths["truth.tsv"]),
                    str(paths["regions.tsv"]), str(tmp_path / "motifs.meme"), {"gata": 0},
                    ["chr3"], 0.4, settings, "cpu", 0, outputs[0])


def test_paper_table_figures_are_byte_identical(tmp_path):
    tables = {"t<1>": pd.DataFrame({"motif": ["MA1", "MA2"], "motif_alt_id": ["A$x$", ""],
                                    "delta_mean": [0.3, -0.1]})}
    counts = {"t<1>": pd.DataFrame({"cluster": ["A"], "n_seqlets": [4]}),
              "empty": pd.DataFrame({"cluster": [], "n_seqlets": []})}
    for attempt in ("a", "b"):
        save_figure(F.marginalization_figure(tables), tmp_path / attempt / "m")
        save_figure(F.seqlet_annotation_figure(counts), tmp_path / attempt / "s")
    for name in ("m.png", "m.pdf", "s.png", "s.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.workflow
@pytest.mark.parametrize("flags", [(), ("--replace-workflow-config",)],
                         ids=["plain", "replace"])
def test_paper_config_plans_the_benchmark(flags):
    """--configfile replaces the demo config, with or without --replace-workflow-config.

    Snakemake does not pass that flag on to the jobs it submits, so the Snakefile must not
    merge the demo's targets in when it is missing.
    """
    from workflow_helpers import run_snakemake

    proc = run_snakemake(REPO, "-n", "--quiet", "rules", "--configfile",
                         "config/examples/paper.yaml", *flags)
    for rule in ("simulate", "train", "benchmark", "paper_figures", "report", "marginalize",
                 "annotate_seqlets"):
        assert f"\n{rule} " in proc.stdout, proc.stdout
    assert "\nmerge_attributions        1" in proc.stdout  # one target: tal1
