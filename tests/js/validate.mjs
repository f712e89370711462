// Validate glTF/GLB files with the Khronos glTF-Validator.
// Usage: node validate.mjs FILE.glb [FILE.glb ...]
// Prints one JSON array with the validator's report for each file (its `issues` hold the counts).
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import validator from "gltf-validator";

const reports = [];
for (const path of process.argv.slice(2)) {
  const bytes = new Uint8Array(await readFile(path));
  const report = await validator.validateBytes(bytes, {
    uri: basename(path),
    externalResourceFunction: (uri) => Promise.reject(new Error(`external resource ${uri}: files must be self-contained`)),
  });
  reports.push(report);
}
console.log(JSON.stringify(reports));
