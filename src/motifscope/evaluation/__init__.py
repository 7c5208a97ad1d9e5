"""Does interpretation find what was planted? Ground-truth evaluation of the stages.

- :mod:`motifscope.evaluation.positional`: DragoNN's positional precision-recall (per-position
  scores, window labels, auPRC per motif);
- :mod:`motifscope.evaluation.designs`: DragoNN simulation designs, laid out as genome files;
- :mod:`motifscope.evaluation.benchmark`: the whole benchmark (ISM, DeepLIFT/SHAP, motif scan);
- :mod:`motifscope.evaluation.recovery`: planted-motif recovery of every stage against
  ``sim/truth.tsv`` (the report's recovery section).

All coordinates are 0-based, half-open.
"""

from motifscope.evaluation.benchmark import (
    embeddings_in,
    run_benchmark,
    select_sequences,
)
from motifscope.evaluation.designs import (
    DESIGNS,
    simulate_design,
    simulate_design_genome,
)
from motifscope.evaluation.positional import (
    METHOD_COLLAPSE,
    PRC_COLUMNS,
    average_precision,
    motif_scan_scores,
    position_scores,
    positional_labels_and_scores,
    positional_prc,
    pr_auc,
    precision_recall_curve,
    pwm_log_odds,
    window_labels,
    window_sums,
)
from motifscope.evaluation.recovery import (
    METHOD_ORDER,
    MOTIF_COLUMNS,
    SUMMARY_COLUMNS,
    MotifGroups,
    overlap_pairs,
    planted_motif_recovery,
    sites_in_loci,
)

__all__ = [
    "DESIGNS",
    "METHOD_COLLAPSE",
    "METHOD_ORDER",
    "MOTIF_COLUMNS",
    "MotifGroups",
    "PRC_COLUMNS",
    "SUMMARY_COLUMNS",
    "average_precision",
    "embeddings_in",
    "motif_scan_scores",
    "overlap_pairs",
    "planted_motif_recovery",
    "position_scores",
    "positional_labels_and_scores",
    "positional_prc",
    "pr_auc",
    "precision_recall_curve",
    "pwm_log_odds",
    "run_benchmark",
    "select_sequences",
    "simulate_design",
    "simulate_design_genome",
    "sites_in_loci",
    "window_labels",
    "window_sums",
]
