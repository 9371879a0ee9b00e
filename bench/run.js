#!/usr/bin/env node
/**
 * Benchmarks the built CLI (dist/), and checks the target: a cold `fit` over the whole
 * catalog (replicas, speed and the own / serverless rows included) takes at most 2 × a bare
 * `node -e ""` start, median against median. Exits 1 when it does not (after printing the report).
 *
 *   npm run bench          # builds, then runs this file
 *   node bench/run.js      # on an existing build
 *
 * Options: --runs N (child-process runs per command, default 10), --json (machine-readable),
 * --no-check (report only, exit 0).
 *
 * Measures
 *   (a) cold wall time of `gpu-hosting fit <70B> --context 32k --concurrency 16 --json`, each run a
 *       fresh `node` process (module loading, catalog validation, planning, JSON output);
 *   (b) the same for `gpu-hosting estimate`;
 *   (c) in-process time of `fitAll` over the whole catalog for every catalog model, after the
 *       modules are loaded: the first call (which validates the catalog) and the median of repeats.
 * Plus `node -e ""` as the floor any Node CLI pays to start.
 */
"use strict";

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const DIST = path.join(ROOT, "dist");
/** What a user runs: the package's bin (the esbuild bundle of cli/main.ts, `npm run bundle`). */
const MAIN = path.join(ROOT, require("../package.json").bin["gpu-hosting"]);

const argv = process.argv.slice(2);
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 10;
const JSON_OUT = argv.includes("--json");
const CHECK = !argv.includes("--no-check");
/** The target: cold `fit` ≤ this × a bare Node start. */
const MAX_FIT_OVER_NODE = 2;
const IN_PROCESS_REPEATS = 20;

if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`--runs: got ${JSON.stringify(argv[runsArg + 1])}; expected a whole number of 1 or more`);
  process.exit(2);
}
if (!fs.existsSync(MAIN)) {
  console.error(`${path.relative(ROOT, MAIN)} is missing: run npm run build first (or npm run bench)`);
  process.exit(2);
}

const ms = (ns) => Number(ns) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ runs: xs.length, medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs) });
const f1 = (x) => x.toFixed(1);
const f2 = (x) => x.toFixed(2);

/** Wall time of `node <args>` as a fresh child process, `runs` times. */
function timeChild(args, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const t1 = process.hrtime.bigint();
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    times.push(ms(t1 - t0));
  }
  return stats(times);
}

const MODEL = "meta-llama/Llama-3.1-70B-Instruct";
const commands = [
  {
    name: "node -e \"\" (Node start-up floor)",
    args: ["-e", ""],
  },
  {
    name: `gpu-hosting fit ${MODEL} --context 32k --concurrency 16 --json`,
    args: [MAIN, "fit", MODEL, "--context", "32k", "--concurrency", "16", "--json"],
  },
  {
    name: `gpu-hosting estimate --model ${MODEL} --gpu h100-sxm-80gb --max-model-len 32k --concurrency 16 --json`,
    args: [MAIN, "estimate", "--model", MODEL, "--gpu", "h100-sxm-80gb", "--max-model-len", "32k", "--concurrency", "16", "--json"],
  },
];

// Interleave the commands run by run, so a load spike on a shared machine hits them alike.
const times = commands.map(() => []);
for (let r = 0; r < RUNS; r++) commands.forEach((c, i) => times[i].push(timeChild(c.args, 1).medianMs));
const child = commands.map((c, i) => ({ command: c.name, ...stats(times[i]) }));
const fitOverNode = child[1].medianMs / child[0].medianMs;
const target = { fitOverNode, max: MAX_FIT_OVER_NODE, ok: fitOverNode <= MAX_FIT_OVER_NODE };

// (c) In process: load the modules, then fitAll for every model over the whole catalog.
const t0 = process.hrtime.bigint();
const { fitAll } = require(path.join(DIST, "core", "planner.js"));
const { catalog } = require(path.join(DIST, "core", "catalog", "index.js"));
const { parseHfConfig } = require(path.join(DIST, "core", "sizing", "architecture.js"));
const tLoaded = process.hrtime.bigint();
const cat = catalog();
const tCatalog = process.hrtime.bigint();

const CONTEXT = 32768;
const CONCURRENCY = 16;
const perModel = [];
for (const m of cat.models) {
  const arch = parseHfConfig(m.config, `models.json ${m.id}`);
  // A fresh request object per call: the planner memoises estimates per request object.
  const request = () => ({ arch, context: Math.min(CONTEXT, arch.maxPositionEmbeddings), concurrency: CONCURRENCY, dtype: "best" });
  const req = request();
  const a = process.hrtime.bigint();
  const rows = fitAll(req);
  const first = ms(process.hrtime.bigint() - a);
  const repeats = [];
  for (let i = 0; i < IN_PROCESS_REPEATS; i++) {
    const s = process.hrtime.bigint();
    fitAll(request());
    repeats.push(ms(process.hrtime.bigint() - s));
  }
  perModel.push({ model: m.id, context: req.context, offers: rows.length, fitting: rows.filter((r) => r.fits).length, multiReplica: rows.filter((r) => r.replicas > 1).length, firstMs: first, medianMs: median(repeats) });
}
const inProcess = {
  requireMs: ms(tLoaded - t0),
  catalogValidationMs: ms(tCatalog - tLoaded),
  models: perModel.length,
  offersPerModel: perModel[0] ? perModel[0].offers : 0,
  totalFirstMs: perModel.reduce((s, r) => s + r.firstMs, 0),
  totalMedianMs: perModel.reduce((s, r) => s + r.medianMs, 0),
  perModelMedianMs: median(perModel.map((r) => r.medianMs)),
  perModelMaxMs: Math.max(...perModel.map((r) => r.medianMs)),
  slowest: [...perModel].sort((a, b) => b.medianMs - a.medianMs).slice(0, 5),
};

const cpus = os.cpus();
const machine = {
  date: new Date().toISOString(),
  cpus: cpus.length,
  cpuModel: cpus[0] ? cpus[0].model.trim() : "unknown",
  memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  node: process.version,
};

if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ machine, child, target, inProcess, perModel }, null, 2)}\n`);
  process.exit(CHECK && !target.ok ? 1 : 0);
}

const out = [];
out.push(`## gpu-hosting benchmark, ${machine.date.slice(0, 10)}`);
out.push("");
out.push(`Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ${machine.platform}, Node ${machine.node}`);
out.push("");
out.push(`### Cold CLI runs (fresh node process each, ${RUNS} runs)`);
out.push("");
out.push("| command | median ms | min ms | max ms |");
out.push("|---|---:|---:|---:|");
for (const c of child) out.push(`| \`${c.command}\` | ${f1(c.medianMs)} | ${f1(c.minMs)} | ${f1(c.maxMs)} |`);
out.push("");
out.push(`Target: cold \`fit\` ≤ ${MAX_FIT_OVER_NODE} × \`node -e ""\`: ${f2(fitOverNode)} × (${f1(child[1].medianMs)} / ${f1(child[0].medianMs)} ms), ${target.ok ? "met" : "NOT met"}.`);
out.push("");
out.push(`### In process: \`fitAll\` over the catalog (${inProcess.offersPerModel} listed offers), context ≤ ${CONTEXT} × ${CONCURRENCY}, dtype best`);
out.push("");
out.push("| measure | ms |");
out.push("|---|---:|");
out.push(`| require planner, catalog, architecture | ${f1(inProcess.requireMs)} |`);
out.push(`| first catalog() (zod validation) | ${f1(inProcess.catalogValidationMs)} |`);
out.push(`| all ${inProcess.models} models, first call each | ${f1(inProcess.totalFirstMs)} |`);
out.push(`| all ${inProcess.models} models, median of ${IN_PROCESS_REPEATS} repeats each, summed | ${f1(inProcess.totalMedianMs)} |`);
out.push(`| one model, median over models | ${f2(inProcess.perModelMedianMs)} |`);
out.push(`| one model, slowest | ${f2(inProcess.perModelMaxMs)} |`);
out.push("");
out.push("Slowest models (median ms per fitAll): " + inProcess.slowest.map((r) => `${r.model} ${f2(r.medianMs)}`).join(", "));
console.log(out.join("\n"));
if (CHECK && !target.ok) {
  console.error(`bench: cold fit took ${f2(fitOverNode)} × a bare node start (target ≤ ${MAX_FIT_OVER_NODE} ×); profile with node --cpu-prof ${path.relative(ROOT, MAIN)} fit …`);
  process.exit(1);
}
