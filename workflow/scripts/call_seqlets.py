"""Rule call_seqlets: seqlets of one target, in genome coordinates (TSV + BED + summary).

Streams ``attributions/<target>.h5`` and ``loci/onehot.h5`` shard by shard (the null is
built over all loci first), places the seqlets on the genome with ``loci/loci.tsv``, and
writes ``seqlets/<target>.tsv`` (chrom, start, end, example_idx, attribution, p-value,
window_start, window_end; 0-based half-open), ``seqlets/<target>.bed`` (BED6) and a summary
figure.
"""

import logging

from _common import run
from motifscope.io import read_loci
from motifscope.plot import save_figure
from motifscope.seqlets import plot_seqlet_summary, seqlets_from_h5, seqlets_to_bed
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.call_seqlets")

RECURSIVE_KEYS = ("threshold", "min_seqlet_len", "max_seqlet_len", "additional_flanks",
                  "n_bins", "sign")
TFMODISCO_KEYS = ("window_size", "flank", "target_fdr", "min_passing_frac", "max_passing_frac")


def method_params(settings: dict) -> dict:
    """The config keys of the chosen method (config section `seqlets`)."""
    keys = RECURSIVE_KEYS if settings["method"] == "recursive" else TFMODISCO_KEYS
    return {key: settings[key] for key in keys if key in settings}


def main(attributions: str, onehot: str, loci: str, target: str, settings: dict,
         device: str, tsv: str, bed: str, plot: str) -> None:
    loci_table = read_loci(loci)
    params = method_params(settings)
    dev = resolve_device(device)
    log.info("%s: %s seqlets from %s on %s with %s", target, settings["method"], attributions,
             dev, params)
    table = seqlets_from_h5(attributions, onehot, loci=loci_table, method=settings["method"],
                            shard_size=settings.get("shard_size"), device=dev, **params)
    with atomic_path(tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(bed) as tmp:
        seqlets_to_bed(table).to_csv(tmp, sep="\t", index=False, header=False)
    n_loci = table["example_idx"].nunique()
    log.info("%s: %d seqlets in %d of %d loci (%d with attribution > 0)", target, len(table),
             n_loci, len(loci_table), int((table["attribution"] > 0).sum()))
    window = int((loci_table["end"] - loci_table["start"]).max())
    fig = plot_seqlet_summary(table, window, title=f"{target}: {len(table)} seqlets in "
                                                   f"{n_loci} of {len(loci_table)} loci")
    save_figure(fig, plot.removesuffix(".png"))


if "snakemake" in globals():
    run(main, snakemake, attributions=snakemake.input.attributions,
        onehot=snakemake.input.onehot, loci=snakemake.input.loci,
        target=snakemake.wildcards.target, settings=snakemake.params.settings,
        device=snakemake.params.device, tsv=snakemake.output.tsv, bed=snakemake.output.bed,
        plot=snakemake.output.plot)
