"""Moved to :mod:`motifscope.evaluation.recovery`; this module keeps
``from motifscope.report.recovery import ...`` working."""

from motifscope.evaluation.recovery import *  # noqa: F401,F403
