"""Section: attribution logos of the top loci, with seqlets, FIMO hits and planted sites
marked (window coordinates, 0-based half-open).
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from motifscope.evaluation.recovery import sites_in_loci
from motifscope.io.attributions import read_rows
from motifscope.report import figures
from motifscope.report.html import figure, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, fimo_above, fimo_columns, ReportContext


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


def _fimo_marks(ctx: ReportContext, target: str, loci_idx) -> pd.DataFrame | None:
    relative = f"fimo/{target}.hits.tsv.gz"
    if not ctx.exists(relative):
        return None
    wanted = set(int(i) for i in loci_idx)
    columns = fimo_columns(ctx, ctx.path(relative), ["motif_id", "motif_alt_id",
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
    if not (ctx.simulated and ctx.exists("sim/truth.tsv")):
        return None
    sites = sites_in_loci(ctx.tsv("sim/truth.tsv", dtype={"chrom": str}), ctx.loci())
    names = sites["motif_alt_id"].fillna("").astype(str)
    return pd.DataFrame({"example_idx": sites["example_idx"].to_numpy(),
                         "start": sites["window_start"].to_numpy(),
                         "end": sites["window_end"].to_numpy(),
                         "label": ("planted " + names.where(names != "", sites["motif_id"]))})


def _prediction_rows(ctx: ReportContext, target: str) -> np.ndarray:
    """Row of predictions/predictions.tsv (every window) of each of the target's windows."""
    loci = ctx.loci(target)
    column = "union_idx" if "union_idx" in loci.columns else "idx"
    return loci[column].to_numpy(np.int64)


def _top_loci(ctx: ReportContext, target: str, n: int) -> list[int]:
    """The target's windows (rows of its loci.tsv) with the highest output, at most n."""
    relative = "predictions/predictions.tsv"
    if ctx.exists(relative):
        predictions = ctx.tsv(relative, dtype={"name": str, "chrom": str})
        own = pd.DataFrame({"row": np.arange(len(ctx.loci(target))),
                            "idx": _prediction_rows(ctx, target)})
        ranked = own.merge(predictions[["idx", target]], on="idx").sort_values(
            [target, "idx"], ascending=[False, True], kind="mergesort")
        return [int(i) for i in ranked["row"].head(n)]
    return list(range(min(n, len(ctx.loci(target)))))


def _examples(ctx: ReportContext, target: str, n: int, width: int) -> list[dict]:
    idx = _top_loci(ctx, target, n)
    if not idx:
        return []
    rows = np.sort(np.asarray(idx))
    attr = read_rows(ctx.path(f"attributions/{target}.h5"), rows)
    with h5py.File(ctx.path(ctx.loci_file("onehot.h5", target)), "r") as h5:
        X = h5["X"][rows].astype(np.float32)
    projected = dict(zip(rows.tolist(), attr * X))
    loci = ctx.loci(target).set_index("idx")
    prediction_row = dict(zip(loci.index, _prediction_rows(ctx, target)))
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
        output = (predictions.loc[prediction_row[i], target] if predictions is not None
                  else np.nan)
        if predictions is not None:
            title += f", {target} output {output:.3g}"
        example = {"matrix": matrix[:, start:end], "start": start, "title": title,
                   "locus": {"locus": i, "name": locus["name"], "chrom": locus["chrom"],
                             "start": int(locus["start"]), "end": int(locus["end"]),
                             "shown": f"{start}-{end}",
                             "output": output}}
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
        if not ctx.exists(relative) or not ctx.exists(ctx.loci_file("onehot.h5", target)):
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
