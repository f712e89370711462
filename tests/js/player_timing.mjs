// The in-node player (web/actionmesh_preview.js) keeps time in ComfyUI's real frontend (headless Chromium): the UI
// workflow is loaded, its API twin is queued three times (each run decodes again, so the player loads a new GLB), and
// after each load the player's speed is measured over two seconds of wall time (frames advanced per second: the
// animation's fps, not a multiple of it). Then: the node removed, the graph loaded again and another workflow opened
// each leave no loop running; the Load Mesh upload button is in neither the prompt nor the saved workflow.
// usage: node player_timing.mjs SERVER_URL UI_WORKFLOW.json API_PROMPT.json PREVIEW_ID DECODER_ID MESH_UI_WORKFLOW.json
// Prints one JSON object (read by test_comfyui_integration.py).
import { readFileSync } from "node:fs";
import { openApp, openComfyUI, postPrompt, sleep } from "./comfy_browser.mjs";

const [url, uiFile, apiFile, previewId, decoderId, meshUiFile] = process.argv.slice(2);
const ui = JSON.parse(readFileSync(uiFile, "utf8"));
const prompt = JSON.parse(readFileSync(apiFile, "utf8"));
const meshUi = JSON.parse(readFileSync(meshUiFile, "utf8"));

const browser = await openComfyUI(url);
const errors = [];
const out = { runs: [] };
try {
  const page = await openApp(browser, url, { viewport: { width: 1600, height: 1000 }, errors, timeout: 120000 });
  await sleep(1000);
  out.extensions = await page.evaluate(() => window.app.extensions
    .filter((extension) => extension.name === "ActionMesh.AnimatedMeshPreview").length);
  await page.evaluate((graph) => window.app.loadGraphData(graph), ui);
  const viewer = (id) => window.app.graph.getNodeById(Number(id)).actionmeshViewer;
  for (let run = 1; run <= 3; run++) {
    const before = await page.evaluate((id) => {
      const player = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
      window.__previous = player.animation ?? null;
      return player.playedFrames;
    }, previewId);
    prompt[decoderId].inputs.decode_batch = run;  // the decoder and the player run again, nothing before them
    const status = await postPrompt(page, prompt);
    await page.waitForFunction((id) => {
      const player = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
      return player.animation && player.animation !== window.__previous && player.playing;
    }, previewId, { timeout: 300000 });
    await sleep(500);
    const start = await page.evaluate((id) => {
      const player = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
      return { played: player.playedFrames, at: performance.now() };
    }, previewId);
    await sleep(2000);
    const end = await page.evaluate((id) => {
      const player = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
      return { played: player.playedFrames, at: performance.now(), fps: player.animation.fps, frames: player.frames };
    }, previewId);
    out.runs.push({ status, before, fps: end.fps, frames: end.frames,
      rate: ((end.played - start.played) * 1000) / (end.at - start.at) });
  }
  out.glb = await page.evaluate((id) => window.app.graph.getNodeById(Number(id)).actionmeshViewer.url, previewId);
  // the node removed: its loop stops (kept: the viewer object, to look at after the node is gone)
  out.removed = await page.evaluate(async (id) => {
    const node = window.app.graph.getNodeById(Number(id));
    const player = node.actionmeshViewer;
    window.app.graph.remove(node);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const played = player.playedFrames;
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { loop: player.frameRequest !== null, playing: player.playing, advanced: player.playedFrames - played };
  }, previewId);
  // the graph loaded again, then another workflow: the player that was playing stops
  const replaced = async (next) => {
    await page.evaluate((graph) => window.app.loadGraphData(graph), ui);
    return page.evaluate(async ([workflow, id, glb]) => {
      const player = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
      await player.load(glb);
      const playing = player.playing;
      await window.app.loadGraphData(workflow);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const played = player.playedFrames;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { playingBefore: playing, loop: player.frameRequest !== null, advanced: player.playedFrames - played };
    }, [next, previewId, out.glb]);
  };
  out.reloaded = await replaced(ui);
  out.switched = await replaced(meshUi);
  // the Load Mesh upload button: a widget, not a value
  out.prompt = await page.evaluate(async () => {
    const { output, workflow } = await window.app.graphToPrompt();
    const [id] = Object.entries(output).find(([, entry]) => entry.class_type === "ActionMeshLoadMesh");
    const saved = workflow.nodes.find((node) => String(node.id) === id);
    return { inputs: Object.keys(output[id].inputs), widgetsValues: saved.widgets_values };
  });
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ...out, errors }));
