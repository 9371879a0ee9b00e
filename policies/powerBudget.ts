/** power-budget: mandatory where a site has a budget: site watts within budget. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { powerBudget } from "../core/checks";
import { fleetStackValidator, schemaOf } from "./shared";

export const powerBudgetPolicy: StackValidationPolicy = {
  name: "power-budget",
  description: powerBudget.description,
  enforcementLevel: "mandatory",
  remediationSteps: powerBudget.remediationSteps,
  configSchema: schemaOf(powerBudget as never),
  validateStack: fleetStackValidator(powerBudget as never, ["mandatory"]),
};
