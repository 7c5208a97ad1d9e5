"""Rule simulate: a genome with database motifs planted in peaks, and its truth table.

With ``simulate.kind: dragonn`` the genome is a DragoNN design instead (the paper figures):
two contigs, ``train`` and the held-out ``test``, with the sequences laid end to end.
"""

from _common import run
from motifscope.evaluation import simulate_design_genome
from motifscope.errors import InputError
from motifscope.io import read_meme
from motifscope.simulate import PlantedMotif, simulate_genome, write_simulation


def dragonn_genome(motifs, params: dict, window: int, targets: list, random_state: int):
    """simulate.kind dragonn: the design of simulate.dragonn, labelled as the one target."""
    design = params["dragonn"]
    if len(targets) != 1:
        raise InputError(f"config key targets: simulate.kind dragonn simulates one label, got "
                         f"{len(targets)} targets; give exactly one")
    if not design.get("motif"):
        raise InputError("config key simulate.dragonn.motif is required for simulate.kind "
                         "dragonn; give a motif id of the motif database")
    if list(params["held_out"]) != ["test"]:
        raise InputError("config key simulate.held_out must be [test] for simulate.kind "
                         "dragonn (the held-out contig of the design)")
    return simulate_design_genome(motifs, {**design, "gc": params["gc"]}, window, targets[0],
                                  test_fraction=design["test_fraction"],
                                  random_state=random_state,
                                  alt_ids={i: motifs.alt_id(i) for i in motifs})


def main(motif_file: str, params: dict, window: int, random_state: int, out: dict,
         targets: list | None = None) -> None:
    motifs = read_meme(motif_file)
    if params.get("kind", "planted") == "dragonn":
        sim = dragonn_genome(motifs, params, window, list(targets or []), random_state)
        write_simulation(sim, out["genome"], out["peaks"], out["truth"], out["regions"])
        print(f"DragoNN {params['dragonn']['design']}: {len(sim.peaks)} peaks, "
              f"{len(sim.truth)} planted sites, {len(sim.regions)} sequences")
        return
    planted = [PlantedMotif(id=m["id"], target=m["target"], peaks=m["peaks"],
                            copies=tuple(m["copies"])) for m in params["motifs"]]
    sim = simulate_genome(motifs, planted, params["chromosomes"], window=window, gc=params["gc"],
                          spread=params["spread"], peak_width=params["peak_width"],
                          negatives=params["negatives"], cooccurrence=params["cooccurrence"],
                          random_state=random_state,
                          alt_ids={i: motifs.alt_id(i) for i in motifs})
    write_simulation(sim, out["genome"], out["peaks"], out["truth"], out["regions"])
    print(f"{len(sim.peaks)} peaks, {len(sim.truth)} planted sites, "
          f"{(sim.regions['kind'] == 'negative').sum()} negative regions")


if "snakemake" in globals():
    run(main, snakemake, motif_file=snakemake.input.motifs, params=snakemake.params.simulate,
        window=snakemake.params.window, random_state=snakemake.params.random_state,
        out=dict(snakemake.output.items()), targets=list(snakemake.params.targets))
