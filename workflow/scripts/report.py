"""Rule report: the self-contained report.html and its figures, from every stage's outputs.

Reads the stage files under ``results/<run>/`` (names of CONTRIBUTING.md), lists the inputs
with their SHA-256, and writes ``report.html`` plus ``figures/<name>.{pdf,png}``; a stage
switched off appears as skipped, a stage that produced nothing gets a sentence.
"""

from pathlib import Path

from _common import run
from motifscope.report import build_report


def main(html: str, config: dict, checksums: dict, figure_stems: dict,
         source_dir: str | None, stages: list | None = None) -> None:
    run_dir = Path(html).parent
    expected = [stem for stems in figure_stems.values() for stem in stems]
    written = build_report(run_dir, config, html, run_dir / "figures", inputs=checksums,
                           source_dir=source_dir, expected_figures=expected,
                           stages=stages)
    print(f"wrote {html} and {len(written)} figure files")


if "snakemake" in globals():
    run(main, snakemake, html=snakemake.output.html, config=dict(snakemake.params.config),
        checksums=dict(snakemake.params.checksums),
        figure_stems=dict(snakemake.params.figures),
        stages=list(snakemake.params.stages),
        source_dir=str(Path(snakemake.scriptdir).parents[1]))
