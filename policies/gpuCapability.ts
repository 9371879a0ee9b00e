/** gpu-capability: mandatory; data types native on the GPU, engine supports it. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { gpuCapability } from "../core/checks";
import { fleetResourceValidator, schemaOf } from "./shared";

export const gpuCapabilityPolicy: ResourceValidationPolicy = {
  name: "gpu-capability",
  description: gpuCapability.description,
  enforcementLevel: "mandatory",
  remediationSteps: gpuCapability.remediationSteps,
  configSchema: schemaOf(gpuCapability as never),
  validateResource: fleetResourceValidator(gpuCapability as never, ["mandatory", "advisory"]),
};
