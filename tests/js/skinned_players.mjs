// A skinned GLB in two players, in headless Chromium, against a page served by the test (test_browser_skinned.py):
// - three.js (GLTFLoader + AnimationMixer, what ComfyUI's core Preview 3D uses): at each given frame time, the
//   skinned positions of the given vertices (SkinnedMesh.applyBoneTransform) and every bone's world position;
// - the pack's in-node player (web/actionmesh_preview.js, with stand-ins for ComfyUI's app/api modules): the
//   skinned GLB and a morph-target GLB of the same motion, each drawn at each given frame from one camera, and
//   per frame the share of pixels that show the mesh, that differ between the two files, and that moved since
//   the first frame.
// usage: node skinned_players.mjs PAGE_URL SPEC.json  (SPEC: {skinned, morph, times[], frames[], vertices[]})
// Prints one JSON object. Needs Chromium (CHROMIUM, default /usr/bin/chromium) and playwright-core here.
import { readFileSync } from "node:fs";
import { launchChromium } from "./comfy_browser.mjs";

const [url, specFile] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specFile, "utf8"));
const browser = await launchChromium();
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 400, height: 400 } });
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 60000 });

  const three = await page.evaluate(async (spec) => {
    const { THREE, GLTFLoader } = window.harness;
    const gltf = await new GLTFLoader().loadAsync(spec.skinned);
    let mesh = null;
    gltf.scene.traverse((object) => { if (object.isSkinnedMesh && !mesh) mesh = object; });
    const mixer = new THREE.AnimationMixer(gltf.scene);
    mixer.clipAction(gltf.animations[0]).play();
    const frames = spec.times.map((time) => {
      mixer.setTime(time);
      gltf.scene.updateMatrixWorld(true);
      mesh.skeleton.update();
      const position = mesh.geometry.attributes.position;
      const vertices = spec.vertices.map((index) => {
        const vertex = new THREE.Vector3().fromBufferAttribute(position, index);
        mesh.applyBoneTransform(index, vertex);
        return vertex.applyMatrix4(mesh.matrixWorld).toArray();
      });
      const bones = mesh.skeleton.bones.map((bone) => bone.getWorldPosition(new THREE.Vector3()).toArray());
      return { vertices, bones };
    });
    return { skinned: Boolean(mesh), boneNames: mesh.skeleton.bones.map((bone) => bone.name),
      clips: gltf.animations.length, duration: gltf.animations[0].duration, frames };
  }, spec);

  const player = await page.evaluate(async (spec) => {
    const shots = {};
    const info = {};
    for (const name of ["skinned", "morph"]) {
      const viewer = window.harness.newPlayer();
      await viewer.load(spec[name]);
      viewer.setPlaying(false);
      viewer.distance = spec.distance;  // one camera for both files
      const gl = viewer.gl;
      info[name] = { frames: viewer.frames, skinned: Boolean(viewer.animation.skin), label: viewer.label.textContent };
      shots[name] = spec.frames.map((frame) => {
        viewer.time = frame;
        viewer.draw();
        const pixels = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
        gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
        return pixels;
      });
    }
    // per shot: the share of pixels that show the mesh (not the background 33, 33, 33), that differ between the
    // skinned and the morph file (by more than 40 in a channel), and that differ from the first frame's shot
    const share = (a, b, test) => {
      let count = 0;
      for (let i = 0; i < a.length; i += 4) count += test(a, b, i) ? 1 : 0;
      return count / (a.length / 4);
    };
    const far = (a, b, i) => Math.max(...[0, 1, 2].map((c) => Math.abs(a[i + c] - b[i + c]))) > 40;
    const compared = shots.skinned.map((skinned, k) => ({
      drawn: share(skinned, null, (a, _, i) => Math.max(...[0, 1, 2].map((c) => Math.abs(a[i + c] - 33))) > 8),
      differs: share(skinned, shots.morph[k], far),
      moved: share(skinned, shots.skinned[0], far),
    }));
    return { info, compared };
  }, spec);
  console.log(JSON.stringify({ three, player, errors }));
} finally {
  await browser.close();
}
