"""First-layer filter interpretation: activations, PWMs, TOMTOM matches and influence.

The oldest way to read a convolutional genomics model is to turn every first-layer filter
into a motif and ask how much the model relies on it. This package implements the two
published recipes and the influence measure that goes with them:

- **Activations** (:func:`filter_activations`): the output of the first ``Conv1d`` (or a
  named one) after the nonlinearity that follows it, collected with forward hooks in
  batches. Every output position ``j`` is mapped back to its receptive window in the
  sequence, ``[j * stride - left_pad, j * stride - left_pad + span)`` (taps ``dilation``
  apart), for valid, same or explicit padding.
- **PWMs** (:func:`filter_pwms`): ``method="basset"`` (Kelley et al. 2016,
  ``basset_motifs.py``) counts the window of every position whose activation exceeds
  ``mean + 0.5 * (max - mean)`` of that filter over all sequences and positions, with a
  pseudocount of 1 per base and at least 10 sites; ``method="danq"`` (Quang & Xie,
  FactorNet ``visualize.py``) counts the window of each sequence's maximum activation when
  it is above 0, on the forward and on the reverse-complement input, with no pseudocount.
- **TOMTOM** (:func:`filter_tomtom`, :func:`best_matches`): the filters' PFMs against a
  motif database with Pearson correlation (as Basset does); the best match is the one with
  the smallest q-value.
- **Influence** (:func:`filter_influence`): each filter's output is replaced by its mean
  over all sequences and positions (Basset's ``basset_motifs_infl``), and the change in
  every target's prediction and in the loss is recorded.

Coordinates are 0-based; a window start may be negative (or its end beyond ``L``) at the
edges of a padded convolution, and such partial windows are never counted in a PFM.
"""

from motifscope.filters.activations import FilterActivations, filter_activations
from motifscope.filters.influence import LOSSES, filter_influence, influence_matrix
from motifscope.filters.layers import ALPHABET, METHOD_DEFAULTS, METHODS, FirstLayer, first_layer
from motifscope.filters.matches import (
    MATCH_COLUMNS,
    TOMTOM_COLUMNS,
    best_matches,
    filter_table,
    filter_tomtom,
)
from motifscope.filters.plots import (
    cluster_order,
    plot_filter_logos,
    plot_filter_weights,
    plot_influence_heatmap,
)
from motifscope.filters.pwms import (
    FilterPWMs,
    _trim,
    filter_pwms,
    iupac_consensus,
    weight_consensus,
)

__all__ = [
    "ALPHABET",
    "FilterActivations",
    "FilterPWMs",
    "FirstLayer",
    "LOSSES",
    "MATCH_COLUMNS",
    "METHODS",
    "METHOD_DEFAULTS",
    "TOMTOM_COLUMNS",
    "best_matches",
    "cluster_order",
    "filter_activations",
    "filter_influence",
    "filter_pwms",
    "filter_table",
    "filter_tomtom",
    "first_layer",
    "influence_matrix",
    "iupac_consensus",
    "plot_filter_logos",
    "plot_filter_weights",
    "plot_influence_heatmap",
    "weight_consensus",
]
