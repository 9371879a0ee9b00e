/**
 * power-headroom: the advisory half of power-budget. CrossGuard fixes one enforcement level per
 * policy, so the warning a site gets when it draws more than `headroomWarningPercent` of its
 * budget is its own advisory policy; both read the same check.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { powerBudget } from "../core/checks";
import { fleetStackValidator, schemaOf } from "./shared";

export const powerHeadroomPolicy: StackValidationPolicy = {
  name: "power-headroom",
  description: "Checks that every site with a power budget keeps the configured headroom (advisory warning before power-budget fails).",
  enforcementLevel: "advisory",
  remediationSteps: powerBudget.remediationSteps,
  configSchema: schemaOf(powerBudget as never),
  validateStack: fleetStackValidator(powerBudget as never, ["advisory"]),
};
