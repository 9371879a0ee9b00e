/** cost-budget: advisory by default: monthly cost, kWh and CO2e within budgets. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { costBudget } from "../core/checks";
import { fleetStackValidator, schemaOf } from "./shared";

export const costBudgetPolicy: StackValidationPolicy = {
  name: "cost-budget",
  description: costBudget.description,
  enforcementLevel: "advisory",
  remediationSteps: costBudget.remediationSteps,
  configSchema: schemaOf(costBudget as never),
  validateStack: fleetStackValidator(costBudget as never, ["mandatory", "advisory"]),
};
