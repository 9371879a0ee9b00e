/** `gpu-hosting estimate`: memory of one model on one GPU configuration. */
import type { Command } from "commander";
import { gpuMemoryGiB, type Gpu } from "../core/catalog";
import { normalizeDtype, WEIGHT_FORMATS, type ConcreteDtype } from "../core/sizing/dtypes";
import { alternatives, dtypeSupportProblem, estimate, servingDtypeOf, type GpuCapabilities } from "../core/sizing/estimate";
import { throughput, type Throughput } from "../core/sizing/speed";
import { UsageError } from "./errors";
import { fmt, keyValues, printJson } from "./format";
import { describeCheckpoint } from "./hub";
import * as p from "./parse";

interface EstimateFlags {
  model?: string;
  config?: string;
  revision?: string;
  dtype: string;
  kvCacheDtype: string;
  gpu?: string;
  vramGib?: string;
  ramGib?: string;
  gpuCount: string;
  maxModelLen?: string;
  concurrency: string;
  gpuMemoryUtilization: string;
  maxNumBatchedTokens?: string;
  maxNumSeqs?: string;
  engine: string;
  vllmVersion: string;
  promptTokens?: string;
  memBandwidthGbs?: string;
  tflops?: string;
  json?: boolean;
}

export function registerEstimate(program: Command): void {
  program
    .command("estimate")
    .description("Estimate GPU memory of one model on one GPU configuration: weights, KV cache, concurrency, fit")
    .option("-m, --model <id>", "Hugging Face repo id (case-insensitive) or alias from `gpu-hosting catalog models`")
    .option("--config <path>", "a local Hugging Face config.json instead of a catalog model")
    .option("--revision <rev>", "branch, tag or commit of a Hugging Face repo read from the Hub (default main)")
    .option("--dtype <type>", "weights: auto (the checkpoint's own), fp32, bf16, fp16, fp8, int8, int4, awq, gptq, mxfp4, nvfp4, q8_0, q6_k, q5_k_m, q4_k_m, q4_0", "auto")
    .option("--kv-cache-dtype <type>", "KV cache: auto (16-bit), fp8, fp8_e4m3, fp8_e5m2 (llama.cpp: q8_0, q4_0)", "auto")
    .option("--gpu <id>", "GPU from `gpu-hosting catalog gpus` (id or nvidia-smi name)")
    .option("--vram-gib <n>", "usable memory per GPU in GiB, instead of --gpu")
    .option("--ram-gib <n>", "host memory in GiB, for --engine cpu")
    .option("--gpu-count <n>", "GPUs (tensor-parallel size)", "1")
    .option("--max-model-len <tokens>", "context length per request, e.g. 8192 or 32k (default: the model's maximum)")
    .option("--concurrency <n>", "requests that must fit at full context at once", "1")
    .option("--gpu-memory-utilization <f>", "fraction of each GPU vLLM may use", "0.9")
    .option("--max-num-batched-tokens <n>", "vLLM scheduler budget per step (default: vLLM's, by GPU size)")
    .option("--max-num-seqs <n>", "vLLM concurrent sequences", undefined)
    .option("--engine <engine>", "vllm, llamacpp, ollama or cpu", "vllm")
    .option("--vllm-version <version>", "vLLM release whose memory profiling to follow (0.6 ... 0.19, or latest)", "latest")
    .option("--prompt-tokens <n>", "prompt length for prefill and time to first token; decode speeds are for a KV cache of this many tokens (default: 512, at most the context length)")
    .option("--mem-bandwidth-gbs <n>", "memory bandwidth per GPU (or of the host for --engine cpu) in GB/s, for hardware not in the catalog or to override it")
    .option("--tflops <n>", "dense tensor TFLOPS per GPU (or of the host for --engine cpu) at the data type, for hardware not in the catalog or to override it")
    .option("--json", "print one JSON object (fields parameters, weightsGiB, kvCacheGiB, kvCacheTokens, maxConcurrency, fits and the throughput object are stable)")
    .action((flags: EstimateFlags) => runEstimate(flags));
}

export async function runEstimate(f: EstimateFlags): Promise<void> {
  const model = await p.resolveModelAsync(f.model, f.config, "--model", f.revision);
  const engine = p.parseEngine("--engine", f.engine);
  const gpuCount = p.parsePositiveInt("--gpu-count", f.gpuCount);
  const concurrency = p.parsePositiveInt("--concurrency", f.concurrency);
  const util = p.parseFraction("--gpu-memory-utilization", f.gpuMemoryUtilization);
  const kv = p.parseKvDtype("--kv-cache-dtype", f.kvCacheDtype);
  const dtypeFlag = p.parseDtype("--dtype", f.dtype);
  const own = servingDtypeOf(model.arch);
  // A quantised variant's repo id implies its format (awq, gptq, fp8, …) unless --dtype says otherwise.
  const variant = model.match?.via === "variant" ? normalizeDtype(model.match.variantMethod ?? "") : undefined;
  const implied: ConcreteDtype = variant && variant !== "auto" && model.match?.variantMethod !== "gguf" ? variant : own;
  let dtype: ConcreteDtype = dtypeFlag === "auto" || dtypeFlag === "best" ? implied : dtypeFlag;
  if (engine !== "vllm" && dtypeFlag === "auto") dtype = "q8_0";

  if (f.gpu && f.vramGib) throw new UsageError("--gpu and --vram-gib: give one of them, not both");
  let gpu: GpuCapabilities | null = null;
  let gpuName = "";
  let catalogGpu: Gpu | null = null;
  if (f.gpu) {
    const g = p.resolveGpu("--gpu", f.gpu);
    catalogGpu = g;
    gpu = { memoryGiB: gpuMemoryGiB(g), dataTypes: g.dataTypes, computeCapability: g.computeCapability, name: g.name, vendor: g.vendor };
    gpuName = g.name;
  } else if (f.vramGib) {
    gpu = { memoryGiB: p.parsePositiveNumber("--vram-gib", f.vramGib) };
    gpuName = `${gpu.memoryGiB} GiB GPU`;
  }
  const ramGiB = f.ramGib ? p.parsePositiveNumber("--ram-gib", f.ramGib) : undefined;
  if (engine === "cpu" && ramGiB === undefined) throw new UsageError("--ram-gib: required with --engine cpu (host memory in GiB)");
  if (engine !== "cpu" && !gpu) throw new UsageError("--gpu or --vram-gib: one is required (or use --engine cpu with --ram-gib)");
  if (engine === "vllm" && WEIGHT_FORMATS[dtype].family === "gguf") {
    throw new UsageError(`--dtype: got "${dtype}", a GGUF type; vLLM serves bf16, fp16, fp8, int8, awq, gptq. Use --engine llamacpp or ollama for GGUF`);
  }
  const maxModelLen = f.maxModelLen ? p.parseTokens("--max-model-len", f.maxModelLen) : undefined;
  const input = {
    arch: model.arch,
    dtype,
    engine,
    gpu: engine === "cpu" ? null : gpu,
    gpuCount,
    maxModelLen,
    concurrency,
    gpuMemoryUtilization: util,
    kvCacheDtype: kv,
    maxNumBatchedTokens: f.maxNumBatchedTokens ? p.parsePositiveInt("--max-num-batched-tokens", f.maxNumBatchedTokens) : undefined,
    maxNumSeqs: f.maxNumSeqs ? p.parsePositiveInt("--max-num-seqs", f.maxNumSeqs) : undefined,
    hostRamGiB: ramGiB,
    vllmVersion: p.parseVllmVersion("--vllm-version", f.vllmVersion),
    isA100: /a100/i.test(gpuName),
  };
  const r = estimate(input);
  const speed = estimateSpeed(f, { ...input, catalogGpu, maxModelLen: r.maxModelLen });
  const support = dtypeSupportProblem(dtype, input.gpu);
  const fits = r.fits && support === null;
  const reason = support ? `${gpuName}: ${support}` : r.reason;
  const alt = fits ? null : alternatives(input);
  const result = {
    model: model.name,
    /** How --model was matched: id, alias, variant (a quantised repo of this model) or sibling (same architecture). */
    matchedVia: model.match?.via ?? "config",
    engine,
    dtype,
    kvCacheDtype: kv,
    gpu: engine === "cpu" ? null : gpuName,
    gpuCount: engine === "cpu" ? 0 : gpuCount,
    maxModelLen: r.maxModelLen,
    concurrency,
    parameters: r.parameters,
    activeParameters: r.activeParameters,
    weightsGiB: r.perGpu.weightsGiB,
    kvCacheGiB: r.perGpu.kvCacheGiB,
    kvCacheTokens: r.kvCacheTokens,
    maxConcurrency: r.maxConcurrency,
    fits,
    reason,
    memoryPerGpu: r.perGpu,
    kvBytesPerToken: r.kvBytesPerToken,
    alternatives: alt,
    /** Decode, prefill and time to first token at `concurrency` requests; null without bandwidth and TFLOPS (see `throughputNote`). */
    throughput: speed.throughput,
    throughputNote: speed.note,
    ...(model.hub ? { hub: model.hub } : {}),
  };
  if (f.json) return printJson(result);
  const where = engine === "cpu" ? `host RAM (${ramGiB} GiB)` : `${gpuCount} × ${gpuName}`;
  const lines: [string, string | number][] = [
    [
      "model",
      `${model.name} (${fmt.params(r.parameters)} parameters${r.activeParameters < r.parameters ? `, ${fmt.params(r.activeParameters)} active` : ""})` +
        (model.match?.via === "variant" ? `, from the quantised repo ${f.model}` : model.match?.via === "sibling" ? `, same architecture as ${f.model}` : ""),
    ],
    ["on", `${where}, ${engine}, ${WEIGHT_FORMATS[dtype].label}, KV ${kv}`],
    ["memory per device", `${fmt.gib(r.perGpu.totalGiB)} GiB (budget ${fmt.gib(r.perGpu.budgetGiB)} GiB)`],
    ["weights per device", `${fmt.gib(r.perGpu.weightsGiB)} GiB`],
    ...(model.hub ? [["checkpoint size (Hub)", describeCheckpoint(model.hub, r.parameters)] as [string, string]] : []),
    ["activations + overhead", `${fmt.gib(r.perGpu.activationGiB + r.perGpu.overheadGiB)} GiB`],
    ["KV cache per device", `${fmt.gib(r.perGpu.kvCacheGiB)} GiB`],
    ["KV cache tokens", fmt.int(r.kvCacheTokens)],
    ["max concurrency", `${r.maxConcurrency.toFixed(2)} × ${fmt.int(r.maxModelLen)} tokens`],
    ["fits", fits ? `yes (${concurrency} × ${fmt.int(r.maxModelLen)} tokens)` : `NO: ${reason}`],
  ];
  if (alt) {
    lines.push(["would fit", describeAlternatives(alt)]);
  }
  lines.push(...describeThroughput(speed.throughput, speed.note));
  console.log(keyValues(lines));
}

export function describeAlternatives(a: { largestContext: number | null; smallestGpuCount: number | null; dtype: string | null }): string {
  const parts: string[] = [];
  if (a.largestContext !== null) parts.push(`context ≤ ${fmt.int(a.largestContext)}`);
  if (a.smallestGpuCount !== null) parts.push(`${a.smallestGpuCount} GPUs`);
  if (a.dtype !== null) parts.push(`dtype ${a.dtype}`);
  return parts.length > 0 ? parts.join(", or ") : "nothing nearby: use a bigger GPU or a smaller model";
}

/** Prompt length of the speed estimate when --prompt-tokens is not given (capped at the context length). */
const DEFAULT_PROMPT_TOKENS = 512;

/**
 * Speed of the estimated setup: validates --prompt-tokens, --mem-bandwidth-gbs and --tflops and
 * runs the speed model. Catalog GPUs bring their own bandwidth and TFLOPS (the flags override
 * them); other hardware (--vram-gib, --engine cpu) needs both flags, else the speed is unknown.
 */
function estimateSpeed(
  f: EstimateFlags,
  input: Pick<Parameters<typeof estimate>[0], "arch" | "dtype" | "engine" | "gpuCount" | "concurrency" | "kvCacheDtype"> & { catalogGpu: Gpu | null; maxModelLen: number },
): { throughput: Throughput | null; note: string } {
  const promptTokens = f.promptTokens === undefined ? Math.min(DEFAULT_PROMPT_TOKENS, input.maxModelLen) : p.parseTokens("--prompt-tokens", f.promptTokens);
  if (promptTokens > input.maxModelLen) {
    throw new UsageError(`--prompt-tokens: got ${promptTokens}; at most the context length ${input.maxModelLen} (--max-model-len). Give a shorter prompt or a longer --max-model-len`);
  }
  const bw = f.memBandwidthGbs !== undefined ? p.parsePositiveNumber("--mem-bandwidth-gbs", f.memBandwidthGbs) : undefined;
  const tflops = f.tflops !== undefined ? p.parsePositiveNumber("--tflops", f.tflops) : undefined;
  const gpu = input.engine === "cpu" ? null : input.catalogGpu;
  const what = input.engine === "cpu" ? "the host CPU (--engine cpu)" : "a GPU given by --vram-gib";
  if (!gpu && (bw === undefined) !== (tflops === undefined)) {
    const missing = bw === undefined ? "--mem-bandwidth-gbs" : "--tflops";
    const example = bw === undefined ? "e.g. --mem-bandwidth-gbs 460" : "e.g. --tflops 2";
    throw new UsageError(`${missing}: required with ${bw === undefined ? "--tflops" : "--mem-bandwidth-gbs"} for ${what}: the speed model needs both memory bandwidth (GB/s) and dense TFLOPS; ${example}`);
  }
  if (!gpu && bw === undefined) {
    return { throughput: null, note: `speed unknown for ${what}: give --mem-bandwidth-gbs and --tflops` };
  }
  const t = throughput({
    arch: input.arch,
    engine: input.engine,
    dtype: input.dtype,
    kvCacheDtype: input.kvCacheDtype,
    gpu,
    gpuCount: input.engine === "cpu" ? 1 : (input.gpuCount ?? 1),
    memBandwidthGBs: bw,
    tflops,
    context: promptTokens,
    promptTokens,
    concurrency: input.concurrency ?? 1,
  });
  const source = bw !== undefined || tflops !== undefined ? "flags" : "the catalog";
  return {
    throughput: t,
    note: `estimate from bandwidth and TFLOPS of ${source} with calibrated efficiencies (docs/sizing.md, "Speed"); decode with ${promptTokens} tokens in each request's KV cache`,
  };
}

/** Text lines for the speed part of `estimate`. */
export function describeThroughput(t: Throughput | null, note: string): [string, string][] {
  if (!t) return [["speed", note]];
  const bound = t.bound === "compute" ? "compute" : "memory bandwidth";
  return [
    ["decode, 1 request", `${fmt.num(t.decodeTokensPerSecond)} tokens/s`],
    ["prefill", `${fmt.int(t.prefillTokensPerSecond)} tokens/s; first token after ${fmt.int(t.timeToFirstTokenMs)} ms for ${fmt.int(t.promptTokens)} prompt tokens`],
    [
      "decode, all requests",
      `${fmt.num(t.aggregateDecodeTokensPerSecond)} tokens/s over ${t.concurrency} request${t.concurrency === 1 ? "" : "s"} (${fmt.num(t.perRequestDecodeTokensPerSecond)} each), bound by ${bound}`,
    ],
  ];
}
