"""De novo motif discovery: TF-MoDISco patterns of each target and across targets.

- :func:`discover_patterns` (:class:`ModiscoSettings`): TF-MoDISco on one target's windows
  (modisco-lite 3.0's ``TFMoDISco``, as ``modisco motifs`` calls it), written with
  :func:`motifscope.io.modisco.write_modisco`;
- :func:`pattern_table`, :func:`write_pattern_memes`, :func:`seqlets_on_genome`: TOMTOM
  labels, MEME files and the pattern seqlets in genome coordinates;
- :func:`shared_patterns`, :func:`shared_matrix`: patterns clustered across targets;
  :func:`matched_patterns`: two runs' patterns paired one-to-one.
"""

from motifscope.denovo.across import (aligned_cosine, matched_patterns, shared_matrix,
                                      shared_patterns)
from motifscope.denovo.discover import (ModiscoSettings, crop_offset, discover_patterns,
                                        is_modisco_lite_3)
from motifscope.denovo.patterns import (
    pattern_table,
    seqlets_on_genome,
    trim_span,
    trimmed,
    write_pattern_memes,
)

__all__ = ["ModiscoSettings", "aligned_cosine", "crop_offset", "discover_patterns",
           "is_modisco_lite_3",
           "matched_patterns",
           "pattern_table", "seqlets_on_genome", "shared_matrix", "shared_patterns",
           "trim_span", "trimmed", "write_pattern_memes"]
