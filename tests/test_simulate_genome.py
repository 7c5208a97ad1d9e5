import numpy as np
import pytest

from motifscope.errors import InputError
from motifscope.sequence import reverse_complement
from motifscope.simulate import PlantedMotif, simulate_genome

MOTIFS = {"M1": np.array([[0.97, 0.01, 0.01, 0.01]] * 8).T[[0, 1, 2, 3]],
          "M2": np.eye(4)[:, [2, 2, 1, 0, 3, 3]] * 0.97 + 0.0075}
MOTIFS["M1"] = np.tile(np.array([[0.97], [0.01], [0.01], [0.01]]), (1, 8))


def _simulate(**kw):
    args = dict(motifs=MOTIFS,
                planted=[PlantedMotif("M1", "t1", 10, (1, 2)), PlantedMotif("M2", "t2", 8, (2, 3))],
                chromosomes={"a": 20000, "b": 15000}, window=200, negatives=12,
                random_state=7)
    args.update(kw)
    return simulate_genome(**args)


def test_truth_sites_are_in_the_genome_and_near_summits():
    sim = _simulate()
    assert len(sim.peaks) == 18 and (sim.regions["kind"] == "negative").sum() == 12
    for row in sim.truth.itertuples():
        planted = sim.chromosomes[row.chrom][row.start:row.end]
        assert planted == row.sequence
        peak = sim.peaks[sim.peaks["name"] == row.peak].iloc[0]
        summit = peak.start + peak.summit
        assert summit - 60 <= row.start and row.end <= summit + 60
    counts = sim.truth.groupby("peak").size()
    assert counts.min() >= 1


def test_labels_follow_the_planted_drivers():
    sim = _simulate(cooccurrence=0.0)
    peaks = sim.regions[sim.regions["kind"] == "peak"].set_index("name")
    for peak, sites in sim.truth.groupby("peak"):
        assert set(sites["target"]) == {t for t in ("t1", "t2") if peaks.loc[peak, t] == 1}
    assert (sim.regions[sim.regions["kind"] == "negative"][["t1", "t2"]] == 0).all().all()
    # minus-strand sites are reverse complements of a PWM draw: M2 is mostly GGCATT
    minus = sim.truth[(sim.truth["motif_id"] == "M2") & (sim.truth["strand"] == "-")]
    assert (minus["sequence"].map(reverse_complement) == "GGCATT").mean() > 0.5


def test_deterministic_and_gc():
    a, b = _simulate(), _simulate()
    assert a.chromosomes == b.chromosomes and a.truth.equals(b.truth)
    gc = _simulate(gc=0.6, planted=[PlantedMotif("M1", "t1", 1)], negatives=0)
    seq = gc.chromosomes["a"]
    assert abs((seq.count("G") + seq.count("C")) / len(seq) - 0.6) < 0.02


def test_bad_plans():
    with pytest.raises(InputError, match="not in the motif database"):
        _simulate(planted=[PlantedMotif("NOPE", "t")])
    with pytest.raises(InputError, match="holds only"):
        _simulate(chromosomes={"a": 3000})
    with pytest.raises(InputError, match="spread"):
        _simulate(spread=150)


def test_a_distractor_is_planted_independently_of_the_labels():
    plain = _simulate(cooccurrence=0.0)
    sim = _simulate(cooccurrence=0.0, planted=[PlantedMotif("M1", "t1", 10, (1, 2)),
                                               PlantedMotif("M2", None, 15, (1, 1))])
    assert sim.targets == ["t1"] and list(sim.regions.columns[-1:]) == ["t1"]
    decoys = sim.truth[sim.truth["motif_id"] == "M2"]
    assert len(decoys) == 15 and set(decoys["target"]) == {""}
    kinds = set(sim.regions.set_index("name").loc[decoys["peak"], "kind"])
    assert kinds == {"peak", "negative"}  # 15 of 22 regions: both kinds, by design
    for row in decoys.itertuples():
        assert sim.chromosomes[row.chrom][row.start:row.end] == row.sequence
    regions = sim.regions.set_index("name")
    drivers = sim.truth[sim.truth["motif_id"] == "M1"]
    assert (regions.loc[drivers["peak"], "t1"] == 1).all()
    assert regions["t1"].sum() == 10  # the distractor makes no region positive
    assert len(plain.peaks) == 18 and len(sim.peaks) == 10


def test_only_distractors_is_an_error():
    with pytest.raises(InputError, match="at least one"):
        _simulate(planted=[PlantedMotif("M2", None, 3, (1, 1))])
