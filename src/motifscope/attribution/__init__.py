"""Attribution methods: DeepLIFT/SHAP and in-silico saturation mutagenesis.

``deep_lift_shap`` explains one model output per sequence with multipliers that add up to
the change in output between the sequence and shuffled references; ``saturation_mutagenesis``
measures the effect of every single-base substitution. Both return ``(N, 4, L)`` arrays in
the one-hot layout (rows A, C, G, T).
"""

from motifscope.attribution.deeplift import deep_lift_shap
from motifscope.attribution.ism import saturation_mutagenesis
from motifscope.attribution.transformer import BilinearOp

__all__ = ["deep_lift_shap", "saturation_mutagenesis", "BilinearOp"]
