"""Skinned GLB: one mesh in the rest pose, a skeleton of rigid joints, and one animation of the joints.

Made from an `AnimatedMesh` and the `SkinRig` fitted to it (`actionmesh_core.skinning`), for game engines
and DCC tools, which import skins natively (morph targets there are facial blend shapes).

Layout (glTF 2.0 §3.7.3): node 0 is the mesh (no transform, a scene root, as the spec asks of skinned
meshes); node 1 is the skeleton root `root` (a joint with no influence, identity transform: engines such
as Unreal want one root bone), and its children `bone_00`, `bone_01`, ... are one joint per bone, placed
at the bone's pivot in the rest pose. `skin.joints` is [root, bone_00, ...], so bone b is joint b + 1;
`inverseBindMatrices` are the inverses of the joints' rest transforms. The primitive(s) hold the rest pose
(the rig's rest frame), rest-pose normals (skinned by the player), JOINTS_0 (unsigned byte, or unsigned
short past 255 joints) and WEIGHTS_0 (normalised unsigned short, each vertex's four summing to exactly
65535; unused slots are joint 0 with weight 0). The UVs, vertex colours, materials and textures are
written exactly as in the morph-target GLB (`gltf.mesh_document`).

The animation (one, named after the mesh) has a rotation and a translation channel per bone joint, keyed
at the frame times, LINEAR (slerp for rotations): normalised, sign-continuous quaternions. Sizes: 28 bytes
per bone per frame, against 12 bytes per vertex per frame for morph targets. A result registered to its video
(`anim.cameras`) also gets the animated `video_camera` node of the morph GLB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygltflib

from ..animated_mesh import AnimatedMesh
from ..base.atomic import atomic_path
from ..errors import MeshError
from ..skinning import ROOT_JOINT, SkinRig
from .gltf import BinaryBuffer, add_channel, add_video_camera, encoded_textures, mesh_document


def write_skinned_glb(anim: AnimatedMesh, rig: SkinRig, path: str | os.PathLike, *, normals: bool = True) -> Path:
    """Write `anim` skinned by `rig` as one GLB at `path` (replaced atomically). Returns the path.

    normals: write rest-pose vertex normals (the player skins them; without them viewers shade flat)."""
    blob = _skinned_document(anim, rig, normals=normals)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        blob.write(stream)
    return path


def skinned_glb_bytes(anim: AnimatedMesh, rig: SkinRig, *, normals: bool = True) -> bytes:
    """The GLB file of `write_skinned_glb` as bytes."""
    return _skinned_document(anim, rig, normals=normals).finish()


def _skinned_document(anim: AnimatedMesh, rig: SkinRig, *, normals: bool) -> BinaryBuffer:
    """The skinned GLB of `write_skinned_glb`, ready to write (its glTF is `.gltf`)."""
    if rig.rest.shape != (anim.num_vertices, 3) or rig.num_frames != anim.num_frames:
        raise MeshError(f"the rig ({rig.num_frames} frames, {len(rig.rest)} vertices) does not fit the animation "
                        f"({anim.num_frames} frames, {anim.num_vertices} vertices)")
    bones, levels = rig.influences()
    joint_type = np.uint8 if rig.num_bones + 1 <= 256 else np.uint16
    joints = np.where(levels > 0, bones + 1, 0).astype(joint_type)
    rest = rig.rest.astype(np.float32)[None]
    blob = mesh_document(anim, rest, encoded_textures(anim), normals=normals, morph=False,
                         vertex_attributes={"JOINTS_0": (joints, False), "WEIGHTS_0": (levels, True)})
    gltf = blob.gltf
    mesh_node, root = 0, len(gltf.nodes)
    quaternions = rig.joint_quaternions().astype(np.float32)  # (T, B, 4)
    quaternions /= np.linalg.norm(quaternions, axis=-1, keepdims=True)
    translations = rig.joint_translations().astype(np.float32)  # (T, B, 3)
    first = rig.rest_frame
    gltf.nodes.append(pygltflib.Node(name=ROOT_JOINT, children=list(range(root + 1, root + 1 + rig.num_bones))))
    for bone, name in enumerate(rig.bone_names()):
        gltf.nodes.append(pygltflib.Node(name=name, rotation=quaternions[first, bone].tolist(),
                                         translation=translations[first, bone].tolist()))
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (rig.num_bones + 1, 1, 1))
    inverse_bind[1:, :3, 3] = -rig.pivots  # joints are placed at their pivots, unrotated, in the rest pose
    gltf.skins.append(pygltflib.Skin(
        name=f"{anim.name}_skin", skeleton=root, joints=list(range(root, root + 1 + rig.num_bones)),
        inverseBindMatrices=blob.accessor(inverse_bind.transpose(0, 2, 1).reshape(-1, 16)),  # column-major
    ))
    gltf.nodes[mesh_node].skin = 0
    gltf.scenes[0].nodes.append(root)

    times = blob.accessor(anim.frame_times.astype(np.float32), bounds=True)
    animation = pygltflib.Animation(name=anim.name)
    for bone in range(rig.num_bones):
        add_channel(animation, times, blob.accessor(quaternions[:, bone]), "LINEAR", root + 1 + bone, "rotation")
        add_channel(animation, times, blob.accessor(translations[:, bone]), "LINEAR", root + 1 + bone, "translation")
    if anim.cameras is not None:
        add_video_camera(blob, anim, animation, times, "LINEAR", anim.num_frames)
    gltf.animations.append(animation)
    gltf.extras = {"fps": float(anim.fps), "frames": anim.num_frames, "bones": rig.num_bones,
                   "rest_frame": rig.rest_frame}
    return blob
