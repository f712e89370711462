// ActionMesh frontend extension:
// - "ActionMesh Preview Animated Mesh" plays the animated GLB its node wrote (one mesh, one primitive per
//   material, one morph target per frame) inside the node: play/pause, frame slider, drag to orbit, each
//   material's base colour and base-colour texture times the vertex colours. It plays skinned GLBs too (a skin,
//   JOINTS_0/WEIGHTS_0 and a joint TRS animation): the vertex shader blends 4 joint matrices per vertex, the
//   matrices of the current time computed once per drawn frame. Plain WebGL2, no library: core's 3D viewer only
//   attaches to core's own Preview3D/SaveGLB nodes and the frontend does not share its three.js.
// - "ActionMesh Load Mesh" gets an upload button that puts a mesh into ComfyUI's input/3d folder.
// - "ActionMesh Export" shows a skinned export's report (file size, bones, error) under its widgets after a run.
// - Widgets that another widget's value makes unused are shown disabled (greyed, no number), so a graph does not seem
//   to run numbers it does not run: the stage nodes' steps and guidance unless preset is "custom", the Export node's
//   bones and max_error unless its format is a skinned one.
// Each player runs at most one animation loop, whatever happens (re-runs, the node removed, the graph reloaded, another
// workflow opened), and loading this script twice (two URLs for one pack) registers the extension once.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const EXTENSION = "ActionMesh.AnimatedMeshPreview";
const REGISTERED = Symbol.for(EXTENSION);  // on `app`: shared by every copy of this script
const PREVIEW_NODE = "ActionMeshPreviewAnimatedMesh";
const LOAD_MESH_NODE = "ActionMeshLoadMesh";
const EXPORT_NODE = "ActionMeshExport";
const MESH_SUFFIXES = ".glb,.gltf,.obj,.ply";
// {control widget, the values that use them, the widgets used only then} (nodes/inputs.py PRESET, nodes/outputs.py)
const USED_ONLY_WHEN = [
  { control: "preset", values: ["custom"], widgets: ["steps", "guidance"] },
  { control: "format", values: ["skinned-glb", "usdskel"], widgets: ["bones", "max_error"] },
];

// ---------------------------------------------------------------- GLB reading

const COMPONENTS = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT4: 16 };
const ARRAYS = { 5121: Uint8Array, 5123: Uint16Array, 5125: Uint32Array, 5126: Float32Array };

function readAccessor(gltf, bin, index) {
  const accessor = gltf.accessors[index];
  const view = gltf.bufferViews[accessor.bufferView];
  const Type = ARRAYS[accessor.componentType];
  const count = accessor.count * COMPONENTS[accessor.type];
  const offset = bin.byteOffset + (view.byteOffset || 0) + (accessor.byteOffset || 0);
  return new Type(bin.buffer.slice(offset, offset + count * Type.BYTES_PER_ELEMENT));
}

// Linear light in [0, 1] -> sRGB in [0, 1] (the screen's encoding, like the texture images' bytes).
const toSrgb = (x) => (x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055);

// sRGB in [0, 1] of every vertex of a primitive: its material's base colour factor times COLOR_0 (both linear light
// in glTF, so shown encoded to sRGB: red stays red, white stays white, COLOR_0 is not washed out).
function vertexColors(gltf, bin, primitive, count) {
  const material = gltf.materials?.[primitive.material]?.pbrMetallicRoughness;
  const factor = material?.baseColorFactor || [1, 1, 1, 1];
  const colors = new Float32Array(count * 3);
  const index = primitive.attributes.COLOR_0;
  const values = index === undefined ? null : readAccessor(gltf, bin, index);
  const width = values ? COMPONENTS[gltf.accessors[index].type] : 0;
  const scale = values instanceof Float32Array ? 1 : values ? 2 ** (8 * values.BYTES_PER_ELEMENT) - 1 : 1;
  for (let v = 0; v < count; v++)
    for (let c = 0; c < 3; c++) colors[3 * v + c] = toSrgb(factor[c] * (values ? values[width * v + c] / scale : 1));
  return colors;
}

function concatenate(arrays, Type) {
  const out = new Type(arrays.reduce((sum, array) => sum + array.length, 0));
  arrays.reduce((offset, array) => (out.set(array, offset), offset + array.length), 0);
  return out;
}

// The base-colour texture image of a primitive's material, as an ImageBitmap (null without one).
async function baseColorImage(gltf, bin, primitive) {
  const info = gltf.materials?.[primitive.material]?.pbrMetallicRoughness?.baseColorTexture;
  if (info === undefined || primitive.attributes.TEXCOORD_0 === undefined) return null;
  const image = gltf.images[gltf.textures[info.index].source];
  const view = gltf.bufferViews[image.bufferView];
  const bytes = bin.subarray(view.byteOffset || 0, (view.byteOffset || 0) + view.byteLength);
  return createImageBitmap(new Blob([bytes], { type: image.mimeType }));
}

// Normalised integers (glTF WEIGHTS_0 as unsigned byte/short) as floats in [0, 1]; floats as they are.
function asFloats(values) {
  if (values instanceof Float32Array) return values;
  const scale = 2 ** (8 * values.BYTES_PER_ELEMENT) - 1;
  return Float32Array.from(values, (value) => value / scale);
}

// The skin of the mesh node, when it has one -> {joints (node indices), parents, rest TRS of every node,
// tracks {node: {rotation, translation}} keyed at `times`, inverseBind (J * 16), times}.
function readSkin(gltf, bin) {
  const meshNode = gltf.nodes.find((node) => node.mesh === 0);
  if (meshNode?.skin === undefined) return null;
  const skin = gltf.skins[meshNode.skin];
  const parents = {};
  gltf.nodes.forEach((node, index) => (node.children || []).forEach((child) => (parents[child] = index)));
  const tracks = {};
  let times = new Float32Array([0]);
  for (const channel of gltf.animations?.[0]?.channels || []) {
    const sampler = gltf.animations[0].samplers[channel.sampler];
    times = readAccessor(gltf, bin, sampler.input);
    (tracks[channel.target.node] ||= {})[channel.target.path] = readAccessor(gltf, bin, sampler.output);
  }
  const inverseBind = skin.inverseBindMatrices === undefined
    ? Float32Array.from({ length: 16 * skin.joints.length }, (_, i) => (i % 5 === 0 ? 1 : 0))
    : readAccessor(gltf, bin, skin.inverseBindMatrices);
  return { joints: skin.joints, parents, nodes: gltf.nodes, tracks, inverseBind, times };
}

// An animated GLB written by the pack -> {base, targets[], colors, uvs, indices, groups[], fps, skin}: frame k =
// base + targets[k], or for a skinned GLB (skin, with joints/weights per vertex) the rest pose `base` moved by
// the joints at key k; its primitives (one per material, each with one target per frame) are joined into one
// vertex list, and each is a group {first, count, image} of the joined indices.
async function parseGlb(buffer) {
  const header = new DataView(buffer);
  if (header.getUint32(0, true) !== 0x46546c67) throw new Error("not a GLB file");
  const jsonLength = header.getUint32(12, true);
  const gltf = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 20, jsonLength)));
  const binStart = 20 + jsonLength + 8;
  const bin = new Uint8Array(buffer, binStart, header.getUint32(20 + jsonLength, true));
  const parts = [];
  let vertexCount = 0, indexCount = 0;
  for (const primitive of gltf.meshes[0].primitives) {
    const base = readAccessor(gltf, bin, primitive.attributes.POSITION);
    const indices = Uint32Array.from(readAccessor(gltf, bin, primitive.indices), (i) => i + vertexCount);
    const uv = primitive.attributes.TEXCOORD_0;
    parts.push({
      base, indices, colors: vertexColors(gltf, bin, primitive, base.length / 3),
      uvs: uv === undefined ? new Float32Array((base.length / 3) * 2) : readAccessor(gltf, bin, uv),
      targets: (primitive.targets || []).map((target) => readAccessor(gltf, bin, target.POSITION)),
      joints: primitive.attributes.JOINTS_0 === undefined ? null
        : Float32Array.from(readAccessor(gltf, bin, primitive.attributes.JOINTS_0)),
      weights: primitive.attributes.WEIGHTS_0 === undefined ? null
        : asFloats(readAccessor(gltf, bin, primitive.attributes.WEIGHTS_0)),
      group: { first: indexCount, count: indices.length, image: await baseColorImage(gltf, bin, primitive) },
    });
    vertexCount += base.length / 3;
    indexCount += indices.length;
  }
  return {
    base: concatenate(parts.map((part) => part.base), Float32Array),
    targets: parts[0].targets.map((_, k) => concatenate(parts.map((part) => part.targets[k]), Float32Array)),
    colors: concatenate(parts.map((part) => part.colors), Float32Array),
    uvs: concatenate(parts.map((part) => part.uvs), Float32Array),
    indices: concatenate(parts.map((part) => part.indices), Uint32Array),
    groups: parts.map((part) => part.group),
    fps: (gltf.extras && gltf.extras.fps) || 8,
    skin: parts[0].joints && parts[0].weights && readSkin(gltf, bin),
    joints: parts[0].joints && concatenate(parts.map((part) => part.joints), Float32Array),
    weights: parts[0].weights && concatenate(parts.map((part) => part.weights), Float32Array),
  };
}

// ---------------------------------------------------------------- skinning

function slerp(a, b, w) {
  let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
  const sign = dot < 0 ? -1 : 1;
  dot *= sign;
  if (dot > 0.9995) {
    const q = a.map((v, i) => (1 - w) * v + w * sign * b[i]);
    const n = Math.hypot(...q);
    return q.map((v) => v / n);
  }
  const angle = Math.acos(dot), s = Math.sin(angle);
  const wa = Math.sin((1 - w) * angle) / s, wb = (sign * Math.sin(w * angle)) / s;
  return a.map((v, i) => wa * v + wb * b[i]);
}

// Column-major 4 x 4 of translation t, rotation quaternion q (x, y, z, w) and scale s, and a product of two.
function trsMatrix(t, q, s) {
  const [x, y, z, w] = q;
  return [
    (1 - 2 * (y * y + z * z)) * s[0], 2 * (x * y + z * w) * s[0], 2 * (x * z - y * w) * s[0], 0,
    2 * (x * y - z * w) * s[1], (1 - 2 * (x * x + z * z)) * s[1], 2 * (y * z + x * w) * s[1], 0,
    2 * (x * z + y * w) * s[2], 2 * (y * z - x * w) * s[2], (1 - 2 * (x * x + y * y)) * s[2], 0,
    t[0], t[1], t[2], 1];
}

function multiply(a, b) {
  const out = new Array(16).fill(0);
  for (let c = 0; c < 4; c++)
    for (let r = 0; r < 4; r++)
      for (let k = 0; k < 4; k++) out[c * 4 + r] += a[k * 4 + r] * b[c * 4 + k];
  return out;
}

// The skinning matrix of every joint at key `k` + `w` (glTF LINEAR: slerp rotations, lerp translations):
// joint world transform times its inverse bind matrix. Returns a Float32Array of J column-major 4 x 4s.
function jointMatrices(skin, k, w) {
  const next = Math.min(k + 1, skin.times.length - 1);
  const local = (node) => {
    const item = skin.nodes[node], track = skin.tracks[node] || {};
    const at = (values, width, key) => Array.from(values.subarray(width * key, width * key + width));
    const rotation = track.rotation ? slerp(at(track.rotation, 4, k), at(track.rotation, 4, next), w)
      : item.rotation || [0, 0, 0, 1];
    const translation = track.translation
      ? at(track.translation, 3, k).map((v, i) => (1 - w) * v + w * track.translation[3 * next + i])
      : item.translation || [0, 0, 0];
    return item.matrix || trsMatrix(translation, rotation, item.scale || [1, 1, 1]);
  };
  const world = (node) => (node in skin.parents ? multiply(world(skin.parents[node]), local(node)) : local(node));
  const out = new Float32Array(16 * skin.joints.length);
  skin.joints.forEach((joint, j) => out.set(multiply(world(joint), skin.inverseBind.subarray(16 * j, 16 * j + 16)), 16 * j));
  return out;
}

// ---------------------------------------------------------------- WebGL2 viewer

const VERTEX_SHADER = `#version 300 es
uniform mat4 viewProjection;
uniform bool skinned;
uniform highp sampler2D jointTexture;  // row 0: the 4 columns of each joint's skinning matrix
in vec3 position;
in vec3 albedo;
in vec2 uv;
in vec4 joint;
in vec4 weight;
out vec3 worldPosition;
out vec3 vertexAlbedo;
out vec2 vertexUv;
mat4 jointMatrix(float index) {
  int column = 4 * int(index);
  return mat4(texelFetch(jointTexture, ivec2(column, 0), 0), texelFetch(jointTexture, ivec2(column + 1, 0), 0),
              texelFetch(jointTexture, ivec2(column + 2, 0), 0), texelFetch(jointTexture, ivec2(column + 3, 0), 0));
}
void main() {
  vec4 moved = vec4(position, 1.0);
  if (skinned) moved = (weight.x * jointMatrix(joint.x) + weight.y * jointMatrix(joint.y) +
                        weight.z * jointMatrix(joint.z) + weight.w * jointMatrix(joint.w)) * moved;
  worldPosition = moved.xyz;
  vertexAlbedo = albedo;
  vertexUv = uv;
  gl_Position = viewProjection * vec4(worldPosition, 1.0);
}`;

const FRAGMENT_SHADER = `#version 300 es
precision highp float;
uniform vec3 eye;
uniform bool textured;
uniform sampler2D baseColorTexture;
in vec3 worldPosition;
in vec3 vertexAlbedo;
in vec2 vertexUv;
out vec4 color;
void main() {
  vec3 normal = normalize(cross(dFdx(worldPosition), dFdy(worldPosition)));
  vec3 toEye = normalize(eye - worldPosition);
  if (dot(normal, toEye) < 0.0) normal = -normal;
  float light = 0.35 + 0.65 * max(dot(normal, normalize(toEye + vec3(0.3, 0.5, 0.0))), 0.0);
  vec3 albedo = vertexAlbedo;
  if (textured) albedo *= texture(baseColorTexture, vertexUv).rgb;  // as the pack's own renderer
  color = vec4(albedo * light, 1.0);
}`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
  return shader;
}

function lookAtPerspective(eye, aspect) {
  // Column-major view-projection for a camera at `eye` looking at the origin, +Y up, 40 degree field of view.
  const f = [-eye[0], -eye[1], -eye[2]];
  const fl = Math.hypot(...f);
  const fw = f.map((v) => v / fl);
  let side = [-fw[2], 0, fw[0]];  // forward x +Y
  const sl = Math.hypot(...side) || 1;
  side = side.map((v) => v / sl);
  const up = [side[1] * fw[2] - side[2] * fw[1], side[2] * fw[0] - side[0] * fw[2], side[0] * fw[1] - side[1] * fw[0]];
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const view = [side[0], up[0], -fw[0], 0, side[1], up[1], -fw[1], 0, side[2], up[2], -fw[2], 0,
    -dot(side, eye), -dot(up, eye), dot(fw, eye), 1];
  const t = 1 / Math.tan((40 * Math.PI) / 360), near = 0.05 * fl, far = 10 * fl;
  const proj = [t / aspect, 0, 0, 0, 0, t, 0, 0, 0, 0, (far + near) / (near - far), -1, 0, 0, (2 * far * near) / (near - far), 0];
  const out = new Float32Array(16);
  for (let c = 0; c < 4; c++)
    for (let r = 0; r < 4; r++)
      for (let k = 0; k < 4; k++) out[c * 4 + r] += proj[k * 4 + r] * view[c * 4 + k];
  return out;
}

class AnimationViewer {
  constructor(container) {
    this.canvas = document.createElement("canvas");
    this.canvas.style.cssText = "width:100%;flex:1;min-height:120px;background:#222;border-radius:4px;cursor:grab";
    const controls = document.createElement("div");
    controls.style.cssText = "display:flex;gap:6px;align-items:center;padding-top:4px;font:12px sans-serif;color:#ccc";
    this.button = document.createElement("button");
    this.button.textContent = "▶";
    this.button.title = "play / pause";
    this.slider = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 0, step: "any", value: 0 });
    this.slider.style.flex = "1";
    this.label = document.createElement("span");
    this.label.textContent = "no animation yet";
    controls.append(this.button, this.slider, this.label);
    container.append(this.canvas, controls);

    this.gl = this.canvas.getContext("webgl2");
    this.azimuth = 0.5;
    this.elevation = 0.35;
    this.playing = false;
    this.time = 0;
    this.playedFrames = 0;  // frames advanced by playing, ever (the speed the browser test measures)
    this.frameRequest = null;  // the one animation loop's pending frame, null when it is not running
    this.tick = this.tick.bind(this);
    this.button.onclick = () => this.setPlaying(!this.playing);
    this.slider.oninput = () => { this.setPlaying(false); this.time = Number(this.slider.value); this.draw(); };
    this.canvas.onpointerdown = (event) => this.drag(event);
  }

  drag(start) {
    const [x0, y0, a0, e0] = [start.clientX, start.clientY, this.azimuth, this.elevation];
    const move = (event) => {
      this.azimuth = a0 - (event.clientX - x0) * 0.01;
      this.elevation = Math.max(-1.5, Math.min(1.5, e0 + (event.clientY - y0) * 0.01));
      this.draw();
    };
    const stop = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", stop); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", stop);
  }

  async load(url) {
    this.url = url;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    this.animation = await parseGlb(await response.arrayBuffer());
    const { base, targets, colors, uvs, indices, groups, skin } = this.animation;
    const gl = this.gl;
    if (!this.program) {
      this.program = gl.createProgram();
      gl.attachShader(this.program, compile(gl, gl.VERTEX_SHADER, VERTEX_SHADER));
      gl.attachShader(this.program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SHADER));
      gl.linkProgram(this.program);
      this.uniforms = Object.fromEntries(["viewProjection", "eye", "textured", "skinned", "jointTexture"].map(
        (name) => [name, gl.getUniformLocation(this.program, name)]));  // base colour: unit 0, joints: unit 1
      this.positions = gl.createBuffer();
      this.albedo = gl.createBuffer();
      this.uvs = gl.createBuffer();
      this.jointIndices = gl.createBuffer();
      this.jointWeights = gl.createBuffer();
      this.indexBuffer = gl.createBuffer();
      this.jointTexture = gl.createTexture();
      this.vertexArray = gl.createVertexArray();  // records the attribute layout and the index buffer once
      gl.bindVertexArray(this.vertexArray);
      this.attributes = {};
      for (const [name, buffer, size] of [["position", this.positions, 3], ["albedo", this.albedo, 3], ["uv", this.uvs, 2],
        ["joint", this.jointIndices, 4], ["weight", this.jointWeights, 4]]) {
        const location = this.attributes[name] = gl.getAttribLocation(this.program, name);
        gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
        gl.enableVertexAttribArray(location);
        gl.vertexAttribPointer(location, size, gl.FLOAT, false, 0, 0);
      }
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indexBuffer);
    }
    gl.bindVertexArray(this.vertexArray);
    for (const [name, buffer, values] of [["joint", this.jointIndices, this.animation.joints],
      ["weight", this.jointWeights, this.animation.weights]]) {
      if (skin) {  // per-vertex joints and weights; without a skin the shader ignores them (constant zeros)
        gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
        gl.bufferData(gl.ARRAY_BUFFER, values, gl.STATIC_DRAW);
        gl.enableVertexAttribArray(this.attributes[name]);
      } else gl.disableVertexAttribArray(this.attributes[name]);
    }
    gl.activeTexture(gl.TEXTURE1);  // the joints' skinning matrices (identities without a skin)
    gl.bindTexture(gl.TEXTURE_2D, this.jointTexture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    this.jointCount = skin ? skin.joints.length : 1;
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, 4 * this.jointCount, 1, 0, gl.RGBA, gl.FLOAT,
      skin ? jointMatrices(skin, 0, 0) : new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]));
    gl.activeTexture(gl.TEXTURE0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.albedo);
    gl.bufferData(gl.ARRAY_BUFFER, colors, gl.STATIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.uvs);
    gl.bufferData(gl.ARRAY_BUFFER, uvs, gl.STATIC_DRAW);
    for (const texture of this.textures || []) gl.deleteTexture(texture);
    this.textures = groups.map(({ image }) => {
      if (!image) return null;
      const texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, image);  // row 0 at v = 0, as glTF
      gl.generateMipmap(gl.TEXTURE_2D);
      return texture;
    });
    this.frame = new Float32Array(base.length);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indexBuffer);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, indices, gl.STATIC_DRAW);
    if (skin) {  // the rest pose, moved by the joints in the shader
      gl.bindBuffer(gl.ARRAY_BUFFER, this.positions);
      gl.bufferData(gl.ARRAY_BUFFER, base, gl.STATIC_DRAW);
    }
    this.distance = 2.8 * this.radius();
    this.frames = skin ? skin.times.length : Math.max(targets.length, 1);
    this.slider.max = this.frames - 1;
    this.time = 0;
    this.setPlaying(this.frames > 1);
    this.draw();
  }

  // The radius around the origin that holds every frame of the animation (skinned: every 16th vertex).
  radius() {
    const { base, targets, skin, joints, weights } = this.animation;
    let radius = 1e-6;
    if (!skin) {
      for (const target of targets.length ? targets : [new Float32Array(base.length)])
        for (let i = 0; i < base.length; i += 3)
          radius = Math.max(radius, Math.hypot(base[i] + target[i], base[i + 1] + target[i + 1], base[i + 2] + target[i + 2]));
      return radius;
    }
    for (let k = 0; k < skin.times.length; k++) {
      const matrices = jointMatrices(skin, k, 0);
      for (let v = 0; v < base.length / 3; v += 16) {
        const moved = [0, 0, 0];
        for (let i = 0; i < 4; i++) {
          const m = matrices.subarray(16 * joints[4 * v + i]), w = weights[4 * v + i];
          for (let r = 0; r < 3; r++)
            moved[r] += w * (m[r] * base[3 * v] + m[4 + r] * base[3 * v + 1] + m[8 + r] * base[3 * v + 2] + m[12 + r]);
        }
        radius = Math.max(radius, Math.hypot(...moved));
      }
    }
    return radius;
  }

  setPlaying(playing) {
    this.playing = playing;
    this.button.textContent = playing ? "⏸" : "▶";
    if (playing && this.frameRequest === null) {  // one loop: a running one goes on with the new animation
      this.lastTick = performance.now();
      this.frameRequest = requestAnimationFrame(this.tick);
    } else if (!playing) {
      this.stop();
    }
  }

  tick(now) {
    this.frameRequest = null;
    if (!this.playing || !this.canvas.isConnected || !this.animation) return;
    const advance = Math.max(0, (now - this.lastTick) / 1000) * this.animation.fps;
    this.lastTick = now;
    this.playedFrames += advance;
    this.time = (this.time + advance) % this.frames;
    this.draw();
    this.frameRequest = requestAnimationFrame(this.tick);
  }

  stop() {
    if (this.frameRequest !== null) cancelAnimationFrame(this.frameRequest);
    this.frameRequest = null;
  }

  // The node is gone (removed, or its graph replaced): no loop and no GPU memory left behind.
  dispose() {
    this.playing = false;
    this.stop();
    for (const texture of this.textures || []) this.gl?.deleteTexture(texture);
    this.textures = [];
    this.animation = null;
  }

  draw() {
    const gl = this.gl;
    if (!this.animation || !gl) return;
    const { base, targets, skin } = this.animation;
    const k = Math.floor(this.time), w = this.time - k;
    if (skin) {
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, this.jointTexture);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, 4 * this.jointCount, 1, gl.RGBA, gl.FLOAT, jointMatrices(skin, k, w));
      gl.activeTexture(gl.TEXTURE0);
    } else {
      const a = targets[k] || new Float32Array(base.length), b = targets[(k + 1) % this.frames] || a;
      for (let i = 0; i < base.length; i++) this.frame[i] = base[i] + (1 - w) * a[i] + w * b[i];
    }
    this.slider.value = this.time;
    this.label.textContent = `frame ${k + 1} / ${this.frames}`;

    const width = this.canvas.clientWidth * devicePixelRatio, height = this.canvas.clientHeight * devicePixelRatio;
    if (this.canvas.width !== width || this.canvas.height !== height) Object.assign(this.canvas, { width, height });
    gl.viewport(0, 0, width, height);
    gl.clearColor(0.13, 0.13, 0.13, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.useProgram(this.program);
    const eye = [Math.sin(this.azimuth) * Math.cos(this.elevation), Math.sin(this.elevation),
      Math.cos(this.azimuth) * Math.cos(this.elevation)].map((v) => v * this.distance);
    gl.uniformMatrix4fv(this.uniforms.viewProjection, false, lookAtPerspective(eye, width / height));
    gl.uniform3fv(this.uniforms.eye, eye);
    gl.uniform1i(this.uniforms.skinned, skin ? 1 : 0);
    gl.uniform1i(this.uniforms.jointTexture, 1);
    gl.bindVertexArray(this.vertexArray);
    if (!skin) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.positions);
      gl.bufferData(gl.ARRAY_BUFFER, this.frame, gl.DYNAMIC_DRAW);
    }
    this.animation.groups.forEach(({ first, count }, i) => {
      gl.uniform1i(this.uniforms.textured, this.textures[i] ? 1 : 0);
      if (this.textures[i]) gl.bindTexture(gl.TEXTURE_2D, this.textures[i]);
      gl.drawElements(gl.TRIANGLES, count, gl.UNSIGNED_INT, first * 4);
    });
  }
}

// ---------------------------------------------------------------- nodes

function viewUrl({ filename, subfolder, type }) {
  const query = new URLSearchParams({ filename, subfolder, type, rand: String(Math.random()) });
  return api.apiURL(`/view?${query}`);
}

async function uploadMesh(node) {
  const picker = Object.assign(document.createElement("input"), { type: "file", accept: MESH_SUFFIXES });
  picker.onchange = async () => {
    const body = new FormData();
    body.append("image", picker.files[0]);
    body.append("subfolder", "3d");
    body.append("type", "input");
    const response = await api.fetchApi("/upload/image", { method: "POST", body });
    if (response.status !== 200) return alert(`Upload failed: ${response.status} ${response.statusText}`);
    const { name, subfolder } = await response.json();
    const combo = node.widgets.find((widget) => widget.name === "mesh_file");
    const value = `${subfolder}/${name}`;
    if (!combo.options.values.includes(value)) combo.options.values.push(value);
    combo.value = value;
  };
  picker.click();
}

// ---------------------------------------------------------------- the Export node's report

// A skinned export's line (file size, bones, error), shown under the node's widgets once it ran; not a value.
function showReport(nodeType) {
  const onExecuted = nodeType.prototype.onExecuted;
  nodeType.prototype.onExecuted = function (message) {
    onExecuted?.apply(this, arguments);
    const text = message?.text?.join("\n") ?? "";
    if (!text && !this.actionmeshReport) return;
    if (!this.actionmeshReport) {
      this.actionmeshReport = document.createElement("div");
      this.actionmeshReport.className = "actionmesh-report";
      this.actionmeshReport.style.cssText = "font-size:11px;line-height:1.35;padding:2px 6px;white-space:pre-wrap;"
        + "overflow-wrap:anywhere;color:var(--input-text, #ddd);opacity:0.85";
      const widget = this.addDOMWidget("report", "actionmesh_report", this.actionmeshReport, { serialize: false,
        getMinHeight: () => 36 });
      widget.serialize = false;
      this.setSize([this.size[0], Math.max(this.size[1], this.computeSize()[1])]);
    }
    this.actionmeshReport.textContent = text;
    this.setDirtyCanvas?.(true, false);
  };
}

// ---------------------------------------------------------------- widgets used only for some values

function showUsed(node, rules) {
  for (const { control, values, widgets } of rules) {
    const chooser = node.widgets?.find((widget) => widget.name === control);
    if (!chooser) continue;
    for (const widget of node.widgets)
      if (widgets.includes(widget.name)) widget.disabled = !values.includes(chooser.value);
  }
  node.setDirtyCanvas?.(true, false);
}

function followControls(nodeType, rules) {
  const onNodeCreated = nodeType.prototype.onNodeCreated;
  nodeType.prototype.onNodeCreated = function () {
    onNodeCreated?.apply(this, arguments);
    for (const { control } of rules) {
      const chooser = this.widgets?.find((widget) => widget.name === control);
      const callback = chooser?.callback;
      if (chooser) chooser.callback = (...args) => {
        const result = callback?.apply(chooser, args);
        showUsed(this, rules);
        return result;
      };
    }
    showUsed(this, rules);
  };
  const onConfigure = nodeType.prototype.onConfigure;
  nodeType.prototype.onConfigure = function () {  // a loaded workflow's values
    const result = onConfigure?.apply(this, arguments);
    showUsed(this, rules);
    return result;
  };
}

function register() {
  if (app[REGISTERED]) return;  // this script was loaded twice
  app[REGISTERED] = true;
  app.registerExtension({ name: EXTENSION, beforeRegisterNodeDef });
}

async function beforeRegisterNodeDef(nodeType, nodeData) {
  const inputs = nodeData.input?.required ?? {};
  const rules = USED_ONLY_WHEN.filter(({ control, values }) =>
    values.some((value) => inputs[control]?.[0]?.includes?.(value)));
  if (nodeData.name.startsWith("ActionMesh") && rules.length) followControls(nodeType, rules);
  if (nodeData.name === PREVIEW_NODE) {
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      onNodeCreated?.apply(this, arguments);
      const container = document.createElement("div");
      container.style.cssText = "display:flex;flex-direction:column;width:100%;height:100%";
      this.actionmeshViewer = new AnimationViewer(container);
      const widget = this.addDOMWidget("animation_preview", "actionmesh_preview", container, { serialize: false });
      widget.serialize = false;
      this.setSize([400, 420]);
    };
    const onRemoved = nodeType.prototype.onRemoved;
    nodeType.prototype.onRemoved = function () {
      this.actionmeshViewer?.dispose();
      return onRemoved?.apply(this, arguments);
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const entry = message?.actionmesh_preview?.[0];
      if (entry) this.actionmeshViewer.load(viewUrl(entry)).catch((error) => {
        this.actionmeshViewer.label.textContent = `cannot show the preview: ${error.message}`;
      });
    };
  }
  if (nodeData.name === EXPORT_NODE) showReport(nodeType);
  if (nodeData.name === LOAD_MESH_NODE) {
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      onNodeCreated?.apply(this, arguments);
      // not a value: kept out of the saved workflow (serialize) and out of the prompt (options.serialize)
      const button = this.addWidget("button", "upload mesh to input/3d", null, () => uploadMesh(this),
        { serialize: false });
      button.serialize = false;
    };
  }
}

register();
