"""Rule motif_db: export the motif database as MEME v4 plus a table of motif metadata."""

from pathlib import Path

import pandas as pd

from _common import run
from motifscope.io import jaspar_motifs, read_meme, write_meme
from motifscope.utils import atomic_path


def main(spec: str, meme_out: str, table_out: str) -> None:
    if spec.lower().startswith("jaspar:"):
        motifs, table = jaspar_motifs(spec)
    else:
        motifs = read_meme(spec)
        table = pd.DataFrame({"id": list(motifs), "alt_id": [motifs.alt_id(i) for i in motifs],
                              "width": [m.shape[1] for m in motifs.values()],
                              "tf_class": "", "tf_family": ""})
    write_meme(motifs, meme_out)
    with atomic_path(table_out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    print(f"{len(motifs)} motifs from {spec} written to {Path(meme_out).name}")


if "snakemake" in globals():
    run(main, snakemake, spec=snakemake.params.spec, meme_out=snakemake.output.meme,
        table_out=snakemake.output.table)
