"""UsdSkel authoring for `usd.write_usd(..., rig=...)`: the skinned counterpart of time-sampled points.

Under the SkelRoot `/<name>`: `Skeleton` (joints `root`, `root/bone_00`, ... as in the skinned GLB:
bone b is joint b + 1; bind and rest transforms place each bone joint at its pivot, unrotated, under an
identity root), `Skeleton/Animation` (a SkelAnimation of the bone joints: rotations and translations
time-sampled at every frame's time code, unit scales) bound as the skeleton's `skel:animationSource`, and
the mesh bound to the skeleton with `primvars:skel:jointIndices` / `jointWeights` (vertex interpolation,
elementSize 4; unused slots hold joint 0 with weight 0) and an identity `primvars:skel:geomBindTransform`.
The mesh's points and normals are the rest pose (not time-sampled); the SkelRoot's extent covers every
frame. USD matrices are row-vector (transposed) 4 x 4s.
"""

from __future__ import annotations

import numpy as np

from ..skinning import ROOT_JOINT, SkinRig


def author_skeleton(stage, root, mesh, rig: SkinRig, time_codes: np.ndarray) -> None:
    """Add the Skeleton and its animation under the SkelRoot `root` (a UsdSkel.Root) and bind `mesh` (a
    UsdGeom.Mesh under it holding the rest pose) to them. time_codes: (T,) the frames' time codes."""
    from pxr import Gf, UsdGeom, UsdSkel, Vt

    joints = Vt.TokenArray([ROOT_JOINT] + [f"{ROOT_JOINT}/{name}" for name in rig.bone_names()])
    bind = [Gf.Matrix4d(1.0)] + [Gf.Matrix4d(1.0).SetTranslate(Gf.Vec3d(*map(float, pivot))) for pivot in rig.pivots]
    skeleton = UsdSkel.Skeleton.Define(stage, root.GetPath().AppendChild("Skeleton"))
    skeleton.CreateJointsAttr(joints)
    skeleton.CreateBindTransformsAttr(Vt.Matrix4dArray(bind))
    skeleton.CreateRestTransformsAttr(Vt.Matrix4dArray(bind))  # the root is the identity: local = world

    animation = UsdSkel.Animation.Define(stage, skeleton.GetPath().AppendChild("Animation"))
    animation.CreateJointsAttr(Vt.TokenArray(list(joints)[1:]))
    rotations, translations = animation.CreateRotationsAttr(), animation.CreateTranslationsAttr()
    animation.CreateScalesAttr(Vt.Vec3hArray.FromNumpy(np.ones((rig.num_bones, 3), np.float16)))
    quaternions = rig.joint_quaternions().astype(np.float32)
    positions = rig.joint_translations().astype(np.float32)
    for time, frame_rotations, frame_translations in zip(time_codes, quaternions, positions):
        rotations.Set(Vt.QuatfArray.FromNumpy(frame_rotations), float(time))  # (x, y, z, w) = GfQuatf's layout
        translations.Set(Vt.Vec3fArray.FromNumpy(frame_translations), float(time))
    UsdSkel.BindingAPI.Apply(skeleton.GetPrim()).CreateAnimationSourceRel().SetTargets([animation.GetPath()])

    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateSkeletonRel().SetTargets([skeleton.GetPath()])
    bones, levels = rig.influences()
    indices = np.where(levels > 0, bones + 1, 0).astype(np.int32)
    weights = (levels / np.float32(levels.sum(axis=1, keepdims=True))).astype(np.float32)
    binding.CreateJointIndicesPrimvar(False, 4).Set(Vt.IntArray.FromNumpy(indices.reshape(-1)))
    binding.CreateJointWeightsPrimvar(False, 4).Set(Vt.FloatArray.FromNumpy(weights.reshape(-1)))
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))

    skinned = rig.positions()
    bounds = np.stack([skinned.min(axis=(0, 1)), skinned.max(axis=(0, 1))]).astype(np.float32)
    UsdGeom.Boundable(root.GetPrim()).CreateExtentAttr(Vt.Vec3fArray.FromNumpy(bounds))
