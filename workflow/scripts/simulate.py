"""Rule simulate: a genome with database motifs planted in peaks, and its truth table."""

from _common import run
from motifscope.io import read_meme
from motifscope.simulate import PlantedMotif, simulate_genome, write_simulation


def main(motif_file: str, params: dict, window: int, random_state: int, out: dict) -> None:
    motifs = read_meme(motif_file)
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
        out=dict(snakemake.output.items()))
