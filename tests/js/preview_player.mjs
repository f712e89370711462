// The in-node player (web/actionmesh_preview.js) in ComfyUI's real frontend, in headless Chromium:
// loads a UI workflow, queues its API twin for this browser's client id, waits until the Preview Animated Mesh
// node has loaded the GLB from /view, then presses play/pause and moves the frame slider. With MATERIALS_VIEW
// (a /view?... path of an animated GLB with several materials), the player then loads that file too.
// usage: node preview_player.mjs SERVER_URL UI_WORKFLOW.json API_PROMPT.json PREVIEW_NODE_ID SCREENSHOT.png
//        [MATERIALS_VIEW]
// Prints one JSON object: what the player showed after each step (read by test_comfyui_integration.py).
// Needs Chromium (CHROMIUM, default /usr/bin/chromium) and `npm install --no-save playwright-core` here.
import { readFileSync } from "node:fs";
import { openApp, openComfyUI, postPrompt, sleep } from "./comfy_browser.mjs";

const [url, uiFile, apiFile, nodeId, screenshot, materialsView] = process.argv.slice(2);
const ui = JSON.parse(readFileSync(uiFile, "utf8"));
const prompt = JSON.parse(readFileSync(apiFile, "utf8"));

const browser = await openComfyUI(url);
const errors = [];
try {
  const page = await openApp(browser, url, { viewport: { width: 1400, height: 1000 }, errors,
    watch: /actionmesh|\/view\?/ });  // the extension's script and the GLB
  await page.evaluate((workflow) => window.app.loadGraphData(workflow), ui);
  await page.evaluate((id) => window.app.canvas.centerOnNode(window.app.graph.getNodeById(Number(id))), nodeId);

  const queued = await postPrompt(page, prompt);

  const player = (id) => {
    const viewer = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
    return { label: viewer.label.textContent, frames: viewer.frames ?? 0, playing: viewer.playing, time: viewer.time,
      slider: Number(viewer.slider.value), webgl2: viewer.gl !== null };
  };
  await page.waitForFunction((id) => window.app.graph.getNodeById(Number(id)).actionmeshViewer.frames > 0, nodeId,
    { timeout: 240000 });
  const loaded = await page.evaluate(player, nodeId);
  // the skinned Export shows its report under its widgets; a plain GLB Export shows none
  const exportNodes = () => window.app.graph.nodes.filter((node) => node.type === "ActionMeshExport");
  await page.waitForFunction(`(${exportNodes})().some((node) => node.actionmeshReport?.textContent)`, null,
    { timeout: 240000 }).catch(() => {});
  const reports = await page.evaluate(`(${exportNodes})().map((node) => ({
    format: node.widgets.find((widget) => widget.name === "format").value,
    report: node.actionmeshReport?.textContent ?? null,
    shown: node.actionmeshReport ? node.actionmeshReport.getBoundingClientRect().height > 0 : false }))`);
  // the mesh is drawn: pixels that differ from the background, read right after a draw (same task)
  const drawnPixels = await page.evaluate((id) => {
    const viewer = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
    viewer.draw();
    const { gl } = viewer, pixels = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
    gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    let drawn = 0;
    for (let i = 0; i < pixels.length; i += 4) drawn += Math.abs(pixels[i] - 33) > 8 ? 1 : 0;
    return drawn;
  }, nodeId);

  const button = page.locator(`button[title="play / pause"]`);
  await sleep(500);
  const playing = await page.evaluate(player, nodeId);
  await button.click();
  const paused = await page.evaluate(player, nodeId);
  await sleep(400);
  const stillPaused = await page.evaluate(player, nodeId);
  await button.click();
  const resumed = await page.evaluate(player, nodeId);

  await button.locator("xpath=..").locator(`input[type="range"]`).focus();  // the player's own controls
  await page.keyboard.press("Home");  // the slider to its start, then its end
  const first = await page.evaluate(player, nodeId);
  await page.keyboard.press("End");
  const last = await page.evaluate(player, nodeId);
  await page.screenshot({ path: screenshot });

  // every primitive (one per material) is joined in, each with its material's colour factor, texture and vertex colours
  const materials = materialsView && await page.evaluate(async ([id, glb]) => {
    const viewer = window.app.graph.getNodeById(Number(id)).actionmeshViewer;
    await viewer.load(glb);
    viewer.setPlaying(false);
    viewer.draw();
    const { base, colors, indices, targets, groups } = viewer.animation;
    const { gl } = viewer, pixels = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
    gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    let red = 0, white = 0, grey = 0, redPixels = 0, greenPixels = 0;
    for (let v = 0; v < colors.length; v += 3) {
      red += colors[v] > 0.9 && colors[v + 1] < 0.1 && colors[v + 2] < 0.1 ? 1 : 0;
      white += Math.min(colors[v], colors[v + 1], colors[v + 2]) > 0.9 ? 1 : 0;
      // sRGB grey 128 stored as linear COLOR_0 (0.216) must come back as 128 / 255, not be shown washed out or dark
      grey += [0, 1, 2].every((c) => Math.abs(colors[v + c] - 128 / 255) < 0.01) ? 1 : 0;
    }
    for (let i = 0; i < pixels.length; i += 4) {
      redPixels += pixels[i] > 60 && pixels[i] > 3 * pixels[i + 1] ? 1 : 0;
      greenPixels += pixels[i + 1] > 60 && pixels[i + 1] > 3 * pixels[i] ? 1 : 0;
    }
    return { vertices: base.length / 3, faces: indices.length / 3, frames: targets.length,
      targetLengths: [...new Set(targets.map((target) => target.length))], red, white, grey,
      maxIndex: indices.reduce((a, b) => Math.max(a, b), 0), textured: groups.map((group) => group.image !== null),
      redPixels, greenPixels };
  }, [nodeId, `${url}${materialsView}`]);
  console.log(JSON.stringify({ queued, loaded, reports, drawnPixels, playing, paused, stillPaused, resumed, first, last,
    materials, errors }));
} finally {
  await browser.close();
}
