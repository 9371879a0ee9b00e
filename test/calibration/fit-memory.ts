/**
 * Refits the log-fitted constants of the vLLM memory model (core/sizing/engines.ts) on the
 * TRAIN cases only (split rule: test/fixtures/vllm-calibration-split.json) and prints the fitted
 * values next to the current ones. Run by hand: `npx tsx test/calibration/fit-memory.ts`.
 *
 * Fitted here (chosen from logs, not from vLLM's source):
 * - per engine generation: the sampler's fp32 logits copies, the non-torch memory of one rank and
 *   the extra non-torch memory with tensor parallelism;
 * - the forward-pass shape constants `hiddenCopies` and `mlpCopies` (on the V0 logs, where the
 *   forward pass, not the sampler, sets the activation peak).
 * Not fitted (read from vLLM's source): profiling batch and max_num_seqs defaults, block size,
 * vocabulary padding, weight sharding.
 *
 * Method: a grid search minimising the mean absolute KV error (tokens where the log prints them,
 * else GiB) over the train cases of a group; ties go to the value nearest the current one. A
 * constant no train case is sensitive to is reported as "not identifiable", and is kept.
 * `--keep-forward` fits only the per-generation constants (fewer free parameters).
 */
import { catalog } from "../../core/catalog";
import { type ModelArchitecture } from "../../core/sizing/architecture";
import { estimateVllm, VLLM_FORWARD, vllmDefaults, vllmProfile, type VllmProfile } from "../../core/sizing/engines";
import { GiB } from "../../core/sizing/memory";
import { caseSetup, loadCases, versionOf, type CalibrationCase } from "./cases";

interface Point {
  c: CalibrationCase;
  group: string;
  profile: VllmProfile;
  arch: ModelArchitecture;
  tp: number;
  budget: number;
  weights: number;
  batched: number;
  seqs: number;
  bytesPerToken: number;
  block: number;
  observedTokens: number | null;
  observedGiB: number | null;
}

interface Constants {
  samplerCopies: number;
  nonTorchGiB: number;
  nonTorchTpGiB: number;
  hiddenCopies: number;
  mlpCopies: number;
}

const GROUPS = ["V0 (< 0.8)", "V1 0.8-0.9, 0.12-0.16", "V1 0.10-0.11", "V1 >= 0.17"] as const;

function groupOf(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version)!;
  const minor = Number(m[1]) * 1000 + Number(m[2]);
  if (minor < 8) return "V0 (< 0.8)";
  if (minor >= 10 && minor < 12) return "V1 0.10-0.11";
  if (minor < 17) return "V1 0.8-0.9, 0.12-0.16";
  return "V1 >= 0.17";
}

/** Activation peak, GiB, with the given constants (the formula of vllmActivationBytes). */
function activationGiB(p: Point, k: Constants): number {
  const a = p.arch;
  const hasDense = a.layers.some((l) => l.mlp === "dense");
  const denseInter = hasDense ? a.denseIntermediateSize / p.tp : 0;
  const moeInter = a.moe ? (a.moe.expertsPerToken * a.moe.expertIntermediateSize) / p.tp : 0;
  const qkv = ((a.attention.numHeads + 2 * a.attention.numKvHeads) * a.attention.headDim) / p.tp;
  const forward = p.batched * (k.hiddenCopies * a.hiddenSize + k.mlpCopies * Math.max(denseInter, moeInter) + qkv) * 2;
  const sampler = Math.min(p.seqs, p.batched) * Math.ceil(a.vocabSize / 64) * 64 * 4 * k.samplerCopies;
  return Math.max(forward, sampler) / GiB;
}

/** Relative KV error of one case with the given constants. */
function kvError(p: Point, k: Constants): number {
  const kv = p.budget - p.weights - activationGiB(p, k) - k.nonTorchGiB - (p.tp > 1 ? k.nonTorchTpGiB : 0);
  if (p.observedTokens !== null) {
    const tokens = kv > 0 ? Math.floor((kv * GiB) / (p.bytesPerToken * p.block)) * p.block : 0;
    return tokens / p.observedTokens - 1;
  }
  return kv / p.observedGiB! - 1;
}

function points(split: "train" | "heldout"): Point[] {
  const out: Point[] = [];
  for (const c of loadCases()) {
    if (c.split !== split || c.excluded) continue;
    const version = versionOf(c);
    const s = caseSetup(c, version);
    if (typeof s === "string" || s.total === null || c.gpuMemoryUtilization === null) continue;
    const observedTokens = c.observed.kvCacheTokens ?? (c.observed.numGpuBlocks !== null ? c.observed.numGpuBlocks * s.block : null);
    const observedGiB = c.observed.kvCacheGiB !== null && c.observed.kvCacheGiB > 0 ? c.observed.kvCacheGiB : null;
    if ((observedTokens === null || observedTokens === 0) && observedGiB === null) continue;
    const profile = vllmProfile(version);
    const e = estimateVllm(s.arch, s.dtype, s.total, s.options);
    const d = vllmDefaults(profile, s.total, e.maxModelLen, s.options.isA100);
    out.push({
      c,
      group: groupOf(version),
      profile,
      arch: s.arch,
      tp: c.tensorParallelSize,
      budget: e.perGpu.budgetGiB,
      weights: e.perGpu.weightsGiB,
      batched: Math.max(s.options.maxNumBatchedTokens ?? d.maxNumBatchedTokens, 1),
      seqs: s.options.maxNumSeqs ?? d.maxNumSeqs,
      bytesPerToken: e.kvBytesPerToken,
      block: s.block,
      observedTokens: observedTokens === 0 ? null : observedTokens,
      observedGiB,
    });
  }
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const meanAbs = (ps: Point[], k: (p: Point) => Constants): number => mean(ps.map((p) => Math.abs(kvError(p, k(p)))));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (lo: number, hi: number, step: number): number[] => Array.from({ length: Math.round((hi - lo) / step) + 1 }, (_, i) => Math.round((lo + i * step) * 1000) / 1000);

/** Grid search of one constant; "not identifiable" where no case's error moves with it. */
function fit1(ps: Point[], grid: number[], current: number, with_: (v: number) => (p: Point) => Constants): { value: number; identifiable: boolean; error: number } {
  let best = { value: current, error: meanAbs(ps, with_(current)) };
  const errs = grid.map((v) => meanAbs(ps, with_(v)));
  grid.forEach((v, i) => {
    const e = errs[i]!;
    if (e < best.error - 1e-12 || (Math.abs(e - best.error) <= 1e-12 && Math.abs(v - current) < Math.abs(best.value - current))) best = { value: v, error: e };
  });
  const identifiable = Math.max(...errs) - Math.min(...errs) > 1e-9;
  return identifiable ? { ...best, identifiable } : { value: current, identifiable, error: meanAbs(ps, with_(current)) };
}

/** `--keep-forward`: fit only the per-generation constants, keep hiddenCopies and mlpCopies. */
const keepForward = process.argv.includes("--keep-forward");
void catalog();
const train = points("train");
const heldout = points("heldout");
const base = (p: Point): Constants => ({ ...p.profile, hiddenCopies: VLLM_FORWARD.hiddenCopies, mlpCopies: VLLM_FORWARD.mlpCopies });
const fitted = new Map<string, Partial<Constants>>();
let forward: Pick<Constants, "hiddenCopies" | "mlpCopies"> = { hiddenCopies: VLLM_FORWARD.hiddenCopies, mlpCopies: VLLM_FORWARD.mlpCopies };
const withFit = (p: Point): Constants => ({ ...base(p), ...forward, ...(fitted.get(p.group) ?? {}) });

console.log(`Train cases compared on KV: ${train.length}; held-out: ${heldout.length} (held-out cases are not used below except for the last line).`);
// Two rounds of coordinate descent: per-group constants, then the shared forward constants.
for (let round = 1; round <= 2; round++) {
  for (const group of GROUPS) {
    const ps = train.filter((p) => p.group === group);
    if (ps.length === 0) {
      if (round === 2) console.log(`${group}: no train case compared on KV; its constants are not identifiable on train and are kept as chosen with all logs in view`);
      continue;
    }
    const cur = { ...withFit(ps[0]!) };
    const f: Partial<Constants> = { ...(fitted.get(group) ?? {}) };
    const set = (key: keyof Constants, grid: number[]): void => {
      const r = fit1(ps, grid, cur[key], (v) => (p) => ({ ...withFit(p), ...f, [key]: v }));
      f[key] = r.value;
      if (round === 2) {
        const now = base(ps[0]!)[key];
        console.log(`  ${group.padEnd(22)} ${key.padEnd(14)} current ${String(now).padEnd(5)} fitted ${r.identifiable ? String(r.value).padEnd(5) : "not identifiable (no train case depends on it)"}${r.identifiable ? ` (train mean |KV err| ${(r.error * 100).toFixed(2)} %)` : ""}`);
      }
    };
    if (round === 2) console.log(`${group}: ${ps.length} train cases (${ps.filter((p) => p.tp > 1).length} with TP > 1)`);
    set("samplerCopies", range(0, 12, 0.02));
    set("nonTorchGiB", range(0, 1, 0.01));
    set("nonTorchTpGiB", range(0, 3, 0.01));
    fitted.set(group, f);
  }
  if (keepForward) continue;
  const v0 = train.filter((p) => p.group.startsWith("V0"));
  const h = fit1(v0, range(0.5, 3, 0.05), forward.hiddenCopies, (v) => (p) => ({ ...withFit(p), hiddenCopies: v }));
  forward = { ...forward, hiddenCopies: h.value };
  const m = fit1(v0, range(1, 5, 0.05), forward.mlpCopies, (v) => (p) => ({ ...withFit(p), mlpCopies: v }));
  forward = { ...forward, mlpCopies: m.value };
  if (round === 2) {
    console.log(`Forward pass (V0 train cases, ${v0.length}):`);
    console.log(`  hiddenCopies current ${VLLM_FORWARD.hiddenCopies} fitted ${h.identifiable ? h.value : "not identifiable"}`);
    console.log(`  mlpCopies    current ${VLLM_FORWARD.mlpCopies} fitted ${m.identifiable ? m.value : "not identifiable"}`);
  }
}

const report = (label: string, ps: Point[], k: (p: Point) => Constants): string => {
  const errs = ps.map((p) => Math.abs(kvError(p, k(p))));
  const sorted = [...errs].sort((a, b) => a - b);
  const p80 = sorted.length === 0 ? NaN : sorted[Math.ceil(0.8 * sorted.length) - 1]!;
  return `${label}: median |KV err| ${(median(errs) * 100).toFixed(2)} %, 80th percentile ${(p80 * 100).toFixed(2)} %, mean ${(mean(errs) * 100).toFixed(2)} % over ${ps.length}`;
};
console.log();
console.log(report("Train, current constants", train, base));
console.log(report("Train, fitted constants ", train, withFit));
console.log(report("Held-out, current constants", heldout, base));
console.log(report("Held-out, fitted constants ", heldout, withFit));
for (const group of GROUPS) {
  const ps = heldout.filter((p) => p.group === group);
  if (ps.length > 0) console.log(`  held-out ${group}: ${ps.length} cases; ${report("current", ps, base)}; ${report("fitted", ps, withFit)}`);
}
console.log();
console.log("Per train case (current → fitted KV error):");
for (const p of train) console.log(`  ${p.c.id.padEnd(60)} ${p.group.padEnd(22)} ${(kvError(p, base(p)) * 100).toFixed(2).padStart(7)} % → ${(kvError(p, withFit(p)) * 100).toFixed(2).padStart(7)} %`);
