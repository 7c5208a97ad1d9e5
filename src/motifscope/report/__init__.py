"""The report: one self-contained HTML page per run, its figures, and ground-truth checks.

- :mod:`motifscope.report.html`: escaping, sortable tables, inline images, the page;
- :mod:`motifscope.report.sections`: one section per stage, read from the stage files;
- planted-motif recovery (recall and precision of every method against ``sim/truth.tsv``)
  lives in :mod:`motifscope.evaluation.recovery` and is re-exported here;
- :mod:`motifscope.report.figures`: the report's and the paper's figures;
- :mod:`motifscope.report.provenance`: checksums, versions, git revision, device;
- :func:`build_report`: everything above, for one run folder.
"""

from motifscope.report.build import build_report
from motifscope.evaluation.recovery import MotifGroups, planted_motif_recovery, sites_in_loci

__all__ = ["build_report", "MotifGroups", "planted_motif_recovery", "sites_in_loci"]
