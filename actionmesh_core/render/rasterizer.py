"""`render_rgba`: OpenGL pictures of a mesh or a mesh animation, shaded, unlit or normal-coloured, from orbit
cameras; `render_cameras`: the same through any cameras (view and projection matrices, any image size), with
optional wireframe edges and a depth image.

Rasterisation runs in moderngl on the shared EGL context (`context.py`): the GPU when there is
one, Mesa's llvmpipe on the CPU otherwise. Faces are drawn from both sides; a face whose vertex
normals point away from the camera is lit from its visible side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..base.normals import vertex_normals
from ..errors import InputError, MeshError
from .camera import DEFAULT_FOV_DEG, orbit_view, perspective
from .context import gl_context

MODES = ("shaded", "normals", "flat")
DEFAULT_COLOR = (0.72, 0.72, 0.72)
LIGHT_DIRECTION = np.float32([0.3, 0.5, 1.0]) / np.linalg.norm([0.3, 0.5, 1.0])  # camera space
AMBIENT = 0.35
SOLID = len(MODES)  # the shader's mode for wireframe lines: one plain colour
WIREFRAME_DEPTH_BIAS = 2e-4  # lines are pulled this far toward the camera (NDC depth), over their faces

VERTEX_SHADER = """
#version 330
uniform mat4 view;
uniform mat4 proj;
uniform float depth_bias;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_color;
in vec2 in_uv;
out vec3 v_position;
out vec3 v_normal;
out vec3 v_color;
out vec2 v_uv;
void main() {
    vec4 p = view * vec4(in_position, 1.0);
    v_position = p.xyz;
    v_normal = mat3(view) * in_normal;
    v_color = in_color;
    v_uv = in_uv;
    gl_Position = proj * p;
    gl_Position.z -= depth_bias * gl_Position.w;
}
"""

FRAGMENT_SHADER = """
#version 330
uniform int mode;  // 0 shaded, 1 normals, 2 flat (albedo, unlit), 3 solid (base_color only)
uniform bool textured;
uniform sampler2D base_texture;
uniform vec3 base_color;
uniform vec3 light_direction;
uniform float ambient;
in vec3 v_position;
in vec3 v_normal;
in vec3 v_color;
in vec2 v_uv;
out vec4 frag_color;
void main() {
    if (mode == 3) {
        frag_color = vec4(base_color, 1.0);
        return;
    }
    vec3 facing = cross(dFdx(v_position), dFdy(v_position));  // toward the camera, any winding
    vec3 n = normalize(v_normal);
    if (dot(n, facing) < 0.0) n = -n;
    if (mode == 1) {
        frag_color = vec4(n * 0.5 + 0.5, 1.0);
        return;
    }
    vec3 albedo = v_color * base_color;
    if (textured) albedo *= texture(base_texture, v_uv).rgb;
    if (mode == 2) {
        frag_color = vec4(albedo, 1.0);
        return;
    }
    float diffuse = max(dot(n, light_direction), 0.0);
    frag_color = vec4(albedo * (ambient + (1.0 - ambient) * diffuse), 1.0);
}
"""

_PROGRAMS: dict[int, object] = {}


@dataclass(frozen=True)
class Shading:
    """The look of one group of faces: an optional (H, W, 3|4) uint8 texture sampled at the mesh's uvs,
    times `color`, an RGB factor in [0, 1] as glTF's baseColorFactor (None: white with vertex colours or a
    texture, DEFAULT_COLOR without)."""

    texture: np.ndarray | None = None
    color: Sequence[float] | None = None


def render_rgba(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    size: int = 256,
    azimuth_deg: float | Sequence[float] = 0.0,
    elevation_deg: float = 20.0,
    distance: float = 3.0,
    mode: str = "shaded",
    vertex_colors: np.ndarray | None = None,
    uvs: np.ndarray | None = None,
    shadings: Sequence[Shading] = (Shading(),),
    face_shadings: np.ndarray | None = None,
    fov_deg: float = DEFAULT_FOV_DEG,
    samples: int = 4,
) -> np.ndarray:
    """Render a mesh from an orbit camera looking at the origin (see `camera.py` for the angles).

    vertices: (V, 3) or (T, V, 3) float in the +Y-up model frame; faces: (F, 3) int.
    azimuth_deg: one angle, or N angles: one per frame (N = T), or N views of a single frame.
    mode: "shaded" (Lambert light from the camera's upper right), "normals" (camera-space
      normals as colours: facing the camera = (128, 128, 255), right = red, up = green) or "flat"
      (the albedo, unlit).
    vertex_colors: optional (V, 3|4) uint8 albedo; uvs: optional (V, 2) texture coordinates (glTF
      convention, v down), used by the shadings' textures.
    shadings: the `Shading` of each face group (a material each); face_shadings: (F,) int index into
      `shadings` of every face (None: all faces use the first).
    samples: multisampling per pixel (anti-aliasing); alpha is the pixel's coverage.
    Returns (N, size, size, 4) uint8 with straight (not premultiplied) alpha, N = max(T, angles).
    """
    frames, faces = _check_mesh(vertices, faces)
    _check_size(size)
    azimuths = np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64))
    count = max(len(frames), len(azimuths))
    if len(frames) not in (1, count) or azimuths.shape not in ((1,), (count,)):
        raise InputError(f"give one azimuth or one per frame: {len(azimuths)} azimuths for {len(frames)} frames")
    views = np.stack([orbit_view(az, elevation_deg, distance) for az in azimuths])
    proj = perspective(fov_deg, 1.0, near=0.05 * distance, far=distance + 50.0)
    return render_cameras(frames, faces, views, proj, width=size, height=size, mode=mode,
                          vertex_colors=vertex_colors, uvs=uvs, shadings=shadings, face_shadings=face_shadings,
                          samples=samples)


def render_cameras(
    vertices: np.ndarray,
    faces: np.ndarray,
    views: np.ndarray,
    projections: np.ndarray,
    *,
    width: int,
    height: int,
    mode: str = "shaded",
    vertex_colors: np.ndarray | None = None,
    uvs: np.ndarray | None = None,
    shadings: Sequence[Shading] = (Shading(),),
    face_shadings: np.ndarray | None = None,
    samples: int = 4,
    wireframe: Sequence[float] | None = None,
    depth: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Render a mesh or an animation through explicit cameras (`render_rgba` is the orbit-camera case).

    vertices: (V, 3) or (T, V, 3); faces: (F, 3) int.
    views: (4, 4) or (N, 4, 4) world-to-camera matrices (OpenGL: +X right, +Y up, looking down -Z);
      projections: (4, 4) or (N, 4, 4) OpenGL clip-from-camera matrices (`camera.perspective`, or an
      off-centre frustum). One of each per image, or one for all; N = max(T, views, projections).
    width, height: image size in pixels. mode, vertex_colors, uvs, shadings, face_shadings: as `render_rgba`.
    samples: multisampling per pixel; 0 gives exact (binary) coverage.
    wireframe: RGB in [0, 1]: also draw every edge as a 1-pixel line of that colour over the faces.
    depth: also return (N, height, width) float32 distances along the view axis (inf where no face is
      drawn); needs samples=0.
    Returns (N, height, width, 4) uint8 RGBA with straight alpha [, depth].
    """
    frames, faces = _check_mesh(vertices, faces)
    if mode not in MODES:
        raise InputError(f"render mode must be one of {MODES}, got {mode!r}")
    _check_size(width)
    _check_size(height)
    if depth and samples:
        raise InputError("a depth render needs samples=0 (a multisampled depth buffer cannot be read)")
    views = _matrices(views, "views")
    projections = _matrices(projections, "projections")
    count = max(len(frames), len(views), len(projections))
    if any(n not in (1, count) for n in (len(frames), len(views), len(projections))):
        raise InputError(f"give one camera or one per frame: {len(views)} views and {len(projections)} projections "
                         f"for {len(frames)} frames")
    frame_of_image = np.arange(count) if len(frames) > 1 else np.zeros(count, int)
    views = np.broadcast_to(views, (count, 4, 4))
    projections = np.broadcast_to(projections, (count, 4, 4))
    order, groups = _face_groups(len(faces), shadings, face_shadings)
    uvs = None if uvs is None else _check_uvs(uvs, frames.shape[1])
    albedo = _vertex_albedo(vertex_colors, frames.shape[1])
    normals = vertex_normals(frames, faces)

    images = np.empty((count, height, width, 4), np.uint8)
    depths = np.empty((count, height, width), np.float32) if depth else None
    with gl_context() as ctx, contextlib.ExitStack() as owned:

        def own(resource):
            owned.callback(resource.release)
            return resource

        program = _program(ctx)
        positions = own(ctx.buffer(reserve=frames[0].nbytes))
        normal_buffer = own(ctx.buffer(reserve=normals[0].nbytes))
        content = [
            (positions, "3f", "in_position"),
            (normal_buffer, "3f", "in_normal"),
            (own(ctx.buffer(albedo.tobytes())), "3f", "in_color"),
        ]
        draws = [_draw(ctx, own, shading, uvs is not None, vertex_colors is not None, *faces_range)
                 for shading, *faces_range in groups]
        if any(texture is not None for texture, *_ in draws):
            content.append((own(ctx.buffer(uvs.tobytes())), "2f", "in_uv"))
            program["base_texture"].value = 0
        indices = own(ctx.buffer(faces[order].astype(np.uint32).tobytes()))
        vao = own(ctx.vertex_array(program, content, index_buffer=indices, index_element_size=4))
        lines = None
        if wireframe is not None:
            edges = own(ctx.buffer(mesh_edges(faces).astype(np.uint32).tobytes()))
            lines = own(ctx.vertex_array(program, content, index_buffer=edges, index_element_size=4))
        samples = min(samples, ctx.max_samples)
        resolved_depth = own(ctx.depth_texture((width, height))) if samples == 0 else None
        resolved = own(ctx.framebuffer(own(ctx.renderbuffer((width, height), 4)), resolved_depth))
        target = resolved
        if samples:
            target = own(
                ctx.framebuffer(
                    own(ctx.renderbuffer((width, height), 4, samples=samples)),
                    own(ctx.depth_renderbuffer((width, height), samples=samples)),
                )
            )
        program["light_direction"].value = tuple(LIGHT_DIRECTION)
        program["ambient"].value = AMBIENT
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        for k, (frame_index, view, proj) in enumerate(zip(frame_of_image, views, projections)):
            if k == 0 or frame_index != frame_of_image[k - 1]:
                positions.write(frames[frame_index].tobytes())
                normal_buffer.write(normals[frame_index].tobytes())
            program["view"].write(np.ascontiguousarray(view.T, np.float32).tobytes())
            program["proj"].write(np.ascontiguousarray(proj.T, np.float32).tobytes())
            program["mode"].value = MODES.index(mode)
            program["depth_bias"].value = 0.0
            target.use()
            target.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            for texture, color, first_face, face_count in draws:
                program["textured"].value = texture is not None
                program["base_color"].value = color
                if texture is not None:
                    texture.use(0)
                vao.render(vertices=3 * face_count, first=3 * first_face)
            if lines is not None:
                _draw_lines(program, lines, wireframe)
            if target is not resolved:
                ctx.copy_framebuffer(resolved, target)
            pixels = np.frombuffer(resolved.read(components=4), np.uint8).reshape(height, width, 4)
            images[k] = pixels[::-1]  # OpenGL rows run bottom-up
            if depths is not None:
                window = np.frombuffer(resolved_depth.read(), np.float32).reshape(height, width)[::-1]
                depths[k] = _view_distance(window, proj)
    images = _unpremultiply(images)
    return (images, depths) if depth else images


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) int64 unique undirected edges of (F, 3) triangles."""
    pairs = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(pairs, axis=0)


def _draw_lines(program, lines, color: Sequence[float]) -> None:
    """Draw the edges in one plain colour, pulled toward the camera so that they win over their faces."""
    import moderngl

    program["mode"].value = SOLID
    program["textured"].value = False
    program["base_color"].value = tuple(float(c) for c in np.reshape(color, 3))
    program["depth_bias"].value = WIREFRAME_DEPTH_BIAS
    lines.render(mode=moderngl.LINES)


def _view_distance(window_depth: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """Window depths in [0, 1] -> distances along the view axis (inf at the far plane: nothing drawn).
    With clip w = -z_camera: z_ndc = (P22 z + P23) / -z, so -z = P23 / (z_ndc + P22)."""
    ndc = 2.0 * window_depth.astype(np.float64) - 1.0
    with np.errstate(divide="ignore"):
        distance = proj[2, 3] / (ndc + proj[2, 2])
    return np.where(window_depth >= 1.0, np.inf, distance).astype(np.float32)


def _matrices(matrices, what: str) -> np.ndarray:
    array = np.asarray(matrices, dtype=np.float32)
    array = array[None] if array.shape == (4, 4) else array
    if array.ndim != 3 or array.shape[1:] != (4, 4) or len(array) == 0:
        raise InputError(f"{what} must be (4, 4) or (N, 4, 4) matrices, got {np.shape(matrices)}")
    if not np.isfinite(array).all():
        raise InputError(f"{what} contain NaN or infinite values")
    return array


def _check_size(size) -> None:
    if not (isinstance(size, (int, np.integer)) and 8 <= size <= 8192):
        raise InputError(f"render size must be an integer in [8, 8192] pixels, got {size!r}")


def _program(ctx):
    if id(ctx) not in _PROGRAMS:
        _PROGRAMS[id(ctx)] = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
    return _PROGRAMS[id(ctx)]


def _check_mesh(vertices, faces) -> tuple[np.ndarray, np.ndarray]:
    """(T, V, 3) float32 frames and (F, 3) int64 faces, or a MeshError saying what is wrong."""
    frames = np.asarray(vertices, dtype=np.float32)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[-1] != 3 or frames.shape[0] == 0 or frames.shape[1] == 0:
        raise MeshError(f"vertices to render must have shape (V, 3) or (T, V, 3), got {np.shape(vertices)}")
    if not np.isfinite(frames).all():
        raise MeshError("vertices to render contain NaN or infinite values")
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise MeshError(f"faces to render must have shape (F, 3) with F > 0, got {faces.shape}")
    if faces.min() < 0 or faces.max() >= frames.shape[1]:
        raise MeshError(f"face indices must lie in [0, {frames.shape[1]}), got [{faces.min()}, {faces.max()}]")
    return np.ascontiguousarray(frames), faces


def _face_groups(num_faces: int, shadings: Sequence[Shading], face_shadings) -> tuple[np.ndarray, list]:
    """(F,) face order that lists the faces group by group, and (shading, first face, face count) of
    each group with faces, in that order."""
    if len(shadings) == 0:
        raise InputError("give at least one Shading")
    index = np.zeros(num_faces, np.int64) if face_shadings is None else np.asarray(face_shadings, np.int64)
    if index.shape != (num_faces,) or index.min() < 0 or index.max() >= len(shadings):
        raise InputError(f"face_shadings must be ({num_faces},) indices into the {len(shadings)} shadings")
    order = np.argsort(index, kind="stable")
    counts = np.bincount(index, minlength=len(shadings))
    starts = np.cumsum(counts) - counts
    return order, [(shading, int(start), int(count)) for shading, start, count in zip(shadings, starts, counts) if count]


def _draw(ctx, own, shading: Shading, has_uvs: bool, has_colors: bool, first_face: int, face_count: int) -> tuple:
    """(GL texture or None, RGB factor, first face, face count) of one face group; `own` releases the
    texture with the rest of the frame's resources."""
    texture = None
    if has_uvs and shading.texture is not None:
        image = _check_texture(shading.texture)
        texture = own(ctx.texture(image.shape[1::-1], image.shape[2], image.tobytes()))
        texture.build_mipmaps()
    color = shading.color
    if color is None:
        color = DEFAULT_COLOR if not has_colors and texture is None else (1.0, 1.0, 1.0)
    return texture, tuple(float(c) for c in np.reshape(color, 3)), first_face, face_count


def _vertex_albedo(vertex_colors, num_vertices: int) -> np.ndarray:
    """(V, 3) float32 albedo in [0, 1]: per-vertex uint8 colours, or white."""
    if vertex_colors is None:
        return np.ones((num_vertices, 3), np.float32)
    vertex_colors = np.asarray(vertex_colors)
    if vertex_colors.shape not in ((num_vertices, 3), (num_vertices, 4)):
        raise InputError(f"vertex_colors must have shape ({num_vertices}, 3|4), got {vertex_colors.shape}")
    return np.ascontiguousarray(vertex_colors[:, :3] / 255.0, dtype=np.float32)


def _check_uvs(uvs, num_vertices: int) -> np.ndarray:
    uvs = np.ascontiguousarray(uvs, dtype=np.float32)
    if uvs.shape != (num_vertices, 2):
        raise InputError(f"uvs must have shape ({num_vertices}, 2), got {uvs.shape}")
    return uvs


def _check_texture(texture) -> np.ndarray:
    texture = np.ascontiguousarray(texture)
    if texture.ndim != 3 or texture.shape[2] not in (3, 4) or texture.dtype != np.uint8:
        raise InputError(f"texture must be a (H, W, 3|4) uint8 image, got {texture.dtype} {texture.shape}")
    return texture


def _unpremultiply(images: np.ndarray) -> np.ndarray:
    """Turn colours resolved over a transparent background into straight-alpha colours."""
    alpha = images[..., 3:].astype(np.float32)
    rgb = images[..., :3].astype(np.float32) * 255.0 / np.maximum(alpha, 1.0)
    images[..., :3] = np.where(alpha > 0, np.clip(np.rint(rgb), 0, 255), 0).astype(np.uint8)
    return images
