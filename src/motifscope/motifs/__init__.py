"""Motif comparison and scanning: TOMTOM, FIMO, seqlet annotation and motif clusters.

- :func:`tomtom` / :func:`tomtom_pvalues`: motif-motif comparison with exact p-values;
- :func:`fimo`: motif scanning with MEME's scores and p-values;
- :func:`annotate_seqlets`, :func:`count_annotations`: best database matches of seqlets
  and their counts per motif, cluster or TF family;
- :func:`cluster_motifs`: groups of near-identical database motifs.
"""

from motifscope.motifs.annotate import annotate_seqlets, count_annotations
from motifscope.motifs.clusters import cluster_motifs
from motifscope.motifs.fimo import fimo, fimo_counts, span_attributions
from motifscope.motifs.tomtom import TomtomResult, tomtom, tomtom_pvalues

__all__ = ["TomtomResult", "annotate_seqlets", "cluster_motifs", "count_annotations", "fimo",
           "fimo_counts", "span_attributions", "tomtom", "tomtom_pvalues"]
