// The shipped workflows as a creator first sees them, in ComfyUI's real frontend (headless Chromium): each is loaded
// into a 1600 x 1000 window and fitted to it with the frontend's own "fit view" command, then measured with the
// canvas's own numbers: the zoom (text is drawn only above the frontend's low-quality threshold), every node's box
// (no two overlap; none under the frontend's own panels: every point of a node's box on the screen shows the canvas or
// a node's own widget, never the side bar, the run bar or the minimap), every title against the width the frontend
// gives it before cutting it ("..."), every node at least its smallest size, every group's title; which widgets are
// disabled (a stage's steps and guidance unless its preset is custom, an Export's bones and max_error unless its format
// is skinned), also after switching a preset to custom and back and an Export's format to skinned-glb and back.
// usage: node workflow_view.mjs SERVER_URL OUT_DIR WORKFLOW.json...
// Prints one JSON object {file: measurements}; OUT_DIR/<file name>.jpg is the screenshot at fit view.
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { openComfyUI, sleep } from "./comfy_browser.mjs";

const [url, outDir, ...files] = process.argv.slice(2);

const browser = await openComfyUI(url);
const results = {};
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app?.graph && window.app?.canvas && window.app?.extensionManager?.command,
    null, { timeout: 120000 });
  await sleep(2000);
  for (const file of files) {
    const workflow = JSON.parse(readFileSync(file, "utf8"));
    await page.evaluate(([graph, name]) => window.app.loadGraphData(graph, true, true, name),
      [workflow, basename(file, ".json")]);
    await sleep(1500);
    // the frontend's "missing models" dialog (from the loaders' properties.models): what it lists, then closed
    const missingModels = await page.evaluate(() => [...document.querySelectorAll(".p-dialog")]
      .filter((dialog) => /Missing Models/.test(dialog.textContent))
      .flatMap((dialog) => [...dialog.querySelectorAll("li, .p-listbox-option, [class*=item]")]
        .map((item) => item.textContent.trim()).filter((text) => text.includes(".safetensors"))));
    await page.keyboard.press("Escape");
    await sleep(500);
    await page.evaluate(() => window.app.extensionManager.command.execute("Comfy.Canvas.FitView"));
    await sleep(1500);  // the fit is animated
    const measured = await page.evaluate(() => {
      const { app, LiteGraph } = window;
      const canvas = app.canvas, ds = canvas.ds, ctx = canvas.ctx;
      const toScreen = ([x, y, w, h]) => {
        const [sx, sy] = ds.convertOffsetToCanvas([x, y]);
        return [sx, sy, w * ds.scale, h * ds.scale];
      };
      // points of a screen box where something else than the canvas or a node's widget is on top
      const covered = ([x, y, w, h]) => {
        let hidden = 0, outside = 0;
        for (let i = 0; i <= 6; i++)
          for (let j = 0; j <= 6; j++) {
            const px = x + (w * i) / 6, py = y + (h * j) / 6;
            if (px < 0 || py < 0 || px >= window.innerWidth || py >= window.innerHeight) { outside++; continue; }
            const top = document.elementFromPoint(px, py);
            if (!(top === canvas.canvas || top?.closest(".dom-widget"))) hidden++;
          }
        return { hidden, outside };
      };
      const nodes = app.graph.nodes.map((node) => {
        ctx.save();
        ctx.font = node.titleFontStyle ?? canvas.title_text_font;
        const titleWidth = ctx.measureText(node.getTitle()).width;
        ctx.restore();
        const box = [...node.boundingRect];
        node.updateComputedDisabled?.();
        return { id: node.id, type: node.type, title: node.getTitle(), box, screen: toScreen(box),
          covered: covered(toScreen(box)),
          size: [...node.size], smallest: [...node.computeSize()], titleWidth,
          titleRoom: node.size[0] - 2 * LiteGraph.NODE_TITLE_HEIGHT, missing: node.has_errors ?? false,
          preset: node.widgets?.find((widget) => widget.name === "preset")?.value ?? null,
          format: node.widgets?.find((widget) => widget.name === "format")?.value ?? null,
          widgets: (node.widgets ?? []).map((widget) => widget.name),
          disabled: (node.widgets ?? []).filter((widget) => widget.computedDisabled).map((widget) => widget.name) };
      });
      const groups = app.graph.groups.map((group) => {
        ctx.save();
        ctx.font = group.font ?? `${group.font_size ?? LiteGraph.DEFAULT_GROUP_FONT}px ${LiteGraph.NODE_FONT}`;
        const titleWidth = ctx.measureText(group.title).width;
        ctx.restore();
        return { title: group.title, box: [...group._bounding], titleWidth,
          titleRoom: group._bounding[2] - 2 * (group.padding ?? 4), screen: toScreen([...group._bounding]) };
      });
      canvas.updateLowQualityThreshold?.();
      return { scale: ds.scale, lowQualityBelow: canvas._lowQualityZoomThreshold, lowQuality: canvas.low_quality,
        window: [window.innerWidth, window.innerHeight], nodes, groups,
        nodeTypesMissing: app.graph.nodes.filter((n) => !LiteGraph.registered_node_types[n.type]).map((n) => n.type) };
    });
    // a stage node's preset switched to custom and back, as picking it in the combo does (setValue -> callback)
    const presetSwitch = await page.evaluate(() => {
      const node = window.app.graph.nodes.find((n) => n.widgets?.some((widget) => widget.name === "preset"
        && widget.options.values.includes("custom")));
      if (!node) return null;
      const preset = node.widgets.find((widget) => widget.name === "preset");
      const disabled = () => {
        node.updateComputedDisabled?.();
        return node.widgets.filter((widget) => widget.computedDisabled).map((widget) => widget.name);
      };
      const pick = (value) => preset.setValue(value, { node, canvas: window.app.canvas });
      const before = preset.value;
      pick("custom");
      const custom = disabled();
      pick(before);
      return { node: node.getTitle(), before, custom, back: disabled() };
    });
    // an Export node's format switched to skinned-glb and back
    const formatSwitch = await page.evaluate(() => {
      const node = window.app.graph.nodes.find((n) => n.widgets?.some((widget) => widget.name === "format"
        && widget.options.values.includes("skinned-glb") && widget.value !== "skinned-glb"));
      if (!node) return null;
      const format = node.widgets.find((widget) => widget.name === "format");
      const disabled = () => {
        node.updateComputedDisabled?.();
        return node.widgets.filter((widget) => widget.computedDisabled).map((widget) => widget.name);
      };
      const before = format.value;
      format.setValue("skinned-glb", { node, canvas: window.app.canvas });
      const skinned = disabled();
      format.setValue(before, { node, canvas: window.app.canvas });
      return { node: node.getTitle(), before, skinned, back: disabled() };
    });
    results[basename(file)] = { ...measured, presetSwitch, formatSwitch, missingModels: [...new Set(missingModels)] };
    await page.screenshot({ path: join(outDir, `${basename(file, ".json")}.jpg`), type: "jpeg", quality: 80 });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ results, errors }));
