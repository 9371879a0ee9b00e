#!/usr/bin/env node
/**
 * Builds the CLI bundle after `tsc` (npm run build):
 *
 * 1. validates the data the bundle inlines (core/catalog/data/*.json, core/footprint/defaults.json)
 *    with the same zod validators the library runs on first use (dist/core/catalog/validate.js),
 *    and fails on any problem, or when validation would change the data (a default filled in, a
 *    key stripped): the bundle serves the files as they are;
 * 2. bundles cli/main.ts with esbuild into dist/cli/gpu-hosting.bundle.js, with
 *    GPU_HOSTING_VALIDATED_AT_BUILD set (core/validatedAtBuild.ts), so a run does not load zod to
 *    check that data again;
 * 3. runs `fit` and `estimate` once in a fresh process through the bin (dist/cli/bin.js) and writes
 *    V8's code cache of the bundle to dist/cli/gpu-hosting.bundle.cache, which the bin reads, and
 *    the V8 version it is for to dist/cli/gpu-hosting.bundle.cache.v8.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const fail = (message) => {
  console.error(`bundle: ${message}`);
  process.exit(1);
};

// 1. The data, validated as the library validates it.
let validation;
try {
  validation = require(path.join(ROOT, "dist", "core", "catalog", "validate.js"));
} catch (e) {
  fail(`dist/core/catalog/validate.js cannot be loaded (${e.message}); run tsc first (npm run build)`);
}
const problems = validation.validateBundledData((file) => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8")));
if (problems.length > 0) fail(`the bundled data is invalid:\n  ${problems.join("\n  ")}`);

// 2. The bundle.
const outfile = path.join(ROOT, "dist", "cli", "gpu-hosting.bundle.js");
const cacheFile = path.join(ROOT, "dist", "cli", "gpu-hosting.bundle.cache");
fs.rmSync(cacheFile, { force: true });
fs.rmSync(`${cacheFile}.v8`, { force: true });
await build({
  entryPoints: [path.join(ROOT, "cli", "main.ts")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  mainFields: ["module", "main"],
  external: ["ssh2", "@pulumi/*", "@grpc/*", "google-protobuf"],
  define: { GPU_HOSTING_VALIDATED_AT_BUILD: "true" },
  logLevel: "warning",
  outfile,
});

// 3. The code cache: compiled after a warm-up run, so the functions `fit` and `estimate` call are in it.
const warmUp = `
const fs = require("node:fs");
const { loadBundle } = require(${JSON.stringify(path.join(ROOT, "dist", "cli", "bin.js"))});
const b = loadBundle({ cacheFile: null });
process.stdout.write = () => true;
(async () => {
  for (const args of [["fit", "meta-llama/Llama-3.1-70B-Instruct", "--context", "32k", "--concurrency", "16", "--json"], ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--json"]]) {
    const code = await b.exports.main(["node", "gpu-hosting", ...args]);
    if (code !== 0) throw new Error("warm-up gpu-hosting " + args.join(" ") + " exited " + code);
  }
  fs.writeFileSync(${JSON.stringify(cacheFile)}, b.script.createCachedData());
  fs.writeFileSync(${JSON.stringify(cacheFile + ".v8")}, process.versions.v8);
})().catch((e) => { console.error(e); process.exit(1); });
`;
const r = spawnSync(process.execPath, ["-e", warmUp], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
if (r.status !== 0) fail(`the warm-up run for the code cache failed: ${r.stderr || r.stdout}`);
if (!fs.existsSync(cacheFile)) fail("the warm-up run wrote no code cache");
