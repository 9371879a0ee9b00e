/**
 * network-exposure: mandatory in production. CrossGuard fixes one enforcement level per policy,
 * so this mandatory policy enforces production stacks (gpu-hosting:environment: production) and,
 * with `enforceInAllEnvironments: true` in the pack config, every stack; `gpu-hosting check`
 * reports the same findings as advisory elsewhere.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { networkExposure } from "../core/checks";
import { fleetStackValidator, schemaOf } from "./shared";

export const networkExposurePolicy: StackValidationPolicy = {
  name: "network-exposure",
  description: networkExposure.description,
  enforcementLevel: "mandatory",
  remediationSteps: networkExposure.remediationSteps,
  configSchema: {
    properties: {
      ...schemaOf(networkExposure as never).properties,
      enforceInAllEnvironments: { type: "boolean", description: "enforce outside production stacks too", default: false },
    },
  },
  validateStack: (args, reportViolation) => {
    const { enforceInAllEnvironments, ...settings } = args.getConfig<{ enforceInAllEnvironments?: boolean } & Record<string, unknown>>() ?? {};
    const levels = enforceInAllEnvironments ? (["mandatory", "advisory"] as const) : (["mandatory"] as const);
    fleetStackValidator(networkExposure as never, [...levels])({ ...args, getConfig: <T>() => settings as T }, reportViolation);
  },
};
