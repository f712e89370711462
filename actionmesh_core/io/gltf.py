"""Animated GLB: one mesh, one morph target per frame, and a `weights` animation that plays them.

Coordinates: glTF 2.0 is right-handed, +Y up, +Z toward the viewer's front, in metres. The model
frame of `AnimatedMesh` is the same, so vertices are written unchanged: no axis swap and no mirror,
and frame k of this file equals the per-frame file `mesh_{k:02d}.glb` (`frame_meshes.py`).

Layout: the base geometry is frame 0 (what a viewer without animation shows); target k holds
frame k minus frame 0 (target 0 is zero). The animation's keys sit at `anim.frame_times` with one-hot
weights (weight 1 on target k at key k): "smooth" interpolates linearly, so neighbouring frames
cross-fade; "hold" steps, and adds one closing key 1/fps after the last frame so that the last frame
is shown for a full frame before a player loops. Plain float32 buffers, no compression or
quantisation: 12 bytes per vertex per frame for positions, 12 more with normals. A user mesh's UVs,
texture (embedded PNG), base colour and vertex colours are written too.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pygltflib
from PIL import Image

from ..animated_mesh import AnimatedMesh
from ..errors import InputError
from ..render.normals import vertex_normals
from .atomic import atomic_path

INTERPOLATIONS = {"smooth": "LINEAR", "hold": "STEP"}
DEFAULT_BASE_COLOR = (0.8, 0.8, 0.8, 1.0)
GENERATOR = "ActionMesh for ComfyUI (actionmesh_core.io.gltf)"

_COMPONENT_TYPES = {
    np.dtype(np.float32): pygltflib.FLOAT,
    np.dtype(np.uint32): pygltflib.UNSIGNED_INT,
    np.dtype(np.uint16): pygltflib.UNSIGNED_SHORT,
    np.dtype(np.uint8): pygltflib.UNSIGNED_BYTE,
}
_ELEMENT_TYPES = {1: pygltflib.SCALAR, 2: pygltflib.VEC2, 3: pygltflib.VEC3, 4: pygltflib.VEC4}


def write_animated_glb(
    anim: AnimatedMesh, path: str | os.PathLike, *, interpolation: str = "smooth", normals: bool = False
) -> Path:
    """Write `anim` as one animated GLB at `path` (replaced atomically). Returns the path.

    interpolation: "smooth" (neighbouring frames cross-fade) or "hold" (each frame held for 1/fps).
    normals: also write vertex normals and per-frame normal targets (doubles the size); without
    them viewers compute flat normals for each animated frame.
    """
    data = animated_glb_bytes(anim, interpolation=interpolation, normals=normals)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def animated_glb_bytes(anim: AnimatedMesh, *, interpolation: str = "smooth", normals: bool = False) -> bytes:
    """The GLB file of `write_animated_glb` as bytes."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"GLB interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator=GENERATOR))
    blob = _BinaryBuffer(gltf)
    base = anim.vertices[0]

    attributes = pygltflib.Attributes(POSITION=blob.accessor(base, pygltflib.ARRAY_BUFFER, bounds=True))
    targets = [
        {"POSITION": blob.accessor(frame - base, pygltflib.ARRAY_BUFFER, bounds=True)} for frame in anim.vertices
    ]
    if normals:
        frame_normals = vertex_normals(anim.vertices, anim.faces)
        attributes.NORMAL = blob.accessor(frame_normals[0], pygltflib.ARRAY_BUFFER)
        for target, frame_normal in zip(targets, frame_normals):
            target["NORMAL"] = blob.accessor(frame_normal - frame_normals[0], pygltflib.ARRAY_BUFFER)
    if anim.uvs is not None:
        attributes.TEXCOORD_0 = blob.accessor(anim.uvs, pygltflib.ARRAY_BUFFER)
    if anim.vertex_colors is not None:
        attributes.COLOR_0 = blob.accessor(_rgba(anim.vertex_colors), pygltflib.ARRAY_BUFFER, normalized=True)
    index_type = np.uint16 if anim.num_vertices < 0xFFFF else np.uint32
    indices = blob.accessor(anim.faces.astype(index_type).reshape(-1), pygltflib.ELEMENT_ARRAY_BUFFER)

    gltf.materials.append(_material(anim, blob))
    one_hot = np.eye(anim.num_frames, dtype=np.float32)
    gltf.meshes.append(
        pygltflib.Mesh(
            name=anim.name,
            primitives=[pygltflib.Primitive(attributes=attributes, indices=indices, material=0, targets=targets)],
            weights=one_hot[0].tolist(),
            extras={"targetNames": [f"frame_{k:02d}" for k in range(anim.num_frames)]},
        )
    )
    gltf.nodes.append(pygltflib.Node(name=anim.name, mesh=0))
    gltf.scenes.append(pygltflib.Scene(name=anim.name, nodes=[0]))
    gltf.scene = 0

    times, weights = anim.frame_times.astype(np.float32), one_hot
    if interpolation == "hold":
        times = np.append(times, np.float32(anim.frame_times[-1] + 1.0 / anim.fps))
        weights = np.concatenate([weights, weights[-1:]])
    gltf.animations.append(
        pygltflib.Animation(
            name=anim.name,
            samplers=[
                pygltflib.AnimationSampler(
                    input=blob.accessor(times, bounds=True),
                    output=blob.accessor(weights.reshape(-1)),
                    interpolation=INTERPOLATIONS[interpolation],
                )
            ],
            channels=[
                pygltflib.AnimationChannel(sampler=0, target=pygltflib.AnimationChannelTarget(node=0, path="weights"))
            ],
        )
    )
    gltf.extras = {"fps": float(anim.fps), "frames": anim.num_frames}
    blob.finish()
    return b"".join(gltf.save_to_bytes())


class _BinaryBuffer:
    """Collects arrays into the GLB's one binary buffer and adds their bufferViews and accessors."""

    def __init__(self, gltf: pygltflib.GLTF2):
        self.gltf = gltf
        self.parts: list[bytes] = []
        self.length = 0

    def view(self, data: bytes, target: int | None = None) -> int:
        padding = -self.length % 4
        self.parts.append(b"\0" * padding)
        self.length += padding
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=self.length, byteLength=len(data), target=target)
        )
        self.parts.append(data)
        self.length += len(data)
        return len(self.gltf.bufferViews) - 1

    def accessor(
        self, array: np.ndarray, target: int | None = None, *, bounds: bool = False, normalized: bool = False
    ) -> int:
        """array: (N,) or (N, 1..4) of float32/uint8/uint16/uint32. bounds: write per-component min/max."""
        array = np.ascontiguousarray(array)
        columns = 1 if array.ndim == 1 else array.shape[1]
        accessor = pygltflib.Accessor(
            bufferView=self.view(array.tobytes(), target),
            componentType=_COMPONENT_TYPES[array.dtype],
            normalized=normalized or None,
            count=len(array),
            type=_ELEMENT_TYPES[columns],
        )
        if bounds:
            table = array.reshape(len(array), columns)
            accessor.min = table.min(axis=0).tolist()
            accessor.max = table.max(axis=0).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def finish(self) -> None:
        """Attach the collected bytes as the GLB's binary chunk."""
        self.parts.append(b"\0" * (-self.length % 4))
        data = b"".join(self.parts)
        self.gltf.buffers = [pygltflib.Buffer(byteLength=len(data))]
        self.gltf.set_binary_blob(data)


def _rgba(colors: np.ndarray) -> np.ndarray:
    """(V, 4) uint8 from (V, 3|4) uint8 colours (glTF vertex attributes need 4-byte elements)."""
    if colors.shape[1] == 4:
        return colors
    return np.concatenate([colors, np.full_like(colors[:, :1], 255)], axis=1)


def _material(anim: AnimatedMesh, blob: _BinaryBuffer) -> pygltflib.Material:
    """A PBR material from the mesh's base colour and texture (white under vertex colours)."""
    if anim.base_color is not None:
        color = [float(c) for c in anim.base_color]
    elif anim.texture is not None or anim.vertex_colors is not None:
        color = [1.0, 1.0, 1.0, 1.0]
    else:
        color = list(DEFAULT_BASE_COLOR)
    pbr = pygltflib.PbrMetallicRoughness(baseColorFactor=color, metallicFactor=0.0, roughnessFactor=0.8)
    translucent = color[3] < 1.0
    if anim.texture is not None and anim.uvs is not None:
        png = io.BytesIO()
        Image.fromarray(anim.texture).save(png, format="PNG")
        gltf = blob.gltf
        gltf.images.append(
            pygltflib.Image(name=f"{anim.name}_basecolor", mimeType="image/png", bufferView=blob.view(png.getvalue()))
        )
        gltf.samplers.append(
            pygltflib.Sampler(
                magFilter=pygltflib.LINEAR,
                minFilter=pygltflib.LINEAR_MIPMAP_LINEAR,
                wrapS=pygltflib.REPEAT,
                wrapT=pygltflib.REPEAT,
            )
        )
        gltf.textures.append(pygltflib.Texture(sampler=0, source=0))
        pbr.baseColorTexture = pygltflib.TextureInfo(index=0)
        translucent = translucent or (anim.texture.shape[2] == 4 and bool((anim.texture[..., 3] < 255).any()))
    return pygltflib.Material(
        name=f"{anim.name}_material",
        pbrMetallicRoughness=pbr,
        doubleSided=True,
        alphaMode="BLEND" if translucent else "OPAQUE",
    )
