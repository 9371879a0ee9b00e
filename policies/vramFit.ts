/** vram-fit: mandatory; weights + KV cache + overhead fit the GPUs. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { vramFit } from "../core/checks";
import { fleetResourceValidator, schemaOf } from "./shared";

export const vramFitPolicy: ResourceValidationPolicy = {
  name: "vram-fit",
  description: vramFit.description,
  enforcementLevel: "mandatory",
  remediationSteps: vramFit.remediationSteps,
  configSchema: schemaOf(vramFit as never),
  validateResource: fleetResourceValidator(vramFit as never, ["mandatory", "advisory"]),
};
