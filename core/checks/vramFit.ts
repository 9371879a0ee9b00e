/**
 * vram-fit: every replica of every deployment fits the memory of its GPUs at its context and its
 * share of the concurrency (`concurrency` is the deployment's total, split over its replicas).
 */
import { replicasOf } from "../config/replicas";
import type { DeploymentSizing } from "../sizing/deployment";
import { GiB } from "../sizing/memory";
import type { Check, Finding } from "./types";

const r1 = (x: number): string => x.toFixed(1);

/** The short reason, without repeating the numbers the message already gives. */
function verdict(s: DeploymentSizing): string {
  const r = s.result;
  if (s.reason && !s.result.fits) {
    if (r.perGpu.kvCacheGiB <= 0 && r.engine === "vllm") return "no memory left for the KV cache";
    if (r.kvCacheTokens < r.requiredTokens && r.engine === "vllm") return `the KV cache holds ${r.kvCacheTokens} of the ${r.requiredTokens} tokens needed`;
  }
  return s.reason ?? "does not fit";
}

export const vramFit: Check<{ minFreeGiB: number }> = {
  name: "vram-fit",
  description:
    "Checks that every deployment's weights, KV cache for its context × its per-replica share of the concurrency (ceil(concurrency / replicas)) and engine overhead fit the memory of each replica's GPUs at the configured utilisation.",
  defaultEnforcement: () => "mandatory",
  remediationSteps:
    "Lower the context or concurrency, add replicas (hosts, or cluster replicas) to split the concurrency, quantise (fp8 on Ada/Hopper/Blackwell, awq/gptq int4 elsewhere), use an fp8 KV cache, add GPUs (tensor parallel), or move to a GPU with more memory. `gpu-hosting fit <model> --context … --concurrency …` lists what fits.",
  configSchema: {
    minFreeGiB: { type: "number", description: "KV-cache headroom per GPU beyond the asked context × concurrency, GiB", default: 0, minimum: 0 },
  },
  run(ctx, cfg) {
    if (ctx.config.deployments.length === 0) return { notApplicable: "the stack has no deployments" };
    const out: Finding[] = [];
    const sized = new Map(ctx.fleet.deployments.map((x) => [x.name, x]));
    ctx.config.deployments.forEach((d, i) => {
      const s = sized.get(d.name);
      if (!s) {
        out.push({
          subject: `deployment ${d.name}`,
          message: `gpu-hosting:deployments[${i}]: cannot be sized (model, GPU or hosts unresolved); failing closed`,
          remediation: "Fix the config problems reported for this deployment.",
        });
        return;
      }
      const g = s.result.perGpu;
      const where = s.gpu ? `${s.gpuCount} × ${s.gpu} (${r1(g.totalGiB)} GiB each)` : `host RAM (${r1(g.totalGiB)} GiB)`;
      const neededKv = (s.result.requiredTokens * s.result.kvBytesPerToken) / GiB;
      const headroomShort = s.fits && g.kvCacheGiB - neededKv < cfg.minFreeGiB;
      if (s.fits && !headroomShort) return;
      const replicas = replicasOf(d);
      const alt = s.alternatives;
      const would = alt
        ? [
            alt.largestContext !== null ? `context ≤ ${alt.largestContext}` : null,
            alt.smallestGpuCount !== null ? `${alt.smallestGpuCount} GPUs` : null,
            alt.dtype !== null ? `dtype ${alt.dtype}` : null,
          ].filter((x) => x !== null)
        : [];
      out.push({
        subject: `deployment ${d.name}`,
        message:
          `gpu-hosting:deployments[${i}] ${s.model} (${s.dtype}, ${s.engine}) on ${where}: ` +
          `weights ${r1(g.weightsGiB)} GiB + activations ${r1(g.activationGiB)} GiB + overhead ${r1(g.overheadGiB)} GiB, ` +
          `KV cache ${r1(g.kvCacheGiB)} GiB (${s.result.kvCacheTokens} tokens) for ${s.result.concurrency} × ${s.result.maxModelLen} tokens per replica ` +
          `(total concurrency ${d.concurrency} over ${replicas} replica${replicas === 1 ? "" : "s"}) ` +
          `(${r1(neededKv)} GiB needed${cfg.minFreeGiB > 0 ? ` + ${cfg.minFreeGiB} GiB headroom` : ""}): ` +
          (headroomShort ? "less headroom than configured" : verdict(s)) +
          (would.length > 0 ? `; would fit: ${would.join(", or ")}` : ""),
        remediation: vramFit.remediationSteps,
      });
    });
    return out;
  },
};
