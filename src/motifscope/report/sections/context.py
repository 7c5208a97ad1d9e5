"""What every report section shares: the run folder and config (:class:`ReportContext`), and
the notes for a stage switched off or with missing files. Paths are relative to
``results/<run>/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from motifscope.io.loci import loci_folder
from motifscope.plot import save_figure
from motifscope.report.html import Section, code, note


@dataclass
class ReportContext:
    """Everything a section needs: the run folder, the config, where figures go.

    Attributes
    ----------
    run_dir : pathlib.Path
        ``results/<run>``.
    config : dict
        The workflow config (validated, defaults filled).
    figure_dir : pathlib.Path
        Where the report's own figures are written (``results/<run>/figures``).
    inputs : dict label -> path
        Input files to checksum (genome, peaks, model, motif database).
    source_dir : pathlib.Path, optional
        The workflow checkout, for its git revision.
    stages : list of dict
        The workflow's stage table as the summary lists it (``report_stage_table()`` in
        rules/common.smk), one dict per stage in pipeline order: ``name``, ``rules``
        (comma-separated rule names), ``switch`` (its key under ``stages:``, or None when it
        always runs) and ``output`` (a file under ``results/<run>/`` whose presence means
        done, or None). Empty: the summary lists the config's ``stages:`` switches.
    figures_written : list of pathlib.Path
    """

    run_dir: Path
    config: dict
    figure_dir: Path
    inputs: dict = field(default_factory=dict)
    source_dir: Path | None = None
    stages: list = field(default_factory=list)
    figures_written: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.figure_dir = Path(self.figure_dir)

    # config helpers -------------------------------------------------------------------
    @property
    def targets(self) -> list[str]:
        targets = self.config.get("targets", {})
        return sorted(targets, key=targets.get)

    def stage_on(self, stage: str) -> bool:
        return bool(self.config.get("stages", {}).get(stage, True))

    def setting(self, *keys, default=None):
        node = self.config
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    @property
    def simulated(self) -> bool:
        return bool(self.setting("simulate", "enabled", default=False))

    # files ------------------------------------------------------------------------------
    def path(self, relative: str) -> Path:
        return self.run_dir / relative

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()

    def show(self, relative: str) -> str:
        """How a file is named in the page: its path under results/<run>/."""
        return f"{self.run_dir.name}/{relative}"

    def tsv(self, relative: str, **kwargs) -> pd.DataFrame:
        key = ("tsv", relative)
        if key not in self._cache:
            self._cache[key] = pd.read_csv(self.path(relative), sep="\t", **kwargs)
        return self._cache[key]

    def loci_file(self, name: str = "loci.tsv", target: str | None = None) -> str:
        """``loci.tsv`` or ``onehot.h5`` of a target's windows (its own peak file's, under
        loci/targets/<target>/, else every peak's under loci/), relative to the run."""
        return f"{loci_folder(self.config, target)}/{name}"

    def loci(self, target: str | None = None) -> pd.DataFrame:
        """The windows of ``target`` (of every peak when None): loci.tsv as a table."""
        return self.tsv(self.loci_file("loci.tsv", target), dtype={"chrom": str, "name": str},
                        keep_default_na=False, na_values={"score": ["", "NaN", "nan"]})

    def save(self, fig, name: str) -> Path:
        """Save a report figure as figures/<name>.{pdf,png}; returns the PNG path."""
        written = save_figure(fig, self.figure_dir / name)
        self.figures_written += written
        return next(p for p in written if p.suffix == ".png")


def _skipped(section: Section, stage: str) -> Section:
    section.status = "skipped"
    return section.add(note(f"Skipped: stages.{stage} is false in the config."))


def _missing(section: Section, ctx: ReportContext, relative: str) -> Section:
    section.status = "missing"
    return section.add(note("The stage is switched on but its output ", code(ctx.show(relative)),
                            " is missing; run the workflow to completion first."))


def _read_labels(ctx: ReportContext, predictions: pd.DataFrame):
    """0/1 labels aligned with the predictions: the simulation's regions, or the labels
    file of filters.influence.labels; None when there are none."""
    source = None
    if ctx.simulated and ctx.exists("sim/training.tsv"):
        source = ctx.tsv("sim/training.tsv", dtype={"name": str})
    else:
        labels_file = ctx.setting("filters", "influence", "labels")
        if labels_file and Path(labels_file).exists():
            source = pd.read_csv(labels_file, sep="\t", dtype={"name": str})
    if source is None:
        return None
    key = "name" if "name" in source and "name" in predictions else (
        "idx" if "idx" in source and "idx" in predictions else None)
    columns = [t for t in ctx.targets if t in source]
    if key is None or not columns:
        return None
    merged = predictions[[key]].merge(source[[key, *columns]].drop_duplicates(key), on=key,
                                      how="left")
    return merged[columns]


def fimo_above(ctx: ReportContext, chunk: pd.DataFrame) -> pd.Series:
    """Which FIMO hits pass the attribution threshold: ``attribution >=
    fimo.attribution_threshold``, or with the default null threshold ``null_p <=
    fimo.null_alpha`` (motifscope.motifs.enrichment)."""
    threshold = ctx.setting("fimo", "attribution_threshold", default=None)
    if threshold is None:
        if "null_p" not in chunk:
            return chunk["attribution"] >= 0.0
        return chunk["null_p"] <= ctx.setting("fimo", "null_alpha", default=0.05)
    return chunk["attribution"] >= threshold


def fimo_columns(ctx: ReportContext, path, columns: list) -> list:
    """``columns`` plus null_p when the threshold comes from the null and the file has it."""
    if ctx.setting("fimo", "attribution_threshold", default=None) is not None:
        return columns
    header = pd.read_csv(path, sep="\t", nrows=0).columns
    return columns + (["null_p"] if "null_p" in header else [])
