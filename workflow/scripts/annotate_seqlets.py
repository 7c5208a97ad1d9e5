"""Rule annotate_seqlets: best TOMTOM matches of every seqlet, and counts per motif group.

Reads ``seqlets/<target>.tsv`` (genome chrom/start/end, example_idx, window_start/window_end,
attribution, p-value), compares each seqlet's sequence with the motif database and writes

- ``seqlets/<target>.annotated.tsv``: one row per seqlet and kept match (``annotation.n_nearest``),
  with the seqlet's columns (its own p-value as ``seqlet_p-value``), the match (rank,
  motif_id, motif_alt_id, p-value, E-value, q-value, optimal_offset, overlap, orientation,
  score) and the match's cluster, cluster_name, tf_family and tf_class;
- ``seqlets/<target>.counts.tsv``: best matches with q-value <= ``annotation.max_qvalue``
  counted per ``annotation.group_by`` (motif, cluster, tf_family or tf_class), with the
  shuffled-seqlet null of :mod:`motifscope.motifs.enrichment` (``annotation.n_null_shuffles``
  dinucleotide shuffles of every seqlet, annotated the same way): n_null, expected,
  enrichment, p-value, q-value.

All coordinates are 0-based, half-open.
"""

import logging

import pandas as pd

from _common import run
from motifscope.errors import InputError
from motifscope.io import read_meme, read_onehot
from motifscope.motifs import annotate_seqlets, count_annotations
from motifscope.motifs.enrichment import annotation_enrichment, annotation_null
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.annotate_seqlets")
GROUPS = ("motif", "cluster", "tf_family", "tf_class")


def read_seqlets(path: str) -> pd.DataFrame:
    """The seqlet table with window coordinates in start/end (genome ones kept aside)."""
    seqlets = pd.read_csv(path, sep="\t", dtype={"chrom": str})
    if {"window_start", "window_end"} <= set(seqlets.columns):
        seqlets = seqlets.rename(columns={"start": "genome_start", "end": "genome_end"})
        seqlets = seqlets.rename(columns={"window_start": "start", "window_end": "end"})
    return seqlets


def restore_columns(annotated: pd.DataFrame) -> pd.DataFrame:
    """Genome coordinates back in start/end, window ones in window_start/window_end."""
    if "genome_start" not in annotated.columns:
        return annotated
    return annotated.rename(columns={"start": "window_start", "end": "window_end"}).rename(
        columns={"genome_start": "start", "genome_end": "end"})


def main(seqlet_file: str, onehot: str, motif_file: str, table_file: str, cluster_file: str,
         settings: dict, device: str, annotated_out: str, counts_out: str,
         random_state: int = 0) -> None:
    group_by = settings["group_by"]
    if group_by not in GROUPS:
        raise InputError(f"config key annotation.group_by: '{group_by}' is not one of {GROUPS}")
    seqlets = read_seqlets(seqlet_file)
    motifs = read_meme(motif_file)
    log.info("%d seqlets against %d motifs", len(seqlets), len(motifs))
    X = read_onehot(onehot)
    tomtom_settings = {"min_overlap": settings["min_overlap"],
                       "batch_size": settings["batch_size"], "device": device}
    annotated = annotate_seqlets(X, seqlets, motifs, n_nearest=settings["n_nearest"],
                                 **tomtom_settings)
    n_shuffles = settings["n_null_shuffles"]
    null, n_null = (annotation_null(X, seqlets, motifs, n_shuffles=n_shuffles,
                                    random_state=random_state, **tomtom_settings)
                    if n_shuffles and len(seqlets) else (None, 0))
    database = pd.read_csv(table_file, sep="\t", dtype=str, keep_default_na=False)
    clusters = pd.read_csv(cluster_file, sep="\t", dtype=str, keep_default_na=False)
    labels = database[["id"] + [c for c in ("tf_family", "tf_class") if c in database]].merge(
        clusters[["id", "cluster", "cluster_name"]], on="id", how="outer")
    annotated = annotated.merge(labels.rename(columns={"id": "motif_id"}), on="motif_id",
                                how="left")
    groups = {"motif": None,
              "cluster": dict(zip(clusters["id"], clusters["cluster_name"])),
              "tf_family": database, "tf_class": database}[group_by]
    counts = count_annotations(annotated, by=group_by, groups=groups,
                               max_qvalue=settings["max_qvalue"])
    if null is not None:
        null_counts = count_annotations(null, by=group_by, groups=groups,
                                        max_qvalue=settings["max_qvalue"])
        label = "motif_id" if group_by == "motif" else group_by
        counts = annotation_enrichment(counts, null_counts, label, len(seqlets), n_null,
                                       n_shuffles)
        log.info("null: %d of %d seqlets shuffled %d times; %d groups enriched at q <= %g",
                 n_null, len(seqlets), n_shuffles, int((counts["q-value"] <= 0.05).sum()),
                 0.05)
    log.info("%d seqlets with a best match of q-value <= %g, in %d %s groups",
             int(counts["n_seqlets"].sum()) if len(counts) else 0, settings["max_qvalue"],
             len(counts), group_by)
    with atomic_path(annotated_out) as tmp:
        restore_columns(annotated).to_csv(tmp, sep="\t", index=False)
    with atomic_path(counts_out) as tmp:
        counts.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, seqlet_file=snakemake.input.seqlets, onehot=snakemake.input.onehot,
        motif_file=snakemake.input.motifs, table_file=snakemake.input.table,
        cluster_file=snakemake.input.clusters, settings=snakemake.params.settings,
        device=snakemake.params.device, annotated_out=snakemake.output.annotated,
        counts_out=snakemake.output.counts, random_state=snakemake.params.random_state)
