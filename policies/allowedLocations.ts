/** allowed-locations: mandatory; providers and regions from an allow-list. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { allowedLocations } from "../core/checks";
import { fleetResourceValidator, schemaOf } from "./shared";

export const allowedLocationsPolicy: ResourceValidationPolicy = {
  name: "allowed-locations",
  description: allowedLocations.description,
  enforcementLevel: "mandatory",
  remediationSteps: allowedLocations.remediationSteps,
  configSchema: schemaOf(allowedLocations as never),
  validateResource: fleetResourceValidator(allowedLocations as never, ["mandatory", "advisory"]),
};
