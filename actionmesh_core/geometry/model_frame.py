"""The model frame, where the models see a mesh: right-handed, +Y up, the bounding box centred at the origin and
its longest side spanning [-1, 1]. `ModelFrame` maps a mesh's own units and orientation into it and back; a result
keeps it as the (4, 4) `AnimatedMesh.model_transform` (`matrix` / `from_matrix`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MeshError


@dataclass(frozen=True)
class ModelFrame:
    """model = (x - center) @ rotation.T / scale, and back: x = model @ rotation * scale + center.

    center:   (3,) float64 bounding-box centre, in the mesh's own units.
    scale:    half the longest bounding-box side, in the mesh's own units (> 0).
    rotation: (3, 3) float64 proper rotation taking the mesh's up axis to +Y.
    """

    center: np.ndarray
    scale: float
    rotation: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", np.asarray(self.center, dtype=np.float64).reshape(3))
        object.__setattr__(self, "rotation", np.asarray(self.rotation, dtype=np.float64).reshape(3, 3))
        object.__setattr__(self, "scale", float(self.scale))
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise MeshError(f"a model frame needs a positive scale, got {self.scale} (a mesh of zero size?)")

    @classmethod
    def fitting(cls, vertices: np.ndarray, rotation: np.ndarray | None = None) -> ModelFrame:
        """The frame that centres the bounding box of `vertices` (V, 3) and scales its longest side to [-1, 1];
        `rotation` (3, 3) turns the mesh's up axis to +Y (default: none)."""
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        return cls((low + high) / 2.0, float((high - low).max() / 2.0), np.eye(3) if rotation is None else rotation)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> ModelFrame:
        """The frame of a (4, 4) map from a mesh's units to the model frame, as `matrix` writes it."""
        matrix = np.asarray(matrix, dtype=np.float64).reshape(4, 4)
        linear = matrix[:3, :3]
        determinant = float(np.linalg.det(linear))
        if not (determinant > 0 and np.isfinite(determinant)):
            raise MeshError("the model transform is not a rotation with a uniform scale (its determinant is "
                            f"{determinant:g}): the result file is damaged")
        scale = determinant ** (-1.0 / 3.0)
        rotation = linear * scale
        return cls(-scale * rotation.T @ matrix[:3, 3], scale, rotation)

    @property
    def matrix(self) -> np.ndarray:
        """(4, 4) float32 map from the mesh's units to the model frame (homogeneous, column vectors)."""
        transform = np.eye(4)
        transform[:3, :3] = self.rotation / self.scale
        transform[:3, 3] = -(self.rotation @ self.center) / self.scale
        return transform.astype(np.float32)

    def to_model(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) points in the mesh's units -> the model frame (float64)."""
        return (np.asarray(points) - self.center) @ self.rotation.T / self.scale

    def from_model(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) model-frame points -> the mesh's units (float32)."""
        return (np.asarray(points, dtype=np.float64) @ self.rotation * self.scale + self.center).astype(np.float32)
