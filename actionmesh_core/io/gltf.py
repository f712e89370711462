"""Reading a user's .glb/.gltf file: its triangle primitives with their exact materials (sparse accessors
applied), for `load_user_mesh`. Coordinates as in the file (glTF 2.0: right-handed, +Y up, metres), each
primitive moved by its node's world transform. The animated GLB writer is `actionmesh_core.export.gltf`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import os
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import numpy as np
import pygltflib
from PIL import Image
from trimesh.transformations import quaternion_matrix

from ..base.colour_space import linear_to_srgb
from ..base.log import log
from ..animated_mesh import Material
from ..base.safe_paths import resource_path
from ..errors import MeshError



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
            rgba = self.accessor(attributes.COLOR_0)  # linear light (glTF 2.0 §3.7.2.1) -> sRGB bytes
            alpha = rgba[:, 3:] if rgba.shape[1] == 4 else np.ones_like(rgba[:, :1])
            colors = np.concatenate([linear_to_srgb(rgba[:, :3]), np.round(np.clip(alpha, 0.0, 1.0) * 255)],
                                    axis=1).astype(np.uint8)
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
