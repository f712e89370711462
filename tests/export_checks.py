"""Sample animations and the readers and validators that check exported files (plain helpers for the export
tests): Khronos glTF-Validator, a GLB accessor reader, a skinned-glTF evaluator, USD's own validators."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import trimesh
from pxr import Usd, UsdGeom, UsdValidation

from actionmesh_core.animated_mesh import AnimatedMesh, Material
from actionmesh_core.base.colour_space import linear_to_srgb

VALIDATOR_DIR = Path(__file__).parent / "js"
NUM_FRAMES, FPS = 6, 8.0


def wobbling_sphere(num_frames: int = NUM_FRAMES, subdivisions: int = 3, **fields) -> AnimatedMesh:
    """An icosphere that twists about +Y and drifts along +X: every frame differs from frame 0."""
    sphere = trimesh.creation.icosphere(subdivisions)
    frames = []
    for k in range(num_frames):
        angle = 0.3 * k * sphere.vertices[:, 1]
        x, z = sphere.vertices[:, 0], sphere.vertices[:, 2]
        twisted = np.stack(
            [
                x * np.cos(angle) + z * np.sin(angle),
                sphere.vertices[:, 1] * (1 + 0.05 * k),
                -x * np.sin(angle) + z * np.cos(angle),
            ],
            axis=1,
        )
        frames.append(twisted + [0.1 * k, 0.0, 0.0])
    return AnimatedMesh(np.stack(frames), sphere.faces, fps=FPS, **fields)


def textured(anim: AnimatedMesh) -> AnimatedMesh:
    """`anim` with planar UVs, a 32x32 RGBA texture, a base colour and vertex colours."""
    base = anim.vertices[0]
    uvs = np.stack([(base[:, 0] + 1) / 2, (1 - base[:, 1]) / 2], axis=1)
    texture = np.random.default_rng(0).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    texture[..., 3] = 255
    colors = np.random.default_rng(1).integers(0, 256, (anim.num_vertices, 4), dtype=np.uint8)
    return AnimatedMesh(
        anim.vertices,
        anim.faces,
        fps=anim.fps,
        uvs=uvs,
        materials=[Material(base_color=[0.9, 0.8, 0.7, 1.0], metallic=0.0, roughness=0.8, base_color_texture=texture)],
        vertex_colors=colors,
    )


def validate(*paths: Path) -> list[dict]:
    """The Khronos glTF-Validator's report for each file (run with Node.js)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is not installed: install Node.js 18+ (e.g. `apt-get install nodejs npm`) to run "
            "the Khronos glTF-Validator, then `npm install` in tests/js"
        )
    if not (VALIDATOR_DIR / "node_modules" / "gltf-validator").is_dir():
        pytest.fail(
            "the glTF-Validator is not installed: run `npm install` in tests/js "
            "(scripts/setup_env.sh does it when npm is present)"
        )
    run = subprocess.run(
        [node, str(VALIDATOR_DIR / "validate.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


class Glb:
    """A GLB file read with pygltflib, with its accessors as numpy arrays."""

    def __init__(self, path: Path):
        self.gltf = pygltflib.GLTF2().load_binary(str(path))
        self.blob = self.gltf.binary_blob()

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf.accessors[index]
        view = self.gltf.bufferViews[acc.bufferView]
        dtype = {
            pygltflib.FLOAT: np.float32,
            pygltflib.UNSIGNED_INT: np.uint32,
            pygltflib.UNSIGNED_SHORT: np.uint16,
            pygltflib.UNSIGNED_BYTE: np.uint8,
        }[acc.componentType]
        width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
        data = np.frombuffer(
            self.blob, dtype, count=acc.count * width, offset=(view.byteOffset or 0) + (acc.byteOffset or 0)
        )
        return data.reshape(acc.count, width) if width > 1 else data

    def colours(self) -> np.ndarray:
        """The first primitive's COLOR_0 (linear light, normalised integers) as sRGB uint8 RGBA."""
        linear = self.accessor(self.primitive.attributes.COLOR_0)
        linear = linear / float(np.iinfo(linear.dtype).max) if linear.dtype != np.float32 else linear
        return np.concatenate([linear_to_srgb(linear[:, :3]), np.round(linear[:, 3:] * 255)], axis=1).astype(np.uint8)

    @property
    def primitive(self) -> pygltflib.Primitive:
        return self.gltf.meshes[0].primitives[0]

    def base_and_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """(V, 3) base positions and (targets, V, 3) position deltas."""
        targets = np.stack([self.accessor(target["POSITION"]) for target in self.primitive.targets])
        return self.accessor(self.primitive.attributes.POSITION), targets

    def keys(self) -> tuple[np.ndarray, np.ndarray, str]:
        """Key times (K,), weights (K, targets) and the interpolation of the weights animation."""
        sampler = self.gltf.animations[0].samplers[0]
        times = self.accessor(sampler.input)
        return times, self.accessor(sampler.output).reshape(len(times), -1), sampler.interpolation

    def skinned_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """The skinned vertex positions of the first primitive at every key of the first animation, evaluated
        from the file alone (glTF 2.0 §3.7.3: sum over the 4 influences of weight x joint world matrix x
        inverse bind matrix x rest position; joint world matrices from the node tree, animated TRS or the
        node's own). Returns key times (K,) and positions (K, V, 3) float64."""
        from scipy.spatial.transform import Rotation

        gltf, skin = self.gltf, self.gltf.skins[0]
        attributes = self.primitive.attributes
        rest = self.accessor(attributes.POSITION).astype(np.float64)
        joints = self.accessor(attributes.JOINTS_0).astype(np.int64)
        weights = self.accessor(attributes.WEIGHTS_0)
        weights = weights / np.float64(np.iinfo(weights.dtype).max) if weights.dtype != np.float32 else weights
        inverse_bind = self.accessor(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
        animation = gltf.animations[0]
        times = self.accessor(animation.samplers[0].input)
        tracks = {(channel.target.node, channel.target.path): self.accessor(animation.samplers[channel.sampler].output)
                  for channel in animation.channels}
        parents = {child: node for node, item in enumerate(gltf.nodes) for child in (item.children or [])}

        def local(node: int, key: int) -> np.ndarray:
            item = gltf.nodes[node]
            rotation = tracks[(node, "rotation")][key] if (node, "rotation") in tracks else item.rotation or [0, 0, 0, 1]
            translation = tracks[(node, "translation")][key] if (node, "translation") in tracks \
                else item.translation or [0, 0, 0]
            matrix = np.eye(4)
            matrix[:3, :3] = Rotation.from_quat(rotation).as_matrix()
            matrix[:3, 3] = translation
            return matrix

        def world(node: int, key: int) -> np.ndarray:
            return (world(parents[node], key) if node in parents else np.eye(4)) @ local(node, key)

        positions = []
        for key in range(len(times)):
            skinning = np.stack([world(joint, key) @ inverse_bind[j] for j, joint in enumerate(skin.joints)])
            blended = np.einsum("vk,vkij->vij", weights, skinning[joints])
            positions.append(np.einsum("vij,vj->vi", blended[:, :3, :3], rest) + blended[:, :3, 3])
        return times, np.stack(positions)


def mesh_of(stage: Usd.Stage) -> UsdGeom.Mesh:
    meshes = [UsdGeom.Mesh(prim) for prim in stage.Traverse() if prim.IsA(UsdGeom.Mesh)]
    assert len(meshes) == 1
    return meshes[0]


def validation_errors(stage: Usd.Stage) -> list[str]:
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    return [
        f"{error.GetName()}: {error.GetMessage()}"
        for error in UsdValidation.ValidationContext(validators).Validate(stage)
        if error.GetType() == UsdValidation.ValidationErrorType.Error
    ]
