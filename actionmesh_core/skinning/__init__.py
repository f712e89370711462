"""Skinning decomposition: turn a vertex animation into a few rigid bones, at most 4 weights per vertex and
one rigid transform per bone per frame (linear blend skinning), for skinned glTF and UsdSkel exports.

    fit = decompose(anim.vertices, SkinningConfig(bones="auto", max_error=0.25, seed=0))
    print(fit.summary()); fit.rig   # a SkinRig: rest pose, joints/weights, per-frame bone transforms
"""

from .decomposition import AUTO, DEFAULT_MAX_ERROR, DEFAULT_WORST_ERROR, SkinFit, SkinningConfig, decompose
from .rig import ROOT_JOINT, WEIGHT_LEVELS, SkinRig

__all__ = ["AUTO", "DEFAULT_MAX_ERROR", "DEFAULT_WORST_ERROR", "ROOT_JOINT", "WEIGHT_LEVELS", "SkinFit", "SkinRig",
           "SkinningConfig", "decompose"]
