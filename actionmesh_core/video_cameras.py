"""`VideoCameras`: the camera of every frame of a video, in the coordinates of an animation.

The camera model is a pinhole with square pixels, its principal point at the centre of the frame and one field
of view for the whole clip; each frame has its own rigid pose (rotation + translation). A silhouette cannot tell
a long lens far away from a short lens close by, so the field of view is an input (default: the preview camera
of the ActionMesh paper, which is also the camera of the synthetic training clips) and the distance absorbs the
object's size. Being a real perspective camera, it is written as is to glTF (`yfov`, `aspectRatio` and an
animated node) and USD (`UsdGeom.Camera`), and the overlay renders exactly through it.

Conventions: OpenGL / glTF cameras: +X right, +Y up, looking down -Z. Pixels: x right, y down, the centre of
pixel (i, j) at (j + 0.5, i + 0.5); the frame is width x height pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import MeshError

ARRAY_PREFIX = "camera_"
"""The keys of the cameras in an animated mesh's `.npz` file start with this."""


@dataclass
class VideoCameras:
    """world_to_camera: (T, 4, 4) float64 rigid transforms from the animation's stored coordinates to each frame's
    camera; yfov: vertical field of view in radians over the full frame height; image_size: (width, height) of
    the video frames in pixels; iou: (T,) float32 silhouette IoU of the registered mesh against each frame's
    subject mask (NaN where the mask was empty)."""

    world_to_camera: np.ndarray
    yfov: float
    image_size: tuple[int, int]
    iou: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.world_to_camera = np.asarray(self.world_to_camera, np.float64)
        if self.world_to_camera.ndim != 3 or self.world_to_camera.shape[1:] != (4, 4) or not len(self.world_to_camera):
            raise MeshError(f"camera poses must have shape (frames, 4, 4), got {self.world_to_camera.shape}")
        if not np.isfinite(self.world_to_camera).all():
            raise MeshError("camera poses contain NaN or infinite values")
        rotations = self.world_to_camera[:, :3, :3]
        if not np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3), atol=1e-4) or \
                not np.allclose(np.linalg.det(rotations), 1.0, atol=1e-4):
            raise MeshError("camera poses must be rigid transforms (a rotation and a translation)")
        self.yfov = float(self.yfov)
        if not 0.0 < self.yfov < math.pi:
            raise MeshError(f"a camera's vertical field of view must lie in (0, pi) radians, got {self.yfov}")
        width, height = (int(v) for v in np.asarray(self.image_size).reshape(2))
        if width < 1 or height < 1:
            raise MeshError(f"camera image size must be positive, got {width}x{height}")
        self.image_size = (width, height)
        if self.iou is not None:
            self.iou = np.asarray(self.iou, np.float32).reshape(-1)
            if self.iou.shape != (self.num_frames,):
                raise MeshError(f"camera IoU must have one value per frame ({self.num_frames}), got {self.iou.shape}")

    @property
    def num_frames(self) -> int:
        return len(self.world_to_camera)

    @property
    def aspect(self) -> float:
        """Width over height of the frames."""
        return self.image_size[0] / self.image_size[1]

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.image_size[1] / math.tan(0.5 * self.yfov)

    def camera_to_world(self) -> np.ndarray:
        """(T, 4, 4) poses of the cameras in the animation's coordinates (a glTF camera node's matrix)."""
        return np.linalg.inv(self.world_to_camera)

    def project(self, points: np.ndarray, frames: slice | np.ndarray | int = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """points: (T', N, 3) in the animation's coordinates, one set per selected frame (`frames`, default all;
        an int selects one frame and takes (N, 3)) -> pixels (..., N, 2) float64 (x, y) and distances along the
        view axis (..., N), positive in front of the camera."""
        points = np.asarray(points, np.float64)
        pose = self.world_to_camera[frames]
        camera = points @ np.swapaxes(pose[..., :3, :3], -1, -2) + pose[..., None, :3, 3]
        depth = -camera[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = 0.5 * self.image_size[0] + self.focal_px * camera[..., 0] / depth
            y = 0.5 * self.image_size[1] - self.focal_px * camera[..., 1] / depth
        return np.stack([x, y], axis=-1), depth

    def centres(self) -> np.ndarray:
        """(T, 3) positions of the cameras in the animation's coordinates."""
        rotation, translation = self.world_to_camera[:, :3, :3], self.world_to_camera[:, :3, 3]
        return -np.einsum("tji,tj->ti", rotation, translation)

    def projection(self, window: tuple[float, float, float, float] | None = None, near: float = 0.01,
                   far: float = 100.0) -> np.ndarray:
        """(4, 4) OpenGL projection of the pixel rectangle window = (x0, y0, x1, y1) of the frame (default: the
        whole frame) onto a render target (see `frustum`)."""
        return frustum(self.image_size, self.yfov, window, near, far)

    def clip_planes(self, vertices: np.ndarray) -> tuple[float, float]:
        """(near, far) distances that hold every frame of `vertices` (T, V, 3) in front of its camera."""
        _, depth = self.project(vertices)
        front = depth[depth > 0]
        if not len(front):
            return 0.01, 100.0
        near, far = float(front.min()), float(front.max())
        margin = 0.1 * (far - near) + 1e-3 * far
        return max(near - margin, 1e-3 * far, 1e-6), far + margin

    def node_trs(self) -> tuple[np.ndarray, np.ndarray]:
        """Per frame, the translation (T, 3) and unit rotation quaternion (T, 4) (x, y, z, w; sign-continuous from
        frame to frame, so interpolation takes the short way) of a camera node placed by `camera_to_world`."""
        from scipy.spatial.transform import Rotation

        pose = self.camera_to_world()
        quaternions = Rotation.from_matrix(pose[:, :3, :3]).as_quat()
        for k in range(1, len(quaternions)):
            if np.dot(quaternions[k], quaternions[k - 1]) < 0:
                quaternions[k] = -quaternions[k]
        return pose[:, :3, 3], quaternions

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The `.npz` entries of the cameras (keys start with ARRAY_PREFIX)."""
        arrays = {f"{ARRAY_PREFIX}world_to_camera": self.world_to_camera, f"{ARRAY_PREFIX}yfov": np.float64(self.yfov),
                  f"{ARRAY_PREFIX}image_size": np.array(self.image_size, np.int64)}
        if self.iou is not None:
            arrays[f"{ARRAY_PREFIX}iou"] = self.iou
        return arrays

    @classmethod
    def from_arrays(cls, data) -> VideoCameras | None:
        """The cameras stored by `to_arrays` in an `.npz` (None when it holds none)."""
        key = f"{ARRAY_PREFIX}world_to_camera"
        if key not in data:
            return None
        try:
            return cls(data[key], float(data[f"{ARRAY_PREFIX}yfov"]), tuple(data[f"{ARRAY_PREFIX}image_size"]),
                       data[f"{ARRAY_PREFIX}iou"] if f"{ARRAY_PREFIX}iou" in data else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise MeshError(f"the stored video cameras are incomplete or mis-shaped ({exc})") from None


def rigid(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(..., 4, 4) transforms from rotations (..., 3, 3) and translations (..., 3)."""
    rotation, translation = np.asarray(rotation, np.float64), np.asarray(translation, np.float64)
    matrix = np.zeros((*rotation.shape[:-2], 4, 4))
    matrix[..., :3, :3] = rotation
    matrix[..., :3, 3] = translation
    matrix[..., 3, 3] = 1.0
    return matrix


def frustum(image_size: tuple[int, int], yfov: float, window: tuple[float, float, float, float] | None = None,
            near: float = 0.01, far: float = 100.0) -> np.ndarray:
    """(4, 4) OpenGL projection of a centred pinhole (vertical field of view `yfov` radians over the height of an
    image_size = (width, height) frame) restricted to the pixel rectangle window = (x0, y0, x1, y1) (default: the
    whole frame): an off-centre frustum when the window is not centred, so a render of the window shows
    exactly those pixels of the frame."""
    width, height = image_size
    x0, y0, x1, y1 = (0.0, 0.0, width, height) if window is None else window
    focal = 0.5 * height / math.tan(0.5 * yfov)
    left, right = (x0 - 0.5 * width) / focal * near, (x1 - 0.5 * width) / focal * near
    top, bottom = (0.5 * height - y0) / focal * near, (0.5 * height - y1) / focal * near
    proj = np.zeros((4, 4))
    proj[0, 0] = 2.0 * near / (right - left)
    proj[0, 2] = (right + left) / (right - left)
    proj[1, 1] = 2.0 * near / (top - bottom)
    proj[1, 2] = (top + bottom) / (top - bottom)
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj
