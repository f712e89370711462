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
vertex colours and full PBR materials (factors, alpha mode and cutoff, double-sidedness and the base-colour,
metallic-roughness, normal, occlusion and emissive textures as embedded PNGs) are written too. With several
materials the one mesh has one primitive per material, holding that material's faces and only the vertices
they use, in the user's order (so each primitive's UVs are the user's); every primitive has one target per
frame, so the one `weights` animation drives them all. Input texture samplers and texture transforms are not
kept: every texture uses one linear, repeating sampler.

An animation registered to its video (`anim.cameras`) also gets a perspective camera node named `video_camera`
(yfov and aspect ratio of the video, near and far planes around the mesh) whose translation and rotation are
animated at the same keys in the same animation: looking through it in Blender or three.js shows the mesh where
the video shows the subject.

The reader of .glb/.gltf files is `actionmesh_core.io.gltf`.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygltflib
from PIL import Image

from ..animated_mesh import AnimatedMesh, Material
from ..base.atomic import atomic_path
from ..base.colour_space import srgb_to_linear
from ..base.normals import vertex_normals
from ..errors import InputError

INTERPOLATIONS = {"smooth": "LINEAR", "hold": "STEP"}
GENERATOR = "ActionMesh for ComfyUI (actionmesh_core.export.gltf)"

_COMPONENT_TYPES = {
    np.dtype(np.float32): pygltflib.FLOAT,
    np.dtype(np.uint32): pygltflib.UNSIGNED_INT,
    np.dtype(np.uint16): pygltflib.UNSIGNED_SHORT,
    np.dtype(np.uint8): pygltflib.UNSIGNED_BYTE,
}
_ELEMENT_TYPES = {1: pygltflib.SCALAR, 2: pygltflib.VEC2, 3: pygltflib.VEC3, 4: pygltflib.VEC4, 16: pygltflib.MAT4}


def write_animated_glb(
    anim: AnimatedMesh, path: str | os.PathLike, *, interpolation: str = "smooth", normals: bool = False
) -> Path:
    """Write `anim` as one animated GLB at `path` (replaced atomically). Returns the path.

    interpolation: "smooth" (neighbouring frames cross-fade) or "hold" (each frame held for 1/fps).
    normals: also write vertex normals and per-frame normal targets (doubles the size); without
    them viewers compute flat normals for each animated frame.
    """
    blob = _animated_document(anim, interpolation=interpolation, normals=normals)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        blob.write(stream)  # part by part: no second copy of the frames in memory
    return path


def animated_glb_bytes(anim: AnimatedMesh, *, interpolation: str = "smooth", normals: bool = False) -> bytes:
    """The GLB file of `write_animated_glb` as bytes."""
    return _animated_document(anim, interpolation=interpolation, normals=normals).finish()


def _animated_document(anim: AnimatedMesh, *, interpolation: str, normals: bool) -> BinaryBuffer:
    """The animated GLB of `write_animated_glb`, ready to write (its glTF is `.gltf`)."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"GLB interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    blob = mesh_document(anim, anim.vertices, encoded_textures(anim), normals=normals, morph=True)
    gltf = blob.gltf
    one_hot = np.eye(anim.num_frames, dtype=np.float32)
    times, weights = anim.frame_times.astype(np.float32), one_hot
    if interpolation == "hold":
        times = np.append(times, np.float32(anim.frame_times[-1] + 1.0 / anim.fps))
        weights = np.concatenate([weights, weights[-1:]])
    keys = blob.accessor(times, bounds=True)
    animation = pygltflib.Animation(name=anim.name)
    add_channel(animation, keys, blob.accessor(weights.reshape(-1)), INTERPOLATIONS[interpolation], 0, "weights")
    if anim.cameras is not None:
        add_video_camera(blob, anim, animation, keys, INTERPOLATIONS[interpolation], len(times))
    gltf.animations.append(animation)
    gltf.extras = {"fps": float(anim.fps), "frames": anim.num_frames}
    return blob


VIDEO_CAMERA = "video_camera"


def add_video_camera(blob: BinaryBuffer, anim: AnimatedMesh, animation: pygltflib.Animation, keys: int,
                      interpolation: str, count: int) -> None:
    """A perspective camera node named VIDEO_CAMERA whose yfov and aspect ratio are the video's and whose
    translation and rotation follow `anim.cameras` at the animation's keys (the first `count` frames, the last
    one repeated for a closing key), so a viewer looking through it sees the mesh where the video shows it."""
    cameras, gltf = anim.cameras, blob.gltf
    near, far = cameras.clip_planes(anim.vertices)
    gltf.cameras.append(pygltflib.Camera(name=VIDEO_CAMERA, type="perspective", perspective=pygltflib.Perspective(
        aspectRatio=cameras.aspect, yfov=cameras.yfov, znear=near, zfar=far)))
    translations, rotations = cameras.node_trs()
    last = np.minimum(np.arange(count), anim.num_frames - 1)
    translations, rotations = translations[last].astype(np.float32), rotations[last].astype(np.float32)
    gltf.nodes.append(pygltflib.Node(name=VIDEO_CAMERA, camera=len(gltf.cameras) - 1,
                                     translation=translations[0].tolist(), rotation=rotations[0].tolist()))
    node = len(gltf.nodes) - 1
    gltf.scenes[gltf.scene].nodes.append(node)
    add_channel(animation, keys, blob.accessor(translations), interpolation, node, "translation")
    add_channel(animation, keys, blob.accessor(rotations), interpolation, node, "rotation")


def add_channel(animation: pygltflib.Animation, keys: int, values: int, interpolation: str, node: int, path: str) -> None:
    """Add a sampler (key times and values accessors) and the channel that drives `path` of `node` with it."""
    animation.samplers.append(pygltflib.AnimationSampler(input=keys, output=values, interpolation=interpolation))
    animation.channels.append(pygltflib.AnimationChannel(
        sampler=len(animation.samplers) - 1, target=pygltflib.AnimationChannelTarget(node=node, path=path)))


def frame_glbs(anim: AnimatedMesh) -> Iterator[bytes]:
    """Each frame of `anim` as a static GLB: the animated file's primitives and materials, without
    targets. The textures are encoded once for all the frames."""
    pngs = encoded_textures(anim)
    for positions in anim.vertices:
        yield mesh_document(anim, positions[None], pngs, normals=False, morph=False).finish()


def mesh_document(anim: AnimatedMesh, frames: np.ndarray, pngs: dict[int, bytes], *, normals: bool, morph: bool,
                  vertex_attributes: dict[str, tuple[np.ndarray, bool]] | None = None) -> BinaryBuffer:
    """A glTF with one node (node 0) and one mesh whose base is frames[0] (T', V, 3), with the UVs, vertex
    colours and materials of `anim`; morph: one target per frame. pngs: `encoded_textures(anim)`.
    vertex_attributes: more per-vertex attributes, {glTF name: ((V, k) array, normalized)} (a skin's JOINTS_0
    and WEIGHTS_0). Returns the glTF's BinaryBuffer (the glTF is its `.gltf`)."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator=GENERATOR))
    blob = BinaryBuffer(gltf)
    frame_normals = vertex_normals(frames, anim.faces) if normals else None
    primitives = [_primitive(blob, anim, part, frames, frame_normals, morph, vertex_attributes or {})
                  for part in anim.material_parts()]
    textures: dict[int, int] = {}  # id of an image -> its glTF texture, so an image in several slots is stored once
    gltf.materials = [_material(material, blob, pngs, textures) for material in anim.resolved_materials()]
    mesh = pygltflib.Mesh(name=anim.name, primitives=primitives)
    if morph:
        mesh.weights = np.eye(anim.num_frames)[0].tolist()
        mesh.extras = {"targetNames": [f"frame_{k:02d}" for k in range(anim.num_frames)]}
    gltf.meshes.append(mesh)
    gltf.nodes.append(pygltflib.Node(name=anim.name, mesh=0))
    gltf.scenes.append(pygltflib.Scene(name=anim.name, nodes=[0]))
    gltf.scene = 0
    return blob


def _primitive(blob, anim: AnimatedMesh, part, frames: np.ndarray, frame_normals: np.ndarray | None,
               morph: bool, vertex_attributes: dict[str, tuple[np.ndarray, bool]]) -> pygltflib.Primitive:
    """One primitive (a part of `anim.material_parts()`): base frames[0], targets frames[k] - frames[0]
    (all primitives of the mesh get the same number of targets, as glTF requires), optional normals
    (T', V, 3) likewise, and the part's rows of each of `vertex_attributes`."""
    material, ids, faces = part
    vectors = pygltflib.ARRAY_BUFFER
    base = frames[0][ids]
    attributes = pygltflib.Attributes(POSITION=blob.accessor(base, vectors, bounds=True))
    targets = [{"POSITION": blob.accessor(frame[ids] - base, vectors, bounds=True)} for frame in frames] if morph else None
    if frame_normals is not None:
        base_normals = frame_normals[0][ids]
        attributes.NORMAL = blob.accessor(base_normals, vectors)
        for target, normals in zip(targets or [], frame_normals):
            target["NORMAL"] = blob.accessor(normals[ids] - base_normals, vectors)
    if anim.uvs is not None:
        attributes.TEXCOORD_0 = blob.accessor(anim.uvs[ids], vectors)
    if anim.vertex_colors is not None:
        attributes.COLOR_0 = blob.accessor(_linear_rgba(anim.vertex_colors[ids]), vectors, normalized=True)
    for name, (values, normalized) in vertex_attributes.items():
        setattr(attributes, name, blob.accessor(values[ids], vectors, normalized=normalized))
    index_type = np.uint16 if len(ids) < 0xFFFF else np.uint32
    indices = blob.accessor(faces.astype(index_type).reshape(-1), pygltflib.ELEMENT_ARRAY_BUFFER)
    return pygltflib.Primitive(attributes=attributes, indices=indices, material=material, targets=targets)


class BinaryBuffer:
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
        """array: (N,) or (N, 1..4) of float32/uint8/uint16/uint32, or (N, 16) float32 column-major 4 x 4 matrices.
        bounds: write per-component min/max."""
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

    def write(self, stream) -> None:
        """Write the GLB file (glTF 2.0 §4.4: a 12-byte header, the JSON chunk padded with spaces, the binary
        chunk) to a binary stream, the collected parts one by one: the data is never joined into one copy."""
        padding = -self.length % 4
        self.parts.append(b"\0" * padding)
        self.length += padding
        self.gltf.buffers = [pygltflib.Buffer(byteLength=self.length)]
        text = self.gltf.gltf_to_json(separators=(",", ":"), indent=None).encode("utf-8")
        text += b" " * (-len(text) % 4)
        stream.write(struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + self.length))
        stream.write(struct.pack("<I4s", len(text), b"JSON") + text)
        stream.write(struct.pack("<I4s", self.length, b"BIN\0"))
        for part in self.parts:
            stream.write(part)

    def finish(self) -> bytes:
        """The GLB file of `write` as bytes."""
        data = io.BytesIO()
        self.write(data)
        return data.getvalue()


def _linear_rgba(colors: np.ndarray) -> np.ndarray:
    """(V, 4) uint16 (normalised) linear-light RGB and alpha from (V, 3|4) sRGB uint8 colours: glTF's COLOR_0 is
    linear (16 bits keep every sRGB byte apart: the read-back gives the same bytes)."""
    rgb = np.round(srgb_to_linear(colors[:, :3]) * 65535.0)
    alpha = colors[:, 3:].astype(np.float32) * (65535.0 / 255.0) if colors.shape[1] == 4 else np.full_like(rgb[:, :1], 65535)
    return np.concatenate([rgb, np.round(alpha)], axis=1).astype(np.uint16)


def encoded_textures(anim: AnimatedMesh) -> dict[int, bytes]:
    """The PNG file of every texture image of `anim`'s materials, by id of the image."""
    pngs = {}
    for material in anim.resolved_materials():
        for image in material.textures().values():
            if id(image) not in pngs:
                png = io.BytesIO()
                Image.fromarray(image).save(png, format="PNG")
                pngs[id(image)] = png.getvalue()
    return pngs


def _material(material: Material, blob: BinaryBuffer, pngs: dict[int, bytes],
              textures: dict[int, int]) -> pygltflib.Material:
    """`material` as a glTF material, its textures embedded as PNG images (pngs, by id of the image) once
    per document (textures: id of an image -> glTF texture index, filled as images are embedded)."""
    index = {}
    for slot, image in material.textures().items():
        if id(image) not in textures:
            textures[id(image)] = _texture(blob, pngs[id(image)], f"{material.name}_{slot}")
        index[slot] = textures[id(image)]

    def info(slot: str, kind=pygltflib.TextureInfo, **extra):
        return None if slot not in index else kind(index=index[slot], **extra)

    pbr = pygltflib.PbrMetallicRoughness(
        baseColorFactor=material.base_color.tolist(),
        metallicFactor=material.metallic,
        roughnessFactor=material.roughness,
        baseColorTexture=info("base_color_texture"),
        metallicRoughnessTexture=info("metallic_roughness_texture"),
    )
    return pygltflib.Material(
        name=material.name,
        pbrMetallicRoughness=pbr,
        normalTexture=info("normal_texture", pygltflib.NormalMaterialTexture, scale=material.normal_scale),
        occlusionTexture=info("occlusion_texture", pygltflib.OcclusionTextureInfo, strength=material.occlusion_strength),
        emissiveTexture=info("emissive_texture"),
        emissiveFactor=material.emissive.tolist(),
        alphaMode=material.alpha_mode,
        alphaCutoff=material.alpha_cutoff if material.alpha_mode == "MASK" else None,
        doubleSided=material.double_sided,
    )


def _texture(blob: BinaryBuffer, png: bytes, name: str) -> int:
    """Embed a PNG file as a texture (one shared repeat sampler); returns its index."""
    gltf = blob.gltf
    gltf.images.append(pygltflib.Image(name=name, mimeType="image/png", bufferView=blob.view(png)))
    if not gltf.samplers:
        gltf.samplers.append(
            pygltflib.Sampler(
                magFilter=pygltflib.LINEAR,
                minFilter=pygltflib.LINEAR_MIPMAP_LINEAR,
                wrapS=pygltflib.REPEAT,
                wrapT=pygltflib.REPEAT,
            )
        )
    gltf.textures.append(pygltflib.Texture(sampler=0, source=len(gltf.images) - 1))
    return len(gltf.textures) - 1
