"""Section: run summary and provenance (stages, inputs with checksums, versions, git, config)."""

from __future__ import annotations

import yaml

import pandas as pd

from motifscope.report import provenance
from motifscope.report.html import key_value_table, Markup, note, preformatted, Section, table, tag
from motifscope.report.input_facts import input_facts
from motifscope.report.sections.context import ReportContext


# --- run summary and provenance ---------------------------------------------------------------


def _stage_rows(ctx: ReportContext) -> pd.DataFrame:
    rows = []
    # Without the workflow's table, the config's stage switches (no rule names).
    stages = ctx.stages or [{"name": name, "rules": "", "switch": name, "output": None}
                            for name in ctx.config.get("stages", {}) if name != "report"]
    for stage in stages:
        switch, output = stage.get("switch"), stage.get("output")
        if switch:
            status = "done" if ctx.stage_on(switch) else f"skipped (stages.{switch}: false)"
        else:
            status = "done" if output is None or ctx.exists(output) else "missing"
        rows.append((stage["name"], stage["rules"], status))
    return pd.DataFrame(rows, columns=["stage", "rules", "status"])


def summary_section(ctx: ReportContext) -> Section:
    """Run summary and provenance: stages, inputs with checksums, versions, git, config."""
    section = Section("summary", "Run summary and provenance")
    loci = ctx.loci() if ctx.exists("loci/loci.tsv") else None
    facts = [("run", ctx.config.get("run", ctx.run_dir.name)),
             ("targets", ", ".join(ctx.targets)),
             ("window (bp)", ctx.config.get("window", "")),
             ("loci analysed", len(loci) if loci is not None else "unknown"),
             ("data", "simulated (ground truth known)" if ctx.simulated else "user data"),
             ("motif database", ctx.config.get("motif_db", "")),
             ("device (config)", ctx.config.get("device", "auto")),
             ("device (report host)", provenance.device_description(
                 ctx.config.get("device", "auto"))),
             ("random_state", ctx.config.get("random_state", ""))]
    facts += input_facts(ctx)
    revision = provenance.git_revision(ctx.source_dir) if ctx.source_dir else None
    facts.append(("workflow git revision", revision or "not available (not a git checkout)"))
    section.add(key_value_table(facts))
    section.add(tag("h3", "Stages"), table(_stage_rows(ctx)))
    section.add(tag("h3", "Inputs (SHA-256)"))
    checks = pd.DataFrame(provenance.checksums(ctx.inputs),
                          columns=["input", "path", "sha256", "bytes"])
    section.add(table(checks) if len(checks) else note("No input files were given."))
    versions = provenance.package_versions()
    section.add(tag("h3", "Package versions"),
                table(pd.DataFrame(list(versions.items()), columns=["package", "version"])))
    config_text = yaml.safe_dump(ctx.config, sort_keys=False, default_flow_style=False)
    section.add(Markup(f"<details><summary>Configuration (validated, with defaults)"
                       f"</summary>{preformatted(config_text)}</details>"))
    return section
