/** Sizing of a configured deployment against the catalog: shared by the program, CLI and policies. */
import { findGpu, gpuMemoryGiB, matchModel } from "../catalog";
import { quotedId } from "../checks/redact";
import type { DeploymentConfig } from "../config/schema";
import { parseHfConfig } from "./architecture";
import { normalizeDtype, WEIGHT_FORMATS, type ConcreteDtype } from "./dtypes";
import { alternatives, dtypeSupportProblem, estimate, servingDtypeOf, type Alternatives, type EstimateResult } from "./estimate";

export interface DeploymentSizing {
  name: string;
  model: string;
  /** Catalog GPU id, or null for CPU inference. */
  gpu: string | null;
  gpuCount: number;
  engine: DeploymentConfig["engine"];
  dtype: ConcreteDtype;
  /** Hosts running a replica each. */
  hosts: string[];
  result: EstimateResult;
  fits: boolean;
  reason: string | null;
  /** What would fit, when it does not. */
  alternatives: Alternatives | null;
}

/**
 * Sizes one deployment on `gpuCount` GPUs of catalog type `gpuId` (or host RAM when null). Unknown
 * model or GPU ids throw with the config path.
 */
export function sizeOnGpu(
  d: DeploymentConfig,
  path: string,
  gpuId: string | null,
  gpuCount: number,
  hostRamGiB: number | null,
  hosts: string[],
): DeploymentSizing {
  // Stacks repeat the same deployment shape on many hosts: size each shape once.
  const key = JSON.stringify([d.model, d.engine, d.dtype, d.kvCacheDtype, d.context, d.concurrency, d.gpuMemoryUtilization, gpuId, gpuCount, hostRamGiB]);
  let sized = memo.get(key);
  if (!sized) {
    sized = sizeUncached(d, path, gpuId, gpuCount, hostRamGiB);
    if (memo.size > 10_000) memo.clear();
    memo.set(key, sized);
  }
  return { ...sized, name: d.name, hosts };
}

/** Sizing results by input shape; results are never mutated, so sharing them is safe. */
const memo = new Map<string, DeploymentSizing>();

function sizeUncached(d: DeploymentConfig, path: string, gpuId: string | null, gpuCount: number, hostRamGiB: number | null): DeploymentSizing {
  const match = matchModel(d.model);
  const model = match?.model;
  if (!model) throw new Error(`${path}.model: ${quotedId(d.model)} is not in the model catalog; run \`gpu-hosting catalog models\``);
  const gpu = gpuId === null ? undefined : findGpu(gpuId);
  if (gpuId !== null && !gpu) throw new Error(`${path}.gpu: ${quotedId(gpuId)} is not in the GPU catalog; run \`gpu-hosting catalog gpus\``);
  const arch = parseHfConfig(model.config);
  const engine = gpu ? d.engine : d.engine === "vllm" ? "cpu" : d.engine;
  // A quantised variant's repo (e.g. an AWQ checkpoint) implies its format under dtype auto.
  const variant = match?.via === "variant" && match.variantMethod !== "gguf" ? normalizeDtype(match.variantMethod ?? "") : undefined;
  let dtype: ConcreteDtype =
    d.dtype !== "auto" ? d.dtype : variant && variant !== "auto" ? variant : servingDtypeOf(arch);
  if (engine !== "vllm" && d.dtype === "auto" && WEIGHT_FORMATS[dtype].family !== "gguf") dtype = "q4_k_m";
  const caps = gpu ? { memoryGiB: gpuMemoryGiB(gpu), dataTypes: gpu.dataTypes, computeCapability: gpu.computeCapability } : null;
  const input = {
    arch,
    dtype,
    engine,
    gpu: caps,
    gpuCount,
    maxModelLen: d.context,
    concurrency: d.concurrency,
    gpuMemoryUtilization: d.gpuMemoryUtilization,
    kvCacheDtype: d.kvCacheDtype,
    isA100: gpu?.id.startsWith("a100") ?? false,
    hostRamGiB: hostRamGiB ?? 0,
  };
  const result = estimate(input);
  const support = dtypeSupportProblem(dtype, caps);
  const fits = result.fits && support === null;
  return {
    name: d.name,
    model: model.id,
    gpu: gpu?.id ?? null,
    gpuCount: gpu ? gpuCount : 0,
    engine,
    dtype,
    hosts: [],
    result,
    fits,
    reason: support ? `${gpu?.name}: ${support}` : result.reason,
    alternatives: fits ? null : alternatives(input),
  };
}
