"""A small synthetic run folder (every stage's files) for the report tests.

Twelve loci of 60 bp on two contigs; the positives of each target carry a planted site at
window positions 20..28 whose attribution is high, with a seqlet, a FIMO hit and a TOMTOM
annotation on it, so the expected recovery and report content follow from the construction.
Names from "user files" include HTML to check escaping.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml
from snakemake.utils import validate

import summary as summary_script
from motifscope.io.meme import write_meme

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

N_LOCI, WINDOW = 12, 60
SITE = (20, 28)
NASTY_PEAK = "<script>alert('peak')</script>"
NASTY_MOTIF = 'Ctcf<img src=x onerror="alert(1)">'
MOTIFS = {"ctcf": ("MA0139.2", NASTY_MOTIF), "spi1": ("MA0080.7", "Spi1")}


def tiny_png(value: int = 128) -> bytes:
    """A valid 1x1 grey PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes([0, value]))) + chunk(b"IEND", b""))


def make_config(run: str = "synthetic", **overrides) -> dict:
    """The tiny test config, validated (defaults filled), with top-level overrides."""
    config = yaml.safe_load((REPO / "tests" / "config" / "config.yaml").read_text())
    config.update(run=run, window=WINDOW, **overrides)
    validate(config, str(SCHEMA))
    return config


def _tsv(path: Path, frame: pd.DataFrame, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False, **kwargs)


def _loci() -> pd.DataFrame:
    starts = np.arange(N_LOCI) * 200 + 1000
    names = [f"peak_{k:02d}" for k in range(N_LOCI)]
    names[10] = NASTY_PEAK  # the top ctcf locus, so it is shown
    return pd.DataFrame({"idx": np.arange(N_LOCI), "chrom": ["chr1"] * 6 + ["chr2"] * 6,
                         "start": starts, "end": starts + WINDOW,
                         "summit": starts + WINDOW // 2, "name": names,
                         "score": np.arange(N_LOCI, dtype=float)})


def positives(target: str) -> np.ndarray:
    """Loci where the motif of ``target`` is planted: even loci for ctcf, odd for spi1."""
    return np.arange(N_LOCI)[np.arange(N_LOCI) % 2 == (0 if target == "ctcf" else 1)]


def make_run(root: Path, targets=("ctcf", "spi1"), empty_seqlets=(), empty_fimo=(),
             filters_match: bool = True) -> Path:
    """Write ``root/results/synthetic`` with every stage's files; returns the run folder.

    Parameters
    ----------
    empty_seqlets, empty_fimo : targets whose seqlet table / FIMO hits are empty.
    filters_match : whether filter0 has a TOMTOM match (to the ctcf motif).
    """
    run = Path(root) / "results" / "synthetic"
    rng = np.random.default_rng(0)
    loci = _loci()
    _tsv(run / "loci" / "loci.tsv", loci)
    X = np.zeros((N_LOCI, 4, WINDOW), dtype=np.uint8)
    np.put_along_axis(X, rng.integers(0, 4, (N_LOCI, 1, WINDOW)), 1, axis=1)
    (run / "loci").mkdir(parents=True, exist_ok=True)
    with h5py.File(run / "loci" / "onehot.h5", "w") as h5:
        h5.create_dataset("X", data=X)
    database = pd.DataFrame({"id": ["MA0139.2", "MA0080.7", "MA0035.5"],
                             "alt_id": [NASTY_MOTIF, "Spi1", "GATA1"], "width": [15, 13, 7],
                             "tf_class": "", "tf_family": ""})
    _tsv(run / "motifs" / "database.tsv", database)
    _tsv(run / "motifs" / "clusters.tsv",
         database[["id", "alt_id"]].assign(cluster=["c1", "c2", "c3"], cluster_size=1,
                                          cluster_name=database["alt_id"]))
    write_meme({m: rng.dirichlet(np.ones(4), w).T for m, w in
                zip(database["id"], database["width"])}, run / "motifs" / "database.meme")
    predictions = loci[["idx", "chrom", "start", "end", "name"]].copy()
    truth, regions = [], loci[["chrom", "start", "end"]].assign(kind="peak", name=loci["name"])
    for target in targets:
        pos = positives(target)
        predictions[target] = np.where(np.isin(loci["idx"], pos), 2.0, -1.0) + \
            0.1 * np.arange(N_LOCI)
        regions[target] = np.isin(loci["idx"], pos).astype(int)
        motif_id, alt = MOTIFS[target]
        for k in pos:
            truth.append((loci["chrom"][k], loci["start"][k] + SITE[0],
                          loci["start"][k] + SITE[1], "+", motif_id, alt, target,
                          loci["name"][k], "ACGTACGT"))
    _tsv(run / "predictions" / "predictions.tsv", predictions)
    truth = pd.DataFrame(truth, columns=["chrom", "start", "end", "strand", "motif_id",
                                         "motif_alt_id", "target", "peak", "sequence"])
    _tsv(run / "sim" / "truth.tsv", truth)
    _tsv(run / "sim" / "training.tsv", regions)
    (run / "model").mkdir(parents=True, exist_ok=True)
    (run / "model" / "model.json").write_text(json.dumps(
        {"class": "motifscope.architectures.DemoCNN", "input_length": WINDOW,
         "auroc": {t: 0.9 for t in targets}, "auprc": {t: 0.8 for t in targets}}))
    for target in targets:
        _stage_files(run, target, X, loci, truth, target in empty_seqlets,
                     target in empty_fimo, rng)
        _modisco_files(run, target, loci)
    _filter_files(run, filters_match)
    _modisco_shared(run, targets)
    _summary_file(run, targets)
    return run


def _modisco_files(run: Path, target: str, loci: pd.DataFrame) -> None:
    """One positive pattern per target, matching its planted motif, whose seqlets are the
    planted sites (BED6 as rule modisco writes it)."""
    pos = positives(target)
    motif_id, alt = MOTIFS[target]
    name = "pos_patterns.pattern_0"
    row = {"pattern": name, "metacluster": "pos", "n_seqlets": len(pos), "width": 8,
           "consensus": "ACGTACGT"}
    for k in (1, 2, 3):
        row |= {f"match_{k}": motif_id if k == 1 else "", f"match_{k}_alt": alt if k == 1 else "",
                f"q_{k}": 1e-4 if k == 1 else np.nan, f"p_{k}": 1e-6 if k == 1 else np.nan,
                f"family_{k}": ""}
    _tsv(run / "modisco" / f"{target}.patterns.tsv", pd.DataFrame([row]))
    bed = pd.DataFrame({"chrom": loci["chrom"].to_numpy()[pos],
                        "start": loci["start"].to_numpy()[pos] + SITE[0],
                        "end": loci["start"].to_numpy()[pos] + SITE[1], "name": name,
                        "score": 0, "strand": "+"})
    bed.to_csv(run / "modisco" / f"{target}.seqlets.bed", sep="\t", index=False, header=False)
    (run / "modisco" / f"{target}.patterns.png").write_bytes(tiny_png(60))
    (run / "modisco" / f"{target}.h5").write_bytes(b"")


def _modisco_shared(run: Path, targets) -> None:
    _tsv(run / "modisco" / "shared.tsv", pd.DataFrame({
        "cluster": [f"motif_{k}" for k in range(1, len(targets) + 1)], "target": list(targets),
        "pattern": "pos_patterns.pattern_0", "metacluster": "pos", "n_seqlets": 6, "share": 1.0,
        "label": [MOTIFS[t][1] for t in targets], "similarity_to_lead": 1.0}))
    (run / "modisco" / "shared.png").write_bytes(tiny_png(70))


def _summary_file(run: Path, targets) -> None:
    """summary.tsv written by rule summary's script from the files above, with the
    schema's defaults (so the report's first section reads what the workflow writes)."""
    per_target = {"annotated": "seqlets/{}.annotated.tsv", "seqlet_counts": "seqlets/{}.counts.tsv",
                  "fimo_counts": "fimo/{}.counts.tsv", "marginalize": "marginalize/{}.tsv"}
    inputs = {name: [str(run / pattern.format(t)) for t in targets]
              for name, pattern in per_target.items()}
    inputs.update(clusters=str(run / "motifs" / "clusters.tsv"),
                  database=str(run / "motifs" / "database.tsv"),
                  filter_matches=str(run / "filters" / "tomtom.tsv"),
                  truth=str(run / "sim" / "truth.tsv"))
    defaults = make_config()
    settings = {**defaults["summary"], "max_qvalue": defaults["annotation"]["max_qvalue"],
                "min_z": defaults["report"]["min_z"],
                "min_effect": defaults["report"]["min_effect"]}
    summary_script.main(inputs, list(targets), settings, str(run / "summary.tsv"))


def _stage_files(run, target, X, loci, truth, no_seqlets, no_hits, rng):
    pos = positives(target)
    attr = rng.normal(0, 0.01, (N_LOCI, 4, WINDOW)).astype(np.float32)
    attr[pos, :, SITE[0]:SITE[1]] += 1.0
    (run / "attributions").mkdir(parents=True, exist_ok=True)
    with h5py.File(run / "attributions" / f"{target}.h5", "w") as h5:
        h5.create_dataset("attr", data=attr)
        h5.create_dataset("deltas", data=rng.normal(0, 1e-6, (N_LOCI, 3)).astype(np.float32))
        h5.attrs.update(method="deeplift_shap", target=target, target_index=0, params="{}")
    (run / "attributions" / f"{target}.png").write_bytes(tiny_png(10))
    motif_id, alt = MOTIFS[target]
    rows = [] if no_seqlets else pos
    seqlets = pd.DataFrame({
        "chrom": loci["chrom"].to_numpy()[rows], "start": loci["start"].to_numpy()[rows] + SITE[0],
        "end": loci["start"].to_numpy()[rows] + SITE[1], "example_idx": np.asarray(rows, int),
        "attribution": 8.0, "p-value": 1e-6, "window_start": SITE[0], "window_end": SITE[1]})
    _tsv(run / "seqlets" / f"{target}.tsv", seqlets)
    annotated = seqlets.rename(columns={"p-value": "seqlet_p-value"}).assign(
        seqlet_idx=np.arange(len(seqlets)), rank=1, motif_id=motif_id, motif_alt_id=alt,
        **{"p-value": 1e-5, "E-value": 3e-5, "q-value": 0.01}, cluster="c1",
        cluster_name=alt)
    _tsv(run / "seqlets" / f"{target}.annotated.tsv", annotated)
    counts = pd.DataFrame({"cluster": [alt], "n_seqlets": [len(seqlets)],
                           "n_examples": [len(seqlets)], "motifs": [motif_id], "names": [alt],
                           "mean_attribution": [8.0]})
    _tsv(run / "seqlets" / f"{target}.counts.tsv", counts.iloc[0:0] if no_seqlets else counts)
    (run / "seqlets" / f"{target}.png").write_bytes(tiny_png(40))
    hits = []
    if not no_hits:
        for k in pos:
            hits.append((motif_id, alt, k, SITE[0], SITE[1], "+", 20.0, 1e-7, 1e-4, "ACGTACGT",
                         loci["chrom"][k], loci["start"][k] + SITE[0],
                         loci["start"][k] + SITE[1], 8.0))
        # a decoy: GATA1 hit off the planted site with low attribution
        hits.append(("MA0035.5", "GATA1", 1, 40, 47, "-", 11.0, 5e-5, 0.01, "AGATAAG",
                     loci["chrom"][1], loci["start"][1] + 40, loci["start"][1] + 47, -0.5))
    columns = ["motif_id", "motif_alt_id", "sequence_name", "start", "end", "strand", "score",
               "p-value", "q-value", "matched_sequence", "chrom", "genome_start",
               "genome_end", "attribution"]
    hit_table = pd.DataFrame(hits, columns=columns)
    (run / "fimo").mkdir(parents=True, exist_ok=True)
    with gzip.open(run / "fimo" / f"{target}.hits.tsv.gz", "wt") as fh:
        hit_table.to_csv(fh, sep="\t", index=False)
    counts = pd.DataFrame({"motif_id": ["MA0139.2", "MA0080.7", "MA0035.5"],
                           "motif_alt_id": [NASTY_MOTIF, "Spi1", "GATA1"],
                           "n_hits": [0, 0, 0], "n_sequences": 0, "n_above": 0,
                           "mean_attribution": np.nan})
    if not no_hits:
        counts.loc[counts["motif_id"] == motif_id, ["n_hits", "n_sequences", "n_above",
                                                    "mean_attribution"]] = [len(pos),
                                                                            len(pos),
                                                                            len(pos), 8.0]
        counts.loc[counts["motif_id"] == "MA0035.5", ["n_hits", "n_sequences",
                                                      "mean_attribution"]] = [1, 1, -0.5]
    _tsv(run / "fimo" / f"{target}.counts.tsv", counts)
    marginal = pd.DataFrame({"motif": [motif_id, "MA0035.5", "MA0080.7" if target == "ctcf"
                                       else "MA0139.2"],
                             "motif_alt_id": [alt, "GATA1", "other"],
                             "delta_mean": [0.5, 0.01, -0.2], "delta_sd": [0.1, 0.1, 0.1],
                             "n": 100, "z": [50.0, 1.0, -20.0]})
    _tsv(run / "marginalize" / f"{target}.tsv", marginal)
    (run / "marginalize" / f"{target}.png").write_bytes(tiny_png(70))


def _filter_files(run, filters_match):
    table = pd.DataFrame({
        "filter": ["filter0", "filter1"], "consensus": ["CCGCGNGGNGGCAG", "NNNN"],
        "weight_consensus": ["CCGCG", "AAAA"],
        "best_match": ["MA0139.2", "MA0035.5"], "best_match_name": [NASTY_MOTIF, "GATA1"],
        "q-value": [0.01 if filters_match else 0.5, 0.5],
        "annotation": [NASTY_MOTIF if filters_match else ".", "."], "ic": [9.0, 1.0],
        "activation_mean": [0.1, 0.2], "activation_sd": [0.1, 0.1], "nsites": [50, 3],
        "status": ["ok", "too few sites"], "influence:ctcf": [3.0, 0.1]})
    _tsv(run / "filters" / "table.tsv", table)
    _tsv(run / "filters" / "matches.tsv",
         table[["filter", "best_match", "best_match_name", "q-value", "annotation"]])
    tomtom = pd.DataFrame({"query_id": ["filter0"], "target_id": ["MA0139.2"],
                           "optimal_offset": [0], "p-value": [1e-4], "E-value": [3e-4],
                           "q-value": [0.01], "overlap": [14], "query_consensus": ["CCGCG"],
                           "target_consensus": ["CCGCG"], "orientation": ["+"], "score": [9]})
    _tsv(run / "filters" / "tomtom.tsv", tomtom if filters_match else tomtom.iloc[0:0])
    (run / "filters" / "logos").mkdir(parents=True, exist_ok=True)
    (run / "filters" / "logos" / "filter0.png").write_bytes(tiny_png(90))
    (run / "filters" / "influence.png").write_bytes(tiny_png(100))
    (run / "filters" / "weights.png").write_bytes(tiny_png(110))
