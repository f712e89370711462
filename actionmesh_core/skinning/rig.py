"""`SkinRig`: a linear-blend-skinning rig fitted to an animation, in the form exporters write.

Every bone has one rigid transform per frame that carries the REST pose (one frame of the animation,
usually frame 0) to that frame:

    x_t = sum_k weights[v, k] * (rotations[t, j] @ rest[v] + translations[t, j]),   j = joints[v, k]

Rotations are proper (det +1), there is no scale, so each bone is a glTF joint with TRS animation.
For an exporter a bone is a joint placed at its `pivot` in the rest pose (no rest rotation): its world
transform at frame t rotates by rotations[t, b] and moves the pivot to `joint_translations()[t, b]`, and
its inverse bind matrix is a translation by -pivot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROOT_JOINT = "root"
"""Exporters put the bone joints under one root joint of this name (no influence, identity transform)."""
WEIGHT_LEVELS = 65535
"""Weights are multiples of 1 / WEIGHT_LEVELS that sum to exactly 1 (glTF normalized unsigned shorts)."""


@dataclass
class SkinRig:
    """rest:          (V, 3) float64 vertex positions of the rest pose (the animation's `rest_frame`).
    joints:        (V, K) int64 bone of each influence (K <= 4; unused slots hold weight 0).
    weights:       (V, K) float64 non-negative, rows sum to 1, multiples of 1 / WEIGHT_LEVELS.
    rotations:     (T, B, 3, 3) float64 rotation of each bone at each frame.
    translations:  (T, B, 3) float64.
    pivots:        (B, 3) float64 joint position of each bone in the rest pose.
    rest_frame:    the frame of the animation `rest` is.
    """

    rest: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    rotations: np.ndarray
    translations: np.ndarray
    pivots: np.ndarray
    rest_frame: int = 0

    @property
    def num_bones(self) -> int:
        return int(self.rotations.shape[1])

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    def bone_names(self) -> list[str]:
        """The joint name of each bone: bone_00, bone_01, ..."""
        return [f"bone_{bone:02d}" for bone in range(self.num_bones)]

    def positions(self) -> np.ndarray:
        """(T, V, 3) float64 skinned vertex positions at every frame (what a player shows)."""
        moved = np.zeros((self.num_frames, len(self.rest), 3))
        for k in range(self.joints.shape[1]):
            rotation, translation = self.rotations[:, self.joints[:, k]], self.translations[:, self.joints[:, k]]
            moved += self.weights[:, k, None] * (np.einsum("tvij,vj->tvi", rotation, self.rest) + translation)
        return moved

    def joint_translations(self) -> np.ndarray:
        """(T, B, 3) position of each joint at each frame: rotations @ pivot + translation."""
        return np.einsum("tbij,bj->tbi", self.rotations, self.pivots) + self.translations

    def joint_quaternions(self) -> np.ndarray:
        """(T, B, 4) unit quaternions (x, y, z, w) of `rotations`, sign-continuous over time (each one on
        the same side as the previous frame's, so interpolation takes the short way)."""
        quats = rotation_quaternions(self.rotations)
        for t in range(1, len(quats)):
            flip = (quats[t] * quats[t - 1]).sum(-1) < 0
            quats[t, flip] *= -1.0
        return quats

    def influences(self) -> tuple[np.ndarray, np.ndarray]:
        """(V, 4) bone indices and (V, 4) uint16 weights (sum 65535 per vertex), sorted by weight; unused
        slots hold bone 0 with weight 0."""
        order = np.argsort(-self.weights, axis=1, kind="stable")
        joints = np.take_along_axis(self.joints, order, axis=1)
        levels = np.rint(np.take_along_axis(self.weights, order, axis=1) * WEIGHT_LEVELS).astype(np.int64)
        pad = 4 - joints.shape[1]
        joints = np.pad(np.where(levels > 0, joints, 0), ((0, 0), (0, pad)))
        levels = np.pad(levels, ((0, 0), (0, pad)))
        levels[:, 0] += WEIGHT_LEVELS - levels.sum(axis=1)  # exact sums (the weights are already multiples)
        return joints, levels.astype(np.uint16)


def rotation_quaternions(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w) (scipy's conversion)."""
    from scipy.spatial.transform import Rotation

    rotations = np.asarray(rotations, np.float64)
    quats = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_quat()
    return quats.reshape(*rotations.shape[:-2], 4)
