/**
 * The CLI bundle (scripts/bundle.mjs): the bin runs it with the V8 code cache its build wrote, a
 * cache V8 refuses is ignored, `fit` does not load the validators (zod) because the bundle's data
 * was validated at build, and that build-time validation refuses data the library would refuse or
 * would change. `npm test` builds first (dist/).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BUNDLED_DATA_FILES, validateBundledData } from "../core/catalog/validate";

const ROOT = path.join(__dirname, "..");
const DIST_CLI = path.join(ROOT, "dist", "cli");
const BIN = path.join(DIST_CLI, "bin.js");

/** Runs a script in a fresh Node process (no jest transform) and returns its stdout as JSON. */
function nodeJson<T>(script: string): T {
  const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) throw new Error(`node -e exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
}

const readData = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8"));

describe("the bin and its code cache", () => {
  it("is the package's bin, and V8 accepts the cache the build wrote", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(path.join(ROOT, pkg.bin["gpu-hosting"]!)).toBe(BIN);
    expect(fs.statSync(path.join(DIST_CLI, "gpu-hosting.bundle.cache")).size).toBeGreaterThan(100_000);
    const r = nodeJson<{ rejected: boolean | undefined }>(`
      const { loadBundle } = require(${JSON.stringify(BIN)});
      const b = loadBundle();
      console.log(JSON.stringify({ rejected: b.cacheRejected }));`);
    expect(r.rejected).toBe(false);
  });

  it("ignores a cache V8 refuses and still runs the CLI", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-bundle-"));
    try {
      const bogus = path.join(dir, "bogus.cache");
      fs.writeFileSync(bogus, Buffer.alloc(4096, 7));
      const r = nodeJson<{ rejected: boolean | undefined; code: number; out: string }>(`
        const { loadBundle } = require(${JSON.stringify(BIN)});
        const b = loadBundle({ cacheFile: ${JSON.stringify(bogus)} });
        let out = "";
        const write = process.stdout.write.bind(process.stdout);
        process.stdout.write = (s) => { out += s; return true; };
        b.exports.main(["node", "gpu-hosting", "estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--max-model-len", "8k", "--json"]).then((code) => {
          process.stdout.write = write;
          console.log(JSON.stringify({ rejected: b.cacheRejected, code, out }));
        });`);
      expect(r.rejected).toBe(true);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ schemaVersion: 1, fits: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without a cache file, compiles the bundle as usual", () => {
    const r = nodeJson<{ rejected: boolean | null }>(`
      const { loadBundle } = require(${JSON.stringify(BIN)});
      const b = loadBundle({ cacheFile: ${JSON.stringify(path.join(os.tmpdir(), "no-such-gpu-hosting.cache"))} });
      console.log(JSON.stringify({ rejected: b.cacheRejected ?? null, main: typeof b.exports.main }));`);
    expect(r.rejected).toBeNull();
  });
});

describe("the bin on another Node than the build's", () => {
  it("reads the cache only when it was written by this V8", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-v8-"));
    try {
      const file = path.join(dir, "v8");
      const r = nodeJson<boolean[]>(`
        const fs = require("node:fs");
        const { cacheMatchesV8 } = require(${JSON.stringify(BIN)});
        const out = [cacheMatchesV8(${JSON.stringify(file)})];
        fs.writeFileSync(${JSON.stringify(file)}, process.versions.v8 + "\\n");
        out.push(cacheMatchesV8(${JSON.stringify(file)}));
        fs.writeFileSync(${JSON.stringify(file)}, "10.2.154.26-node.36");
        out.push(cacheMatchesV8(${JSON.stringify(file)}));
        out.push(cacheMatchesV8());
        console.log(JSON.stringify(out));`);
      expect(r).toEqual([false, true, false, true]); // missing, this V8, another V8, the build's record
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the bundle without the cache when the build's V8 was another, with the same output", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-otherv8-"));
    try {
      for (const f of ["bin.js", "gpu-hosting.bundle.js", "gpu-hosting.bundle.cache"]) fs.copyFileSync(path.join(DIST_CLI, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, "gpu-hosting.bundle.cache.v8"), "10.2.154.26-node.36");
      // Which way the bin went: the fallback requires the bundle (it lands in require.cache),
      // loadBundle compiles it with vm and the cache (it does not).
      const probe = path.join(dir, "probe.js");
      fs.writeFileSync(probe, `process.on("exit", () => process.stderr.write("required:" + Object.keys(require.cache).some((k) => k.endsWith("gpu-hosting.bundle.js"))));\n`);
      const args = ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--max-model-len", "8k", "--json"];
      const env = { ...process.env, NO_COLOR: "1" };
      const copy = spawnSync(process.execPath, ["-r", probe, path.join(dir, "bin.js"), ...args], { encoding: "utf8", env });
      const real = spawnSync(process.execPath, ["-r", probe, BIN, ...args], { encoding: "utf8", env });
      expect(copy.status).toBe(0);
      expect(copy.stderr).toBe("required:true");
      expect(real.stderr).toBe("required:false");
      expect(copy.stdout).toBe(real.stdout);
      expect(JSON.parse(copy.stdout)).toMatchObject({ schemaVersion: 1, fits: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("data validated at build", () => {
  it("`fit` in the bundle never loads the validators (zod): the bundle's data was validated when it was built", () => {
    // The bundle wraps each lazily loaded module in an init function named after its path; this
    // records which run. The tree (dist/cli/main.js) validates on first use, the bundle does not.
    const r = nodeJson<{ code: number; inits: string[] }>(`
      const fs = require("node:fs");
      const src = fs.readFileSync(${JSON.stringify(path.join(DIST_CLI, "gpu-hosting.bundle.js"))}, "utf8");
      const marker = "var __esm = (fn, res, err) => function __init() {";
      if (!src.includes(marker)) throw new Error("esbuild's lazy-init helper changed; update this test");
      const traced = src.replace(marker, marker + " if (fn) (globalThis.__inits ??= []).push(Object.keys(fn)[0]);");
      const file = require("node:path").join(require("node:os").tmpdir(), "gh-traced-" + process.pid + ".js");
      fs.writeFileSync(file, traced);
      const { loadBundle } = require(${JSON.stringify(BIN)});
      const b = loadBundle({ file, cacheFile: null });
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = () => true;
      b.exports.main(["node", "gpu-hosting", "fit", "llama-3.1-70b", "--context", "32k", "--concurrency", "16", "--json"]).then((code) => {
        process.stdout.write = write;
        fs.rmSync(file);
        console.log(JSON.stringify({ code, inits: globalThis.__inits ?? [] }));
      });`);
    expect(r.code).toBe(0);
    expect(r.inits).toContain("core/catalog/index.ts"); // the tracing works
    expect(r.inits.filter((m) => /zod|catalog\/validate|catalog\/schema|config\/schema/.test(m))).toEqual([]);
  });

  it("passes the data as shipped", () => {
    expect(validateBundledData(readData)).toEqual([]);
  });

  it("refuses data the library refuses, naming the file and field", () => {
    const read = (file: string): unknown => {
      const x = readData(file);
      if (file !== BUNDLED_DATA_FILES.gpus) return x;
      const [first, ...rest] = x as Record<string, unknown>[];
      return [{ ...first, bandwidthGBps: -1 }, ...rest];
    };
    const problems = validateBundledData(read);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^core\/catalog\/data\/gpus\.json, .*gpus\.json\[0\]\.bandwidthGBps/s);
  });

  it("refuses data that validation would change, since the bundle serves the files as they are", () => {
    const read = (file: string): unknown => {
      const x = readData(file);
      // z.object() strips keys it does not know: the library would see the defaults without it.
      return file === BUNDLED_DATA_FILES.footprint ? { ...(x as object), unknownKey: 1 } : x;
    };
    expect(validateBundledData(read)).toEqual([
      "core/footprint/defaults.json: validation changes the data (a default filled in or an unknown key stripped); write the value into the file or remove the key",
    ]);
  });
});
