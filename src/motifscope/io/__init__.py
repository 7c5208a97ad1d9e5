"""Reading and writing the file formats of the field.

- MEME v4 motif files (:func:`read_meme`, :func:`write_meme`) and JASPAR exports
  (:func:`jaspar_motifs`), in :mod:`motifscope.io.meme` and :mod:`motifscope.io.jaspar`;
- peak files (BED3/BED6/narrowPeak, gzipped or not: :func:`read_peaks`) and one-hot windows
  from a genome FASTA (:func:`extract_loci`, :func:`write_onehot`), in
  :mod:`motifscope.io.peaks` and :mod:`motifscope.io.loci`.
"""

from motifscope.io.jaspar import jaspar_motifs, parse_jaspar_spec
from motifscope.io.loci import (
    extract_loci,
    open_fasta,
    plan_loci,
    read_loci,
    read_onehot,
    window_offsets,
    write_onehot,
)
from motifscope.io.meme import MotifInfo, MotifSet, read_meme, select_motifs, write_meme
from motifscope.io.peaks import read_peaks

__all__ = [
    "MotifInfo",
    "MotifSet",
    "extract_loci",
    "jaspar_motifs",
    "open_fasta",
    "parse_jaspar_spec",
    "plan_loci",
    "read_loci",
    "read_meme",
    "read_onehot",
    "read_peaks",
    "select_motifs",
    "write_meme",
    "window_offsets",
    "write_onehot",
]
