/** gpu-capability: the data type is native on the GPU generation and the engine supports the GPU. */
import { findGpu } from "../catalog";
import { dtypeSupportProblem, MIN_VLLM_COMPUTE_CAPABILITY, vllmSupportProblem } from "../sizing/estimate";
import type { Check, Finding } from "./types";

export const gpuCapability: Check<{ minVllmComputeCapability: number }> = {
  name: "gpu-capability",
  description:
    "Checks that each deployment's data type and quantisation run natively on its GPU generation (bf16 from Ampere, fp8 from Ada/Hopper/CDNA3, fp4 from Blackwell) and that the engine supports the GPU (vLLM needs compute capability 7.0 or newer).",
  defaultEnforcement: () => "mandatory",
  remediationSteps:
    "Pick a data type the GPU runs natively (fp16 instead of bf16 before Ampere; awq/gptq int4 instead of fp8 before Ada), or a newer GPU; serve GPUs older than Volta (such as the Tesla P100) with llama.cpp and a GGUF type.",
  configSchema: {
    minVllmComputeCapability: { type: "number", description: "lowest NVIDIA compute capability vLLM accepts", default: MIN_VLLM_COMPUTE_CAPABILITY },
  },
  run(ctx, cfg) {
    const onGpu = ctx.fleet.deployments.filter((d) => d.gpu !== null);
    if (onGpu.length === 0) return { notApplicable: "no deployment runs on a GPU" };
    const out: Finding[] = [];
    for (const d of onGpu) {
      const gpu = findGpu(d.gpu!);
      if (!gpu) {
        out.push({ subject: `deployment ${d.name}`, message: `GPU "${d.gpu}" is not in the catalog; cannot decide, failing closed`, remediation: "Use a catalog GPU id (`gpu-hosting catalog gpus`)." });
        continue;
      }
      const problem = dtypeSupportProblem(d.dtype, { memoryGiB: 0, dataTypes: gpu.dataTypes });
      if (problem) out.push({ subject: `deployment ${d.name}`, message: `${d.model} in ${d.dtype} on ${gpu.name} (${gpu.architecture}): ${problem}`, remediation: gpuCapability.remediationSteps });
      // The same rule and words as estimate()'s verdict (core/sizing/estimate.ts).
      const engineProblem = d.engine === "vllm" ? vllmSupportProblem({ memoryGiB: 0, name: gpu.name, vendor: gpu.vendor, computeCapability: gpu.computeCapability }, cfg.minVllmComputeCapability) : null;
      if (engineProblem) out.push({ subject: `deployment ${d.name}`, message: engineProblem, remediation: gpuCapability.remediationSteps });
    }
    return out;
  },
};
