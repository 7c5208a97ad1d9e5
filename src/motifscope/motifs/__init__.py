"""Motif comparison and scanning: TOMTOM, FIMO, seqlet annotation and motif clusters."""

from motifscope.motifs.fimo import fimo
from motifscope.motifs.tomtom import TomtomResult, tomtom, tomtom_pvalues

__all__ = ["TomtomResult", "fimo", "tomtom", "tomtom_pvalues"]
