/**
 * The policy pack as one table, in the way cdk-nag builds its packs: each row names a pure check
 * from core/checks and says how CrossGuard runs it. `policiesFromTable` turns the rows into
 * CrossGuard policies; nothing else in this folder knows about individual policies. No side
 * effects: `index.ts` starts the pack, tests import this file.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { PolicyConfigSchema } from "@pulumi/policy/policy";
import { allowedLocations, costBudget, gpuCapability, networkExposure, powerBudget, secrets, vramFit, type Check, type ConfigProperty } from "../core/checks";
import { fleetResourceValidator, fleetStackValidator, type LevelSelector } from "./shared";

/** Finding levels a policy passes on to CrossGuard (a finding's level is the one `runCheck` gives it). */
export type FindingLevels = readonly ("mandatory" | "advisory")[];

/** One policy of the pack. */
export interface PolicyRow {
  /** The pure check the policy runs, the same one `gpu-hosting check` runs offline. */
  check: Check<never>;
  /** kebab-case policy name; the check's own name unless the row is a second view of a check. */
  name: string;
  /** CrossGuard fixes one level per policy; a stack's policy config may change it. */
  enforcementLevel: "mandatory" | "advisory";
  /**
   * `resource`: `validateResource` on the `gpu-hosting:fleet:Fleet` component (facts from its
   * inputs); `stack`: `validateStack`, which also sees the provider resources the components declared.
   */
  kind: "resource" | "stack";
  /** The finding levels this policy reports; others are left to another policy or to `gpu-hosting check`. */
  reports: FindingLevels;
  /** "Checks that…" */
  description: string;
  /**
   * A boolean pack setting (default false) that, when true, makes the policy report `reports`
   * instead of the row's own; it is published in the config schema and not passed to the check.
   */
  widenedBy?: { setting: string; description: string; reports: FindingLevels };
}

const ALL: FindingLevels = ["mandatory", "advisory"];

/** Every policy of the pack, in the order the pack lists them. */
export const POLICY_TABLE: readonly PolicyRow[] = [
  { check: vramFit, name: "vram-fit", enforcementLevel: "mandatory", kind: "resource", reports: ALL, description: vramFit.description },
  { check: gpuCapability, name: "gpu-capability", enforcementLevel: "mandatory", kind: "resource", reports: ALL, description: gpuCapability.description },
  // Mandatory where a site has a budget; its advisory headroom warning is the next row.
  { check: powerBudget, name: "power-budget", enforcementLevel: "mandatory", kind: "stack", reports: ["mandatory"], description: powerBudget.description },
  // The advisory half of power-budget: CrossGuard fixes one enforcement level per policy, so the
  // warning above `headroomWarningPercent` of a site's budget is its own policy over the same check.
  {
    check: powerBudget,
    name: "power-headroom",
    enforcementLevel: "advisory",
    kind: "stack",
    reports: ["advisory"],
    description: "Checks that every site with a power budget keeps the configured headroom (advisory warning before power-budget fails).",
  },
  { check: costBudget, name: "cost-budget", enforcementLevel: "advisory", kind: "stack", reports: ALL, description: costBudget.description },
  { check: allowedLocations, name: "allowed-locations", enforcementLevel: "mandatory", kind: "resource", reports: ALL, description: allowedLocations.description },
  // Mandatory in production: the check finds mandatory issues only for `environment: production`
  // stacks, and the pack reports only those unless `enforceInAllEnvironments` is set;
  // `gpu-hosting check` reports the same findings as advisory elsewhere.
  {
    check: networkExposure,
    name: "network-exposure",
    enforcementLevel: "mandatory",
    kind: "stack",
    reports: ["mandatory"],
    description: networkExposure.description,
    widenedBy: { setting: "enforceInAllEnvironments", description: "enforce outside production stacks too", reports: ALL },
  },
  { check: secrets, name: "secrets", enforcementLevel: "mandatory", kind: "resource", reports: ALL, description: secrets.description },
];

/** CrossGuard config schema of a row: the check's own settings (defaults included), then the pack's. */
export function configSchemaOf(row: PolicyRow): PolicyConfigSchema {
  const properties: Record<string, ConfigProperty> = { ...(row.check.configSchema as Record<string, ConfigProperty>) };
  if (row.widenedBy) properties[row.widenedBy.setting] = { type: "boolean", description: row.widenedBy.description, default: false };
  return { properties: properties as unknown as PolicyConfigSchema["properties"] };
}

/** The levels a row reports and the settings its check gets, from the policy's config. */
function levelsOf(row: PolicyRow): LevelSelector {
  const widen = row.widenedBy;
  if (!widen) return row.reports;
  return (config) => {
    const { [widen.setting]: on, ...settings } = config;
    return { levels: on ? widen.reports : row.reports, settings };
  };
}

/** The CrossGuard policy for one row. */
export function policyOf(row: PolicyRow): ResourceValidationPolicy | StackValidationPolicy {
  const common = {
    name: row.name,
    description: row.description,
    enforcementLevel: row.enforcementLevel,
    remediationSteps: row.check.remediationSteps,
    configSchema: configSchemaOf(row),
  };
  return row.kind === "resource"
    ? { ...common, validateResource: fleetResourceValidator(row.check, levelsOf(row)) }
    : { ...common, validateStack: fleetStackValidator(row.check, levelsOf(row)) };
}

/** Builds the pack's policies from rows. */
export function policiesFromTable(rows: readonly PolicyRow[]): (ResourceValidationPolicy | StackValidationPolicy)[] {
  return rows.map(policyOf);
}

/** The pack's policies, from {@link POLICY_TABLE}. */
export const policies = policiesFromTable(POLICY_TABLE);
