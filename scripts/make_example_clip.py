"""Render the bundled example clip: a two-part object (a box body and an arm that swings) in 16 RGBA frames.

    python scripts/make_example_clip.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from actionmesh_core.render import render_rgba

FRAMES, SIZE = 16, 256


def frame_mesh(t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body = trimesh.creation.box((0.9, 0.6, 0.6))
    body.apply_translation((0.0, -0.3, 0.0))
    arm = trimesh.creation.capsule(height=0.8, radius=0.16, count=(16, 16))
    arm.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))  # along +y
    arm.apply_translation((0.25, 0.5, 0.0))  # standing on the body's top face
    angle = 0.9 * np.sin(2 * np.pi * t)
    arm.apply_transform(trimesh.transformations.rotation_matrix(angle, (0, 0, 1), point=(0.25, 0.0, 0.0)))
    colors = np.concatenate([np.tile((70, 110, 200, 255), (len(body.vertices), 1)),
                             np.tile((230, 140, 40, 255), (len(arm.vertices), 1))])
    mesh = trimesh.util.concatenate([body, arm])
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces), colors.astype(np.uint8)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for k in range(FRAMES):
        vertices, faces, colors = frame_mesh(k / FRAMES)
        image = render_rgba(vertices, faces, size=SIZE, azimuth_deg=30.0, elevation_deg=15.0, distance=3.2,
                            vertex_colors=colors)[0]
        Image.fromarray(image).save(out_dir / f"frame_{k:02d}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
         / "actionmesh_core" / "assets" / "example_clip")
