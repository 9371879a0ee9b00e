#!/usr/bin/env node
/**
 * Benchmarks `gpu-hosting check` on generated stacks of N hosts and N deployments
 * (N = 100, 1,000, 10,000). Reports only: no thresholds.
 *
 *   npm run bench          # builds, then runs bench/run.js and this file
 *   node bench/check.js    # on an existing build
 *
 * Each stack mixes the host kinds (Scaleway L40S/L4, Hetzner GEX45/GEX131, Hetzner Cloud CCX,
 * on-prem RTX 4090 boxes on 10 sites with power budgets) and gives every host one deployment.
 * Measured: the cold wall time of the CLI as a child process (`--format json`, output to a pipe),
 * median of 3 runs, and the stack file's size.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { dump } = require("js-yaml");

const ROOT = path.join(__dirname, "..");
const MAIN = path.join(ROOT, "dist", "cli", "main.js");
if (!fs.existsSync(MAIN)) {
  console.error("dist/cli/main.js is missing: run npm run build first (or npm run bench)");
  process.exit(2);
}

const KINDS = [
  (i) => ({ host: { name: `scw-${i}`, kind: "scaleway", type: "L40S-1-48G", zone: "fr-par-2", sshAllowedCidrs: ["198.51.100.0/24"] }, model: "Qwen/Qwen3-8B" }),
  (i) => ({ host: { name: `scw-l4-${i}`, kind: "scaleway", type: "L4-1-24G", zone: "pl-waw-2" }, model: "meta-llama/Llama-3.1-8B-Instruct" }),
  (i) => ({ host: { name: `gex-${i}`, kind: "hetzner-dedicated", product: "GEX45", location: "fsn1", serverNumber: 100000 + i }, model: "Qwen/Qwen2.5-7B-Instruct" }),
  (i) => ({ host: { name: `gex131-${i}`, kind: "hetzner-dedicated", product: "GEX131", location: "nbg1", serverNumber: 200000 + i }, model: "Qwen/Qwen3-32B" }),
  (i) => ({ host: { name: `ccx-${i}`, kind: "hetzner-cloud", serverType: "ccx63", location: "hel1" }, model: "Qwen/Qwen3-8B", engine: "cpu", dtype: "q4_k_m" }),
  (i) => ({
    host: { name: `rack-${i}`, kind: "onprem", site: `site-${i % 10}`, address: `192.0.2.${i % 250}`, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x", inventory: { gpu: "rtx-4090", gpuCount: 2, nonGpuWatts: 300 } },
    model: "google/gemma-3-12b-it",
  }),
];

function generate(n) {
  const hosts = [];
  const deployments = [];
  for (let i = 0; i < n; i++) {
    const k = KINDS[i % KINDS.length](i);
    hosts.push(k.host);
    deployments.push({ name: `d-${i}`, model: k.model, hosts: [k.host.name], context: "8k", concurrency: 2, ...(k.engine ? { engine: k.engine } : {}), ...(k.dtype ? { dtype: k.dtype } : {}) });
  }
  const sites = Array.from({ length: 10 }, (_, i) => ({ name: `site-${i}`, powerBudgetWatts: 1_000_000, country: "DE" }));
  return { config: { "gpu-hosting:sites": sites, "gpu-hosting:hosts": hosts, "gpu-hosting:deployments": deployments, "gpu-hosting:budgets": { eurPerMonth: 1e9 } } };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-bench-"));
const rows = [];
for (const n of [100, 1000, 10000]) {
  const file = path.join(dir, `Pulumi.n${n}.yaml`);
  fs.writeFileSync(file, dump(generate(n), { lineWidth: -1, noRefs: true }));
  const times = [];
  let status = null;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(process.execPath, [MAIN, "check", file, "--format", "json"], { encoding: "utf8", maxBuffer: 1 << 30 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    status = p.status;
    if (p.status !== 0) {
      console.error(`check on ${n} hosts exited ${p.status}: ${p.stderr.slice(0, 500)}`);
      break;
    }
  }
  times.sort((a, b) => a - b);
  rows.push({ hosts: n, deployments: n, fileKiB: Math.round(fs.statSync(file).size / 1024), medianMs: Math.round(times[Math.floor(times.length / 2)]), maxMs: Math.round(times[times.length - 1]), exit: status });
}
console.log(`# gpu-hosting check benchmark (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version})`);
console.log("| hosts | deployments | stack file KiB | median ms | max ms | exit |");
console.log("|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(`| ${r.hosts} | ${r.deployments} | ${r.fileKiB} | ${r.medianMs} | ${r.maxMs} | ${r.exit} |`);
fs.rmSync(dir, { recursive: true, force: true });
