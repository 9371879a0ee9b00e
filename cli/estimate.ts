/** `gpu-hosting estimate`: memory of one model on one GPU configuration. */
import type { Command } from "commander";
import { gpuMemoryGiB } from "../core/catalog";
import { normalizeDtype, WEIGHT_FORMATS, type ConcreteDtype } from "../core/sizing/dtypes";
import { alternatives, dtypeSupportProblem, estimate, servingDtypeOf, type GpuCapabilities } from "../core/sizing/estimate";
import { UsageError } from "./errors";
import { fmt, keyValues, printJson } from "./format";
import * as p from "./parse";

interface EstimateFlags {
  model?: string;
  config?: string;
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
  json?: boolean;
}

export function registerEstimate(program: Command): void {
  program
    .command("estimate")
    .description("Estimate GPU memory of one model on one GPU configuration: weights, KV cache, concurrency, fit")
    .option("-m, --model <id>", "Hugging Face repo id (case-insensitive) or alias from `gpu-hosting catalog models`")
    .option("--config <path>", "a local Hugging Face config.json instead of a catalog model")
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
    .option("--json", "print one JSON object (fields parameters, weightsGiB, kvCacheGiB, kvCacheTokens, maxConcurrency, fits are stable)")
    .action((flags: EstimateFlags) => runEstimate(flags));
}

export function runEstimate(f: EstimateFlags): void {
  const model = p.resolveModel(f.model, f.config);
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
  if (f.gpu) {
    const g = p.resolveGpu("--gpu", f.gpu);
    gpu = { memoryGiB: gpuMemoryGiB(g), dataTypes: g.dataTypes, computeCapability: g.computeCapability };
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
    ["activations + overhead", `${fmt.gib(r.perGpu.activationGiB + r.perGpu.overheadGiB)} GiB`],
    ["KV cache per device", `${fmt.gib(r.perGpu.kvCacheGiB)} GiB`],
    ["KV cache tokens", fmt.int(r.kvCacheTokens)],
    ["max concurrency", `${r.maxConcurrency.toFixed(2)} × ${fmt.int(r.maxModelLen)} tokens`],
    ["fits", fits ? `yes (${concurrency} × ${fmt.int(r.maxModelLen)} tokens)` : `NO: ${reason}`],
  ];
  if (alt) {
    lines.push(["would fit", describeAlternatives(alt)]);
  }
  console.log(keyValues(lines));
}

export function describeAlternatives(a: { largestContext: number | null; smallestGpuCount: number | null; dtype: string | null }): string {
  const parts: string[] = [];
  if (a.largestContext !== null) parts.push(`context ≤ ${fmt.int(a.largestContext)}`);
  if (a.smallestGpuCount !== null) parts.push(`${a.smallestGpuCount} GPUs`);
  if (a.dtype !== null) parts.push(`dtype ${a.dtype}`);
  return parts.length > 0 ? parts.join(", or ") : "nothing nearby: use a bigger GPU or a smaller model";
}
