"""Assemble report.html from the files of a finished (or partly finished) run."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from motifscope.report.figures import message_figure
from motifscope.report.html import Section, note, page
from motifscope.report.sections import SECTIONS, ReportContext
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.report")


def build_report(run_dir: str | os.PathLike, config: dict, out_html: str | os.PathLike,
                 figure_dir: str | os.PathLike | None = None, inputs: dict | None = None,
                 source_dir: str | os.PathLike | None = None, sections=None,
                 expected_figures=(), stages=None) -> list[Path]:
    """Write the self-contained report of one run, and its figures.

    Parameters
    ----------
    run_dir : path
        ``results/<run>``: the stage outputs are read from here (CONTRIBUTING.md names).
    config : dict
        The workflow config (``stages`` says which stages were switched off).
    out_html : path
        ``results/<run>/report.html``; written atomically.
    figure_dir : path, optional
        Where the report's figures go as PDF and PNG (default ``<run_dir>/figures``).
    inputs : dict label -> path, optional
        Input files listed with their SHA-256 (genome, peaks, model, motif database).
    source_dir : path, optional
        The workflow checkout whose git revision is reported.
    sections : list of callables, optional
        Section builders (default :data:`motifscope.report.sections.SECTIONS`).
    stages : list of dict, optional
        The workflow's stage table for the summary (rules/common.smk ``report_stage_table()``;
        see :class:`motifscope.report.sections.ReportContext`). The library names no rule:
        without it the summary lists the config's ``stages:`` switches.
    expected_figures : list of str, optional
        Figure stems the caller declared (e.g. as workflow outputs); any that no section
        drew (its stage had nothing to show) is written as a figure saying so.

    Returns
    -------
    list of pathlib.Path
        The figure files written (PDF and PNG).
    """
    run_dir = Path(run_dir)
    ctx = ReportContext(run_dir=run_dir, config=config,
                        figure_dir=Path(figure_dir) if figure_dir else run_dir / "figures",
                        inputs=dict(inputs or {}),
                        source_dir=Path(source_dir) if source_dir else None,
                        stages=list(stages or []))
    built = []
    for make in sections or SECTIONS:
        log.info("section %s", make.__name__)
        built.append(make(ctx))
    drawn = {p.with_suffix("").name for p in ctx.figures_written}
    for stem in expected_figures:
        if stem not in drawn:
            ctx.save(message_figure(f"{stem}: nothing to draw for this run; see report.html"),
                     stem)
    statuses = ", ".join(f"{s.id}: {s.status}" for s in built)
    log.info("sections: %s", statuses)
    title = f"motifscope report: {config.get('run', run_dir.name)}"
    subtitle = "What did the model learn? Targets: " + ", ".join(ctx.targets)
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(title, subtitle, built), encoding="utf-8")
    return ctx.figures_written


__all__ = ["build_report", "Section", "note"]
