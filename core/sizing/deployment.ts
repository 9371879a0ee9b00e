/** Sizing of a configured deployment against the catalog: shared by the program, CLI and policies. */
import { findGpu, findModel, gpuMemoryGiB } from "../catalog";
import type { DeploymentConfig } from "../config/schema";
import { parseHfConfig } from "./architecture";
import { servingDtype } from "./dtypes";
import { dtypeSupportProblem, estimate, type EstimateResult } from "./estimate";

export interface DeploymentSizing {
  name: string;
  model: string;
  gpu: string;
  result: EstimateResult;
  fits: boolean;
  reason: string | null;
}

/** Sizes one deployment; unknown model or GPU ids throw with the config path. */
export function sizeDeployment(d: DeploymentConfig, path: string): DeploymentSizing {
  const model = findModel(d.model);
  if (!model) throw new Error(`${path}.model: "${d.model}" is not in the model catalog; run \`gpu-hosting catalog models\``);
  const gpu = findGpu(d.gpu);
  if (!gpu) throw new Error(`${path}.gpu: "${d.gpu}" is not in the GPU catalog; run \`gpu-hosting catalog gpus\``);
  const arch = parseHfConfig(model.config);
  const dtype = d.dtype === "auto" ? servingDtype(arch.checkpointDtype, arch.checkpointQuantization?.method ?? null) : d.dtype;
  const caps = { memoryGiB: gpuMemoryGiB(gpu), dataTypes: gpu.dataTypes, computeCapability: gpu.computeCapability };
  const result = estimate({
    arch,
    dtype,
    engine: d.engine,
    gpu: caps,
    gpuCount: d.gpuCount,
    maxModelLen: d.context,
    concurrency: d.concurrency,
    gpuMemoryUtilization: d.gpuMemoryUtilization,
    kvCacheDtype: d.kvCacheDtype,
    isA100: gpu.id.startsWith("a100"),
  });
  const support = dtypeSupportProblem(dtype, caps);
  return {
    name: d.name,
    model: model.id,
    gpu: gpu.id,
    result,
    fits: result.fits && support === null,
    reason: support ? `${gpu.name}: ${support}` : result.reason,
  };
}
