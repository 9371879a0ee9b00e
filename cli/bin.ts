#!/usr/bin/env node
/**
 * The package's `gpu-hosting` bin. It runs the CLI bundle (dist/cli/gpu-hosting.bundle.js: every
 * module of cli/main.ts in one file, built by scripts/bundle.mjs) with the V8 code cache that build
 * wrote beside it, so a start deserialises compiled code instead of parsing 1.5 MB of JavaScript
 * (about 60 ms of a 300 ms `fit` on a 2-core machine). The build records the V8 version the cache
 * is for (CODE_CACHE_V8). On another V8 (another Node release) the cache would be refused, so it is
 * not read: on Node 22.1 or later the bundle is then required with Node's own compile cache turned
 * on (module.enableCompileCache, kept in the OS temp folder), elsewhere it simply compiles. V8 also
 * checks the cache against its flags and the source, and ignores one that does not match. Without
 * a bundle (a tree built by tsc alone) this runs dist/cli/main.js.
 */
import fs from "node:fs";
import Module from "node:module";
import path from "node:path";
import vm from "node:vm";

/** The bundle, and the code cache scripts/bundle.mjs writes for it. */
export const BUNDLE = path.join(__dirname, "gpu-hosting.bundle.js");
export const CODE_CACHE = path.join(__dirname, "gpu-hosting.bundle.cache");
/** The V8 version the code cache was written by (process.versions.v8 at build). */
export const CODE_CACHE_V8 = path.join(__dirname, "gpu-hosting.bundle.cache.v8");

/** Whether the build's code cache is for this V8; false when it or its version record is missing. */
export function cacheMatchesV8(versionFile = CODE_CACHE_V8, v8 = process.versions.v8): boolean {
  try {
    return fs.readFileSync(versionFile, "utf8").trim() === v8;
  } catch {
    return false;
  }
}

export interface LoadedBundle {
  /** The compiled bundle: scripts/bundle.mjs asks it for a fresh cache after a warm-up run. */
  script: vm.Script;
  /** The bundle's exports (`main`, `buildProgram`, …). */
  exports: Record<string, unknown>;
  /** True when V8 refused the cache, undefined when there was none. */
  cacheRejected: boolean | undefined;
}

/** Compiles and evaluates the bundle as a CommonJS module (not the main one: the CLI does not start). */
export function loadBundle(options: { file?: string; cacheFile?: string | null } = {}): LoadedBundle {
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
  const req = Module.createRequire(file);
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  mod.loaded = true;
  return { script, exports: mod.exports as Record<string, unknown>, cacheRejected: cachedData === undefined ? undefined : script.cachedDataRejected };
}

type Cli = typeof import("./main");

if (require.main === module) {
  let cli: Cli;
  if (!fs.existsSync(BUNDLE)) {
    cli = require("./main") as Cli; // eslint-disable-line @typescript-eslint/no-require-imports -- the module tree, when no bundle was built
  } else if (cacheMatchesV8()) {
    cli = loadBundle().exports as unknown as Cli;
  } else {
    // Another Node than the build's: Node's own compile cache where it has one (22.1+).
    (Module as unknown as { enableCompileCache?: () => unknown }).enableCompileCache?.();
    cli = require(BUNDLE) as Cli; // eslint-disable-line @typescript-eslint/no-require-imports -- compiled by Node, cached by it where it can
  }
  cli.run();
}
