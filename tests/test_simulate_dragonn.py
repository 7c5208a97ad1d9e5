"""Tests for motifscope.simulate.dragonn: DragoNN-style simulations with ground truth."""

import numpy as np
import pytest

from motifscope.errors import InputError
from motifscope.sequence import characters, reverse_complement
from motifscope.simulate import dragonn

# Sharp PWMs (0.97 on the consensus base) so planted sites are recognisable.
CONSENSUS = {"GATA": "AGATAAGA", "EBOX": "CACGTG", "SP": "GGGGCGGGGC"}


def _pwm(seq: str, top: float = 0.97) -> np.ndarray:
    pwm = np.full((4, len(seq)), (1 - top) / 3)
    for i, c in enumerate(seq):
        pwm["ACGT".index(c), i] = top
    return pwm


MOTIFS = {name: _pwm(seq) for name, seq in CONSENSUS.items()}


def _site(sim, row) -> str:
    return characters(sim.X[row.example_idx, :, row.start:row.end])


def _check_embeddings(sim, L):
    """Planted sites are where the table says, on the strand it says, and never overlap."""
    assert list(sim.embeddings.columns) == ["example_idx", "motif", "start", "end", "strand"]
    matches = 0
    for row in sim.embeddings.itertuples():
        assert 0 <= row.start < row.end <= L
        site = _site(sim, row)
        expected = CONSENSUS[row.motif]
        if row.strand == "-":
            expected = reverse_complement(expected)
        # each base matches the consensus with prob 0.97, so mismatches are rare
        matches += sum(a == b for a, b in zip(site, expected)) / len(site)
    assert matches / len(sim.embeddings) > 0.9
    for _, group in sim.embeddings.groupby("example_idx"):
        spans = sorted(zip(group.start, group.end))
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
    assert set(sim.embeddings.strand) == {"+", "-"}


def test_single_motif_detection():
    sim = dragonn.simulate_single_motif_detection("GATA", 200, num_pos=30, num_neg=20,
                                                  random_state=1, motifs=MOTIFS)
    assert sim.X.shape == (50, 4, 200) and sim.X.dtype == np.uint8 and (sim.X.sum(1) == 1).all()
    assert sim.y.shape == (50, 1) and sim.y[:30].all() and not sim.y[30:].any()
    assert sim.targets == ["GATA"]
    assert sorted(sim.embeddings.example_idx) == list(range(30))
    _check_embeddings(sim, 200)


def test_gc_background_fraction():
    tokens = dragonn.gc_background(200, 500, gc_fraction=0.6, random_state=3)
    gc = np.isin(tokens, [1, 2]).mean()
    # 1e5 draws: sd 0.0015
    assert abs(gc - 0.6) < 0.01
    assert np.array_equal(tokens, dragonn.gc_background(200, 500, 0.6, random_state=3))


def test_density_localization_places_positives_in_centre():
    sim = dragonn.simulate_motif_density_localization(
        "EBOX", seq_length=400, center_size=80, min_motif_counts=2, max_motif_counts=4,
        num_pos=40, num_neg=40, random_state=2, motifs=MOTIFS)
    counts = sim.embeddings.groupby("example_idx").size().reindex(range(80), fill_value=0)
    assert counts.between(2, 4).all() and set(counts) == {2, 3, 4}
    pos = sim.embeddings[sim.embeddings.example_idx < 40]
    neg = sim.embeddings[sim.embeddings.example_idx >= 40]
    assert (pos.start >= 160).all() and (pos.end <= 240).all()
    assert ((neg.start < 160) | (neg.end > 240)).mean() > 0.5
    _check_embeddings(sim, 400)


def test_heterodimer_grammar_spacing_and_order():
    sim = dragonn.simulate_heterodimer_grammar("GATA", "SP", 150, min_spacing=2, max_spacing=5,
                                               num_pos=50, num_neg=30, random_state=4,
                                               motifs=MOTIFS)
    assert sim.targets == ["GATA+SP"] and sim.y.sum() == 50
    gaps = []
    for idx, group in sim.embeddings.groupby("example_idx"):
        assert sorted(group.motif) == ["GATA", "SP"]
        if idx < 50:
            first, second = group.iloc[0], group.iloc[1]
            assert first.motif == "GATA"
            gaps.append(second.start - first.end)
    assert set(gaps) == {2, 3, 4, 5}
    _check_embeddings(sim, 150)


def test_counting_and_multi_motif_labels():
    sim = dragonn.simulate_motif_counting("SP", 300, pos_counts=(3, 5), neg_counts=(0, 1),
                                          num_pos=20, num_neg=20, random_state=5, motifs=MOTIFS)
    counts = sim.embeddings.groupby("example_idx").size().reindex(range(40), fill_value=0)
    assert counts[:20].between(3, 5).all() and counts[20:].between(0, 1).all()
    multi = dragonn.simulate_multi_motif_embedding(["GATA", "EBOX", "SP"], 200, 1, 2, 60,
                                                   random_state=6, motifs=MOTIFS)
    assert multi.y.shape == (60, 3) and multi.targets == ["GATA", "EBOX", "SP"]
    present = np.zeros((60, 3))
    for row in multi.embeddings.itertuples():
        present[row.example_idx, multi.targets.index(row.motif)] = 1
    assert np.array_equal(present, multi.y)
    assert set(multi.y.sum(1)) == {1, 2}
    _check_embeddings(multi, 200)


def test_deterministic_by_random_state():
    kw = dict(seq_length=120, num_pos=10, num_neg=10, motifs=MOTIFS)
    a = dragonn.simulate_single_motif_detection("GATA", random_state=7, **kw)
    b = dragonn.simulate_single_motif_detection("GATA", random_state=7, **kw)
    c = dragonn.simulate_single_motif_detection("GATA", random_state=8, **kw)
    assert np.array_equal(a.X, b.X) and a.embeddings.equals(b.embeddings)
    assert not np.array_equal(a.X, c.X)


def test_pwm_array_input_and_errors():
    sim = dragonn.simulate_single_motif_detection(MOTIFS["EBOX"], 50, 3, 0, random_state=0)
    assert sim.targets == ["motif"]
    with pytest.raises(InputError, match="not in the motif set"):
        dragonn.simulate_single_motif_detection("NOPE", 50, 3, 0, motifs=MOTIFS)
    with pytest.raises(InputError, match="does not fit"):
        dragonn.simulate_single_motif_detection("SP", 8, 3, 0, motifs=MOTIFS)
    with pytest.raises(InputError, match="without overlap"):
        dragonn.simulate_motif_counting("SP", 25, (3, 3), (0, 0), 2, 0, motifs=MOTIFS)
    with pytest.raises(InputError, match="center_size"):
        dragonn.simulate_motif_density_localization("SP", 50, 0, 1, 1, 1, 1, motifs=MOTIFS)


def test_to_genome_simulation_round_trips_through_extract_loci(tmp_path):
    from motifscope.io import extract_loci, read_peaks
    from motifscope.simulate.genome import write_simulation

    sim = dragonn.simulate_heterodimer_grammar("GATA", "SP", 60, 1, 3, num_pos=6, num_neg=4,
                                               random_state=9, motifs=MOTIFS)
    genome = dragonn.to_genome_simulation(sim, alt_ids={"GATA": "GATA1"})
    assert len(genome.chromosomes) == 10 and len(genome.peaks) == 6
    assert list(genome.regions.kind) == ["peak"] * 6 + ["negative"] * 4
    assert (genome.truth.motif_alt_id[genome.truth.motif_id == "GATA"] == "GATA1").all()
    for row in genome.truth.itertuples():
        assert genome.chromosomes[row.chrom][row.start:row.end] == row.sequence
    names = ("genome.fa", "peaks.narrowPeak", "truth.tsv", "regions.tsv")
    paths = {k: tmp_path / k for k in names}
    write_simulation(genome, *paths.values())
    loci, X = extract_loci(read_peaks(paths["peaks.narrowPeak"]), str(paths["genome.fa"]),
                           window=60)
    order = [int(name.split("_")[1]) for name in loci["chrom"]]
    assert np.array_equal(X, sim.X[order])
