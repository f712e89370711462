"""Small inputs and models for the pipeline tests."""

import numpy as np
import trimesh

from actionmesh_core.pipeline import ModelSet, Settings

FAST = dict(prior_steps=2, steps=2, mesh_resolution=32, face_budget=2000)


def tiny_models(**kwargs) -> ModelSet:
    return ModelSet.random("tiny", seed=1, offload="keep", **kwargs)


def fast_settings(**overrides) -> Settings:
    return Settings.preset(**{**FAST, **overrides})


def moving_disc(frames: int, size: int = 64, static_box: bool = False) -> np.ndarray:
    """(T, size, size, 4) uint8 RGBA: a red disc moving right on a transparent background. With
    static_box the subject mask is the same square in every frame (only the colours move), so the union
    crop does not depend on the number of frames."""
    clip = np.zeros((frames, size, size, 4), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for t in range(frames):
        cx = size * (0.3 + 0.4 * (t % 16) / 16)
        disc = (xx - cx) ** 2 + (yy - size / 2) ** 2 < (size / 6) ** 2
        clip[t, ..., :3] = 255
        clip[t][disc] = (200, 40, 40, 255)
        if static_box:
            clip[t, size // 4: 3 * size // 4, size // 4: 3 * size // 4, 3] = 255
    return clip


def textured_box(path) -> trimesh.Trimesh:
    """A box with per-corner UVs (seams split vertices) and a 8x8 texture, written as GLB."""
    from PIL import Image

    box = trimesh.creation.box((1.0, 0.6, 0.4))
    box = box.subdivide()
    mesh = trimesh.Trimesh(box.vertices[box.faces].reshape(-1, 3), np.arange(len(box.faces) * 3).reshape(-1, 3),
                           process=False)  # every face has its own vertices: a seam everywhere
    rng = np.random.default_rng(0)
    uv = rng.random((len(mesh.vertices), 2))
    texture = Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8))
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.PBRMaterial(
        baseColorTexture=texture))
    mesh.export(path)
    return mesh


def write_tiny_root(root, num_tokens: int = 64) -> None:
    """A weights root in the official layout holding tiny random models (what `--weights` points at)."""
    import json

    from actionmesh_core.models import build_model, save_model
    from actionmesh_core.models.presets import TINY_CONFIGS

    layout = {"actionmesh-denoiser": "ActionMesh/denoiser", "actionmesh-autoencoder": "ActionMesh/autoencoder",
              "triposg-dit": "TripoSG/transformer", "triposg-vae": "TripoSG/vae", "dinov2": "dinov2"}
    for name, sub in layout.items():
        save_model(name, build_model(name, TINY_CONFIGS[name]), root / sub)
    (root / "actionmesh.json").write_text(json.dumps({"num_tokens": num_tokens, "mesh_resolution": 32}))
