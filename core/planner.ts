/**
 * "What fits, how fast, and what will it cost": evaluates a model at a context and a total
 * concurrency on every catalog offer, as setups of N replicas × one offer. Pure; the CLI's `fit`
 * command prints what this returns.
 *
 * A setup splits the total concurrency over its replicas (each serves ceil(C / N) requests, as a
 * stack deployment does: core/config/replicas.ts); price, watts, kWh and CO2e multiply by N. Per
 * offer the planner keeps the fewest replicas that hold the per-replica share in memory and reach
 * the asked per-user speed: the price grows linearly with N, so the first N that works is that
 * offer's cheapest. N runs up to 8 (`maxReplicas`) and never beyond the concurrency (a replica per
 * user at most): past 8 servers a bigger GPU or a smaller model is the better answer, and rows of
 * 12 × a small card would drown the table.
 */
import { catalog, findLocation, gpuMemoryGiB, offerCpu, type Catalog, type Gpu, type Offer } from "./catalog";
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
  type EstimateInput,
  type EstimateResult,
  type GpuCapabilities,
} from "./sizing/estimate";
import { throughput, type Throughput } from "./sizing/speed";
import { filterOffers, offerFootprint, type OfferFilter } from "./offers";

export { filterOffers, offerFootprint, offerVramGiB, type OfferFilter } from "./offers";

/** Most replicas a setup may have. @see the module comment */
export const DEFAULT_MAX_REPLICAS = 8;

export const SORT_KEYS = ["price", "speed", "watts", "co2e"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface FitRequest extends OfferFilter {
  arch: ModelArchitecture;
  /** Context per request, tokens. */
  context: number;
  /** Concurrent requests at full context, in total over all replicas. @default 1 */
  concurrency?: number;
  /** A data type, or "best": the highest precision that fits and the GPU runs natively. */
  dtype: Dtype | "best";
  /**
   * The checkpoint's own format when the model was named by a quantised variant's repo
   * (`Qwen/Qwen3-32B-AWQ` → awq): vLLM then serves that checkpoint, not the 16-bit base.
   */
  checkpointDtype?: ConcreteDtype;
  kvCacheDtype?: KvCacheDtype;
  gpuMemoryUtilization?: number;
  /** Only setups at or below this monthly price (all replicas). */
  maxEurPerMonth?: number;
  /** Keep as meeting only setups whose decode speed per user reaches this, tokens/s. */
  minTokensPerSecond?: number;
  /** Prompt tokens, for time to first token. @default context */
  promptTokens?: number;
  /** Most replicas per setup. @default 8 */
  maxReplicas?: number;
  /** Order of the setups that meet the need (and, after them, of those that do not). @default "price" */
  sort?: SortKey;
}

/** One setup: `replicas` × `offer`. Money, power and footprint are totals over the replicas. */
export interface OfferFit {
  offer: Offer;
  gpu: Gpu | null;
  replicas: number;
  /** Requests each replica serves: ceil(concurrency / replicas). */
  concurrencyPerReplica: number;
  /** Locations kept after filters. */
  locations: string[];
  engine: Engine;
  dtype: ConcreteDtype;
  /** GPUs used per replica (tensor parallel); may be fewer than the offer has. */
  gpusUsed: number;
  /** Memory estimate of one replica at its share of the concurrency. */
  estimate: EstimateResult;
  /** The per-replica share fits in memory (and the GPU runs the data type). */
  fits: boolean;
  /** Speed of one replica at its share; null when the hardware's bandwidth or TFLOPS are unknown. */
  speed: Throughput | null;
  /** Decode tokens/s each user sees; null when the speed is unknown. */
  tokensPerSecondPerUser: number | null;
  /** Decode tokens/s of all replicas together serving the total concurrency, spread evenly; null when unknown. */
  aggregateTokensPerSecond: number | null;
  /** Fits, reaches the asked speed, and is within the price limit: what the ranking puts first. */
  meets: boolean;
  /** Why it does not meet the need: memory (or data type), speed, or price; null when it meets. */
  shortfall: "memory" | "speed" | "price" | null;
  reason: string | null;
  alternatives: Alternatives | null;
  eurPerMonth: number;
  setupEur: number;
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

/** GPU counts the catalog sells this GPU in (any offer of the provider): what "would fit: N GPUs" may suggest. */
function gpuCountsSold(offer: Offer, c: Catalog): number[] {
  return [...new Set(c.offers.filter((o) => o.gpu === offer.gpu && o.provider === offer.provider).map((o) => o.gpuCount))].sort((a, b) => a - b);
}

/** What one offer runs, independent of the replica count. */
interface OfferBasis {
  offer: Offer;
  gpu: Gpu | null;
  engine: Engine;
  gpusUsed: number;
  candidates: ConcreteDtype[];
  locations: string[];
  footprint: { peakWatts: number; kwhPerMonth: number; co2eKgPerMonth: number };
}

function basis(req: FitRequest, offer: Offer, c: Catalog): OfferBasis {
  const gpu = offer.gpu ? (c.gpus.find((g) => g.id === offer.gpu) ?? null) : null;
  const engine: Engine = gpu === null ? "cpu" : vllmSupports(gpu) ? "vllm" : "llamacpp";
  const gguf = engine !== "vllm";
  const gpusUsed = gpu === null ? 0 : engine === "vllm" ? largestValidTp(req.arch, offer.gpuCount) : offer.gpuCount;
  // A quantised checkpoint is what vLLM loads: size it, not the 16-bit base it was made from.
  const own = req.checkpointDtype ?? servingDtypeOf(req.arch);
  let candidates: ConcreteDtype[];
  if (req.dtype === "best") {
    const hi: ConcreteDtype = gpu && !gpu.dataTypes.bf16 && own === "bf16" ? "fp16" : own;
    candidates = gguf ? DTYPE_PREFERENCE_GGUF : req.checkpointDtype ? [req.checkpointDtype] : [...new Set<ConcreteDtype>([hi, "fp8", "awq"])];
  } else if (req.dtype === "auto") {
    candidates = [gguf ? "q8_0" : own];
  } else {
    candidates = [req.dtype];
  }
  const locations = offer.locations.filter((l) => !req.euOnly || findLocation(offer.provider, l, c)?.eu === true);
  return { offer, gpu, engine, gpusUsed, candidates, locations, footprint: offerFootprint(offer, locations, c) };
}

/**
 * Estimates and speeds already computed for a request: offers with the same GPU and count (and
 * the own / serverless rows, which reuse the rental GPUs) ask the same questions. Keyed by the
 * request object, so a new request starts empty and nothing outlives it; a request must not be
 * changed after it was planned (make a new one).
 */
const memo = new WeakMap<FitRequest, Map<string, unknown>>();
function memoised<T>(req: FitRequest, key: string, f: () => T): T {
  let m = memo.get(req);
  if (!m) memo.set(req, (m = new Map()));
  if (m.has(key)) return m.get(key) as T;
  const v = f();
  m.set(key, v);
  return v;
}
const hardwareKey = (b: OfferBasis): string => `${b.engine}|${b.gpu ? `${b.gpu.id}:${b.gpu.usableMemoryMiB}` : `cpu:${b.offer.id}`}|${b.gpusUsed}|${b.gpu ? "" : (b.offer.ramGiB ?? 0)}`;

/** One replica at `share` concurrent requests: data type, memory verdict and reason. */
function sizeReplica(req: FitRequest, b: OfferBasis, share: number): { input: EstimateInput; est: EstimateResult; fits: boolean; reason: string | null } {
  const { gpu, engine, offer } = b;
  const gguf = engine !== "vllm";
  const base: Omit<EstimateInput, "dtype"> = {
    arch: req.arch,
    engine,
    gpu: gpu ? capabilities(gpu) : null,
    gpuCount: Math.max(b.gpusUsed, 1),
    maxModelLen: req.context,
    concurrency: share,
    kvCacheDtype: req.kvCacheDtype,
    gpuMemoryUtilization: req.gpuMemoryUtilization,
    hostRamGiB: offer.ramGiB ?? 0,
    isA100: gpu?.id.startsWith("a100") ?? false,
  };
  const supported = b.candidates.filter((d) => dtypeSupportProblem(d, base.gpu) === null);
  // When nothing fits, report the most compact supported candidate: it comes closest.
  let chosen: ConcreteDtype = supported[supported.length - 1] ?? b.candidates[0]!;
  let est: EstimateResult | null = null;
  const est1 = (d: ConcreteDtype): EstimateResult => memoised(req, `est|${hardwareKey(b)}|${share}|${d}`, () => estimate({ ...base, dtype: d }));
  for (const d of supported) {
    const e = est1(d);
    if (e.fits) {
      chosen = d;
      est = e;
      break;
    }
  }
  est ??= est1(chosen);
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
  if (fits && b.gpusUsed < offer.gpuCount && engine === "vllm") {
    reason = `uses ${b.gpusUsed} of ${offer.gpuCount} GPUs: tensor parallelism must divide the ${req.arch.attention.numHeads} attention heads`;
  }
  return { input: { ...base, dtype: chosen }, est, fits, reason };
}

/** Host CPU cores and memory bandwidth of a CPU offer, for the speed model; null when unknown. */
export type CpuLookup = (offer: Offer) => { cores: number; memBandwidthGBs: number } | null;

function speedOf(req: FitRequest, b: OfferBasis, dtype: ConcreteDtype, share: number, cpuOf: CpuLookup): Throughput | null {
  // Only the catalog's CPU data is memoised: another lookup may answer differently for the same offer.
  if (cpuOf !== catalogCpu) return speedUncached(req, b, dtype, share, cpuOf);
  return memoised(req, `speed|${hardwareKey(b)}|${share}|${dtype}`, () => speedUncached(req, b, dtype, share, cpuOf));
}

function speedUncached(req: FitRequest, b: OfferBasis, dtype: ConcreteDtype, share: number, cpuOf: CpuLookup): Throughput | null {
  try {
    return throughput({
      arch: req.arch,
      engine: b.engine,
      dtype,
      kvCacheDtype: req.kvCacheDtype,
      gpu: b.gpu,
      gpuCount: Math.max(b.gpusUsed, 1),
      cpu: b.gpu === null ? cpuOf(b.offer) : null,
      context: req.context,
      promptTokens: req.promptTokens ?? req.context,
      concurrency: share,
    });
  } catch {
    return null; // bandwidth or TFLOPS unknown: the row says "speed unknown"
  }
}

function setup(req: FitRequest, b: OfferBasis, replicas: number, cpuOf: CpuLookup): OfferFit & { input: EstimateInput } {
  const concurrency = req.concurrency ?? 1;
  const share = Math.ceil(concurrency / replicas);
  const r = sizeReplica(req, b, share);
  const speed = speedOf(req, b, r.input.dtype, share, cpuOf);
  // The slowest user is on a replica with the full share; the requests are spread as evenly as
  // possible: `extra` replicas serve ceil(C / N), the others floor(C / N).
  const perUser = speed?.perRequestDecodeTokensPerSecond ?? null;
  const floor = Math.floor(concurrency / replicas);
  const extra = concurrency - floor * replicas;
  let aggregate: number | null = null;
  if (speed) {
    const rest = floor === share ? speed : floor > 0 ? speedOf(req, b, r.input.dtype, floor, cpuOf) : null;
    const full = floor === share ? replicas : extra;
    aggregate = full * speed.aggregateDecodeTokensPerSecond + (floor === share ? 0 : (replicas - extra) * (rest?.aggregateDecodeTokensPerSecond ?? 0));
  }
  const eurPerMonth = b.offer.eurPerMonth * replicas;
  let reason = r.reason;
  let meets = r.fits;
  let shortfall: OfferFit["shortfall"] = r.fits ? null : "memory";
  if (meets && req.minTokensPerSecond !== undefined) {
    if (perUser === null) {
      meets = false;
      shortfall = "speed";
      reason = `speed unknown (${b.gpu ? `${b.gpu.name} has no bandwidth/TFLOPS in the catalog` : "the CPU's cores and memory bandwidth are not in the catalog"}); cannot tell whether it reaches ${req.minTokensPerSecond} tokens/s per user`;
    } else if (perUser < req.minTokensPerSecond) {
      meets = false;
      shortfall = "speed";
      reason = `${perUser.toFixed(1)} tokens/s per user with ${share} per replica, below the ${req.minTokensPerSecond} asked${replicas > 1 ? ` (${replicas} replicas)` : ""}`;
    }
  }
  if (meets && req.maxEurPerMonth !== undefined && eurPerMonth > req.maxEurPerMonth) {
    meets = false;
    shortfall = "price";
    reason = `€${eurPerMonth.toFixed(0)}/month for ${replicas} replica${replicas === 1 ? "" : "s"}, above the €${req.maxEurPerMonth} limit`;
  }
  return {
    input: r.input,
    offer: b.offer,
    gpu: b.gpu,
    replicas,
    concurrencyPerReplica: share,
    locations: b.locations,
    engine: b.engine,
    dtype: r.input.dtype,
    gpusUsed: b.gpusUsed,
    estimate: r.est,
    fits: r.fits,
    speed,
    tokensPerSecondPerUser: perUser,
    aggregateTokensPerSecond: aggregate,
    meets,
    shortfall,
    reason,
    alternatives: null,
    eurPerMonth,
    setupEur: b.offer.setupEur * replicas,
    peakWatts: b.footprint.peakWatts * replicas,
    kwhPerMonth: b.footprint.kwhPerMonth * replicas,
    co2eKgPerMonth: b.footprint.co2eKgPerMonth * replicas,
  };
}

/** The catalog's CPU data (core/catalog/data/cpus.json); null when the offer has no entry. */
export const catalogCpu: CpuLookup = (offer) => {
  const x = offerCpu(offer.id);
  return x ? { cores: x.cores, memBandwidthGBs: x.memBandwidthGBs } : null;
};
const defaultCpu: CpuLookup = catalogCpu;

/** Evaluates `replicas` × one offer (default one replica). */
export function fitOffer(req: FitRequest, offer: Offer, c: Catalog = catalog(), replicas = 1, cpuOf: CpuLookup = defaultCpu): OfferFit {
  const b = basis(req, offer, c);
  return finish(setup(req, b, replicas, cpuOf), offer, c);
}

/** Drops the internal estimate input, adding "would fit" alternatives when the replica does not fit. */
function finish(s: OfferFit & { input: EstimateInput }, offer: Offer, c: Catalog, withAlternatives = true): OfferFit {
  const { input, ...row } = s;
  if (row.fits || !withAlternatives) return row;
  const gpuCounts = offer.gpu ? gpuCountsSold(offer, c) : [1];
  return { ...row, alternatives: alternatives(input, { gpuCounts }) };
}

/**
 * The cheapest setup of one offer: the fewest replicas (1 … min(maxReplicas, concurrency)) whose
 * per-replica share fits and reaches the asked speed. When none does, the fastest setup that fits
 * (the most replicas), or the one-replica setup when not even the smallest share fits.
 */
export function bestSetup(req: FitRequest, offer: Offer, c: Catalog = catalog(), cpuOf: CpuLookup = defaultCpu, withAlternatives = true): OfferFit {
  const done = (s: OfferFit & { input: EstimateInput }): OfferFit => finish(s, offer, c, withAlternatives);
  const b = basis(req, offer, c);
  const bound = Math.max(1, Math.min(req.maxReplicas ?? DEFAULT_MAX_REPLICAS, req.concurrency ?? 1));
  const tried = new Map<number, OfferFit & { input: EstimateInput }>();
  const at = (n: number): OfferFit & { input: EstimateInput } => {
    let s = tried.get(n);
    if (!s) tried.set(n, (s = setup(req, b, n, cpuOf)));
    return s;
  };
  const one = at(1);
  // Meets, or costs too much already with one replica (more only cost more).
  if (one.meets || one.shortfall === "price" || bound === 1) return done(one);
  const most = at(bound);
  // Fitting and speed only improve as the share shrinks: if the smallest share fails, all do.
  if (!most.fits) return done(one);
  if (most.shortfall === "speed") return done(most); // the fastest setup is still too slow
  // Fits and reaches the speed with `bound` replicas, not with 1: the fewest that do, by bisection
  // (both only improve with more replicas). Over the price limit there, it is over with more too.
  const good = (s: OfferFit): boolean => s.fits && s.shortfall !== "speed";
  let lo = 1;
  let hi = bound;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (good(at(mid))) hi = mid;
    else lo = mid;
  }
  return done(at(hi));
}

/** Compares two setups by a sort key; ties go to the cheaper, then by offer id. */
export function compareSetups(sort: SortKey): (a: OfferFit, b: OfferFit) => number {
  const key = (x: OfferFit): number => {
    switch (sort) {
      case "speed":
        return -(x.tokensPerSecondPerUser ?? -1);
      case "watts":
        return x.peakWatts;
      case "co2e":
        return x.co2eKgPerMonth;
      default:
        return x.eurPerMonth;
    }
  };
  return (a, b) => Number(b.meets) - Number(a.meets) || key(a) - key(b) || a.eurPerMonth - b.eurPerMonth || a.offer.id.localeCompare(b.offer.id);
}

/**
 * The best setup of every offer that passes the filters: setups that fit (and reach the speed)
 * first, each group ordered by `sort` (price by default). With `maxEurPerMonth` only setups at or
 * below it are listed: an offer whose cheapest setup that meets the need costs more is left out.
 */
export function fitAll(req: FitRequest, c: Catalog = catalog(), cpuOf: CpuLookup = defaultCpu): OfferFit[] {
  const max = req.maxEurPerMonth ?? Infinity;
  return filterOffers(req, c)
    .filter((o) => o.eurPerMonth <= max)
    .map((o) => bestSetup(req, o, c, cpuOf))
    .filter((r) => r.eurPerMonth <= max)
    .sort(compareSetups(req.sort ?? "price"));
}
