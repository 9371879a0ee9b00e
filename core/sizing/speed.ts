/**
 * Speed model: decode and prefill tokens per second of one model on one hardware configuration.
 * Pure: no I/O, no `@pulumi/*`.
 *
 * Physics (docs/sizing.md, "Speed"):
 * - Decode of one step reads the active weights once (MoE: only the routed experts in use) plus
 *   every running request's KV cache at its context, and computes 2 × active parameters FLOPs plus
 *   attention per token. Step time = max(bytes / (bandwidth × η_bw), FLOPs / (compute × η_c))
 *   plus a fixed per-step overhead (kernel launches, sampling, scheduling). One request alone is
 *   bandwidth-bound; many requests together become compute-bound.
 * - Prefill is compute-bound: 2 × active parameters FLOPs per prompt token plus causal attention
 *   (the output layer for the last token only), against the dense tensor TFLOPS of the data type
 *   the kernels compute in. A prompt or a batch reads every expert some token is routed to.
 * - Tensor parallel (vLLM) multiplies bandwidth and compute by the GPU count times a TP
 *   efficiency; llama.cpp's default layer split runs the GPUs one after another, so one request
 *   gains no speed from more GPUs.
 *
 * The efficiencies η per engine and device class were fitted in rounds, each evaluated on a test
 * set named before its fit and read after it (test/fixtures/speed-*.json, test/calibration/
 * speed-fit.ts); docs/sizing.md, "Speed", reports every round's errors.
 */
import type { ModelArchitecture } from "./architecture";
import type { Gpu } from "../catalog/schema";
import { WEIGHT_FORMATS, type ConcreteDtype, type KvCacheDtype } from "./dtypes";
import type { Engine } from "./engines";
import { kvLayout, weightMemory, type WeightMemory } from "./memory";

/** What to estimate the speed of. */
export interface SpeedRequest {
  arch: ModelArchitecture;
  engine: Engine;
  /** Weight format. */
  dtype: ConcreteDtype;
  /** KV cache data type. @default "auto" (16-bit) */
  kvCacheDtype?: KvCacheDtype;
  /** Catalog GPU, or null for CPU inference (or a GPU not in the catalog, with `memBandwidthGBs`). */
  gpu: Gpu | null;
  /** GPUs used (tensor parallel for vLLM, layer split for llama.cpp), 1 or more for GPU inference. */
  gpuCount: number;
  /** The host CPU, for CPU inference: physical cores and memory bandwidth, GB/s. */
  cpu?: { cores: number; memBandwidthGBs: number } | null;
  /** Override: memory bandwidth, GB/s, per GPU (or the CPU's), for hardware not in the catalog. */
  memBandwidthGBs?: number;
  /** Override: dense TFLOPS at the data type, per GPU (or the CPU's). */
  tflops?: number;
  /** Tokens in each request's KV cache during decode. */
  context: number;
  /** Prompt tokens, for prefill and time to first token. */
  promptTokens: number;
  /** Requests decoding at once (per replica). */
  concurrency: number;
}

/** Estimated speed. */
export interface Throughput {
  /** Decode tokens/s of one request alone. */
  decodeTokensPerSecond: number;
  /** Prefill tokens/s for `promptTokens`. */
  prefillTokensPerSecond: number;
  /** Time to first token for `promptTokens`, one request, ms. */
  timeToFirstTokenMs: number;
  /** Decode tokens/s of all `concurrency` requests together. */
  aggregateDecodeTokensPerSecond: number;
  /** aggregateDecodeTokensPerSecond / concurrency. */
  perRequestDecodeTokensPerSecond: number;
  concurrency: number;
  promptTokens: number;
  /** What limits decode at this concurrency. */
  bound: "memory-bandwidth" | "compute";
}

/**
 * Efficiency classes. GPUs are classed by memory, which is what decode efficiency follows:
 * "gpu-datacenter" = HBM parts (A100, H100, MI300X, ...); "gpu-consumer" = GDDR parts (GeForce,
 * RTX workstation cards, and the GDDR datacenter cards L4 and L40S). A GPU not in the catalog
 * (only `memBandwidthGBs` given) counts as "gpu-consumer".
 */
export type DeviceClass = "gpu-datacenter" | "gpu-consumer" | "cpu";

/**
 * Engine family and device class an efficiency applies to (Ollama runs llama.cpp). llama.cpp on
 * AMD GDDR GPUs (Radeon, RDNA) runs other kernels (HIP/ROCm) than on NVIDIA (CUDA) and has its own
 * entry; on AMD HBM GPUs (Instinct) the NVIDIA values predicted better.
 */
export type EfficiencyKey =
  | "vllm/gpu-datacenter"
  | "vllm/gpu-consumer"
  | "llamacpp/gpu-datacenter"
  | "llamacpp/gpu-consumer"
  | "llamacpp/amd-gpu-consumer"
  | "llamacpp/cpu";

/** Calibrated efficiencies of one engine on one device class. */
export interface SpeedEfficiency {
  /** Share of the peak memory bandwidth decode achieves. */
  bandwidth: number;
  /** Share of the dense tensor TFLOPS prefill and batched decode achieve. */
  compute: number;
  /** Fixed time per decode step (kernel launches, sampling, scheduling), ms. */
  stepOverheadMs: number;
  /**
   * Time per mixture-of-experts layer per step when one model copy spans several GPUs (vLLM tensor
   * parallel: each GPU runs a slice of every routed expert, and the results are all-reduced), ms.
   */
  parallelMoeLayerOverheadMs: number;
  /** Share of {@link compute} a mixture of experts' prefill reaches (many small expert matmuls). */
  moePrefillCompute: number;
  /**
   * Fixed time before the first token beyond the prefill itself (request handling, scheduling,
   * tokenising), ms. 0 everywhere: fitted with η_c on vLLM's prefill cases (round 5) it predicted
   * unseen sources worse than neither (test/calibration/speed-fit.ts --round5).
   */
  firstTokenOverheadMs: number;
}

/**
 * Efficiency per engine family and device class: grid searches minimising the mean absolute log
 * error (round 1: `npx tsx test/calibration/speed-report.ts --fit`; rounds 3-5:
 * `npx tsx test/calibration/speed-fit.ts`), each term kept only where it predicted unseen sources
 * better (docs/sizing.md, "Speed"). Which round set each value is noted per entry.
 */
export const SPEED_EFFICIENCY: { readonly [K in EfficiencyKey]: SpeedEfficiency } = {
  // Round 3 (test/calibration/speed-fit.ts): bandwidth, overhead and an overhead per MoE layer
  // for a model copy over several GPUs, fitted on the 35 in-scope vLLM single-request decode cases
  // of the calibration set and the round 1 and 2 test sets (vLLM 0.8.5 to 0.27; A100, H100, H200,
  // B200, MI300X, L4, RTX 4090, RTX PRO 6000; 1 to 8 GPUs), one set for HBM and GDDR GPUs. The
  // MoE term and a fitted compute were each kept only where they predicted unseen sources better:
  // compute stays unfitted (0.55; 7 prefill cases did not support a value). Round 6
  // (speed-fit.ts --round6): MoE prefill at 0.4 of η_c, fitted on 6 cases (Qwen3-30B-A3B,
  // Qwen3-235B, DeepSeek-R1, gpt-oss-20b; H100, H200, RTX PRO 6000); fitting η_c as well predicted
  // unseen campaigns worse. Round 8 (speed-fit.ts --round8): decode refitted on the 41 single-request
  // cases of vLLM 0.11 and later (19 campaigns; the project deploys 0.19.0 on CUDA and 0.11.2 on
  // ROCm), which predicted unseen campaigns better: η_bw 0.76, 1.0 ms per step, 0.1 ms per MoE
  // layer over several GPUs (round 3's 0.88, 3.75 and 0.19 were fitted mostly on vLLM 0.8-0.10).
  "vllm/gpu-datacenter": { bandwidth: 0.76, compute: 0.55, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0.1, moePrefillCompute: 0.4, firstTokenOverheadMs: 0 },
  "vllm/gpu-consumer": { bandwidth: 0.76, compute: 0.55, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0.1, moePrefillCompute: 0.4, firstTokenOverheadMs: 0 },
  // Round 1: fitted on 20 decode and 18 prefill cases (A100 PCIe/SXM, H100 PCIe; 1 and 4 GPUs).
  // Round 3: MoE prefill at 0.1 of η_c (5 cases: DeepSeek-V3 on 8 MI300X and 8 H100, gpt-oss-120b,
  // Qwen3-30B-A3B on an RTX PRO 6000). Round 4: a refit on the 7 cases from 2025 on predicted
  // unseen sources no better, so those values stayed. Round 6 (speed-fit.ts --round6):
  // η_c and the MoE share refitted on the 9 cases from 2025 on (4 campaigns: H100, A100, MI300X,
  // MI355X), each campaign weighted equally, which predicted unseen campaigns better.
  "llamacpp/gpu-datacenter": { bandwidth: 0.54, compute: 0.14, stepOverheadMs: 3.8, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.15, firstTokenOverheadMs: 0 },
  // Round 4 (speed-fit.ts --round4): refitted on the 47 cases of builds from 2025 on (22 sources:
  // RTX 3090, 4090, 5090, RTX 6000 Ada, L40S, RTX PRO 6000; CUDA and Vulkan; dense and MoE), which
  // predicted unseen sources better than round 1's fit on a May 2024 build (decode 0.186 against
  // 0.266, prefill 0.243 against 0.731 mean |log error|, leave-one-source-out).
  "llamacpp/gpu-consumer": { bandwidth: 0.83, compute: 0.48, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.35, firstTokenOverheadMs: 0 },
  // Round 3: fitted on 8 dense-model cases (Radeon PRO W7900, ROCm, builds of 2024; one author;
  // no later data, so round 4 left it), MoE prefill share from round 3.
  // MI300X keeps the NVIDIA HBM values: fitting its 4 cases predicted unseen sources worse.
  "llamacpp/amd-gpu-consumer": { bandwidth: 0.57, compute: 0.63, stepOverheadMs: 3.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.1, firstTokenOverheadMs: 0 },
  // Bandwidth fitted on 3 decode cases (EPYC 9554); compute and overhead not fitted (no CPU prefill training data).
  "llamacpp/cpu": { bandwidth: 0.6, compute: 0.5, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 1, firstTokenOverheadMs: 0 },
};

/**
 * Tensor-parallel efficiency per doubling of the GPU count: all-reduce after every layer costs
 * more over PCIe than over NVLink/Infinity Fabric. A guess (unconfirmed): the calibration data
 * has no vLLM tensor-parallel case, so these are not fitted.
 */
export const TP_EFFICIENCY_PER_DOUBLING = { linked: 0.9, pcie: 0.8 } as const;

/**
 * Dense compute of one CPU core for llama.cpp's quantised dot products, GFLOPS: about 3 GHz × 32
 * FLOPs/cycle (two 256-bit FMA units). An estimate (unconfirmed), and the CPU compute efficiency
 * is not calibrated (no CPU prefill training data): CPU prefill figures are rough. Used when no
 * `tflops` override is given.
 */
export const CPU_CORE_GFLOPS = 96;

/** The efficiency class of a request. */
export function deviceClass(req: Pick<SpeedRequest, "engine" | "gpu">): DeviceClass {
  if (req.engine === "cpu") return "cpu";
  if (req.gpu === null) return "gpu-consumer";
  return req.gpu.memoryType.toUpperCase().startsWith("HBM") ? "gpu-datacenter" : "gpu-consumer";
}

/** The efficiency key of a request: engine family and device class. */
export function efficiencyKey(req: Pick<SpeedRequest, "engine" | "gpu">): EfficiencyKey {
  const c = deviceClass(req);
  if (c === "cpu") return "llamacpp/cpu";
  if (req.engine === "vllm") return `vllm/${c}`;
  return req.gpu?.vendor === "amd" && c === "gpu-consumer" ? "llamacpp/amd-gpu-consumer" : `llamacpp/${c}`;
}

/** The calibrated efficiency for a request. */
export function speedEfficiency(req: Pick<SpeedRequest, "engine" | "gpu">): SpeedEfficiency {
  return SPEED_EFFICIENCY[efficiencyKey(req)];
}

/** Which dense tensor rate vLLM computes a weight format at (fp32 accumulation). */
export function computeDtype(dtype: ConcreteDtype, gpu: Gpu | null): "fp16" | "bf16" | "fp8" | "int8" | "fp4" | "fp32" {
  switch (dtype) {
    case "fp32":
      return "fp32";
    case "bf16":
      return "bf16";
    case "fp8":
      return gpu?.dataTypes.fp8 === false ? "fp16" : "fp8";
    case "int8":
      return "int8";
    case "nvfp4":
      return gpu?.dataTypes.fp4 === false ? "fp16" : "fp4";
    default:
      // Weight-only int4 (AWQ/GPTQ), MXFP4 experts and GGUF types dequantise into fp16 matmuls.
      return "fp16";
  }
}

/**
 * Dense TFLOPS a GPU offers an engine for a weight format. vLLM: the catalog rate of
 * {@link computeDtype} (fp32 accumulation; fp32 weights at half the 16-bit rate). llama.cpp and
 * Ollama: the 16-bit tensor rate with fp16 accumulation, for every weight format (cuBLAS fp16 GEMMs
 * for 16-bit weights, int8 MMQ kernels for quantised ones; calibration shows the two within about
 * 30 % of each other). That rate is half the int8 rate on every NVIDIA card since Turing, and on
 * GeForce cards twice the fp32-accumulate rate the catalog lists; where the catalog has no int8
 * figure the listed 16-bit rate is used.
 */
export function gpuTflops(gpu: Gpu, dtype: ConcreteDtype, engine: Engine): number {
  const t = gpu.tensorTflops;
  if (engine === "llamacpp" || engine === "ollama") {
    return t.int8 !== undefined ? t.int8 / 2 : t.fp16;
  }
  const dt = computeDtype(dtype, gpu);
  if (dt === "fp32") return t.fp16 / 2;
  return t[dt] ?? t.fp16;
}

/**
 * Bytes of weights one forward pass over `tokens` tokens reads: every dense weight, and of a
 * mixture of experts only the experts some token is routed to. With top-k routing over E experts,
 * a given expert is left out by all `tokens` tokens with probability (1 − k/E)^tokens (exactly
 * 1 − k/E for one token; independent routing assumed for more), so a long prompt, or a batch of
 * many requests, reads nearly all experts. `w`: weightMemory at TP 1, when already at hand.
 */
export function activeWeightBytes(arch: ModelArchitecture, dtype: ConcreteDtype, w: WeightMemory = weightMemory(arch, dtype, 1), tokens = 1): number {
  const f = WEIGHT_FORMATS[dtype];
  const p = w.parameters;
  let bytes = w.bytesPerGpu;
  if (arch.moe && p.experts > 0) {
    const expertBytes = f.quantizedParts === "none" ? f.baseBytes : f.quantizedBytes;
    const unused = (1 - arch.moe.expertsPerToken / arch.moe.numExperts) ** Math.max(1, tokens);
    bytes -= p.experts * expertBytes * unused;
  }
  // Decode reads one row of the input embedding, not the table (when lm_head is a separate matrix).
  if (!arch.tieWordEmbeddings) bytes -= arch.vocabSize * arch.hiddenSize * f.embeddingBytes;
  // A vision tower is not run while decoding text.
  bytes -= p.vision * f.baseBytes;
  return Math.max(bytes, 0);
}

/** KV-cache bytes one request's decode step reads at `context` tokens (sliding layers: their window). */
export function kvReadBytes(arch: ModelArchitecture, kv: KvCacheDtype, dtype: ConcreteDtype, context: number): number {
  const l = kvLayout(arch, kv, dtype, 1);
  const window = arch.layers.find((x) => x.attention === "sliding")?.slidingWindow ?? context;
  return l.bytesPerLayerToken * (l.fullLayers * context + l.slidingLayers * Math.min(context, window));
}

/** Attention FLOPs of one token attending over `context` tokens (QKᵀ and AV). */
function attentionFlops(arch: ModelArchitecture, context: number): number {
  const a = arch.attention;
  const qkDim = a.headDim;
  const vDim = a.mla ? a.mla.vHeadDim : a.headDim;
  let flops = 0;
  for (const l of arch.layers) {
    // Layers without attention (Mamba / DeltaNet mixers of hybrid models) attend over nothing.
    if (l.attention !== "full" && l.attention !== "sliding") continue;
    const span = l.attention === "sliding" && l.slidingWindow !== null ? Math.min(context, l.slidingWindow) : context;
    flops += 2 * a.numHeads * span * (qkDim + vDim);
  }
  return flops;
}

/** Matmul FLOPs per token for the active parameters (embedding lookup excluded). `w`: weightMemory at TP 1, when already at hand. */
export function linearFlopsPerToken(arch: ModelArchitecture, dtype: ConcreteDtype, w: WeightMemory = weightMemory(arch, dtype, 1)): number {
  const p = w.parameters;
  const lookup = arch.tieWordEmbeddings ? 0 : arch.vocabSize * arch.hiddenSize;
  return 2 * Math.max(p.active - p.vision - lookup, 0);
}

/** Peak memory bandwidth (GB/s) and dense compute (TFLOPS) of one device of the request. */
export function devicePeaks(req: SpeedRequest): { bandwidthGBs: number; tflops: number } {
  const where = req.engine === "cpu" ? "CPU" : "GPU";
  let bw = req.memBandwidthGBs;
  let tf = req.tflops;
  if (req.engine === "cpu") {
    bw ??= req.cpu?.memBandwidthGBs;
    if (tf === undefined && req.cpu) tf = (req.cpu.cores * CPU_CORE_GFLOPS) / 1000;
  } else if (req.gpu) {
    bw ??= req.gpu.bandwidthGBps;
    tf ??= gpuTflops(req.gpu, req.dtype, req.engine);
  }
  if (bw === undefined || !(bw > 0)) {
    throw new Error(`speed: memory bandwidth of the ${where} is unknown; give a catalog ${where === "CPU" ? "CPU (cpu.memBandwidthGBs)" : "GPU"} or memBandwidthGBs > 0`);
  }
  if (tf === undefined || !(tf > 0)) {
    throw new Error(`speed: dense TFLOPS of the ${where} are unknown for ${req.dtype}; give a catalog ${where === "CPU" ? "CPU (cpu.cores)" : "GPU with tensorTflops"} or tflops > 0`);
  }
  return { bandwidthGBs: bw, tflops: tf };
}

/** How much faster `gpuCount` GPUs run one model copy than one GPU (1 for CPU and llama.cpp). */
export function parallelScale(req: Pick<SpeedRequest, "engine" | "gpu" | "gpuCount">): number {
  const n = Math.max(1, req.gpuCount);
  if (req.engine !== "vllm" || n === 1) return 1;
  const perDoubling = req.gpu?.interconnect ? TP_EFFICIENCY_PER_DOUBLING.linked : TP_EFFICIENCY_PER_DOUBLING.pcie;
  return n * perDoubling ** Math.log2(n);
}

const atLeast = (name: string, v: number, min: number): void => {
  if (!Number.isFinite(v) || v < min) throw new Error(`speed: ${name} must be a number ≥ ${min}; got ${v}`);
};

/** Decode and prefill speed of one model copy (one replica). Throws when the hardware is unknown. */
export function throughput(req: SpeedRequest): Throughput {
  return throughputWith(req, speedEfficiency(req));
}

/** {@link throughput} with explicit efficiencies (for calibration). */
export function throughputWith(req: SpeedRequest, eff: SpeedEfficiency): Throughput {
  atLeast("concurrency", req.concurrency, 1);
  atLeast("promptTokens", req.promptTokens, 1);
  atLeast("context", req.context, 0);
  if (req.engine !== "cpu") atLeast("gpuCount", req.gpuCount, 1);
  const peaks = devicePeaks(req);
  const scale = parallelScale(req);
  const bandwidth = peaks.bandwidthGBs * 1e9 * eff.bandwidth * scale; // bytes/s
  const compute = peaks.tflops * 1e12 * eff.compute * scale; // FLOP/s
  const copyGpus = req.engine === "cpu" ? 1 : Math.max(1, req.gpuCount);
  const moeLayers = copyGpus > 1 && eff.parallelMoeLayerOverheadMs > 0 ? req.arch.layers.filter((l) => l.mlp === "moe").length : 0;
  const overhead = (eff.stepOverheadMs + moeLayers * eff.parallelMoeLayerOverheadMs) / 1000;
  const kv = req.kvCacheDtype ?? "auto";

  const w = weightMemory(req.arch, req.dtype, 1); // counted once: the parameters are the slow part
  const weights = (tokens: number): number => activeWeightBytes(req.arch, req.dtype, w, tokens);
  const kvBytes = kvReadBytes(req.arch, kv, req.dtype, req.context);
  const linear = linearFlopsPerToken(req.arch, req.dtype, w);
  const decodeFlops = linear + attentionFlops(req.arch, req.context);

  const step = (c: number): { seconds: number; bound: Throughput["bound"] } => {
    const memory = (weights(c) + c * kvBytes) / bandwidth;
    const math = (c * decodeFlops) / compute;
    return { seconds: Math.max(memory, math) + overhead, bound: math > memory ? "compute" : "memory-bandwidth" };
  };
  const one = step(1);
  const c = req.concurrency;
  const many = step(c);

  // Prefill of P tokens: causal attention sees on average (P + 1) / 2 tokens; the output layer
  // (vocabulary × hidden) runs for the last token only, as both engines compute logits only where
  // they sample; at least one read of the weights the prompt's tokens are routed to.
  const P = req.promptTokens;
  const logits = Math.min(2 * req.arch.vocabSize * req.arch.hiddenSize, linear);
  const prefillFlops = P * (linear - logits + attentionFlops(req.arch, (P + 1) / 2)) + logits;
  const prefillCompute = req.arch.moe ? compute * eff.moePrefillCompute : compute;
  const prefillSeconds = Math.max(prefillFlops / prefillCompute, (weights(P) + P * kvReadBytes(req.arch, kv, req.dtype, 1)) / bandwidth) + overhead + eff.firstTokenOverheadMs / 1000;
  const aggregate = c / many.seconds;
  return {
    decodeTokensPerSecond: 1 / one.seconds,
    prefillTokensPerSecond: P / prefillSeconds,
    timeToFirstTokenMs: prefillSeconds * 1000,
    aggregateDecodeTokensPerSecond: aggregate,
    perRequestDecodeTokensPerSecond: aggregate / c,
    concurrency: c,
    promptTokens: P,
    bound: many.bound,
  };
}
