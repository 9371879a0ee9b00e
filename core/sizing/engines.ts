/**
 * Engine memory models: how much of each GPU (or of host RAM) an inference engine needs for a
 * model, and how many KV-cache tokens are left. Pure.
 *
 * vLLM: `total × gpu_memory_utilization − weights − activation peak − non-torch memory` is left
 * for the KV cache (vllm/v1/worker/gpu_worker.py `determine_available_memory`). The activation
 * peak is measured by vLLM with a dummy batch of `max_num_batched_tokens`; here it is estimated
 * from the shapes of that batch. Constants are calibrated against real startup logs
 * (test/fixtures/vllm-calibration.json; errors in docs/sizing.md).
 *
 * llama.cpp / Ollama: weights of the offloaded layers + a KV cache of `n_ctx` tokens (sliding-
 * window layers keep only their window) + compute buffers + the CUDA context.
 */
import type { ModelArchitecture } from "./architecture";
import type { ConcreteDtype, KvCacheDtype } from "./dtypes";
import { GiB, kvLayout, weightMemory } from "./memory";

export const ENGINES = ["vllm", "llamacpp", "ollama", "cpu"] as const;
export type Engine = (typeof ENGINES)[number];

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * How a vLLM release profiles memory. Fitted to real startup logs (docs/sizing.md):
 * - V0 engine (before 0.8): the profiling batch is `max(max_model_len, 2048)` tokens when chunked
 *   prefill is off (contexts up to 32k), so activations grow with the context.
 * - V1 engine (0.8 on): the batch is `max_num_batched_tokens` (8192 on GPUs of 70 GiB or more
 *   other than A100, else 2048) and `max_num_seqs` is 1024 on those GPUs, else 256. Before 0.17
 *   the sampler's dummy run held about 9.6 fp32 copies of the logits in 0.8-0.9 and 0.12-0.16, and
 *   about 3.9 in 0.10-0.11 and from 0.17 (logs of different installs disagree: the sampler's peak
 *   depends on which top-k/top-p kernels are installed).
 */
export interface VllmProfile {
  /** Release the profile describes, e.g. "0.19". */
  version: string;
  engineV0: boolean;
  /** fp32 copies of `max_num_seqs × vocab` logits at the sampler's peak. */
  samplerCopies: number;
  /** Non-torch memory of one rank, GiB. */
  nonTorchGiB: number;
  /** Extra non-torch memory per rank with tensor parallelism (NCCL, custom all-reduce), GiB. */
  nonTorchTpGiB: number;
}

/** Latest vLLM release the model was calibrated against; the default. */
export const LATEST_VLLM = "0.19";

/** The memory profile of a vLLM version ("0.6.4", "0.10", "latest"). */
export function vllmProfile(version: string = LATEST_VLLM): VllmProfile {
  const v = version === "latest" ? LATEST_VLLM : version;
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  if (!m) throw new Error(`vLLM version "${version}" is not of the form 0.x or 0.x.y`);
  const minor = Number(m[1]) * 1000 + Number(m[2]);
  if (minor < 8) return { version: v, engineV0: true, samplerCopies: 9.6, nonTorchGiB: 0.25, nonTorchTpGiB: 0.55 };
  // 0.10 and 0.11 logs with a known version show the smaller sampler peak of 0.17+.
  if (minor >= 10 && minor < 12) return { version: v, engineV0: false, samplerCopies: 3.86, nonTorchGiB: 0.15, nonTorchTpGiB: 0.45 };
  if (minor < 17) return { version: v, engineV0: false, samplerCopies: 9.6, nonTorchGiB: 0.15, nonTorchTpGiB: 0.45 };
  return { version: v, engineV0: false, samplerCopies: 3.86, nonTorchGiB: 0.25, nonTorchTpGiB: 1.85 };
}

/** Shape constants of the forward-pass activation estimate (fitted to V0 logs, docs/sizing.md). */
export const VLLM_FORWARD = {
  /** Live copies of the hidden state per token. */
  hiddenCopies: 1.4,
  /** Live copies of the MLP intermediate (gate/up output plus activation). */
  mlpCopies: 3,
  /** Default KV block size, tokens. */
  blockSize: 16,
} as const;

export interface VllmOptions {
  /** Fraction of each GPU's memory vLLM may use. @default 0.9 */
  gpuMemoryUtilization?: number;
  /** Context length (`--max-model-len`); defaults to the model's max_position_embeddings. */
  maxModelLen?: number;
  /** Tokens in one scheduler step (`--max-num-batched-tokens`). @default vLLM's, by version and GPU */
  maxNumBatchedTokens?: number;
  /** Concurrent sequences (`--max-num-seqs`). @default vLLM's, by version and GPU */
  maxNumSeqs?: number;
  /** Tensor-parallel size. @default 1 */
  tensorParallelSize?: number;
  /** @default "auto" */
  kvCacheDtype?: KvCacheDtype;
  /** KV cache block size in tokens. @default 16 */
  blockSize?: number;
  /** CUDA-graph memory to take from the KV budget, GiB (recent vLLM can profile it). @default 0 */
  cudaGraphGiB?: number;
  /** vLLM release whose memory profile to follow. @default LATEST_VLLM */
  vllmVersion?: string;
  /** Whether the GPU is an A100 (vLLM keeps the small defaults on A100s). @default false */
  isA100?: boolean;
}

/** Default `max_num_batched_tokens` and `max_num_seqs` of vLLM's OpenAI server. */
export function vllmDefaults(
  profile: VllmProfile,
  totalGiB: number,
  maxModelLen: number,
  isA100 = false,
): { maxNumBatchedTokens: number; maxNumSeqs: number } {
  if (profile.engineV0) {
    return { maxNumBatchedTokens: maxModelLen <= 32768 ? Math.max(maxModelLen, 2048) : 2048, maxNumSeqs: 256 };
  }
  const big = totalGiB >= 70 && !isA100;
  return { maxNumBatchedTokens: big ? 8192 : 2048, maxNumSeqs: big ? 1024 : 256 };
}

/** Activation peak of vLLM's profiling run, bytes per GPU: the forward pass or the sampler. */
export function vllmActivationBytes(
  arch: ModelArchitecture,
  tp: number,
  batchedTokens: number,
  maxNumSeqs: number,
  profile: VllmProfile = vllmProfile(),
): number {
  const c = VLLM_FORWARD;
  const H = arch.hiddenSize;
  const moe = arch.moe;
  const hasDense = arch.layers.some((l) => l.mlp === "dense");
  const denseInter = hasDense ? arch.denseIntermediateSize / tp : 0;
  const moeInter = moe ? (moe.expertsPerToken * moe.expertIntermediateSize) / tp : 0;
  const qkv = ((arch.attention.numHeads + 2 * arch.attention.numKvHeads) * arch.attention.headDim) / tp;
  const perToken = (c.hiddenCopies * H + c.mlpCopies * Math.max(denseInter, moeInter) + qkv) * 2;
  const forward = batchedTokens * perToken;
  const sampler = Math.min(maxNumSeqs, batchedTokens) * Math.ceil(arch.vocabSize / 64) * 64 * 4 * profile.samplerCopies;
  return Math.max(forward, sampler);
}

/** Memory of one GPU (or the host, for CPU inference), GiB. */
export interface MemoryBreakdown {
  /** Memory of the device as the driver reports it. */
  totalGiB: number;
  /** What the engine may use (total × utilisation for vLLM). */
  budgetGiB: number;
  weightsGiB: number;
  activationGiB: number;
  /** Non-torch memory, CUDA context, compute buffers and graphs. */
  overheadGiB: number;
  /** KV cache: for vLLM what is left for it; for llama.cpp what the context needs. */
  kvCacheGiB: number;
  /** Budget left unused (negative when over). */
  freeGiB: number;
}

export interface EngineEstimate {
  engine: Engine;
  dtype: ConcreteDtype;
  tensorParallelSize: number;
  maxModelLen: number;
  perGpu: MemoryBreakdown;
  /**
   * Capacity, with one meaning for every engine: the tokens a KV cache can hold over the whole
   * deployment in the memory left (vLLM allocates it all; llama.cpp allocates `-c` and this adds
   * what the free memory would take). A requirement is `maxModelLen × concurrency`, never this.
   */
  kvCacheTokens: number;
  /** kvCacheTokens / maxModelLen: requests of the full context the cache can hold at once. */
  maxConcurrency: number;
  /** Bytes of KV cache per token per GPU. */
  kvBytesPerToken: number;
  fits: boolean;
  /** Why it does not fit, or null. */
  reason: string | null;
}

/** vLLM: what is left for the KV cache on each GPU and how many tokens it holds. */
export function estimateVllm(arch: ModelArchitecture, dtype: ConcreteDtype, gpuTotalGiB: number, o: VllmOptions = {}): EngineEstimate {
  const tp = o.tensorParallelSize ?? 1;
  const util = o.gpuMemoryUtilization ?? 0.9;
  const maxModelLen = o.maxModelLen ?? arch.maxPositionEmbeddings;
  const blockSize = o.blockSize ?? VLLM_FORWARD.blockSize;
  const profile = vllmProfile(o.vllmVersion);
  const defaults = vllmDefaults(profile, gpuTotalGiB, maxModelLen, o.isA100);
  const batched = Math.max(o.maxNumBatchedTokens ?? defaults.maxNumBatchedTokens, 1);
  const seqs = o.maxNumSeqs ?? defaults.maxNumSeqs;
  const w = weightMemory(arch, dtype, tp);
  const kv = kvLayout(arch, o.kvCacheDtype ?? "auto", dtype, tp);

  const budget = gpuTotalGiB * util;
  const weightsGiB = w.bytesPerGpu / GiB;
  const activationGiB = vllmActivationBytes(arch, tp, batched, seqs, profile) / GiB;
  const overheadGiB = profile.nonTorchGiB + (tp > 1 ? profile.nonTorchTpGiB : 0) + (o.cudaGraphGiB ?? 0);
  const kvGiB = budget - weightsGiB - activationGiB - overheadGiB;
  const blocks = kvGiB > 0 ? Math.floor((kvGiB * GiB) / (kv.bytesPerTokenPerGpu * blockSize)) : 0;
  const tokens = blocks * blockSize;

  let reason: string | null = null;
  if (kvGiB <= 0) {
    reason =
      `weights ${round(weightsGiB)} GiB + activations ${round(activationGiB)} GiB + overhead ${round(overheadGiB)} GiB ` +
      `exceed ${round(budget)} GiB (${round(gpuTotalGiB)} GiB × ${util}) per GPU: no memory left for the KV cache`;
  } else if (tokens < maxModelLen) {
    reason = `KV cache holds ${tokens} tokens, fewer than max_model_len ${maxModelLen}: vLLM refuses to start`;
  }
  return {
    engine: "vllm",
    dtype,
    tensorParallelSize: tp,
    maxModelLen,
    perGpu: {
      totalGiB: gpuTotalGiB,
      budgetGiB: budget,
      weightsGiB,
      activationGiB,
      overheadGiB,
      kvCacheGiB: Math.max(kvGiB, 0),
      freeGiB: kvGiB < 0 ? kvGiB : 0,
    },
    kvCacheTokens: tokens,
    maxConcurrency: tokens / maxModelLen,
    kvBytesPerToken: kv.bytesPerTokenPerGpu,
    fits: reason === null,
    reason,
  };
}

export interface LlamaCppOptions {
  /** Context tokens over all slots (`-c`). @default 4096 */
  contextTokens?: number;
  /** Parallel slots; llama.cpp divides `-c` between them. Only used for concurrency. @default 1 */
  parallel?: number;
  /** Fraction of layers offloaded to GPUs (`-ngl`), 1 = all. @default 1 */
  gpuLayersFraction?: number;
  /** GPUs the layers are split over. @default 1 */
  gpuCount?: number;
  /** KV cache type (`-ctk/-ctv`). @default "fp16" */
  kvCacheDtype?: KvCacheDtype;
  /** Micro-batch (`-ub`). @default 512 */
  ubatch?: number;
}

/** CUDA context, cuBLAS and runtime overhead of llama.cpp per GPU, GiB. */
const LLAMACPP_CONTEXT_GIB = 0.35;

/**
 * llama.cpp / Ollama on GPUs: everything must fit in the memory reported by the driver.
 * With `gpuCount` 0 (or engine "cpu") the same sums are checked against host RAM.
 */
export function estimateLlamaCpp(
  arch: ModelArchitecture,
  dtype: ConcreteDtype,
  deviceTotalGiB: number,
  o: LlamaCppOptions & { engine?: Engine } = {},
): EngineEstimate {
  const engine = o.engine ?? "llamacpp";
  const ctx = o.contextTokens ?? 4096;
  const gpus = Math.max(o.gpuCount ?? 1, 1);
  const frac = o.gpuLayersFraction ?? 1;
  const ubatch = o.ubatch ?? 512;
  const w = weightMemory(arch, dtype, 1);
  const kv = kvLayout(arch, o.kvCacheDtype ?? "fp16", dtype, 1);
  const slidingWindow = arch.layers.find((l) => l.attention === "sliding")?.slidingWindow ?? ctx;
  const kvBytes =
    (kv.fullLayers * ctx + kv.slidingLayers * Math.min(ctx, slidingWindow + ubatch)) * kv.bytesPerLayerToken;
  const computeBytes = ubatch * (Math.ceil(arch.vocabSize) * 4 + arch.hiddenSize * 4 * 8);
  const cpu = engine === "cpu";
  const weightsGiB = (w.bytesPerGpu * (cpu ? 1 : frac)) / gpus / GiB;
  const kvGiB = (kvBytes * (cpu ? 1 : frac)) / gpus / GiB;
  const overheadGiB = computeBytes / GiB + (cpu ? 1 : LLAMACPP_CONTEXT_GIB + (engine === "ollama" ? 0.25 : 0));
  const free = deviceTotalGiB - weightsGiB - kvGiB - overheadGiB;
  const fits = free >= 0;
  const where = cpu ? "host RAM" : `${gpus > 1 ? `each of ${gpus} GPUs` : "the GPU"}`;
  // Capacity, as vLLM reports it: the tokens a KV cache could hold in this memory (llama.cpp
  // allocates exactly -c; the free memory would take this many more). Only full-attention layers
  // grow with the context; a model without them holds what -c asks.
  const growthBytesPerToken = (kv.fullLayers * kv.bytesPerLayerToken * (cpu ? 1 : frac)) / gpus;
  const capacity = growthBytesPerToken > 0 ? Math.max(0, ctx + Math.floor((free * GiB) / growthBytesPerToken)) : ctx;
  return {
    engine,
    dtype,
    tensorParallelSize: cpu ? 1 : gpus,
    maxModelLen: ctx,
    perGpu: {
      totalGiB: deviceTotalGiB,
      budgetGiB: deviceTotalGiB,
      weightsGiB,
      activationGiB: 0,
      overheadGiB,
      kvCacheGiB: kvGiB,
      freeGiB: free,
    },
    kvCacheTokens: capacity,
    maxConcurrency: capacity / Math.max(1, ctx / (o.parallel ?? 1)),
    kvBytesPerToken: kv.bytesPerTokenPerGpu,
    fits,
    reason: fits
      ? null
      : `weights ${round(weightsGiB)} GiB + KV cache ${round(kvGiB)} GiB for ${ctx} tokens + buffers ${round(overheadGiB)} GiB ` +
        `exceed ${round(deviceTotalGiB)} GiB of ${where}`,
  };
}
