"""Rule track_hub: ``tracks/trackDb.txt`` (UCSC track-hub stanzas) and ``tracks/README``
(how to load the tracks in IGV or UCSC)."""

from _common import run
from motifscope.tracks import TRACKS_README, track_hub
from motifscope.utils import atomic_path


def main(targets: list, hits: bool, prediction: bool, trackdb: str, readme: str) -> None:
    with atomic_path(trackdb) as tmp:
        tmp.write_text(track_hub(targets, hits=hits, prediction=prediction))
    with atomic_path(readme) as tmp:
        tmp.write_text(TRACKS_README)


if "snakemake" in globals():
    run(main, snakemake, targets=snakemake.params.targets, hits=snakemake.params.hits,
        prediction=snakemake.params.prediction, trackdb=snakemake.output.trackdb,
        readme=snakemake.output.readme)
