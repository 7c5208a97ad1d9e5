"""Rules extract_loci and target_loci: windows around peaks -> loci.tsv and chunked onehot.h5.

extract_loci reads every peak file (one, or the per-target files of a `peaks` mapping, whose
union it writes to loci/); target_loci reads one target's file into loci/targets/<target>/
and records, in the column ``union_idx``, each window's row in loci/loci.tsv.
"""

import logging

import numpy as np

from _common import run
from motifscope.io import open_fasta, read_loci, read_onehot, write_onehot
from motifscope.io.loci import plan_union, union_rows
from motifscope.io.fasta import all_n_loci
from motifscope.io.ncontent import drop_n_windows
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.extract_loci")


def report_all_n(loci, onehot, chunk=4096) -> int:
    """Log a warning naming the loci whose windows hold no A/C/G/T; return their count.
    Reads ``onehot`` (loci/onehot.h5) ``chunk`` loci at a time."""
    empty = np.concatenate([lo + all_n_loci(read_onehot(onehot, lo, lo + chunk))
                            for lo in range(0, len(loci), chunk)] or [np.zeros(0, int)])
    if empty.size:
        first = ", ".join(f"{loci['chrom'][i]}:{loci['start'][i]}-{loci['end'][i]}"
                          for i in empty[:5])
        log.warning("%d of %d windows are entirely N (no A, C, G or T): their predictions "
                    "and attributions carry no sequence information; first: %s",
                    empty.size, len(loci), first)
    return int(empty.size)


def main(genome: str, peaks_file, window: int, off_chrom: str, center: str,
         loci_out: str, onehot_out: str, max_n_fraction: float = 1.0,
         union_loci: str | None = None) -> None:
    """Windows of ``peaks_file`` (a path, or a list of paths whose union is taken) into
    ``loci_out`` and ``onehot_out``; with ``union_loci`` (loci/loci.tsv) the table gains
    ``union_idx``."""
    paths = [peaks_file] if isinstance(peaks_file, str) else list(peaks_file)
    fasta = open_fasta(genome)
    sizes = {name: len(fasta[name]) for name in fasta.keys()}
    loci, stats = plan_union(paths, sizes, window, off_chrom, center, fasta_name=genome)
    log.info("%d peaks read from %s", stats["n_peaks"], ", ".join(paths))
    log.info("%d duplicate windows removed", stats["n_duplicates"])
    log.info("%d windows run off a contig end: %s", stats["n_off_chrom"],
             "dropped" if off_chrom == "drop" else "padded with N")
    loci, n_stats = drop_n_windows(loci, fasta, max_n_fraction)
    log.info("%d windows contain N; %d with more than %.3g N dropped (loci.max_n_fraction)",
             n_stats["n_with_n"], n_stats["n_dropped_n"], max_n_fraction)
    log.info("%d loci of %d bp kept", len(loci), window)
    if union_loci is not None:
        loci["union_idx"] = union_rows(loci, read_loci(union_loci), ", ".join(paths))
    write_onehot(loci, fasta, onehot_out, window, genome_name=genome, attrs=n_stats)
    report_all_n(loci, onehot_out)
    with atomic_path(loci_out) as tmp:
        loci.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, genome=snakemake.input.genome, peaks_file=snakemake.input.peaks,
        window=snakemake.params.window, off_chrom=snakemake.params.off_chrom,
        center=snakemake.params.center, loci_out=snakemake.output.loci,
        max_n_fraction=snakemake.params.max_n_fraction,
        onehot_out=snakemake.output.onehot,
        union_loci=snakemake.input.get("union_loci"))
