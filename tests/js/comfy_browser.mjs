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
