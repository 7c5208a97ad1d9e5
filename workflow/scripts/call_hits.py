"""Rule call_hits: motif instances of one target (Fi-NeMo's sparse CWM fit) in genome
coordinates.

Reads the CWMs (this run's ``modisco/<target>.h5`` or ``hits.motifs``), the attributions
and one-hot windows, and writes ``hits/<target>.tsv`` (chrom, start, end, strand, pattern,
label, family, coefficient, similarity, attribution, peak, window_offset; 0-based
half-open), ``hits/<target>.bed`` (BED9, one colour per pattern), ``hits/<target>.bb``
(bigBed) and ``hits/<target>.counts.tsv`` (peak x pattern hit counts). When this run's
TF-MoDISco found no pattern, the files are written empty (a valid, empty bigBed).
"""

import logging
import os

import h5py
import pandas as pd

from _common import run
from motifscope.hits import FitSettings, fit_hits, read_cwms
from motifscope.hits.outputs import (HITS_COLUMNS, hit_counts, hits_to_bed9, hits_to_genome,
                                     pattern_labels, write_bigbed)
from motifscope.io import read_loci
from motifscope.io.modisco import pattern_names
from motifscope.tracks import chrom_sizes_of
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.call_hits")


def main(motifs: str, patterns: str | None, attributions: str, onehot: str, loci: str,
         genome: str, target: str, settings: dict, device: str, tsv: str, bed: str, bb: str,
         counts: str) -> None:
    loci_table = read_loci(loci)
    if patterns and not pattern_names(motifs):
        log.warning("%s: TF-MoDISco found no pattern (see modisco/%s.patterns.tsv), so there "
                    "are no hits to call; writing empty hit files", target, target)
        write_outputs(pd.DataFrame(columns=HITS_COLUMNS), [],
                      pd.DataFrame({"peak": loci_table["name"].to_numpy()}), genome, tsv, bed,
                      bb, counts)
        return
    cwms = read_cwms(motifs, settings["trim_threshold"])
    labels = pattern_labels(pd.read_csv(patterns, sep="\t", keep_default_na=False)
                            if patterns and os.path.exists(patterns) else None, cwms.names)
    dev = resolve_device(device)
    log.info("%s: %d patterns from %s, penalty %g, on %s", target, len(cwms.names), motifs,
             settings["penalty"], dev)
    fit = FitSettings(tol=settings["tol"], max_steps=settings["max_steps"])
    with h5py.File(attributions, "r") as ha, h5py.File(onehot, "r") as hx:
        hits, qc = fit_hits(cwms.cwms, cwms.masks, settings["penalty"], ha["attr"], hx["X"],
                            settings=fit, batch_size=settings["batch_size"], device=dev)
    log.info("%s: %d hits in %d of %d windows; %d windows did not converge", target,
             len(hits), hits["example_idx"].nunique(), len(loci_table),
             int((~qc["converged"]).sum()) if len(qc) else 0)
    table = hits_to_genome(hits, cwms, loci_table, labels)
    write_outputs(table, cwms.names, hit_counts(hits, cwms, loci_table), genome, tsv, bed, bb,
                  counts)


def write_outputs(table: pd.DataFrame, names: list, peak_counts: pd.DataFrame, genome: str,
                  tsv: str, bed: str, bb: str, counts: str) -> None:
    """The hits table, its BED9 and bigBed, and the peak x pattern counts."""
    with atomic_path(tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    bed9 = hits_to_bed9(table, names)
    with atomic_path(bed) as tmp:
        bed9.to_csv(tmp, sep="\t", index=False, header=False)
    write_bigbed(bed9, chrom_sizes_of(genome), bb)
    with atomic_path(counts) as tmp:
        peak_counts.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, motifs=snakemake.input.motifs,
        patterns=snakemake.input.get("patterns"), attributions=snakemake.input.attributions,
        onehot=snakemake.input.onehot, loci=snakemake.input.loci,
        genome=snakemake.input.genome, target=snakemake.wildcards.target,
        settings=snakemake.params.settings, device=snakemake.params.device,
        tsv=snakemake.output.tsv, bed=snakemake.output.bed, bb=snakemake.output.bb,
        counts=snakemake.output.counts)
