/** secrets: mandatory; credentials are Pulumi secrets. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { secrets } from "../core/checks";
import { fleetResourceValidator, schemaOf } from "./shared";

export const secretsPolicy: ResourceValidationPolicy = {
  name: "secrets",
  description: secrets.description,
  enforcementLevel: "mandatory",
  remediationSteps: secrets.remediationSteps,
  configSchema: schemaOf(secrets as never),
  validateResource: fleetResourceValidator(secrets as never, ["mandatory", "advisory"]),
};
