"""Regenerate tests/data/motifs.meme: a small JASPAR 2024 subset for fast workflow tests.

It holds the motifs the tiny config plants (CTCF, SPI1, GATA1::TAL1), the GATA family (a
redundant group, for grouped counts) and every 40th CORE vertebrate motif as decoys.
Run: python tests/data/make_motifs.py
"""

from pathlib import Path

from motifscope.io import jaspar_motifs, write_meme

KEEP = ["MA0139.2", "MA0080.7", "MA0140.3", "MA0035.5", "MA0036.4", "MA0482.3", "MA0037.5",
        "MA0766.3", "MA1104.3"]


def main():
    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    ids = list(dict.fromkeys(KEEP + list(motifs)[::40]))
    write_meme(motifs.subset(ids), Path(__file__).with_name("motifs.meme"))


if __name__ == "__main__":
    main()
