"""Orbit cameras around the origin of the +Y-up model frame (OpenGL conventions, column vectors).

Azimuth 0 looks at the model's front (the camera sits on +Z and looks toward -Z, +X to the right);
positive azimuth turns the camera toward +X. Positive elevation lifts it above the XZ plane.
"""

from __future__ import annotations

import math

import numpy as np

# Field of view of a pinhole with NDC focal length 2.1875, the preview camera of the ActionMesh paper.
DEFAULT_FOV_DEG = math.degrees(2.0 * math.atan(1.0 / 2.1875))


def orbit_view(azimuth_deg: float, elevation_deg: float, distance: float) -> np.ndarray:
    """World-to-camera matrix (4, 4) float32 of a camera on a sphere around the origin, up toward +Y."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    eye = distance * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    right = np.array([math.cos(az), 0.0, -math.sin(az)])
    back = eye / distance  # camera looks along -back
    up = np.cross(back, right)
    view = np.eye(4)
    view[:3, :3] = np.stack([right, up, back])
    view[:3, 3] = -view[:3, :3] @ eye
    return view.astype(np.float32)


def perspective(fov_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL clip-from-camera matrix (4, 4) float32 for a vertical field of view."""
    f = 1.0 / math.tan(math.radians(fov_deg) / 2.0)
    proj = np.zeros((4, 4))
    proj[0, 0] = f / aspect
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj.astype(np.float32)
