/**
 * "What fits and what will it cost": evaluates a model at a context and concurrency on every
 * catalog offer. Pure; the CLI's `fit` command prints what this returns.
 */
import { catalog, findLocation, gpuMemoryGiB, type Catalog, type Gpu, type Offer } from "./catalog";
import { energy, footprintDefaults, gridIntensity, hostPower } from "./footprint";
import type { ModelArchitecture } from "./sizing/architecture";
import { WEIGHT_FORMATS, type ConcreteDtype, type Dtype, type KvCacheDtype } from "./sizing/dtypes";
import type { Engine } from "./sizing/engines";
import {
  alternatives,
  DTYPE_PREFERENCE_GGUF,
  servingDtypeOf,
  dtypeSupportProblem,
  estimate,
  validTensorParallel,
  type Alternatives,
  type EstimateResult,
  type GpuCapabilities,
} from "./sizing/estimate";

export interface FitRequest {
  arch: ModelArchitecture;
  /** Context per request, tokens. */
  context: number;
  /** Concurrent requests at full context. @default 1 */
  concurrency?: number;
  /** A data type, or "best": the highest precision that fits and the GPU runs natively. */
  dtype: Dtype | "best";
  kvCacheDtype?: KvCacheDtype;
  gpuMemoryUtilization?: number;
  providers?: string[];
  /** Keep only offers with at least one EU location (and only those locations). */
  euOnly?: boolean;
  maxEurPerMonth?: number;
  /** Include offers no longer listed by the provider. @default false */
  includeUnlisted?: boolean;
}

export interface OfferFit {
  offer: Offer;
  gpu: Gpu | null;
  /** Locations kept after filters. */
  locations: string[];
  engine: Engine;
  dtype: ConcreteDtype;
  /** GPUs used (tensor parallel); may be fewer than the offer has. */
  gpusUsed: number;
  estimate: EstimateResult;
  fits: boolean;
  reason: string | null;
  alternatives: Alternatives | null;
  eurPerMonth: number;
  peakWatts: number;
  kwhPerMonth: number;
  co2eKgPerMonth: number;
}

/** vLLM needs compute capability 7.0 or newer. */
export function vllmSupports(gpu: Gpu): boolean {
  if (gpu.vendor === "amd") return true;
  return gpu.computeCapability !== null && Number(gpu.computeCapability) >= 7;
}

export function capabilities(gpu: Gpu): GpuCapabilities {
  return { memoryGiB: gpuMemoryGiB(gpu), dataTypes: gpu.dataTypes, computeCapability: gpu.computeCapability };
}

function largestValidTp(arch: ModelArchitecture, count: number): number {
  for (let n = count; n > 1; n--) if (validTensorParallel(arch, n)) return n;
  return 1;
}

/** Evaluates one offer. */
export function fitOffer(req: FitRequest, offer: Offer, c: Catalog = catalog()): OfferFit {
  const gpu = offer.gpu ? (c.gpus.find((g) => g.id === offer.gpu) ?? null) : null;
  const concurrency = req.concurrency ?? 1;
  const engine: Engine = gpu === null ? "cpu" : vllmSupports(gpu) ? "vllm" : "llamacpp";
  const gguf = engine !== "vllm";
  const gpusUsed = gpu === null ? 0 : engine === "vllm" ? largestValidTp(req.arch, offer.gpuCount) : offer.gpuCount;

  const base = {
    arch: req.arch,
    engine,
    gpu: gpu ? capabilities(gpu) : null,
    gpuCount: Math.max(gpusUsed, 1),
    maxModelLen: req.context,
    concurrency,
    kvCacheDtype: req.kvCacheDtype,
    gpuMemoryUtilization: req.gpuMemoryUtilization,
    hostRamGiB: offer.ramGiB ?? 0,
    isA100: gpu?.id.startsWith("a100") ?? false,
  };
  const own = servingDtypeOf(req.arch);
  let candidates: ConcreteDtype[];
  if (req.dtype === "best") {
    const hi: ConcreteDtype = gpu && !gpu.dataTypes.bf16 ? "fp16" : own;
    candidates = gguf ? DTYPE_PREFERENCE_GGUF : [...new Set<ConcreteDtype>([hi, "fp8", "awq"])];
  } else if (req.dtype === "auto") {
    candidates = [gguf ? "q8_0" : own];
  } else {
    candidates = [req.dtype];
  }
  const supported = candidates.filter((d) => dtypeSupportProblem(d, base.gpu) === null);

  // When nothing fits, report the most compact supported candidate: it comes closest.
  let chosen: ConcreteDtype = supported[supported.length - 1] ?? candidates[0]!;
  let est = estimate({ ...base, dtype: chosen });
  for (const d of supported) {
    const e = estimate({ ...base, dtype: d });
    if (e.fits) {
      chosen = d;
      est = e;
      break;
    }
  }
  let reason = est.reason;
  let fits = est.fits;
  const support = dtypeSupportProblem(chosen, base.gpu);
  if (support) {
    fits = false;
    reason = `${gpu?.name}: ${support}`;
  } else if (gguf && WEIGHT_FORMATS[chosen].family !== "gguf") {
    fits = false;
    reason = gpu
      ? `${gpu.name} (compute capability ${gpu.computeCapability}) is too old for vLLM; use a GGUF type with llama.cpp`
      : "CPU inference runs GGUF types with llama.cpp; use --dtype best or a GGUF type";
  } else if (!gguf && WEIGHT_FORMATS[chosen].family === "gguf") {
    fits = false;
    reason = `${chosen} is a GGUF type for llama.cpp/Ollama; vLLM on ${gpu?.name} serves Hugging Face formats (bf16, fp8, awq, gptq)`;
  }
  if (fits && gpusUsed < offer.gpuCount && engine === "vllm") {
    reason = `uses ${gpusUsed} of ${offer.gpuCount} GPUs: tensor parallelism must divide the ${req.arch.attention.numHeads} attention heads`;
  }

  const power = hostPower({ gpuCount: offer.gpuCount, gpuBoardWatts: gpu?.boardPowerWatts ?? 0, nonGpuWatts: offer.nonGpuWatts });
  const fpd = footprintDefaults();
  const pue = fpd.providerPue[offer.provider]?.pue ?? 1.54;
  const locations = offer.locations.filter((l) => !req.euOnly || findLocation(offer.provider, l, c)?.eu === true);
  const country = findLocation(offer.provider, locations[0] ?? offer.locations[0]!, c)?.country;
  const en = energy({ itWatts: power.peakWatts, pue, gridGramsPerKwh: gridIntensity(country), waterLitresPerKwh: 0, eurPerKwh: 0 });

  return {
    offer,
    gpu,
    locations,
    engine,
    dtype: chosen,
    gpusUsed,
    estimate: est,
    fits,
    reason,
    alternatives: fits ? null : alternatives({ ...base, dtype: chosen }),
    eurPerMonth: offer.eurPerMonth,
    peakWatts: power.peakWatts,
    kwhPerMonth: en.kwhPerMonth,
    co2eKgPerMonth: en.co2eKgPerMonth,
  };
}

/** Evaluates every offer that passes the filters: fitting offers first, each group cheapest first. */
export function fitAll(req: FitRequest, c: Catalog = catalog()): OfferFit[] {
  const offers = c.offers.filter((o) => {
    if (!req.includeUnlisted && o.status !== "listed") return false;
    if (req.providers && req.providers.length > 0 && !req.providers.includes(o.provider)) return false;
    if (req.maxEurPerMonth !== undefined && o.eurPerMonth > req.maxEurPerMonth) return false;
    if (req.euOnly && !o.locations.some((l) => findLocation(o.provider, l, c)?.eu === true)) return false;
    return true;
  });
  return offers
    .map((o) => fitOffer(req, o, c))
    .sort((a, b) => Number(b.fits) - Number(a.fits) || a.eurPerMonth - b.eurPerMonth || a.offer.id.localeCompare(b.offer.id));
}
