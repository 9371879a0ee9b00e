/**
 * One entry point for "does this model fit, how much of it, and what would fit instead":
 * used by the CLI, the components and the policy pack alike.
 */
import { countParameters, type ModelArchitecture } from "./architecture";
import { servingDtype, WEIGHT_FORMATS, type ConcreteDtype, type KvCacheDtype } from "./dtypes";
import { estimateLlamaCpp, estimateVllm, type Engine, type EngineEstimate } from "./engines";

/** What a GPU can do; a subset of the catalog's GPU entry. */
export interface GpuCapabilities {
  /** Memory the driver reports, GiB. */
  memoryGiB: number;
  /** Native data types; when unknown every format is allowed. */
  dataTypes?: { bf16: boolean; fp8: boolean; fp4: boolean };
  /** NVIDIA compute capability, e.g. "8.9"; null for AMD or unknown. */
  computeCapability?: string | null;
  /** Catalog name, e.g. "NVIDIA Tesla P100 16GB", for messages. */
  name?: string;
  /** "nvidia" or "amd"; vLLM's compute capability rule applies to NVIDIA GPUs only (unknown: not applied). */
  vendor?: "nvidia" | "amd";
}

/** Lowest NVIDIA compute capability vLLM runs on (Volta). The gpu-capability check's default. */
export const MIN_VLLM_COMPUTE_CAPABILITY = 7.0;

/**
 * Why vLLM cannot run on a GPU, or null when it can: NVIDIA GPUs need compute capability
 * {@link MIN_VLLM_COMPUTE_CAPABILITY} or newer (an NVIDIA GPU of unknown capability is refused:
 * fail closed); AMD GPUs, and GPUs whose vendor is not given (e.g. `--vram-gib`), are not limited here. The one rule behind both the gpu-capability check
 * and {@link estimate}'s verdict, so that `estimate` and `check` say the same words.
 */
export function vllmSupportProblem(gpu: GpuCapabilities | null, minComputeCapability: number = MIN_VLLM_COMPUTE_CAPABILITY): string | null {
  if (gpu?.vendor !== "nvidia") return null;
  const cc = gpu.computeCapability === undefined || gpu.computeCapability === null ? NaN : Number(gpu.computeCapability);
  if (cc >= minComputeCapability) return null;
  return `vLLM needs compute capability ${minComputeCapability.toFixed(1)} or newer; ${gpu.name ?? "this GPU"} has ${gpu.computeCapability ?? "unknown"}: use engine llamacpp with a GGUF type`;
}

export interface EstimateInput {
  arch: ModelArchitecture;
  dtype: ConcreteDtype;
  engine: Engine;
  /** The GPU, or null for CPU inference. */
  gpu: GpuCapabilities | null;
  /** GPUs sharing the model (tensor parallel for vLLM, layer split for llama.cpp). @default 1 */
  gpuCount?: number;
  /** Context length per request, tokens. @default the model's max_position_embeddings (vLLM) or 4096 */
  maxModelLen?: number;
  /** Requests that must each hold a full context at once. @default 1 */
  concurrency?: number;
  /** @default 0.9 */
  gpuMemoryUtilization?: number;
  /** @default "auto" */
  kvCacheDtype?: KvCacheDtype;
  maxNumBatchedTokens?: number;
  maxNumSeqs?: number;
  /** Host memory for CPU inference, GiB. */
  hostRamGiB?: number;
  /** vLLM release whose memory profile to follow. @default latest */
  vllmVersion?: string;
  /** The GPU is an A100 (vLLM keeps its small batch defaults there). */
  isA100?: boolean;
}

export interface EstimateResult extends EngineEstimate {
  parameters: number;
  activeParameters: number;
  /** Concurrency asked for. */
  concurrency: number;
  /** Tokens needed: maxModelLen × concurrency. */
  requiredTokens: number;
}

/** What vLLM serves a model's checkpoint as under `--dtype auto`. */
export function servingDtypeOf(arch: ModelArchitecture): ConcreteDtype {
  const q = arch.checkpointQuantization;
  return servingDtype(arch.checkpointDtype, q?.method ?? null, q?.bits ?? null, q?.floatWeights ?? null);
}

/** Tensor-parallel sizes vLLM accepts for a model: divides heads; KV heads divide or are divided. */
export function validTensorParallel(arch: ModelArchitecture, tp: number): boolean {
  if (tp < 1 || !Number.isInteger(tp)) return false;
  if (arch.attention.numHeads % tp !== 0) return false;
  const kv = arch.attention.numKvHeads;
  return arch.attention.kind === "mla" || kv % tp === 0 || tp % kv === 0;
}

/** Runs the engine model and applies the concurrency requirement. */
export function estimate(input: EstimateInput): EstimateResult {
  const params = countParameters(input.arch);
  const concurrency = Math.max(1, input.concurrency ?? 1);
  const count = Math.max(1, input.gpuCount ?? 1);
  let e: EngineEstimate;
  if (input.engine === "vllm") {
    if (!input.gpu) throw new Error("engine vllm needs a GPU; use engine cpu or llamacpp for CPU inference");
    e = estimateVllm(input.arch, input.dtype, input.gpu.memoryGiB, {
      tensorParallelSize: count,
      gpuMemoryUtilization: input.gpuMemoryUtilization,
      maxModelLen: input.maxModelLen,
      kvCacheDtype: input.kvCacheDtype,
      maxNumBatchedTokens: input.maxNumBatchedTokens,
      maxNumSeqs: input.maxNumSeqs,
      vllmVersion: input.vllmVersion,
      isA100: input.isA100,
    });
  } else {
    const cpu = input.engine === "cpu" || input.gpu === null;
    const ctx = (input.maxModelLen ?? 4096) * concurrency;
    e = estimateLlamaCpp(input.arch, input.dtype, cpu ? (input.hostRamGiB ?? 0) : input.gpu!.memoryGiB, {
      engine: cpu ? "cpu" : input.engine,
      contextTokens: ctx,
      parallel: concurrency,
      gpuCount: cpu ? 1 : count,
      kvCacheDtype: input.kvCacheDtype === "auto" || input.kvCacheDtype === undefined ? "fp16" : input.kvCacheDtype,
    });
    // kvCacheTokens stays the capacity (as for vLLM); maxConcurrency is how many requests of the context it holds.
    const maxModelLen = input.maxModelLen ?? 4096;
    e = { ...e, maxModelLen, maxConcurrency: e.kvCacheTokens / maxModelLen };
  }
  const requiredTokens = e.maxModelLen * concurrency;
  let { fits, reason } = e;
  if (input.engine === "vllm" && !input.gpu) fits = false;
  if (fits && input.engine === "vllm" && !validTensorParallel(input.arch, count)) {
    fits = false;
    reason =
      `tensor-parallel size ${count} must divide the ${input.arch.attention.numHeads} attention heads ` +
      `(and match the ${input.arch.attention.numKvHeads} KV heads)`;
  }
  if (fits && e.maxModelLen > input.arch.maxPositionEmbeddings) {
    fits = false;
    reason =
      `max_model_len ${e.maxModelLen} exceeds the model's max_position_embeddings ${input.arch.maxPositionEmbeddings}; ` +
      `vLLM and llama.cpp refuse it (vLLM only with VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, at the cost of quality)`;
  }
  if (fits && e.kvCacheTokens < requiredTokens) {
    fits = false;
    reason =
      `KV cache holds ${e.kvCacheTokens} tokens; ${concurrency} concurrent requests × ${e.maxModelLen} tokens need ${requiredTokens}`;
  }
  // An engine that cannot run on the GPU decides the verdict whatever the memory says.
  const unsupported = input.engine === "vllm" ? vllmSupportProblem(input.gpu) : null;
  if (unsupported) {
    fits = false;
    reason = unsupported;
  }
  return {
    ...e,
    fits,
    reason,
    parameters: params.total,
    activeParameters: params.active,
    concurrency,
    requiredTokens,
  };
}

/** Why a data type cannot run on a GPU, or null when it can. */
export function dtypeSupportProblem(dtype: ConcreteDtype, gpu: GpuCapabilities | null): string | null {
  if (!gpu?.dataTypes) return null;
  const need = WEIGHT_FORMATS[dtype].requires;
  if (need === "bf16" && !gpu.dataTypes.bf16) return "bf16 needs an Ampere (CC 8.0) or newer GPU; use fp16";
  if (need === "fp8" && !gpu.dataTypes.fp8) return "fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU; use awq or gptq int4, or bf16";
  if (need === "fp4" && !gpu.dataTypes.fp4) return "fp4 needs a Blackwell GPU; use fp8 or awq";
  return null;
}

export interface Alternatives {
  /** Longest context (≤ the model's maximum) that fits at the asked concurrency, or null. */
  largestContext: number | null;
  /** Fewest GPUs of this kind (1, 2, 4, 8) that fit at the asked context, or null. */
  smallestGpuCount: number | null;
  /** Highest-precision data type this GPU runs natively that fits, or null. */
  dtype: ConcreteDtype | null;
}

/** Data types tried for "what would fit", best quality first. */
export const DTYPE_PREFERENCE_HF: ConcreteDtype[] = ["bf16", "fp16", "fp8", "int8", "awq", "gptq"];
export const DTYPE_PREFERENCE_GGUF: ConcreteDtype[] = ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0"];

/**
 * Searches nearby configurations that would fit. Never suggests the setup already given (its GPU
 * count, its dtype, or a context no shorter than asked); `gpuCounts` limits GPU counts to those the
 * offer or product has (@default 1, 2, 4, 8).
 */
export function alternatives(input: EstimateInput, opts: { gpuCounts?: readonly number[] } = {}): Alternatives {
  const maxCtx = input.arch.maxPositionEmbeddings;
  const fitsWith = (patch: Partial<EstimateInput>): boolean => estimate({ ...input, ...patch }).fits;

  let largestContext: number | null = null;
  if (fitsWith({ maxModelLen: 256 })) {
    let lo = 256;
    let hi = maxCtx;
    if (fitsWith({ maxModelLen: hi })) lo = hi;
    while (hi - lo > 256) {
      const mid = Math.floor((lo + hi) / 2);
      if (fitsWith({ maxModelLen: mid })) lo = mid;
      else hi = mid;
    }
    largestContext = lo >= maxCtx ? maxCtx : Math.floor(lo / 256) * 256;
    if (input.maxModelLen !== undefined && largestContext >= input.maxModelLen) largestContext = null;
  }

  let smallestGpuCount: number | null = null;
  if (input.gpu) {
    const given = Math.max(1, input.gpuCount ?? 1);
    for (const n of opts.gpuCounts ?? [1, 2, 4, 8]) {
      if (n === given) continue;
      if (fitsWith({ gpuCount: n })) {
        smallestGpuCount = n;
        break;
      }
    }
  }

  const prefs = input.engine === "vllm" ? DTYPE_PREFERENCE_HF : [...DTYPE_PREFERENCE_GGUF, "fp16" as ConcreteDtype];
  let dtype: ConcreteDtype | null = null;
  for (const d of prefs) {
    if (d !== input.dtype && dtypeSupportProblem(d, input.gpu) === null && fitsWith({ dtype: d })) {
      dtype = d;
      break;
    }
  }
  return { largestContext, smallestGpuCount, dtype };
}
