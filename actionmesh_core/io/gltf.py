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

`read_gltf_parts` reads a user's .glb/.gltf the same way round: its triangle primitives with their
exact materials (sparse accessors applied), for `load_user_mesh`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import os
from pathlib import Path
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import numpy as np
import pygltflib
from PIL import Image
from trimesh.transformations import quaternion_matrix

from ..animated_mesh import AnimatedMesh, Material
from ..errors import InputError, MeshError
from ..render.normals import vertex_normals
from ..safe_paths import resource_path
from .atomic import atomic_path

log = logging.getLogger(__name__)

INTERPOLATIONS = {"smooth": "LINEAR", "hold": "STEP"}
GENERATOR = "ActionMesh for ComfyUI (actionmesh_core.io.gltf)"

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
    data = animated_glb_bytes(anim, interpolation=interpolation, normals=normals)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def animated_glb_bytes(anim: AnimatedMesh, *, interpolation: str = "smooth", normals: bool = False) -> bytes:
    """The GLB file of `write_animated_glb` as bytes."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"GLB interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    blob = mesh_document(anim, anim.vertices, encoded_textures(anim), normals=normals, morph=True)
    gltf = blob.gltf
    one_hot = np.eye(anim.num_frames, dtype=np.float32)
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
    return blob.finish()


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
        attributes.COLOR_0 = blob.accessor(_rgba(anim.vertex_colors[ids]), vectors, normalized=True)
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

    def finish(self) -> bytes:
        """Attach the collected bytes as the GLB's binary chunk; returns the GLB file."""
        self.parts.append(b"\0" * (-self.length % 4))
        data = b"".join(self.parts)
        self.gltf.buffers = [pygltflib.Buffer(byteLength=len(data))]
        self.gltf.set_binary_blob(data)
        return b"".join(self.gltf.save_to_bytes())


def _rgba(colors: np.ndarray) -> np.ndarray:
    """(V, 4) uint8 from (V, 3|4) uint8 colours (glTF vertex attributes need 4-byte elements)."""
    if colors.shape[1] == 4:
        return colors
    return np.concatenate([colors, np.full_like(colors[:, :1], 255)], axis=1)


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


class MeshPart(NamedTuple):
    """One triangle primitive of a mesh file, placed in the scene.

    vertices: (V, 3) float32; faces: (F, 3) int64; uvs: optional (V, 2) float32 (glTF convention, v down);
    vertex_colors: optional (V, 4) uint8; material: optional `Material`, one object per material of the file.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None
    vertex_colors: np.ndarray | None
    material: Material | None


_COMPONENT_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_TRIANGLES, _TRIANGLE_STRIP, _TRIANGLE_FAN = 4, 5, 6


def read_gltf_parts(path: str | os.PathLike) -> list[MeshPart]:
    """The triangle primitives of a .glb/.gltf file in scene order, each moved by its node's world
    transform, with its exact glTF material (factors as written, decoded texture images).
    Triangle strips and fans become lists; points and lines are skipped; TEXCOORD_1 and texture transforms
    are not read."""
    return _GltfReader(Path(path)).parts()


class _GltfReader:
    """Decodes accessors, images and materials of one glTF file (GLB blob, data URIs or side files)."""

    def __init__(self, path: Path):
        self.gltf = pygltflib.GLTF2().load(str(path))
        self.folder = path.parent
        self.buffers = [self.gltf.binary_blob() if buffer.uri is None else self.uri_bytes(buffer.uri)
                        for buffer in self.gltf.buffers]
        self.materials = [self.material(material) for material in self.gltf.materials]
        self.default_material = Material(name="default")

    def parts(self) -> list[MeshPart]:
        gltf = self.gltf
        if gltf.scenes:
            instances = _instances(gltf, gltf.scenes[gltf.scene or 0].nodes, np.eye(4))
        else:
            instances = ((mesh, np.eye(4)) for mesh in range(len(gltf.meshes)))
        return [
            self.part(primitive, world)
            for mesh, world in instances
            for primitive in gltf.meshes[mesh].primitives
            if primitive.mode in (None, _TRIANGLES, _TRIANGLE_STRIP, _TRIANGLE_FAN)
        ]

    def part(self, primitive: pygltflib.Primitive, world: np.ndarray) -> MeshPart:
        attributes = primitive.attributes
        vertices = self.accessor(attributes.POSITION) @ world[:3, :3].T + world[:3, 3]
        corners = np.arange(len(vertices)) if primitive.indices is None else \
            self.accessor(primitive.indices).astype(np.int64).reshape(-1)
        faces = _triangles(corners, primitive.mode)
        if np.linalg.det(world[:3, :3]) < 0:  # a mirroring node flips the winding (glTF 2.0 §3.7.4)
            faces = faces[:, ::-1]
        uvs = None if attributes.TEXCOORD_0 is None else self.accessor(attributes.TEXCOORD_0).astype(np.float32)
        colors = None
        if attributes.COLOR_0 is not None:
            rgba = self.accessor(attributes.COLOR_0)
            rgba = np.concatenate([rgba, np.ones_like(rgba[:, :1])], axis=1) if rgba.shape[1] == 3 else rgba
            colors = np.round(np.clip(rgba, 0.0, 1.0) * 255).astype(np.uint8)
        material = self.default_material if primitive.material is None else self.materials[primitive.material]
        return MeshPart(vertices.astype(np.float32), faces, uvs, colors, material)

    def accessor(self, index: int) -> np.ndarray:
        """(count, width) values, sparse substitutions applied; normalised integers as floats in [0, 1]
        (or [-1, 1])."""
        accessor = self.gltf.accessors[index]
        dtype, width = np.dtype(_COMPONENT_DTYPES[accessor.componentType]), _WIDTHS[accessor.type]
        if accessor.bufferView is None:
            values = np.zeros((accessor.count, width), dtype)
        else:
            values = self.view(accessor.bufferView, accessor.byteOffset, accessor.count, dtype, width)
        if accessor.sparse is not None:  # glTF 2.0 §3.6.2.3: (count,) indices and their (count, width) values
            sparse = accessor.sparse
            rows = self.view(sparse.indices.bufferView, sparse.indices.byteOffset, sparse.count,
                             np.dtype(_COMPONENT_DTYPES[sparse.indices.componentType]), 1)[:, 0]
            if sparse.count and rows.max() >= accessor.count:
                raise MeshError(f"glTF accessor {index}: a sparse index is past its {accessor.count} elements")
            values[rows] = self.view(sparse.values.bufferView, sparse.values.byteOffset, sparse.count, dtype, width)
        if accessor.normalized:
            return np.maximum(values / np.float32(np.iinfo(dtype).max), -1.0).astype(np.float32)
        return values

    def view(self, index: int, offset: int | None, count: int, dtype: np.dtype, width: int) -> np.ndarray:
        """A (count, width) copy of the elements of buffer view `index` from byte `offset` on."""
        view = self.gltf.bufferViews[index]
        start = (view.byteOffset or 0) + (offset or 0)
        stride = view.byteStride or dtype.itemsize * width
        if count and start + stride * (count - 1) + dtype.itemsize * width > len(self.buffers[view.buffer]):
            raise MeshError(f"glTF buffer view {index} is shorter than its accessor: the file is truncated or broken")
        return np.ndarray((count, width), dtype, buffer=self.buffers[view.buffer], offset=start,
                          strides=(stride, dtype.itemsize)).copy()

    def material(self, material: pygltflib.Material) -> Material:
        pbr = material.pbrMetallicRoughness or pygltflib.PbrMetallicRoughness()
        infos = {"base_color_texture": pbr.baseColorTexture, "metallic_roughness_texture": pbr.metallicRoughnessTexture,
                 "normal_texture": material.normalTexture, "occlusion_texture": material.occlusionTexture,
                 "emissive_texture": material.emissiveTexture}
        infos = {slot: info for slot, info in infos.items() if info is not None}
        if any(info.texCoord for info in infos.values()):
            log.warning("material '%s' samples TEXCOORD_1, which is not kept: its textures use TEXCOORD_0", material.name)
        images = {slot: self.texture(info.index) for slot, info in infos.items()}
        values = {
            "name": material.name, "base_color": pbr.baseColorFactor, "metallic": pbr.metallicFactor,
            "roughness": pbr.roughnessFactor, "emissive": material.emissiveFactor, "alpha_mode": material.alphaMode,
            "alpha_cutoff": material.alphaCutoff, "double_sided": material.doubleSided,
            "normal_scale": getattr(material.normalTexture, "scale", None),
            "occlusion_strength": getattr(material.occlusionTexture, "strength", None),
        }
        images = {slot: image for slot, image in images.items() if image is not None}
        return Material(**{key: value for key, value in values.items() if value is not None}, **images)

    @functools.cache  # noqa: B019 - one reader per file: a texture in several slots is decoded once, one array
    def texture(self, index: int) -> np.ndarray | None:
        """(H, W, 3|4) uint8 pixels of texture `index` (None when its image is only in an extension)."""
        source = self.gltf.textures[index].source
        if source is None:
            return None
        image = self.gltf.images[source]
        if image.bufferView is not None:
            view = self.gltf.bufferViews[image.bufferView]
            start = view.byteOffset or 0
            data = self.buffers[view.buffer][start : start + view.byteLength]
        else:
            data = self.uri_bytes(image.uri)
        pixels = Image.open(io.BytesIO(data))
        alpha = "A" in pixels.getbands() or "transparency" in pixels.info
        return np.asarray(pixels.convert("RGBA" if alpha else "RGB"))

    def uri_bytes(self, uri: str) -> bytes:
        """The bytes a buffer or image URI names: a data: URI, or a file inside the glTF's own folder (any
        other URI, an absolute path or a path out of the folder is a MeshError: `resource_path`)."""
        if isinstance(uri, str) and uri.startswith("data:"):
            return _data_uri_bytes(uri)
        path = resource_path(self.folder, uri, what="glTF buffer or image URI")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise MeshError(f"cannot read {uri!r}, which the glTF file refers to ({exc.strerror}); put it beside "
                            "the .gltf file, or use the .glb that embeds it") from None


def _data_uri_bytes(uri: str) -> bytes:
    """The payload of a data: URI (RFC 2397): base64 when its header says so, else percent-encoded bytes."""
    header, comma, payload = uri.partition(",")
    if not comma:
        raise MeshError(f"the glTF data URI {uri[:60]!r}... has no ',' before its data: the file is broken")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise MeshError(f"the glTF data URI {uri[:60]!r}... is not valid base64: the file is broken") from None


def _triangles(corners: np.ndarray, mode: int | None) -> np.ndarray:
    """(F, 3) triangles of a primitive's (N,) vertex indices, as glTF 2.0 §3.7.2.1 orders them: a list, a
    strip (triangle i is v_i, v_i+1, v_i+2, with the last two swapped for odd i) or a fan (v_i+1, v_i+2, v_0)."""
    if mode == _TRIANGLE_STRIP:
        faces = np.stack([corners[:-2], corners[1:-1], corners[2:]], axis=1)
        faces[1::2] = faces[1::2][:, [0, 2, 1]]
        return faces
    if mode == _TRIANGLE_FAN:
        return np.stack([corners[1:-1], corners[2:], np.full(len(corners) - 2, corners[0])], axis=1)
    if len(corners) % 3:
        raise MeshError(f"a glTF triangle list has {len(corners)} corners, not a multiple of 3: the file is broken")
    return corners.reshape(-1, 3)


def _instances(gltf: pygltflib.GLTF2, nodes: list[int], parent: np.ndarray):
    """Yield (mesh index, (4, 4) world matrix) for every node under `nodes`, depth first in file order."""
    for index in nodes:
        node = gltf.nodes[index]
        world = parent @ _local_matrix(node)
        if node.mesh is not None:
            yield node.mesh, world
        yield from _instances(gltf, node.children or [], world)


def _local_matrix(node: pygltflib.Node) -> np.ndarray:
    """(4, 4) node transform: its column-major matrix, or translation @ rotation @ scale."""
    if node.matrix is not None:
        return np.asarray(node.matrix, np.float64).reshape(4, 4).T
    x, y, z, w = node.rotation or (0.0, 0.0, 0.0, 1.0)
    matrix = quaternion_matrix([w, x, y, z])
    matrix[:3, :3] *= np.asarray(node.scale or (1.0, 1.0, 1.0))
    matrix[:3, 3] = node.translation or (0.0, 0.0, 0.0)
    return matrix
