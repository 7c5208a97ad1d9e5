"""Motif instances (hits) from contribution tracks, genome tracks and motif syntax.

``fit_hits`` is Fi-NeMo's sparse non-negative CWM fit on torch; ``read_cwms`` loads the
patterns (modisco-lite h5 or MEME); ``hits_to_genome`` places hits on the genome.
"""

from .fit import HIT_COLUMNS, FitSettings, fit_hits
from .motifs import CWMSet, cwm_set, read_cwms, read_meme_cwms, read_modisco_cwms, trim_span

__all__ = ["CWMSet", "FitSettings", "HIT_COLUMNS", "cwm_set", "fit_hits", "read_cwms",
           "read_meme_cwms", "read_modisco_cwms", "trim_span"]
