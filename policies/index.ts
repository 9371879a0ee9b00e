/**
 * The gpu-hosting policy pack: `pulumi preview --policy-pack policies`. This file only lists the
 * policies; each lives in its own file and calls the pure checks in core/checks.
 */
import { PolicyPack } from "@pulumi/policy";
import { allowedLocationsPolicy } from "./allowedLocations";
import { costBudgetPolicy } from "./costBudget";
import { gpuCapabilityPolicy } from "./gpuCapability";
import { networkExposurePolicy } from "./networkExposure";
import { powerBudgetPolicy } from "./powerBudget";
import { powerHeadroomPolicy } from "./powerHeadroom";
import { secretsPolicy } from "./secrets";
import { vramFitPolicy } from "./vramFit";

export const policies = [vramFitPolicy, gpuCapabilityPolicy, powerBudgetPolicy, powerHeadroomPolicy, costBudgetPolicy, allowedLocationsPolicy, networkExposurePolicy, secretsPolicy];

new PolicyPack("gpu-hosting", { policies });
