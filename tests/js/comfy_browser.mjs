// What every browser script of the tests shares: headless Chromium with software WebGL (no GPU here), and a fresh
// ComfyUI server told that its tutorial is done (its first-run templates dialog would cover the canvas).
import { chromium } from "playwright-core";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
      "--ignore-gpu-blocklist"],
  });
}

export async function openComfyUI(url) {
  const browser = await launchChromium();
  await fetch(`${url}/settings/Comfy.TutorialCompleted`, { method: "POST", body: "true" });
  return browser;
}

// A page on ComfyUI's frontend, once its app and canvas exist. Its uncaught errors, and failed responses for URLs
// that match `watch` (a RegExp, from the first request on), go to `errors`, prefixed with `tag` when given.
export async function openApp(browser, url, { viewport, errors, tag = "", watch = null, timeout = 90000 }) {
  const page = await browser.newPage({ viewport });
  const report = (text) => errors.push(tag ? `${tag}: ${text}` : text);
  page.on("pageerror", (error) => report(error.message));
  if (watch) page.on("response", (response) => response.status() >= 400 && watch.test(response.url()) &&
    report(`${response.status()} ${response.url()}`));
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app?.graph && window.app?.canvas, null, { timeout });
  return page;
}

// Queue an API-format prompt from the page (its client id, so the page gets the run's events); the HTTP status.
export async function postPrompt(page, prompt) {
  return page.evaluate(async (apiPrompt) => {
    const { api } = await import("/scripts/api.js");
    const response = await api.fetchApi("/prompt", {
      method: "POST", body: JSON.stringify({ prompt: apiPrompt, client_id: api.clientId }) });
    return response.status;
  }, prompt);
}
