// ComfyUI's CORE Preview 3D node (Preview3D, the frontend's Load3d viewer: three.js GLTFLoader + AnimationMixer) in
// the real frontend, in headless Chromium. For each model: loads a UI workflow with one Preview3D node whose
// model_file names the GLB (relative to the server's output folder), queues it, waits until the viewer has loaded
// the model, presses the node's Play button (the animation must advance while the mouse is over the node) and
// Pause, then poses the animation at each of the given times and saves the viewer's canvas as a PNG.
// usage: node core_preview3d.mjs SERVER_URL SPEC.json OUT_DIR
//   SPEC: {"models": [{"name": "colour", "file": "pv3d/colour.glb", "times": [0, 0.375]}]}
// Prints one JSON object: per model, what the viewer reported and the PNG files written (OUT_DIR/NAME_tK.png:
// the canvas only; OUT_DIR/NAME_node.png: a screenshot of the node as a user sees it).
// Needs Chromium (CHROMIUM, default /usr/bin/chromium) and `npm install --no-save playwright-core` here.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openApp, openComfyUI, sleep } from "./comfy_browser.mjs";

const [url, specFile, outDir] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specFile, "utf8"));
const NODE_ID = 1;

const workflow = (file) => ({
  last_node_id: NODE_ID, last_link_id: 0,
  nodes: [{ id: NODE_ID, type: "Preview3D", pos: [40, 40], size: [640, 640], flags: {}, order: 0, mode: 0,
    inputs: [], outputs: [], properties: { "Node name for S&R": "Preview3D" }, widgets_values: [file] }],
  links: [], groups: [], config: {}, extra: { ds: { scale: 1, offset: [0, 0] } }, version: 0.4,
});

// The node's Load3d viewer: the frontend keeps them in a module-level Map keyed by node (nodeToLoad3dMap), which
// its main module exports under a minified name; found by value, so no name of this frontend build is hard-coded.
const viewerOf = async (id) => {
  const node = window.app.graph.getNodeById(id);
  const main = document.querySelector('script[type="module"][src*="/assets/index-"]').src;
  const exported = Object.values(await import(main));
  const viewers = exported.find((value) => value instanceof Map && value.has(node));
  return viewers ? viewers.get(node) : null;
};

const browser = await openComfyUI(url);
const errors = [];
const results = {};
try {
  for (const model of spec.models) {
    const page = await openApp(browser, url, { viewport: { width: 1000, height: 900 }, errors, tag: model.name,
      watch: /\/view\?/ });
    await page.evaluate((source) => { window.preview3dViewer = (0, eval)(`(${source})`); }, viewerOf.toString());
    await page.evaluate((wf) => window.app.loadGraphData(wf), workflow(model.file));
    await page.evaluate(([id, file]) => {
      window.app.graph.getNodeById(id).widgets.find((w) => w.name === "model_file").value = file;
    }, [NODE_ID, model.file]);
    await page.evaluate(() => window.app.queuePrompt(0));
    // onExecuted stores the file it loads; then the viewer's GLTFLoader must have built the model and its clip
    await page.waitForFunction(([id, file]) =>
      window.app.graph.getNodeById(id).properties["Last Time Model File"] === file, [NODE_ID, model.file],
    { timeout: 60000 });
    await page.waitForFunction(async (id) => {
      const viewer = await window.preview3dViewer(id);
      return Boolean(viewer?.modelManager?.currentModel && viewer.animationManager.animationClips.length > 0);
    }, NODE_ID, { timeout: 60000, polling: 500 });
    const loaded = await page.evaluate(async (id) => {
      const viewer = await window.preview3dViewer(id);
      const found = { meshes: 0, skinned: 0, vertexColors: 0, morphTargets: 0, bones: 0 };
      viewer.modelManager.currentModel.traverse((object) => {
        if (!object.isMesh) return;
        found.meshes += 1;
        found.skinned += object.isSkinnedMesh ? 1 : 0;
        found.bones += object.isSkinnedMesh ? object.skeleton.bones.length : 0;
        found.morphTargets += object.morphTargetInfluences?.length ?? 0;
        const materials = Array.isArray(object.material) ? object.material : [object.material];
        found.vertexColors += materials.some((m) => m.vertexColors) && object.geometry.attributes.color ? 1 : 0;
      });
      const clips = viewer.animationManager.animationClips;
      return { ...found, clips: clips.map((c) => c.name), duration: clips[0].duration,
        outputColorSpace: viewer.renderer.outputColorSpace };
    }, NODE_ID);

    // the user's path: Play (the frontend's animation bar), the mouse over the node, then Pause
    const canvasBox = await page.evaluate(async (id) => {
      const viewer = await window.preview3dViewer(id);
      const box = viewer.renderer.domElement.getBoundingClientRect();
      return { x: box.x, y: box.y, width: box.width, height: box.height };
    }, NODE_ID);
    await page.click("i.pi-play");
    const hover = { x: canvasBox.x + canvasBox.width * 0.9, y: canvasBox.y + canvasBox.height * 0.9 };
    for (let k = 0; k < 8; k++) {
      await page.mouse.move(hover.x + (k % 2), hover.y);
      await sleep(150);
    }
    const played = await page.evaluate(async (id) => {
      const viewer = await window.preview3dViewer(id);
      return { playing: viewer.animationManager.isAnimationPlaying, time: viewer.animationManager.animationActions[0].time };
    }, NODE_ID);
    await page.click("i.pi-pause");
    await page.screenshot({ path: join(outDir, `${model.name}_node.png`),
      clip: { x: 30, y: 30, width: canvasBox.x + canvasBox.width - 10, height: canvasBox.y + canvasBox.height - 10 } });
    await page.mouse.move(990, 890);  // off the node: the viewer's own loop stops drawing

    // the poses: the paused clip action set to each time, the mixer applied, one frame drawn, the canvas read
    const poses = [];
    for (const [k, time] of model.times.entries()) {
      const png = await page.evaluate(async ([id, t]) => {
        const viewer = await window.preview3dViewer(id);
        const animations = viewer.animationManager;
        animations.animationActions[0].time = t;
        animations.currentAnimation.update(0);
        viewer.forceRender();
        return viewer.renderer.domElement.toDataURL("image/png");
      }, [NODE_ID, time]);
      const file = join(outDir, `${model.name}_t${k}.png`);
      writeFileSync(file, Buffer.from(png.split(",")[1], "base64"));
      poses.push({ time, file });
    }
    results[model.name] = { loaded, played, poses, node: join(outDir, `${model.name}_node.png`) };
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ models: results, errors }));
