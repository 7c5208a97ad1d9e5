"""Tests for motifscope.marginalize: backgrounds, motif instances, one-motif and database runs."""

import numpy as np
import pandas as pd
import pytest
import torch

from motifscope import marginalize as mg
from motifscope.errors import InputError
from motifscope.sequence import characters

PLANTED = {"MA0139.2": "CTCF", "MA0080.7": "SPI1"}
ABSENT = "MA0106.3"  # TP53: never planted


@pytest.fixture(scope="module")
def jaspar():
    from motifscope.io import jaspar_motifs

    return jaspar_motifs("jaspar:2024:CORE:vertebrates")


class _TwoLayerCNN(torch.nn.Sequential):
    """Basset-like: conv(32, k19) ReLU maxpool(4) conv(32, k5) ReLU maxpool(4) dense(32) ReLU."""

    def __init__(self, length: int, n_targets: int):
        nn = torch.nn
        super().__init__(nn.Conv1d(4, 32, 19, padding=9), nn.ReLU(), nn.MaxPool1d(4),
                         nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(4),
                         nn.Flatten(), nn.Linear(32 * (length // 16), 32), nn.ReLU(),
                         nn.Linear(32, n_targets))


@pytest.fixture(scope="module")
def trained(jaspar):
    """A small CNN trained on a DragoNN multi-motif simulation: target k <-> planted motif k.

    2,000 sequences of 80 bp with 0..2 of {CTCF, SPI1} sampled from their JASPAR PWMs on a
    GC 0.4 background, random strand flips; ten epochs reach held-out auROC > 0.95 on both
    targets (about 15 s of CPU time).
    """
    from motifscope.simulate import dragonn

    motifs, _ = jaspar
    planted = {k: motifs[k] for k in PLANTED}
    sim = dragonn.simulate_multi_motif_embedding(list(planted), 80, 0, 2, 2000, gc_fraction=0.4,
                                                 random_state=0, motifs=planted)
    torch.manual_seed(0)
    model = _TwoLayerCNN(80, 2)
    X, y = torch.from_numpy(sim.X).float(), torch.from_numpy(sim.y)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        order = torch.randperm(len(X), generator=gen)
        for lo in range(0, len(X), 32):
            idx = order[lo:lo + 32]
            xb = X[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(1, 2)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


class _SmallCNN(torch.nn.Module):
    """conv -> ReLU -> max-pool -> linear, nonlinearities as modules (DeepLIFT-friendly)."""

    def __init__(self, length: int, n_targets: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(4, 6, 7, padding=3)
        self.relu = torch.nn.ReLU()
        self.pool = torch.nn.MaxPool1d(4)
        self.out = torch.nn.Linear(6 * (length // 4), n_targets)

    def forward(self, X):
        return self.out(self.pool(self.relu(self.conv(X))).flatten(1))


class _Linear(torch.nn.Module):
    """A tiny deterministic model: conv -> global max -> linear (two outputs)."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv1d(4, 3, 5)
        self.out = torch.nn.Linear(3, 2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))

    def forward(self, X):
        return self.out(self.conv(X).amax(dim=-1))


# ------------------------------------------------------------------ motif instances


def test_consensus_and_one_hot_passthrough():
    pwm = np.array([[0.7, 0.1, 0.0], [0.1, 0.1, 0.0], [0.1, 0.7, 0.0], [0.1, 0.1, 0.0]])
    assert characters(mg.consensus(pwm)) == "AGN"
    inst = mg.motif_instances("ACGT", 5, instance="sampled")
    assert inst.shape == (1, 4, 4) and characters(inst[0]) == "ACGT"


def test_sampled_instances_follow_pwm_and_are_seeded_by_name():
    pwm = np.array([[0.7, 0.25], [0.1, 0.25], [0.1, 0.25], [0.1, 0.25]])
    samples = mg.sample_instances(pwm, 20000, random_state=3, name="m1")
    assert samples.shape == (20000, 4, 2) and (samples.sum(1) == 1).all()
    # 20k draws: binomial sd <= 0.0035, tolerance > 4 sd
    assert np.abs(samples.mean(0) - pwm).max() < 0.015
    again = mg.sample_instances(pwm, 20000, random_state=3, name="m1")
    other = mg.sample_instances(pwm, 20000, random_state=3, name="m2")
    assert np.array_equal(samples, again) and not np.array_equal(samples, other)


# ------------------------------------------------------------------ backgrounds


def _genome():
    rng = np.random.default_rng(5)
    probs = [0.15, 0.35, 0.35, 0.15]  # GC 70%
    chroms = {f"chr{k}": "".join(rng.choice(list("ACGT"), size=20000, p=probs)) for k in (1, 2)}
    chroms["chr2"] = chroms["chr2"][:5000] + "N" * 2000 + chroms["chr2"][7000:]
    return chroms


def test_uniform_and_composition_backgrounds():
    uniform = mg.make_backgrounds("uniform", 200, 100, random_state=1)
    assert uniform.shape == (200, 4, 100) and uniform.dtype == np.uint8
    assert (uniform.sum(1) == 1).all()
    assert np.abs(uniform.mean(axis=(0, 2)) - 0.25).max() < 0.015  # 20k draws
    assert np.array_equal(uniform, mg.make_backgrounds("uniform", 200, 100, random_state=1))
    genome = _genome()
    composition = mg.genome_composition(genome)
    assert np.abs(composition - [0.15, 0.35, 0.35, 0.15]).max() < 0.01  # 38k bases
    matched = mg.make_backgrounds("composition", 200, 100, random_state=1, genome=genome)
    assert np.abs(matched.mean(axis=(0, 2)) - composition).max() < 0.015


def test_genomic_backgrounds_avoid_peaks_and_n():
    genome = _genome()
    peaks = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [1000, 9000],
                          "end": [8000, 19000]})
    windows = mg.make_backgrounds("genomic", 50, 200, random_state=2, genome=genome, peaks=peaks)
    assert windows.shape == (50, 4, 200) and (windows.sum(1) == 1).all()
    texts = {c: s for c, s in genome.items()}
    for w in windows:
        seq = characters(w)
        hits = [(c, texts[c].find(seq)) for c in texts if seq in texts[c]]
        assert hits, "window not from the genome"
        chrom, lo = hits[0]
        if chrom == "chr1":
            assert lo + 200 <= 1000 or 8000 <= lo <= 9000 - 200 or lo >= 19000
    with pytest.raises(InputError, match="needs the genome"):
        mg.make_backgrounds("genomic", 5, 100)


def test_shuffled_peak_backgrounds_keep_dinucleotides(random_onehot, tmp_path):
    import h5py

    X_peaks = random_onehot(n=30, length=120, seed=4)
    bg = mg.make_backgrounds("shuffled_peaks", 40, 100, random_state=3, X_peaks=X_peaks)
    assert bg.shape == (40, 4, 100)
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5.create_dataset("X", data=X_peaks)
    with h5py.File(tmp_path / "onehot.h5", "r") as h5:  # lazily read: same backgrounds
        assert np.array_equal(bg, mg.make_backgrounds("shuffled_peaks", 40, 100, random_state=3,
                                                      X_peaks=h5["X"]))
    crops = {characters(x[:, 10:110]) for x in X_peaks}

    def dinucs(s):
        return sorted(s[i:i + 2] for i in range(len(s) - 1))

    by_counts = {tuple(dinucs(c)): c for c in crops}
    for b in bg:
        s = characters(b)
        assert tuple(dinucs(s)) in by_counts and s not in crops
        assert by_counts[tuple(dinucs(s))][0] == s[0]


def test_background_errors(random_onehot):
    X_peaks = random_onehot(n=3, length=50, seed=1)
    X_peaks[1, :, 20] = 0
    with pytest.raises(InputError, match=r"has N .*peak index 1") as info:
        mg.make_backgrounds("shuffled_peaks", 3, 50, X_peaks=X_peaks, random_state=0)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="unknown; use one of uniform"):
        mg.make_backgrounds("gc_matched", 3, 50)
    with pytest.raises(InputError, match="needs the peak windows"):
        mg.make_backgrounds("shuffled_peaks", 3, 50)


# ------------------------------------------------------------------ one motif


@pytest.mark.oracle
def test_marginalize_equals_tangermeme(random_onehot):
    from tangermeme.marginalize import marginalize as tm_marginalize
    from tangermeme.predict import predict as tm_predict

    model = _Linear().eval()
    X = torch.from_numpy(random_onehot(n=16, length=40, seed=8)).float()
    for start in (None, 3):
        ours = mg.marginalize(model, X, "GATTACA", start=start, device="cpu")
        theirs = tm_marginalize(model, X, "GATTACA", start=start, func=tm_predict, device="cpu")
        assert torch.allclose(ours.y_before, theirs.y_before, atol=1e-6)
        assert torch.allclose(ours.y_after, theirs.y_after, atol=1e-6)
        assert ours.end - ours.start == 7


def test_marginalize_errors(random_onehot):
    model = _Linear().eval()
    X = random_onehot(n=2, length=10, seed=1)
    with pytest.raises(InputError, match="longer than the background"):
        mg.marginalize(model, X, "ACGTACGTACGT")
    with pytest.raises(InputError, match="func 'ism2' is unknown"):
        mg.marginalize(model, X, "ACG", func="ism2")
    with pytest.raises(InputError, match="instance 'best'"):
        mg.marginalize(model, X, np.full((4, 3), 0.25), instance="best")


def test_marginalize_attribution_span_delta(random_onehot):
    """With an attribution function, span_delta sums the change over the motif span only."""

    def grad_times_input(model, X, target=0, **kwargs):
        X = torch.as_tensor(X).float().requires_grad_(True)
        model(X)[:, target].sum().backward()
        return (X.grad * X).detach()

    model = _Linear().eval()
    X = torch.from_numpy(random_onehot(n=6, length=30, seed=2)).float()
    res = mg.marginalize(model, X, "ACGTA", func=grad_times_input, start=10)
    assert res.y_before.shape == (6, 4, 30)
    expected = (res.y_after - res.y_before)[:, :, 10:15].sum(dim=(1, 2))
    assert torch.allclose(res.span_delta(), expected)


# ------------------------------------------------------------------ every motif


def test_marginalize_motifs_matches_per_motif_loop_and_chunking(random_onehot, monkeypatch):
    model = _Linear().eval()
    bg = mg.make_backgrounds("uniform", 12, 30, random_state=0)
    rng = np.random.default_rng(0)
    motifs = {f"m{k}": rng.dirichlet(np.ones(4), size=int(w)).T for k, w in enumerate([5, 8, 3, 6])}
    table = mg.marginalize_motifs(model, bg, motifs, target_names=["a", "b"], instance="sampled",
                                  random_state=4, device="cpu")
    assert list(table.columns) == mg.TABLE_COLUMNS and len(table) == 8
    for name, pwm in motifs.items():
        res = mg.marginalize(model, bg, mg.sample_instances(pwm, 12, 4, name), device="cpu")
        delta = res.delta.numpy()
        for t, target in enumerate(["a", "b"]):
            row = table[(table.motif == name) & (table.target == target)].iloc[0]
            assert row.delta_mean == pytest.approx(delta[:, t].mean(), abs=1e-5)
            assert row.delta_sd == pytest.approx(delta[:, t].std(ddof=1), abs=1e-5)
            assert row.n == 12
    for target in ("a", "b"):
        means = table[table.target == target].delta_mean.to_numpy()
        assert (np.diff(means) <= 0).all()
    monkeypatch.setattr(mg, "_MAX_CHUNK_SEQUENCES", 12)  # one motif per chunk
    again = mg.marginalize_motifs(model, bg, motifs, target_names=["a", "b"], instance="sampled",
                                  random_state=4, device="cpu")
    pd.testing.assert_frame_equal(table, again)


def test_marginalize_motifs_bad_input():
    model = _Linear().eval()
    bg = mg.make_backgrounds("uniform", 4, 10, random_state=0)
    with pytest.raises(InputError, match="motif 'long' .* longer than the backgrounds"):
        mg.marginalize_motifs(model, bg, {"ok": "ACG", "long": "A" * 11})
    with pytest.raises(InputError, match="2 outputs but 1 target names"):
        mg.marginalize_motifs(model, bg, {"ok": "ACG"}, target_names=["x"])
    with pytest.raises(InputError, match="target 'late' is output 2 but the model has 2"):
        mg.marginalize_motifs(model, bg, {"ok": "ACG"}, targets={"early": 0, "late": 2})
    with pytest.raises(InputError, match="func 'ism' is unknown"):
        mg.marginalize_motifs(model, bg, {"ok": "ACG"}, func="ism")


def test_marginalize_motifs_targets_mapping_selects_and_names_outputs():
    model = _Linear().eval()
    bg = mg.make_backgrounds("uniform", 6, 20, random_state=0)
    motifs = {"m": "ACGTAC", "n": "GGGCCC"}
    full = mg.marginalize_motifs(model, bg, motifs, target_names=["a", "b"])
    picked = mg.marginalize_motifs(model, bg, motifs, targets={"second": 1})
    assert set(picked.target) == {"second"}
    expected = full[full.target == "b"].drop(columns="target").reset_index(drop=True)
    pd.testing.assert_frame_equal(picked.drop(columns="target"), expected)


def test_planted_motifs_rank_first_and_absent_motif_is_flat(trained, jaspar):
    """All JASPAR CORE vertebrates (879) on 20 uniform backgrounds with the DragoNN-trained CNN.

    Each target's top motif must be its planted motif or a same-family paralog (JASPAR has
    three CTCF matrices), the planted motif must be in the top 3, and TP53 (never planted)
    must move the logit by less than 5% of the planted motif's effect.
    """
    motifs, info = jaspar
    family = dict(zip(info["id"], info["tf_family"]))
    bg = mg.make_backgrounds("uniform", 20, 80, random_state=1)
    table = mg.marginalize_motifs(trained, bg, motifs, target_names=list(PLANTED.values()),
                                  device="cpu")
    assert len(table) == 2 * len(motifs)
    for motif_id, target in PLANTED.items():
        rows = table[table.target == target].reset_index(drop=True)
        assert family[rows.motif[0]] == family[motif_id]
        assert motif_id in set(rows.motif[:3])
        effect = rows.set_index("motif").delta_mean
        assert effect[motif_id] > 1.0
        assert abs(effect[ABSENT]) < 0.05 * effect[motif_id]
    # the plot shows both ends and is reproducible
    fig = mg.plot_marginalization(table, "CTCF", top=5)
    assert len(fig.axes[0].patches) == 10


def test_marginalize_motifs_attribution_columns_match_single_runs(monkeypatch):
    """func="deep_lift_shap": attr_delta_* equal marginalize(...).span_delta() per motif,
    whatever the chunking (references are seeded by background index)."""
    model = _SmallCNN(48).eval()
    bg = mg.make_backgrounds("uniform", 5, 48, random_state=2)
    motifs = {"a": "ACGTACGTAC", "b": "TTGACGTCAA"}
    kwargs = dict(func="deep_lift_shap", device="cpu", n_shuffles=3, random_state=7)
    table = mg.marginalize_motifs(model, bg, motifs, targets=[1], **kwargs)
    assert list(table.columns) == mg.TABLE_COLUMNS + mg.ATTRIBUTION_COLUMNS
    assert set(table.target) == {"target_1"}
    for name, motif in motifs.items():
        res = mg.marginalize(model, bg, motif, target=1, example_ids=np.arange(5), **kwargs)
        span = res.span_delta().double().numpy()
        row = table[table.motif == name].iloc[0]
        assert row.attr_delta_mean == pytest.approx(span.mean(), abs=1e-5)
        assert row.attr_delta_sd == pytest.approx(span.std(ddof=1), abs=1e-5)
    monkeypatch.setattr(mg, "_MAX_CHUNK_SEQUENCES", 5)
    pd.testing.assert_frame_equal(table, mg.marginalize_motifs(model, bg, motifs, targets=[1],
                                                               **kwargs))


# ------------------------------------------------------------------ workflow script


def _script():
    import importlib.util
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    sys.path.insert(0, str(scripts))
    spec = importlib.util.spec_from_file_location("marginalize_script", scripts / "marginalize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("background", ["composition", "shuffled_peaks"])
def test_workflow_script_writes_sorted_tables_and_plots(tmp_path, random_onehot, background):
    import h5py

    from motifscope.architectures import DemoCNN
    from motifscope.io import MotifInfo, MotifSet, write_meme
    from motifscope.simulate.genome import write_fasta

    torch.manual_seed(0)
    kwargs = {"n_targets": 2, "input_length": 64, "n_filters": 4, "n_filters2": 4}
    torch.save(DemoCNN(**kwargs).state_dict(), tmp_path / "model.pt")
    spec = {"path": str(tmp_path / "model.pt"), "format": "state_dict",
            "class": "motifscope.architectures.DemoCNN", "kwargs": kwargs, "input_length": 64}
    rng = np.random.default_rng(1)
    motifs = MotifSet({f"M{k}": rng.dirichlet(np.ones(4), size=6 + k).T for k in range(4)},
                      info={f"M{k}": MotifInfo(f"M{k}", alt_id=f"TF{k}") for k in range(4)})
    write_meme(motifs, tmp_path / "db.meme")
    write_fasta({"chr1": "".join(rng.choice(list("ACGT"), 3000))}, tmp_path / "genome.fa")
    (tmp_path / "peaks.bed").write_text("chr1\t100\t200\n")
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5.create_dataset("X", data=random_onehot(n=10, length=64, seed=3))
    settings = {"background": background, "n_backgrounds": 8, "motifs": ["M0", "tf2", "M3"],
                "instance": "consensus", "func": "predict", "batch_size": None, "plot_top": 2}
    tables = [str(tmp_path / f"out/{t}.tsv") for t in ("up", "down")]
    plots = [str(tmp_path / f"out/{t}.png") for t in ("up", "down")]
    script = _script()
    script.main(model_spec=spec, motif_file=str(tmp_path / "db.meme"),
                genome=str(tmp_path / "genome.fa"), peaks=str(tmp_path / "peaks.bed"),
                onehot=str(tmp_path / "onehot.h5"), targets={"up": 1, "down": 0},
                settings=settings, batch_size=16, device="cpu", random_state=0, n_shuffles=2,
                tables=tables, plots=plots)
    for table, plot in zip(tables, plots):
        frame = pd.read_csv(table, sep="\t")
        assert list(frame.columns) == ["motif", "motif_alt_id", "delta_mean", "delta_sd", "n", "z"]
        assert sorted(frame.motif) == ["M0", "M2", "M3"] and (frame.n == 8).all()
        assert (np.diff(frame.delta_mean) <= 0).all()
        assert plot.endswith(".png") and _nonempty(plot) and _nonempty(plot[:-4] + ".pdf")
    with pytest.raises(InputError, match="marginalize.motifs: 'NOPE'"):
        script.select_motifs(motifs, ["M1", "NOPE"], "marginalize.motifs")


def _nonempty(path) -> bool:
    from pathlib import Path

    return Path(path).is_file() and Path(path).stat().st_size > 0


@pytest.mark.workflow
def test_demo_run_ranks_planted_motifs_first(tiny_run):
    """The workflow's marginalize tables on the tiny demo (CTCF -> ctcf, Spi1 -> spi1 planted,
    31 JASPAR motifs, 100 composition-matched backgrounds).

    Always: the table contract (columns, every motif once, n, sorted by effect). For each
    target the tiny model learned (held-out auROC >= 0.9 in model.json): the planted motif
    is the top motif, the other planted motif is not in the top 3, and motifs absent from the
    simulation (the GATA family) move the output by less than 15% of the planted motif's
    effect.
    """
    import json
    from pathlib import Path

    results = Path(tiny_run) / "results" / "tiny"
    card = json.loads((results / "model" / "model.json").read_text())
    planted = {"ctcf": "MA0139.2", "spi1": "MA0080.7"}
    gata = ["MA0035.5", "MA0036.4", "MA0482.3", "MA0037.5", "MA0766.3", "MA1104.3"]
    unlearned = []
    for target, motif in planted.items():
        table = pd.read_csv(results / "marginalize" / f"{target}.tsv", sep="\t")
        assert list(table.columns) == ["motif", "motif_alt_id", "delta_mean", "delta_sd", "n",
                                       "z"]
        assert table.motif.is_unique and len(table) == 31 and (table.n == 100).all()
        assert (np.diff(table.delta_mean) <= 0).all()
        assert (results / "marginalize" / f"{target}.png").stat().st_size > 0
        if card["auroc"][target] < 0.9:
            unlearned.append(f"{target} (auROC {card['auroc'][target]:.2f})")
            continue
        assert table.motif.iloc[0] == motif
        other = next(m for t, m in planted.items() if t != target)
        assert other not in set(table.motif[:3])
        effect = table.set_index("motif").delta_mean
        assert (effect[gata].abs() < 0.15 * effect[motif]).all()
    # (with the tiny config's seed the model learns ctcf but not spi1, auROC 0.75; the
    # ranking on a model that learned both is test_planted_motifs_rank_first_and_...)
    if len(unlearned) == len(planted):
        pytest.skip("ranking not checked: the tiny demo model did not learn "
                    + ", ".join(unlearned))
