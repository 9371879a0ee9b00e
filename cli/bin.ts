#!/usr/bin/env node
/**
 * The package's `gpu-hosting` bin. It runs the CLI bundle (dist/cli/gpu-hosting.bundle.js: every
 * module of cli/main.ts in one file, built by scripts/bundle.mjs) with the V8 code cache that build
 * wrote beside it, so a start deserialises compiled code instead of parsing 1.5 MB of JavaScript
 * (about 60 ms of a 300 ms `fit` on a 2-core machine). V8 checks the cache against its own version,
 * flags and the source, and ignores one that does not match (another Node release): the bundle
 * then compiles as usual, only slower. Without a bundle (a tree built by tsc alone) this runs
 * dist/cli/main.js.
 */
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";

/** The bundle, and the code cache scripts/bundle.mjs writes for it. */
export const BUNDLE = path.join(__dirname, "gpu-hosting.bundle.js");
export const CODE_CACHE = path.join(__dirname, "gpu-hosting.bundle.cache");

export interface LoadedBundle {
  /** The compiled bundle: scripts/bundle.mjs asks it for a fresh cache after a warm-up run. */
  script: vm.Script;
  /** The bundle's exports (`main`, `buildProgram`, …). */
  exports: Record<string, unknown>;
  /** True when V8 refused the cache, undefined when there was none. */
  cacheRejected: boolean | undefined;
}

/**
 * Compiles and runs the bundle as a CommonJS module. With `asMain`, the bundle sees itself as
 * the program's main module (`require.main === module`) and runs the CLI on process.argv.
 */
export function loadBundle(options: { asMain: boolean; file?: string; cacheFile?: string | null }): LoadedBundle {
  const file = options.file ?? BUNDLE;
  const cacheFile = options.cacheFile === undefined ? CODE_CACHE : options.cacheFile;
  // The shebang is not JavaScript; blanking it keeps the line numbers of stack traces.
  const source = fs.readFileSync(file, "utf8").replace(/^#!.*/, "");
  let cachedData: Buffer | undefined;
  if (cacheFile !== null) {
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined; // no cache: compile as usual
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  const req = Module.createRequire(file) as NodeJS.Require & { main: Module | undefined };
  req.main = options.asMain ? mod : undefined;
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  mod.loaded = true;
  return { script, exports: mod.exports as Record<string, unknown>, cacheRejected: cachedData === undefined ? undefined : script.cachedDataRejected };
}

if (require.main === module) {
  if (fs.existsSync(BUNDLE)) loadBundle({ asMain: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module tree, when no bundle was built
  else (require("./main") as typeof import("./main")).run();
}
