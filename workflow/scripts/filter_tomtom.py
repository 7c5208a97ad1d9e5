"""Rule filter_tomtom: the filters' PFMs against the motif database; best match each."""

import logging

import pandas as pd

from _common import run
from motifscope.filters import TOMTOM_COLUMNS, best_matches, filter_tomtom
from motifscope.io import read_meme
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.filter_tomtom")


def main(meme: str, pwms: str, database: str, settings: dict, device: str, tomtom_out: str,
         matches_out: str) -> None:
    filters = pd.read_csv(pwms, sep="\t", keep_default_na=False, na_values=[""])
    motifs = read_meme(database)
    with_motif = (filters["status"] == "ok").any()
    if with_motif:
        hits = filter_tomtom(read_meme(meme), motifs, distance=settings["distance"],
                             min_overlap=settings["min_overlap"],
                             pseudocount=settings["pseudocount"],
                             device=resolve_device(device))
    else:
        log.warning("no filter has a motif: nothing to compare")
        hits = pd.DataFrame(columns=TOMTOM_COLUMNS)
    matches = best_matches(hits, motifs, filters=filters["filter"],
                           q_threshold=settings["thresh"])
    significant = hits[hits["q-value"] <= settings["thresh"]]
    log.info("%d filters, %d with a match at q <= %g (%s distance)", len(filters),
             int((matches["annotation"] != ".").sum()), settings["thresh"],
             settings["distance"])
    with atomic_path(tomtom_out) as tmp:
        significant.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(matches_out) as tmp:
        matches.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


if "snakemake" in globals():
    run(main, snakemake, meme=snakemake.input.meme, pwms=snakemake.input.pwms,
        database=snakemake.input.database, settings=snakemake.params.tomtom,
        device=snakemake.params.device, tomtom_out=snakemake.output.tomtom,
        matches_out=snakemake.output.matches)
