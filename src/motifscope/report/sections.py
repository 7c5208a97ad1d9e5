"""The sections of report.html, one function per stage, each reading that stage's files.

Every section function takes a :class:`ReportContext` and returns a
:class:`motifscope.report.html.Section`. A stage switched off in the config is listed as
skipped; a stage that ran but produced nothing (no seqlets, no hits) gets a sentence saying
so; a stage that is on but whose files are absent is marked missing. File names follow the
stage contracts of CONTRIBUTING.md, relative to ``results/<run>/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

from motifscope.metrics import average_precision, roc_auc
from motifscope.plot import save_figure
from motifscope.report import figures
from motifscope.report.html import (
    Markup,
    Section,
    code,
    escape,
    figure,
    image,
    key_value_table,
    note,
    paragraph,
    preformatted,
    table,
    tag,
)

STAGES = [("attribution", "attribution", "merge_attributions"),
          ("seqlets", "seqlets", "call_seqlets, annotate_seqlets"),
          ("fimo", "fimo", "fimo_scan, fimo"),
          ("filters", "filters", "filter_pwms, filter_tomtom, filter_influence, filter_table"),
          ("marginalize", "marginalize", "marginalize")]


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
    figures_written : list of pathlib.Path
    """

    run_dir: Path
    config: dict
    figure_dir: Path
    inputs: dict = field(default_factory=dict)
    source_dir: Path | None = None
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

    def loci(self) -> pd.DataFrame:
        return self.tsv("loci/loci.tsv", dtype={"chrom": str, "name": str},
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


# --- run summary and provenance ---------------------------------------------------------------


def _stage_rows(ctx: ReportContext) -> pd.DataFrame:
    rows = [("motif database", "motif_db", "done" if ctx.exists("motifs/database.meme")
             else "missing")]
    if ctx.simulated:
        rows.append(("simulation and training", "simulate, train",
                     "done" if ctx.exists("model/model.json") else "missing"))
    rows.append(("peaks", "extract_loci", "done" if ctx.exists("loci/loci.tsv") else "missing"))
    rows.append(("predict", "predict",
                 "done" if ctx.exists("predictions/predictions.tsv") else "missing"))
    for stage, _, rules in STAGES:
        rows.append((stage, rules, "done" if ctx.stage_on(stage) else
                     f"skipped (stages.{stage}: false)"))
    return pd.DataFrame(rows, columns=["stage", "rules", "status"])


def summary_section(ctx: ReportContext) -> Section:
    """Run summary and provenance: stages, inputs with checksums, versions, git, config."""
    from motifscope.report import provenance

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


# --- model -----------------------------------------------------------------------------------


def _model_card(ctx: ReportContext) -> list:
    if ctx.exists("model/model.json"):
        card = json.loads(ctx.path("model/model.json").read_text())
        rows = []
        for key, value in card.items():
            if isinstance(value, dict) and key in ("auroc", "auprc"):
                for target, number in value.items():
                    rows.append((f"held-out {key} ({target})", number))
            elif isinstance(value, (dict, list)):
                rows.append((key, json.dumps(value)))
            else:
                rows.append((key, value))
        return rows
    model = dict(ctx.config.get("model", {}))
    return [(f"model.{k}", json.dumps(v) if isinstance(v, (dict, list)) else v)
            for k, v in model.items()]


def performance_metrics(predictions: pd.DataFrame, labels: pd.DataFrame | None,
                        targets: list) -> pd.DataFrame:
    """Per target: n loci, mean and sd of the output, and with labels auROC and auPRC.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One column per target.
    labels : pandas.DataFrame, optional
        0/1 per target, aligned with ``predictions`` (NaN rows are left out).
    targets : list of str

    Returns
    -------
    pandas.DataFrame
        target, n_loci, mean, sd, n_positive, n_negative, auroc, auprc.
    """
    rows = []
    for target in targets:
        values = predictions[target].to_numpy(dtype=float)
        n_pos = n_neg = 0
        auroc = auprc = np.nan
        if labels is not None and target in labels:
            y = labels[target].to_numpy(dtype=float)
            known = np.isfinite(y)
            n_pos, n_neg = int((y[known] > 0).sum()), int((y[known] == 0).sum())
            if n_pos and n_neg:
                auroc = roc_auc(y[known] > 0, values[known])
                auprc = average_precision(y[known] > 0, values[known])
        rows.append((target, len(values), float(np.mean(values)) if len(values) else np.nan,
                     float(np.std(values)) if len(values) else np.nan, n_pos, n_neg, auroc,
                     auprc))
    return pd.DataFrame(rows, columns=["target", "n_loci", "mean", "sd", "n_positive",
                                       "n_negative", "auroc", "auprc"])


def model_section(ctx: ReportContext) -> Section:
    """Model card and prediction performance on the analysed loci."""
    section = Section("model", "Model and predictions")
    section.add(tag("h3", "Model card"), key_value_table(_model_card(ctx)))
    relative = "predictions/predictions.tsv"
    if not ctx.exists(relative):
        return _missing(section, ctx, relative)
    predictions = ctx.tsv(relative, dtype={"name": str, "chrom": str})
    if predictions.empty:
        section.status = "empty"
        return section.add(note("There are no loci, so there are no predictions."))
    labels = _read_labels(ctx, predictions)
    metrics = performance_metrics(predictions, labels, ctx.targets)
    section.add(tag("h3", "Prediction performance on the analysed loci"), table(metrics))
    if labels is None:
        section.add(paragraph("No labels are known for these loci (simulation regions or "
                              "filters.influence.labels), so only the distribution of the "
                              "outputs is shown."))
    elif metrics["auroc"].isna().any():
        missing = metrics.loc[metrics["auroc"].isna(), "target"]
        section.add(paragraph("auROC and auPRC need positive and negative loci; ",
                              ", ".join(missing), " has only one class among the analysed "
                              "loci (peaks), see the held-out values of the model card."))
    png = ctx.save(figures.performance_figure(predictions, ctx.targets, labels, metrics),
                   "performance")
    section.add(figure(png, "Distribution of the model outputs over the analysed loci"
                       + (", split by label." if labels is not None else ".")))
    return section


# --- attribution examples ------------------------------------------------------------------


def _best_span(track: np.ndarray, width: int) -> int:
    """Start of the ``width`` bp span with the largest summed attribution."""
    if width >= len(track):
        return 0
    prefix = np.concatenate([[0.0], np.cumsum(track)])
    return int(np.argmax(prefix[width:] - prefix[:-width]))


def _clip_spans(table: pd.DataFrame | None, lo: int, hi: int, label: str):
    if table is None or table.empty:
        return None
    table = table[(table["end"] > lo) & (table["start"] < hi)]
    if table.empty:
        return None
    return pd.DataFrame({"start": table["start"].clip(lower=lo).to_numpy(),
                         "end": table["end"].clip(upper=hi).to_numpy(),
                         "label": table[label].astype(str).to_numpy()})


def _seqlet_marks(ctx: ReportContext, target: str) -> pd.DataFrame | None:
    max_q = ctx.setting("annotation", "max_qvalue", default=0.05)
    if ctx.exists(f"seqlets/{target}.annotated.tsv"):
        table = ctx.tsv(f"seqlets/{target}.annotated.tsv", dtype={"chrom": str})
        if "rank" in table:
            table = table[table["rank"] == 1]
        names = table["motif_alt_id"].fillna("").astype(str)
        names = names.where(names != "", table["motif_id"].astype(str))
        label = np.where(table["q-value"] <= max_q, names, "seqlet")
    elif ctx.exists(f"seqlets/{target}.tsv"):
        table = ctx.tsv(f"seqlets/{target}.tsv", dtype={"chrom": str})
        label = np.full(len(table), "seqlet")
    else:
        return None
    return pd.DataFrame({"example_idx": table["example_idx"].to_numpy(),
                         "start": table["window_start"].to_numpy(),
                         "end": table["window_end"].to_numpy(), "label": label})


def read_hits(path, columns: list, keep=None, chunk_size: int = 500_000) -> pd.DataFrame:
    """FIMO hits (``fimo/<target>.hits.tsv.gz``) read in chunks, keeping only ``columns``
    and the rows where ``keep(chunk)`` is true, so memory follows what is kept."""
    parts = []
    for chunk in pd.read_csv(path, sep="\t", usecols=columns, chunksize=chunk_size,
                             keep_default_na=False, na_values={"q-value": ["", "nan", "NaN"]},
                             dtype={"motif_id": str, "motif_alt_id": str, "chrom": str}):
        parts.append(chunk[keep(chunk)] if keep is not None else chunk)
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


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


def _fimo_columns(ctx: ReportContext, path, columns: list) -> list:
    """``columns`` plus null_p when the threshold comes from the null and the file has it."""
    if ctx.setting("fimo", "attribution_threshold", default=None) is not None:
        return columns
    header = pd.read_csv(path, sep="\t", nrows=0).columns
    return columns + (["null_p"] if "null_p" in header else [])


def _fimo_marks(ctx: ReportContext, target: str, loci_idx) -> pd.DataFrame | None:
    relative = f"fimo/{target}.hits.tsv.gz"
    if not ctx.exists(relative):
        return None
    wanted = set(int(i) for i in loci_idx)
    columns = _fimo_columns(ctx, ctx.path(relative), ["motif_id", "motif_alt_id",
                                                      "sequence_name", "start", "end",
                                                      "attribution"])
    hits = read_hits(ctx.path(relative), columns,
                     lambda c: c["sequence_name"].isin(wanted) & fimo_above(ctx, c))
    names = hits["motif_alt_id"].where(hits["motif_alt_id"] != "", hits["motif_id"])
    return pd.DataFrame({"example_idx": hits["sequence_name"].to_numpy(),
                         "start": hits["start"].to_numpy(), "end": hits["end"].to_numpy(),
                         "label": names.to_numpy(), "attribution": hits["attribution"]})


def _first_two_names(names) -> str:
    unique = list(dict.fromkeys(names))
    return " / ".join(unique[:2]) + (" ..." if len(unique) > 2 else "")


def _strongest_spans(hits: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` spans with the strongest hits; motifs hitting the same span share a bar."""
    if hits.empty:
        return hits
    spans = (hits.sort_values("attribution", ascending=False, kind="mergesort")
             .groupby(["start", "end"], sort=False)
             .agg(label=("label", _first_two_names), attribution=("attribution", "max"))
             .reset_index())
    return spans.sort_values("attribution", ascending=False, kind="mergesort").head(n)


def _planted_marks(ctx: ReportContext) -> pd.DataFrame | None:
    from motifscope.report.recovery import sites_in_loci

    if not (ctx.simulated and ctx.exists("sim/truth.tsv")):
        return None
    sites = sites_in_loci(ctx.tsv("sim/truth.tsv", dtype={"chrom": str}), ctx.loci())
    names = sites["motif_alt_id"].fillna("").astype(str)
    return pd.DataFrame({"example_idx": sites["example_idx"].to_numpy(),
                         "start": sites["window_start"].to_numpy(),
                         "end": sites["window_end"].to_numpy(),
                         "label": ("planted " + names.where(names != "", sites["motif_id"]))})


def _top_loci(ctx: ReportContext, target: str, n: int) -> list[int]:
    relative = "predictions/predictions.tsv"
    if ctx.exists(relative):
        predictions = ctx.tsv(relative, dtype={"name": str, "chrom": str})
        order = predictions.sort_values([target, "idx"], ascending=[False, True],
                                        kind="mergesort")
        return [int(i) for i in order["idx"].head(n)]
    return list(range(min(n, len(ctx.loci()))))


def _examples(ctx: ReportContext, target: str, n: int, width: int) -> list[dict]:
    idx = _top_loci(ctx, target, n)
    if not idx:
        return []
    rows = np.sort(np.asarray(idx))
    with h5py.File(ctx.path(f"attributions/{target}.h5"), "r") as h5:
        attr = h5["attr"][rows].astype(np.float32)
    with h5py.File(ctx.path("loci/onehot.h5"), "r") as h5:
        X = h5["X"][rows].astype(np.float32)
    projected = dict(zip(rows.tolist(), attr * X))
    loci = ctx.loci().set_index("idx")
    predictions = (ctx.tsv("predictions/predictions.tsv", dtype={"name": str, "chrom": str})
                   .set_index("idx") if ctx.exists("predictions/predictions.tsv") else None)
    marks = {"seqlets": _seqlet_marks(ctx, target), "fimo": _fimo_marks(ctx, target, idx),
             "planted": _planted_marks(ctx)}
    examples = []
    for i in idx:
        matrix = projected[i]
        start = _best_span(matrix.sum(axis=0), width)
        end = min(matrix.shape[1], start + width)
        locus = loci.loc[i]
        title = (f"locus {i} {locus['name']} {locus['chrom']}:{int(locus['start']) + start}-"
                 f"{int(locus['start']) + end}")
        if predictions is not None:
            title += f", {target} output {predictions.loc[i, target]:.3g}"
        example = {"matrix": matrix[:, start:end], "start": start, "title": title,
                   "locus": {"locus": i, "name": locus["name"], "chrom": locus["chrom"],
                             "start": int(locus["start"]), "end": int(locus["end"]),
                             "shown": f"{start}-{end}",
                             "output": (predictions.loc[i, target] if predictions is not None
                                        else np.nan)}}
        for kind, table in marks.items():
            if table is None:
                continue
            mine = table[table["example_idx"] == i]
            if kind == "fimo":
                mine = _strongest_spans(mine, 4)
            example[kind] = _clip_spans(mine, start, end, "label")
        examples.append(example)
    return examples


def attribution_section(ctx: ReportContext) -> Section:
    """Logos of the top loci of every target, with seqlets, FIMO hits (and planted sites)."""
    section = Section("attribution", "Attribution examples")
    if not ctx.stage_on("attribution"):
        return _skipped(section, "attribution")
    n = int(ctx.setting("report", "n_examples", default=4))
    width = int(ctx.setting("report", "logo_width", default=60))
    section.add(paragraph(
        f"Projected attributions (method {ctx.setting('attribution', 'method', default='')}) "
        f"of the {n} loci with the highest output of each target, over the {width} bp with the "
        "largest summed attribution. Orange shading: seqlets, labelled with their best "
        "TOMTOM match when its q-value passes annotation.max_qvalue; purple bars under the "
        "logo: FIMO hits whose attribution passes fimo.attribution_threshold (the strongest "
        "four spans, motifs on one span sharing a bar); green bars on top: planted motif "
        "instances (simulations)."))
    any_target = False
    for target in ctx.targets:
        relative = f"attributions/{target}.h5"
        if not ctx.exists(relative) or not ctx.exists("loci/onehot.h5"):
            section.add(tag("h3", target))
            _missing(section, ctx, relative)
            continue
        examples = _examples(ctx, target, n, width)
        section.add(tag("h3", target))
        if not examples:
            section.add(note(f"No loci to show for {target}."))
            continue
        any_target = True
        png = ctx.save(figures.attribution_examples_figure(examples), f"attribution_{target}")
        section.add(figure(png, f"Top {len(examples)} loci for target {target}."),
                    table(pd.DataFrame([e["locus"] for e in examples])))
    if not any_target and section.status == "ok":
        section.status = "empty"
    return section


# --- convergence deltas -------------------------------------------------------------------------


def _shard_warnings(ctx: ReportContext, target: str) -> list[str]:
    messages = []
    for path in sorted(ctx.path(f"attributions/shards/{target}").glob("*.h5")):
        with h5py.File(path, "r") as h5:
            warning = h5.attrs.get("warning")
            if warning:
                messages.append(f"loci [{h5.attrs.get('start')}, {h5.attrs.get('end')}): "
                                f"{warning}")
    return messages


def delta_statistics(deltas: np.ndarray) -> dict:
    """Summary of convergence deltas (N, R): pairs, max, mean and 99.9th percentile of
    |delta| (NaN for ISM, which has none)."""
    magnitude = np.abs(np.asarray(deltas, dtype=np.float64)).ravel()
    if magnitude.size == 0:
        return {"pairs": 0, "max_abs": np.nan, "mean_abs": np.nan, "q999_abs": np.nan}
    return {"pairs": int(magnitude.size), "max_abs": float(magnitude.max()),
            "mean_abs": float(magnitude.mean()), "q999_abs": float(np.quantile(magnitude, 0.999))}


def deltas_section(ctx: ReportContext) -> Section:
    """Convergence deltas of DeepLIFT/SHAP: do attributions add up to the output change?"""
    section = Section("deltas", "Convergence-delta diagnostics")
    if not ctx.stage_on("attribution"):
        return _skipped(section, "attribution")
    rows, pictures, warnings = [], [], []
    predictions = (ctx.tsv("predictions/predictions.tsv", dtype={"name": str, "chrom": str})
                   if ctx.exists("predictions/predictions.tsv") else None)
    for target in ctx.targets:
        relative = f"attributions/{target}.h5"
        if not ctx.exists(relative):
            return _missing(section, ctx, relative)
        with h5py.File(ctx.path(relative), "r") as h5:
            deltas = h5["deltas"][:]
            method = str(h5.attrs.get("method", ""))
        stats = delta_statistics(deltas)
        spread = (float(predictions[target].std()) if predictions is not None
                  and len(predictions) > 1 else np.nan)
        rows.append((target, method, deltas.shape[0], deltas.shape[1] if deltas.ndim == 2 else 0,
                     stats["max_abs"], stats["mean_abs"], stats["q999_abs"], spread,
                     stats["max_abs"] / spread if spread else np.nan))
        warnings += [f"{target}: {m}" for m in _shard_warnings(ctx, target)]
        if ctx.exists(f"attributions/{target}.png"):
            pictures.append(figure(ctx.path(f"attributions/{target}.png"),
                                   f"Attribution QC for {target}: mean attribution by position "
                                   "and convergence deltas."))
    table_rows = pd.DataFrame(rows, columns=["target", "method", "loci", "references",
                                             "max_abs_delta", "mean_abs_delta",
                                             "q99.9_abs_delta", "output_sd",
                                             "max_delta_over_sd"])
    section.add(paragraph(
        "A convergence delta is the sum of a locus's attributions against one reference minus "
        "the change of the output between the locus and that reference; DeepLIFT's rules make "
        "it zero up to float rounding. Deltas comparable to the spread of the outputs "
        "(last column) mean some layer lacks a correct rule, and the attributions do not "
        "explain the output."), table(table_rows))
    if (table_rows["references"] == 0).all():
        section.add(note("The attributions are saturation mutagenesis (ISM), which has no "
                         "convergence deltas."))
    elif warnings:
        section.status = "ok"
        section.add(note("Warnings from the attribution jobs:"),
                    Markup("<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings)
                           + "</ul>"))
    else:
        section.add(paragraph("No attribution job warned about large deltas."))
    section.add(*pictures)
    return section


# --- seqlets ---------------------------------------------------------------------------------


def seqlets_section(ctx: ReportContext) -> Section:
    """Seqlets per target and their TOMTOM annotation counts."""
    section = Section("seqlets", "Seqlets and their annotation")
    if not ctx.stage_on("seqlets"):
        return _skipped(section, "seqlets")
    max_q = ctx.setting("annotation", "max_qvalue", default=0.05)
    group_by = ctx.setting("annotation", "group_by", default="cluster")
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    n_loci = len(ctx.loci()) if ctx.exists("loci/loci.tsv") else 0
    empty = 0
    for target in ctx.targets:
        section.add(tag("h3", target))
        relative = f"seqlets/{target}.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        seqlets = ctx.tsv(relative, dtype={"chrom": str})
        if seqlets.empty:
            empty += 1
            section.add(note(f"No seqlets were called for {target}: no span of the "
                             f"attributions of the {n_loci} loci was significant at "
                             f"seqlets.threshold = {ctx.setting('seqlets', 'threshold')} "
                             f"({ctx.setting('seqlets', 'method')} method)."))
            continue
        n_with = seqlets["example_idx"].nunique()
        section.add(paragraph(f"{len(seqlets)} seqlets in {n_with} of {n_loci} loci; median "
                              f"length {int(np.median(seqlets['end'] - seqlets['start']))} bp."))
        counts_file = f"seqlets/{target}.counts.tsv"
        if not ctx.exists(counts_file):
            _missing(section, ctx, counts_file)
        else:
            counts = ctx.tsv(counts_file, keep_default_na=False, na_values=[""])
            if counts.empty:
                section.add(note(f"None of the {len(seqlets)} seqlets of {target} has a "
                                 f"database match with q-value <= {max_q} "
                                 "(annotation.max_qvalue)."))
            else:
                section.add(table(counts, max_rows=max_rows, source=ctx.show(counts_file),
                                  caption=f"Seqlets per {group_by} (best match q <= {max_q})"))
        if ctx.exists(f"seqlets/{target}.png"):
            section.add(figure(ctx.path(f"seqlets/{target}.png"),
                               f"Seqlets of {target}: positions, lengths, seqlets per locus."))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section


# --- FIMO ----------------------------------------------------------------------------------------


def fimo_section(ctx: ReportContext) -> Section:
    """FIMO hits per motif and target, thresholded by attribution."""
    section = Section("fimo", "FIMO hits thresholded by attribution")
    if not ctx.stage_on("fimo"):
        return _skipped(section, "fimo")
    threshold = ctx.setting("fimo", "attribution_threshold", default=None)
    if threshold is None:
        threshold = (f"the null (null_p <= {ctx.setting('fimo', 'null_alpha', default=0.05)}:"
                     " above the same-width spans of its locus)")
    p_threshold = ctx.setting("fimo", "threshold", default=1e-4)
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    section.add(paragraph(f"FIMO hits (p < {p_threshold}) of every database motif in the "
                          "loci; n_above counts hits whose summed projected attribution is at "
                          f"least {threshold} (fimo.attribution_threshold), the instances the "
                          "model uses."))
    empty = 0
    for target in ctx.targets:
        section.add(tag("h3", target))
        relative = f"fimo/{target}.counts.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        counts = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                         dtype={"motif_id": str, "motif_alt_id": str})
        hit = counts[counts["n_hits"] > 0]
        if hit.empty:
            empty += 1
            section.add(note(f"No FIMO hit at p < {p_threshold} in any locus for {target}."))
            continue
        above = int(hit["n_above"].sum()) if "n_above" in hit else 0
        section.add(paragraph(f"{int(hit['n_hits'].sum())} hits of {len(hit)} motifs; "
                              f"{above} above {threshold}."))
        if above == 0:
            section.add(note(f"No hit of {target} reaches the attribution threshold."))
        section.add(table(hit, max_rows=max_rows, source=ctx.show(relative)))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section


# --- filters -------------------------------------------------------------------------------------


def filters_section(ctx: ReportContext) -> Section:
    """First-layer filters: PWM logos, TOMTOM matches, influence heat map."""
    section = Section("filters", "First-layer filters")
    if not ctx.stage_on("filters"):
        return _skipped(section, "filters")
    relative = "filters/table.tsv"
    if not ctx.exists(relative):
        return _missing(section, ctx, relative)
    frame = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                    dtype={"filter": str, "annotation": str, "best_match": str,
                           "best_match_name": str})
    if frame.empty:
        section.status = "empty"
        return section.add(note("The model's first layer has no filters."))
    logos = []
    for name in frame["filter"]:
        png = ctx.path(f"filters/logos/{name}.png")
        logos.append(image(png, f"logo of {name}", css_class="logo") if png.exists()
                     else Markup(""))
    shown = frame.copy()
    shown.insert(1, "logo", logos)
    with_motif = int((frame.get("status", pd.Series(["ok"] * len(frame))) == "ok").sum())
    thresh = ctx.setting("filters", "tomtom", "thresh", default=0.1)
    annotated = int((frame.get("annotation", pd.Series(["."] * len(frame))) != ".").sum())
    section.add(paragraph(f"{len(frame)} filters ({ctx.setting('filters', 'method')} rule), "
                          f"{with_motif} with enough sites for a motif, {annotated} matching a "
                          f"database motif at TOMTOM q <= {thresh}."),
                table(shown, source=ctx.show(relative)))
    if ctx.exists("filters/tomtom.tsv"):
        matches = ctx.tsv("filters/tomtom.tsv", dtype={"query_id": str, "target_id": str})
        section.add(tag("h3", "TOMTOM matches of the filters"))
        section.add(table(matches, max_rows=int(ctx.setting("report", "max_rows", default=50)),
                          source=ctx.show("filters/tomtom.tsv")) if len(matches) else
                    note(f"No filter matches a database motif at q <= {thresh}."))
    if ctx.setting("filters", "influence", "enabled", default=True) and ctx.exists(
            "filters/influence.png"):
        section.add(figure(ctx.path("filters/influence.png"),
                           "Influence of each filter on each target (clustered)."))
    if ctx.exists("filters/weights.png"):
        section.add(figure(ctx.path("filters/weights.png"), "First-layer filter weights."))
    return section


# --- marginalization ---------------------------------------------------------------------------


def marginalize_section(ctx: ReportContext) -> Section:
    """Marginalization: the effect of planting each database motif in backgrounds."""
    section = Section("marginalize", "Marginalization")
    if not ctx.stage_on("marginalize"):
        return _skipped(section, "marginalize")
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    section.add(paragraph(
        f"Each motif was planted ({ctx.setting('marginalize', 'instance')}) in "
        f"{ctx.setting('marginalize', 'n_backgrounds')} "
        f"{ctx.setting('marginalize', 'background')} backgrounds; delta_mean is the mean change "
        "of the output (motif minus background), z its mean over its standard error."))
    empty = 0
    for target in ctx.targets:
        section.add(tag("h3", target))
        relative = f"marginalize/{target}.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        frame = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                        dtype={"motif": str, "motif_alt_id": str})
        if frame.empty:
            empty += 1
            section.add(note(f"No motif was marginalized for {target}."))
            continue
        section.add(table(frame, max_rows=max_rows, source=ctx.show(relative)))
        if ctx.exists(f"marginalize/{target}.png"):
            section.add(figure(ctx.path(f"marginalize/{target}.png"),
                               f"Strongest motifs for {target}."))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section


# --- planted-motif recovery ----------------------------------------------------------------------


def _optional_tables(ctx: ReportContext, pattern: str, stage_ok: bool, **kwargs) -> dict | None:
    if not stage_ok:
        return None
    found = {t: pd.read_csv(ctx.path(pattern.format(target=t)), sep="\t", **kwargs)
             for t in ctx.targets if ctx.exists(pattern.format(target=t))}
    return found or None


def _fimo_calls(ctx: ReportContext) -> dict | None:
    """Per target, the FIMO hits passing the attribution threshold (genome coordinates)."""
    columns = ["motif_id", "chrom", "genome_start", "genome_end", "attribution"]
    found = {t: read_hits(ctx.path(f"fimo/{t}.hits.tsv.gz"),
                          _fimo_columns(ctx, ctx.path(f"fimo/{t}.hits.tsv.gz"), columns),
                          lambda c: fimo_above(ctx, c))
             for t in ctx.targets if ctx.exists(f"fimo/{t}.hits.tsv.gz")}
    return found or None


def recovery_section(ctx: ReportContext) -> Section:
    """For simulations: which planted motifs each method found (recall, precision)."""
    from motifscope.report.recovery import MotifGroups, planted_motif_recovery, sites_in_loci

    section = Section("recovery", "Planted-motif recovery")
    if not ctx.simulated:
        section.status = "skipped"
        return section.add(note("Not a simulation (simulate.enabled is false): there is no "
                                "ground truth to compare with."))
    if not ctx.exists("sim/truth.tsv") or not ctx.exists("loci/loci.tsv"):
        return _missing(section, ctx, "sim/truth.tsv")
    truth = ctx.tsv("sim/truth.tsv", dtype={"chrom": str, "motif_id": str, "target": str},
                    keep_default_na=False)
    loci = ctx.loci()
    if sites_in_loci(truth, loci).empty:
        section.status = "empty"
        return section.add(note("No planted site lies inside an analysed window."))
    text = {"dtype": {"chrom": str, "motif_id": str, "motif_alt_id": str},
            "keep_default_na": False, "na_values": {"q-value": ["", "nan", "NaN"]}}
    database = ctx.tsv("motifs/database.tsv", dtype=str, keep_default_na=False) if ctx.exists(
        "motifs/database.tsv") else None
    clusters = ctx.tsv("motifs/clusters.tsv", dtype=str, keep_default_na=False) if ctx.exists(
        "motifs/clusters.tsv") else None
    seqlets_on = ctx.stage_on("seqlets")
    per_motif, summary = planted_motif_recovery(
        truth, loci, ctx.targets,
        seqlets=_optional_tables(ctx, "seqlets/{target}.annotated.tsv", seqlets_on, **text),
        raw_seqlets=_optional_tables(ctx, "seqlets/{target}.tsv", seqlets_on,
                                     dtype={"chrom": str}),
        fimo=_fimo_calls(ctx) if ctx.stage_on("fimo") else None,
        filters=(ctx.tsv("filters/matches.tsv", dtype=str, keep_default_na=False)
                 if ctx.stage_on("filters") and ctx.exists("filters/matches.tsv") else None),
        marginalization=_optional_tables(ctx, "marginalize/{target}.tsv",
                                         ctx.stage_on("marginalize"),
                                         dtype={"motif": str, "motif_alt_id": str}),
        groups=MotifGroups(database, clusters),
        max_qvalue=ctx.setting("annotation", "max_qvalue", default=0.05),
        attribution_threshold=-np.inf,  # _fimo_calls kept only the hits above it
        min_z=ctx.setting("report", "min_z", default=3.0),
        min_effect=ctx.setting("report", "min_effect", default=0.5))
    section.add(paragraph(
        "Each method's calls were compared with the planted sites of sim/truth.tsv inside the "
        "analysed windows. A call names a planted motif when it is the same database motif, "
        "in the same TOMTOM cluster, or has the same name (for a dimer such as GATA1::TAL1, "
        "also a motif named after one of its parts). Site recall: planted sites "
        "overlapped (at least half of the shorter interval) by a call naming their motif; "
        "site precision: calls lying on a planted site of the motif they name; motif "
        "precision: named motifs that were planted. Calls: seqlets with best match q <= "
        "annotation.max_qvalue; FIMO hits with attribution >= fimo.attribution_threshold; "
        "filters with a TOMTOM match; marginalized motifs with z >= report.min_z and an "
        "effect of at least report.min_effect times the strongest motif's."))
    if per_motif.empty:
        section.status = "empty"
        return section.add(note("No method that names motifs ran, so nothing can be compared "
                                "with the planted motifs."))
    section.add(tag("h3", "Per method"), table(summary))
    section.add(tag("h3", "Per planted motif"), table(per_motif))
    png = ctx.save(figures.recovery_figure(per_motif), "recovery")
    section.add(figure(png, "Planted motifs found by each method."))
    return section


# --- DragoNN benchmark (paper configuration) -----------------------------------------------------


def benchmark_section(ctx: ReportContext) -> Section:
    """Positional auPRC of ISM, DeepLIFT/SHAP and the motif scan (paper configuration)."""
    section = Section("benchmark", "Interpretation benchmark (positional auPRC)")
    relative = "benchmark/positional_prc.tsv"
    if not ctx.setting("paper", "enabled", default=False):
        section.status = "skipped"
        return section.add(note("The paper benchmark is off (paper.enabled is false)."))
    if not ctx.exists(relative):
        return _missing(section, ctx, relative)
    frame = ctx.tsv(relative, dtype={"motif": str, "method": str})
    section.add(paragraph(
        "DragoNN's positional precision-recall on held-out simulated sequences: every window "
        "of a planted motif's width is scored by the sum of a method's per-position scores "
        "(max |ISM| over bases, the largest projected DeepLIFT/SHAP contribution, or the PWM "
        "log-odds of the motif scan); windows covering at least 80% of a planted instance are "
        "positives, partial ones are dropped. baseline is the positive fraction (a random "
        "ranking)."), table(frame))
    for name, caption in (("positional_prc", "Positional precision-recall per method."),
                          ("benchmark_tracks", "Per-position scores on one held-out positive "
                                               "sequence."),
                          ("paper_marginalization", "Marginalization: top motifs per target."),
                          ("paper_seqlet_annotation", "Seqlet annotation counts per target.")):
        png = ctx.path(f"figures/{name}.png")
        if png.exists():
            section.add(figure(png, caption))
    return section


SECTIONS = [summary_section, model_section, attribution_section, seqlets_section, fimo_section,
            filters_section, marginalize_section, deltas_section, recovery_section,
            benchmark_section]
