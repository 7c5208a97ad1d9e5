"""The sections of report.html: one module per stage, each reading that stage's files, and
the registry :data:`SECTIONS` (the order of the page).

Every section function takes a :class:`ReportContext` and returns a
:class:`motifscope.report.html.Section`. A stage switched off in the config is listed as
skipped; a stage that ran but produced nothing (no seqlets, no hits) gets a sentence saying
so; a stage that is on but whose files are absent is marked missing. File names follow the
stage contracts of CONTRIBUTING.md, relative to ``results/<run>/``.

To add a section: write ``sections/<stage>.py`` with a ``<stage>_section(ctx)`` function and
list it in :data:`SECTIONS`.
"""

from motifscope.report.sections.attribution import attribution_section, read_hits
from motifscope.report.sections.benchmark import benchmark_section
from motifscope.report.sections.context import ReportContext
from motifscope.report.sections.deltas import deltas_section
from motifscope.report.sections.filters import filters_section
from motifscope.report.sections.fimo import fimo_section
from motifscope.report.sections.hits import hits_section
from motifscope.report.sections.learned import learned_section
from motifscope.report.sections.marginalize import marginalize_section
from motifscope.report.sections.modisco import denovo_calls, modisco_section
from motifscope.report.sections.model import model_section, performance_metrics
from motifscope.report.sections.recovery import recovery_section
from motifscope.report.sections.seqlets import seqlets_section
from motifscope.report.sections.summary import summary_section

# The sections of the page, in order: one builder ReportContext -> Section per entry.
SECTIONS = [learned_section, summary_section, model_section, attribution_section,
            modisco_section, seqlets_section, fimo_section, filters_section, marginalize_section, hits_section,
            deltas_section, recovery_section,
            benchmark_section]

__all__ = [
    "SECTIONS",
    "denovo_calls",
    "ReportContext",
    "attribution_section",
    "benchmark_section",
    "deltas_section",
    "filters_section",
    "fimo_section",
    "hits_section",
    "learned_section",
    "marginalize_section",
    "model_section",
    "modisco_section",
    "performance_metrics",
    "read_hits",
    "recovery_section",
    "seqlets_section",
    "summary_section",
]
