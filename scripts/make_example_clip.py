"""Render the bundled example inputs from held-out synthetic clips (`actionmesh_core.data`):

    python scripts/make_example_clip.py [--seed SEED] [--target-seed SEED]

- actionmesh_core/assets/example_clip/frame_XX.png: 16 RGBA frames of clip SEED (`actionmesh demo`);
- workflows/inputs/actionmesh_example.webm: the same frames as a transparent VP9 WebM (the workflows);
- workflows/inputs/3d/actionmesh_example_mesh.glb: the clip's frame-0 mesh with UVs and a texture
  ({video + mesh} -> 4D);
- workflows/inputs/3d/actionmesh_example_target.glb: the frame-0 mesh of clip TARGET_SEED, another
  object of the same kind (motion transfer);
- workflows/inputs/actionmesh_example_subject.png: frame 0 of clip SEED on a plain white background, the start image
  of the image + text -> 4D workflow (what a video model should be given: one whole subject, nothing else).

The default seeds are held-out clips (seeds from HELD_OUT_SEED on are never trained on).
"""

import argparse
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import trimesh
from PIL import Image

from actionmesh_core.base.atomic import atomic_dir, atomic_path
from actionmesh_core.data.clips import HELD_OUT_SEED, make_clip
from actionmesh_core.render import over_background

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = HELD_OUT_SEED + 3  # a flapping bird
DEFAULT_TARGET_SEED = HELD_OUT_SEED + 7  # another flapping bird
CLIP_DIR = ROOT / "actionmesh_core" / "assets" / "example_clip"
INPUTS = ROOT / "workflows" / "inputs"


def write_frames(frames: np.ndarray, out: Path) -> None:
    """(T, H, W, 4) uint8 -> out/frame_XX.png, keeping out/README.md."""
    readme = out / "README.md"
    notes = readme.read_text() if readme.is_file() else None
    with atomic_dir(out) as tmp:
        for k, rgba in enumerate(frames):
            Image.fromarray(rgba).save(tmp / f"frame_{k:02d}.png")
        if notes is not None:
            (tmp / "README.md").write_text(notes)


def write_webm(frames: np.ndarray, path: Path, fps: float = 8.0) -> None:
    """(T, H, W, 4) uint8 -> a lossless VP9 WebM with its alpha plane."""
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (frames.shape[2], frames.shape[1]), fps=fps,
                                             pix_fmt_in="rgba", pix_fmt_out="yuva420p", codec="libvpx-vp9",
                                             output_params=["-lossless", "1", "-f", "webm"], macro_block_size=1)
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()


def write_subject(clip, path: Path, size: int = 384) -> None:
    """Frame 0 of the clip on a plain white background, the subject filling about 70 % of a square `size` pixels
    wide (RGB PNG)."""
    rgba = clip.render(size=2 * size)[0]
    rows, cols = np.nonzero(rgba[..., 3] > 0)
    centre = np.array([(rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2])
    half = max(rows.max() - rows.min(), cols.max() - cols.min()) / 2 / 0.7
    top, left = np.clip(np.round(centre - half).astype(int), 0, None)
    crop = over_background(rgba[None, top:top + int(2 * half), left:left + int(2 * half)])[0]
    with atomic_path(path) as tmp:
        Image.fromarray(crop).resize((size, size), Image.LANCZOS).save(tmp, format="PNG", optimize=True)


def textured_mesh(clip) -> trimesh.Trimesh:
    """The frame-0 mesh of a synthetic clip with spherical UVs and a checker texture in its parts' colours."""
    vertices, faces = clip.mesh(0, resolution=64)
    centred = vertices - vertices.mean(axis=0)
    u = 0.5 + np.arctan2(centred[:, 2], centred[:, 0]) / (2 * np.pi)
    v = 0.5 - np.arcsin(np.clip(centred[:, 1] / np.linalg.norm(centred, axis=1), -1, 1)) / np.pi
    colors = [part.color for part in clip.rig.parts[:2]]
    checker = (np.indices((8, 8)).sum(axis=0) % 2).repeat(8, axis=0).repeat(8, axis=1)
    texture = np.where(checker[..., None] == 1, colors[0], colors[1]).astype(np.uint8)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture))
    return trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(np.stack([u, v], axis=1),
                                                                                   material=material), process=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"clip seed (default {DEFAULT_SEED})")
    parser.add_argument("--target-seed", type=int, default=DEFAULT_TARGET_SEED,
                        help=f"seed of the motion-transfer target (default {DEFAULT_TARGET_SEED})")
    args = parser.parse_args()
    clip, target = make_clip(args.seed), make_clip(args.target_seed)
    frames = clip.render()
    write_frames(frames, CLIP_DIR)
    write_webm(frames, INPUTS / "actionmesh_example.webm")
    write_subject(clip, INPUTS / "actionmesh_example_subject.png")
    for name, source in (("mesh", clip), ("target", target)):
        with atomic_path(INPUTS / "3d" / f"actionmesh_example_{name}.glb") as tmp:
            tmp.write_bytes(textured_mesh(source).export(file_type="glb"))
    print(f"wrote clip {args.seed} ({clip.category}, {clip.num_frames} frames) and the workflow inputs; "
          f"motion-transfer target: clip {args.target_seed} ({target.category})")


if __name__ == "__main__":
    main()
