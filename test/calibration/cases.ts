/**
 * Calibration of the vLLM memory model against real startup logs
 * (test/fixtures/vllm-calibration.json). Used by the calibration test (targets) and by
 * `npm run calibrate` (the table in docs/sizing.md).
 */
import fs from "node:fs";
import path from "node:path";
import { catalog, findGpu, findModel, gpuMemoryGiB } from "../../core/catalog";
import { parseHfConfig, type ModelArchitecture } from "../../core/sizing/architecture";
import { normalizeDtype, type ConcreteDtype, type KvCacheDtype } from "../../core/sizing/dtypes";
import { estimateVllm, type VllmOptions } from "../../core/sizing/engines";
import { servingDtypeOf } from "../../core/sizing/estimate";

export interface CalibrationCase {
  id: string;
  /** Train or held-out, by SPLIT_RULE (test/fixtures/vllm-calibration-split.json). */
  split: "train" | "heldout";
  source: { url: string; read: string; confidence: string };
  model: string;
  vllmVersion: string | null;
  gpu: string | null;
  gpuCount: number;
  tensorParallelSize: number;
  pipelineParallelSize: number;
  dtype: string;
  quantization: string | null;
  kvCacheDtype: string;
  gpuMemoryUtilization: number | null;
  maxModelLen: number | null;
  maxNumBatchedTokens: number | null;
  maxNumSeqs: number | null;
  enforceEager: boolean | null;
  blockSize: number | null;
  observed: {
    totalGpuMemoryGiB: number | null;
    weightsGiB: number | null;
    nonTorchGiB: number | null;
    activationPeakGiB: number | null;
    kvCacheGiB: number | null;
    kvCacheTokens: number | null;
    numGpuBlocks: number | null;
    maxConcurrency: number | null;
  };
  notes?: string;
  /** Why the case is kept for reference but left out of the accuracy targets. */
  excluded?: string;
}

const fixtures = path.join(__dirname, "..", "fixtures");

/** Case files: every `vllm-calibration*.json` fixture that holds an array of cases. */
export function caseFiles(): string[] {
  return fs
    .readdirSync(fixtures)
    .filter((f) => /^vllm-calibration.*\.json$/.test(f))
    .sort()
    .filter((f) => Array.isArray(JSON.parse(fs.readFileSync(path.join(fixtures, f), "utf8"))));
}

function casesOf(file: string): CalibrationCase[] {
  return JSON.parse(fs.readFileSync(path.join(fixtures, file), "utf8")) as CalibrationCase[];
}

/** Every case of every case file. */
export function loadCases(): CalibrationCase[] {
  return caseFiles().flatMap(casesOf);
}

interface SplitFixture {
  splitRule: string;
  /** Case files in the order they were added; a source belongs to the first batch it appears in. */
  batches: string[][];
}

const splitFixture = JSON.parse(fs.readFileSync(path.join(fixtures, "vllm-calibration-split.json"), "utf8")) as SplitFixture;

/** The split rule, as written in test/fixtures/vllm-calibration-split.json. */
export const SPLIT_RULE = splitFixture.splitRule;
/** The batches of case files the rule numbers sources in. */
export const SPLIT_BATCHES = splitFixture.batches;

/**
 * The source of a log: a GitHub issue or pull request thread (`owner/repo#N`), else a GitHub
 * repository (`owner/repo`, for files in it), else the web site's host. Lower case.
 */
export function sourceKey(url: string): string {
  const u = new URL(url);
  const host = u.host.toLowerCase().replace(/^www\./, "");
  if (host !== "github.com") return host;
  const p = u.pathname.split("/").filter(Boolean);
  const repo = p.slice(0, 2).join("/").toLowerCase();
  return (p[2] === "issues" || p[2] === "pull") && p[3] ? `${repo}#${p[3]}` : repo;
}

/**
 * The split the rule gives each case id. Sources are numbered batch after batch (a source
 * belongs to the first batch of case files it appears in), by code point order of their keys
 * within a batch, the count running on across batches; every third source (numbers 3, 6, 9, …)
 * is held out with all its cases. Adding a batch never moves an earlier source.
 */
export function ruleSplit(): Map<string, "train" | "heldout"> {
  const ordered: string[] = [];
  const seen = new Set<string>();
  for (const batch of SPLIT_BATCHES) {
    const keys = [...new Set(batch.flatMap(casesOf).map((c) => sourceKey(c.source.url)))].filter((k) => !seen.has(k));
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const k of keys) {
      seen.add(k);
      ordered.push(k);
    }
  }
  const heldout = new Set(ordered.filter((_, i) => i % 3 === 2));
  return new Map(SPLIT_BATCHES.flat().flatMap(casesOf).map((c) => [c.id, heldout.has(sourceKey(c.source.url)) ? "heldout" : "train"]));
}

/**
 * vLLM versions for logs that do not print one, inferred from the date of the issue or pull
 * request (or, for the llm-d benchmark write-up, from its statement that activation memory fell
 * in 0.17). Only the engine generation matters to the model: V0 (< 0.8), V1 before 0.17, V1 0.17+.
 */
export const INFERRED_VERSIONS: Record<string, { version: string; why: string }> = {
  "vllm-issue-10517-llama31-8b-rtx3090-20k": { version: "0.6.4", why: "issue opened Nov 2024; V0 log format (# GPU blocks)" },
  "vllm-issue-10517-llama31-8b-rtx3090-29k": { version: "0.6.4", why: "issue opened Nov 2024; V0 log format (# GPU blocks)" },
  "vllm-pr-10511-llama3-8b-80gb": { version: "0.6.4", why: "PR of Nov 2024" },
  "vllm-pr-10511-llama3-8b-80gb-tp2": { version: "0.6.4", why: "PR of Nov 2024" },
  "vllm-pr-13109-deepseek-coder-v2-lite-awq": { version: "0.7.2", why: "PR of Feb 2025" },
  "qwen-issue-16-qwen15-7b-gptq-int4-rtx3090": { version: "0.3.3", why: "Qwen1.5 era, early 2024" },
  "vllm-pr-3120-opt-125m": { version: "0.3.3", why: "PR of Mar 2024" },
  "rlswarm-issue-92-qwen25-0.5b-8gb-wsl": { version: "0.8.5", why: "2025 issue, V1 log lines" },
  "vllm-issue-21348-qwen3-235b-a22b-fp8-4xh100": { version: "0.10.0", why: "issue of Jul 2025" },
  "lmcache-issue-1739-qwen3-14b": { version: "0.10.0", why: "2025 issue" },
  "myoceane-gemma4-26b-a4b-a100": { version: "0.19.0", why: "blog post next to a 0.19 log" },
  "vllm-pr-17122-llama31-8b-l40s-32k": { version: "0.8.4", why: "V1 log of April 2025" },
  "vllm-issue-22331-gptoss-20b-rtx3090-weights": { version: "0.10.1", why: "the vllm/vllm-openai:gptoss image of August 2025 (the gpt-oss release line, 0.10.1)" },
  "vllm-issue-23278-gptoss-120b-h100-negative-kv": { version: "0.10.1", why: "source line numbers of the 0.10.1 worker (Aug 2025)" },
  "vllm-issue-27508-gptoss-120b-h100-util095-fail": { version: "0.11.0", why: "issue of Oct 2025, EngineCore_DP0 log prefix" },
  "vllm-issue-6746-llama31-405b-fp8-8xh100-weights": { version: "0.5.3", why: "issue of 24 Jul 2024" },
  "vllm-issue-13061-r1-distill-qwen-14b-2xrtx4090-tp2": { version: "0.7.2", why: "V0 engine log of Feb 2025" },
  "vllm-issue-5248-deepseek-coder-67b-2xt4-tp2": { version: "0.4.3", why: "issue of June 2024" },
  "vllm-issue-13882-qwen25-7b-rtx4060-8gb-fail": { version: "0.7.2", why: "issue of Feb 2025" },
  "vllm-issue-17327-qwen3-30b-a3b-w4a16-rtx3090-v0engine": { version: "0.8.5", why: "comment of 7 May 2025 in the v0.8.5 Qwen3 usage thread; V0 engine forced (VLLM_USE_V1=0), modelled with the 0.8 profile" },
  "vllm-pr-12569-llama31-70b-w8a8-1gpu-weights": { version: "0.7.1", why: "PR of 30 Jan 2025 (V1 engine behind VLLM_USE_V1=1)" },
};
for (const id of [
  "llmd-bench-gptoss-20b-h100",
  "llmd-bench-gptoss-120b-h100",
  "llmd-bench-llama33-70b-fp8dyn-tp2-h100",
  "llmd-bench-llama33-70b-fp8dyn-tp1-h100-fail",
  "llmd-bench-llama31-8b-h100",
  "llmd-bench-qwen3-0.6b-h100",
  "llmd-bench-qwen3-32b-h100",
  "llmd-bench-qwen3-32b-tp2-h100",
]) {
  INFERRED_VERSIONS[id] = {
    version: "0.12.0",
    why: "llm-d benchmark write-up from before the 0.17 activation change; its sampler-dominated activations match 0.12-0.16, not 0.10/0.11",
  };
}

interface ModelFixture {
  sameAs?: string;
  overrides?: Record<string, unknown>;
  config?: Record<string, unknown>;
  skip?: string;
}

const extraModels = JSON.parse(fs.readFileSync(path.join(fixtures, "calibration-models.json"), "utf8")) as Record<string, ModelFixture>;

/** The architecture of a model named in a log, or a reason it cannot be built. */
export function architectureFor(model: string): ModelArchitecture | string {
  const m = findModel(model);
  if (m) return parseHfConfig(m.config);
  const f = extraModels[model];
  if (!f) return `model ${model} has no config in the catalog or calibration-models.json`;
  if (f.skip) return f.skip;
  if (f.config) return parseHfConfig({ ...f.config, ...(f.overrides ?? {}) });
  const base = rawConfigFor(f.sameAs ?? "");
  if (!base) return `sameAs ${f.sameAs} is neither in the catalog nor in calibration-models.json`;
  return parseHfConfig({ ...base, ...(f.overrides ?? {}) });
}

function rawConfigFor(model: string): Record<string, unknown> | undefined {
  const m = findModel(model);
  if (m) return m.config;
  const f = extraModels[model];
  if (f?.config) return f.config;
  return f?.sameAs ? rawConfigFor(f.sameAs) : undefined;
}

/** Weight format for a log's dtype and quantization. */
export function dtypeFor(c: CalibrationCase, arch: ModelArchitecture): ConcreteDtype {
  const q = c.quantization?.toLowerCase() ?? null;
  // A checkpoint that ships its quantisation_config says what it is.
  if (arch.checkpointQuantization && (q === null || q === arch.checkpointQuantization.method || q === "compressed-tensors")) return servingDtypeOf(arch);
  if (q) {
    if (q === "bitsandbytes") return "int4";
    if (q === "compressed-tensors") return /w8a8/i.test(c.model) ? "int8" : /fp8/i.test(c.model) ? "fp8" : "int4";
    const d = normalizeDtype(q);
    if (d && d !== "auto") return d;
  }
  const d = normalizeDtype(c.dtype);
  if (d && d !== "auto") return d;
  return servingDtypeOf(arch);
}

/**
 * GPU names as logs print them, mapped to catalog ids where the catalog's aliases do not cover
 * them. "NVIDIA A100" without a size is left unknown on purpose.
 */
const LOG_GPU_NAMES: Record<string, string> = {
  "nvidia a100 80gb": "a100-sxm-80gb",
  "nvidia a100 40gb": "a100-pcie-40gb",
  "rtx3090-24g": "rtx-3090",
  "rtx 3090": "rtx-3090",
  "rtx 5090": "rtx-5090",
  h100: "h100-sxm-80gb",
  "nvidia h100": "h100-sxm-80gb",
};

export function gpuFor(name: string | null) {
  if (!name) return undefined;
  return findGpu(LOG_GPU_NAMES[name.toLowerCase()] ?? name);
}

export interface CaseResult {
  case: CalibrationCase;
  skipped: string | null;
  version: string;
  predictedWeightsGiB: number | null;
  predictedKvGiB: number | null;
  predictedTokens: number | null;
  observedTokens: number | null;
  /** Relative errors (predicted / observed − 1), null where not comparable. */
  weightsError: number | null;
  kvTokensError: number | null;
  kvGiBError: number | null;
}

/** What the model is run with for a case: architecture, weight format, GPU memory and options. */
export interface CaseSetup {
  arch: ModelArchitecture;
  dtype: ConcreteDtype;
  /** GPU memory as the driver reports it, GiB; null where the log and the catalog do not say. */
  total: number | null;
  block: number;
  options: VllmOptions;
}

/** The inputs of a case, or why it cannot be compared. */
export function caseSetup(c: CalibrationCase, version: string): CaseSetup | string {
  const arch = architectureFor(c.model);
  if (typeof arch === "string") return arch;
  if (c.pipelineParallelSize > 1) return "pipeline parallelism is not modelled";
  const dtype = dtypeFor(c, arch);
  const gpu = gpuFor(c.gpu);
  const total = c.observed.totalGpuMemoryGiB ?? (gpu ? gpuMemoryGiB(gpu) : null);
  const block = c.blockSize ?? 16;
  const options: VllmOptions = {
    tensorParallelSize: c.tensorParallelSize,
    gpuMemoryUtilization: c.gpuMemoryUtilization ?? 0.9,
    maxModelLen: c.maxModelLen ?? arch.maxPositionEmbeddings,
    maxNumBatchedTokens: c.maxNumBatchedTokens ?? undefined,
    maxNumSeqs: c.maxNumSeqs ?? undefined,
    kvCacheDtype: (c.kvCacheDtype || "auto") as KvCacheDtype,
    blockSize: block,
    vllmVersion: version,
    isA100: /a100/i.test(c.gpu ?? ""),
  };
  return { arch, dtype, total, block, options };
}

/** The vLLM version a case is run with: printed, inferred, or the latest. */
export const versionOf = (c: CalibrationCase): string => c.vllmVersion ?? INFERRED_VERSIONS[c.id]?.version ?? "0.19";

export function runCase(c: CalibrationCase): CaseResult {
  const version = versionOf(c);
  const empty = { case: c, version, predictedWeightsGiB: null, predictedKvGiB: null, predictedTokens: null, observedTokens: null, weightsError: null, kvTokensError: null, kvGiBError: null };
  const setup = caseSetup(c, version);
  if (typeof setup === "string") return { ...empty, skipped: setup };
  const { arch, dtype, total, block } = setup;
  const e = estimateVllm(arch, dtype, total ?? 80, setup.options);
  const observedTokens = c.observed.kvCacheTokens ?? (c.observed.numGpuBlocks !== null ? c.observed.numGpuBlocks * block : null);
  const rel = (p: number, o: number | null): number | null => (o === null || o === 0 ? null : p / o - 1);
  const knownBudget = total !== null && c.gpuMemoryUtilization !== null;
  return {
    case: c,
    skipped: null,
    version,
    predictedWeightsGiB: e.perGpu.weightsGiB,
    predictedKvGiB: knownBudget ? e.perGpu.kvCacheGiB : null,
    predictedTokens: knownBudget ? e.kvCacheTokens : null,
    observedTokens,
    weightsError: rel(e.perGpu.weightsGiB, c.observed.weightsGiB),
    kvTokensError: knownBudget && observedTokens !== null ? rel(e.kvCacheTokens, observedTokens) : null,
    kvGiBError: knownBudget && c.observed.kvCacheGiB !== null && c.observed.kvCacheGiB > 0 ? rel(e.perGpu.kvCacheGiB, c.observed.kvCacheGiB) : null,
  };
}

export interface Summary {
  /** Cases counted (excluded ones are left out unless asked for). */
  cases: number;
  weightsCompared: number;
  weightsMeanAbsError: number;
  kvCompared: number;
  kvMedianAbsError: number;
  /** 80th percentile of the absolute KV errors (nearest rank). */
  kvP80AbsError: number;
  kvWithin15: number;
}

/** The KV error of a result: on token counts where the log gives them, else on GiB. */
export const kvError = (r: CaseResult): number | null => r.kvTokensError ?? r.kvGiBError;

/**
 * Summary statistics, of all cases or of one split. KV accuracy is measured on token counts where
 * the log gives them, else on the GiB left for the KV cache (the same quantity before block
 * rounding).
 */
export function summarize(all: CaseResult[], includeExcluded = false, split?: "train" | "heldout"): Summary {
  const results = all.filter((r) => (includeExcluded || !r.case.excluded) && (split === undefined || r.case.split === split));
  const w = results.map((r) => r.weightsError).filter((x): x is number => x !== null).map(Math.abs);
  const kv = results.map(kvError).filter((x): x is number => x !== null).map(Math.abs);
  const sorted = [...kv].sort((a, b) => a - b);
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const p80 = sorted.length === 0 ? NaN : sorted[Math.ceil(0.8 * sorted.length) - 1]!;
  return {
    cases: results.length,
    weightsCompared: w.length,
    weightsMeanAbsError: w.reduce((a, b) => a + b, 0) / Math.max(w.length, 1),
    kvCompared: kv.length,
    kvMedianAbsError: median,
    kvP80AbsError: p80,
    kvWithin15: kv.filter((x) => x <= 0.15).length / Math.max(kv.length, 1),
  };
}

export function runAll(): CaseResult[] {
  void catalog();
  return loadCases().map(runCase);
}
