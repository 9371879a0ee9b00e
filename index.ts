/**
 * The stack program: parse stack config, size every deployment, export the sizing.
 * Thin by design: logic lives in core/ (pure) and components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "./core/config/schema";
import { sizeDeployment } from "./core/sizing/deployment";

const cfg = new pulumi.Config("gpu-hosting");
const parsed = parseStackConfig({ deployments: cfg.getObject<unknown>("deployments") });
if (!parsed.ok) {
  throw new Error(`invalid stack config:\n  ${parsed.problems.join("\n  ")}`);
}

/** Per deployment: model, GPU, weights and KV cache per GPU, KV tokens, fit verdict. */
export const sizing = parsed.config.deployments.map((d, i) => {
  const s = sizeDeployment(d, `gpu-hosting:deployments[${i}]`);
  return {
    name: s.name,
    model: s.model,
    gpu: `${d.gpuCount} × ${s.gpu}`,
    weightsGiBPerGpu: Math.round(s.result.perGpu.weightsGiB * 100) / 100,
    kvCacheGiBPerGpu: Math.round(s.result.perGpu.kvCacheGiB * 100) / 100,
    kvCacheTokens: s.result.kvCacheTokens,
    maxConcurrency: Math.round(s.result.maxConcurrency * 100) / 100,
    fits: s.fits,
    reason: s.reason,
  };
});
