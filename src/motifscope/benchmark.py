"""Moved to :mod:`motifscope.evaluation` (benchmark and recovery together); this module keeps
``from motifscope.benchmark import ...`` working."""

from motifscope.evaluation.benchmark import *  # noqa: F401,F403
from motifscope.evaluation.designs import *  # noqa: F401,F403
from motifscope.evaluation.positional import *  # noqa: F401,F403
