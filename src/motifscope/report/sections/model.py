"""Section: the model card and its performance on the loci."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from motifscope.metrics import average_precision, roc_auc
from motifscope.report import figures
from motifscope.report.html import figure, key_value_table, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _read_labels, ReportContext


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
