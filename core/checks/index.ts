/**
 * The checks, in one list, and the runner shared by `gpu-hosting check` and the policy pack.
 * Adding a policy means: its file here, one line in CHECKS, one row in policies/table.ts, its tests.
 */
import { z } from "zod";
import { allowedLocations } from "./allowedLocations";
import { costBudget } from "./costBudget";
import { gpuCapability } from "./gpuCapability";
import { networkExposure } from "./networkExposure";
import { powerBudget } from "./powerBudget";
import { secrets } from "./secrets";
import { configDefaults, type Check, type CheckContext, type EnforcementLevel, type Violation } from "./types";
import { vramFit } from "./vramFit";

export * from "./types";
export { allowedLocations, costBudget, gpuCapability, networkExposure, powerBudget, secrets, vramFit };

/** Every check, in report order. */
export const CHECKS: readonly Check<never>[] = [vramFit, gpuCapability, powerBudget, costBudget, allowedLocations, networkExposure, secrets] as unknown as Check<never>[];

const Level = z.enum(["advisory", "mandatory", "disabled"]);

/** Per-policy config as `--policy-pack-config` / `--policy-config` files hold it. */
export type PolicyConfig = Record<string, { enforcementLevel?: EnforcementLevel } & Record<string, unknown>>;

/**
 * Validates a policy-config object: known policy names, known keys, JSON types as the policies'
 * config schemas declare. Returns every problem, each naming the key and the allowed values.
 */
export function validatePolicyConfig(raw: unknown): { ok: true; config: PolicyConfig } | { ok: false; problems: string[] } {
  if (raw === undefined || raw === null) return { ok: true, config: {} };
  if (typeof raw !== "object" || Array.isArray(raw)) return { ok: false, problems: ["policy config: expected a JSON object keyed by policy name"] };
  const problems: string[] = [];
  const config: PolicyConfig = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const check = CHECKS.find((c) => c.name === name);
    if (!check) {
      problems.push(`${name}: not a policy; allowed: ${CHECKS.map((c) => c.name).join(", ")}`);
      continue;
    }
    if (typeof value === "string") {
      const l = Level.safeParse(value);
      if (!l.success) problems.push(`${name}: got ${JSON.stringify(value)}; allowed: advisory, mandatory, disabled`);
      else config[name] = { enforcementLevel: l.data };
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${name}: expected an enforcement level or an object`);
      continue;
    }
    const entry: PolicyConfig[string] = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === "enforcementLevel") {
        const l = Level.safeParse(v);
        if (!l.success) problems.push(`${name}.enforcementLevel: got ${JSON.stringify(v)}; allowed: advisory, mandatory, disabled`);
        else entry.enforcementLevel = l.data;
        continue;
      }
      const prop = Object.hasOwn(check.configSchema, k) ? (check.configSchema as Record<string, { type: string }>)[k] : undefined;
      if (!prop) {
        problems.push(`${name}.${k}: not a setting of ${name}; allowed: enforcementLevel, ${Object.keys(check.configSchema).join(", ")}`);
        continue;
      }
      const actual = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
      if (actual !== prop.type && !(actual === "null" && (check.configSchema as Record<string, { default?: unknown }>)[k]?.default === null)) {
        problems.push(`${name}.${k}: got ${JSON.stringify(v)}; expected a ${prop.type}`);
        continue;
      }
      entry[k] = v;
    }
    config[name] = entry;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

export interface CheckReport {
  /** False when any mandatory violation was found. */
  ok: boolean;
  violations: Violation[];
  notApplicable: { policy: string; reason: string }[];
}

/** Runs one check with its config; a check that throws becomes a violation (fail closed). */
export function runCheck(check: Check<never>, ctx: CheckContext, policyConfig: PolicyConfig = {}): { violations: Violation[]; notApplicable: string | null } {
  const own = policyConfig[check.name] ?? {};
  const level = own.enforcementLevel ?? check.defaultEnforcement(ctx);
  if (level === "disabled") return { violations: [], notApplicable: "disabled by policy config" };
  const { enforcementLevel: _ignored, ...settings } = own;
  const cfg = { ...configDefaults(check as Check<object>), ...settings } as never;
  try {
    const r = check.run(ctx, cfg);
    if (!Array.isArray(r)) return { violations: [], notApplicable: r.notApplicable };
    return {
      violations: r.map((f) => ({
        policy: check.name,
        enforcementLevel: f.level === "advisory" ? "advisory" : level,
        subject: f.subject,
        message: f.message,
        remediation: f.remediation,
      })),
      notApplicable: null,
    };
  } catch (e) {
    return {
      violations: [
        {
          policy: check.name,
          enforcementLevel: level,
          subject: "stack",
          message: `could not decide (${(e as Error).message}); failing closed`,
          remediation: check.remediationSteps,
        },
      ],
      notApplicable: null,
    };
  }
}

/** Runs every check. */
export function runChecks(ctx: CheckContext, policyConfig: PolicyConfig = {}): CheckReport {
  const violations: Violation[] = [];
  const notApplicable: CheckReport["notApplicable"] = [];
  for (const c of CHECKS) {
    const r = runCheck(c, ctx, policyConfig);
    violations.push(...r.violations);
    if (r.notApplicable) notApplicable.push({ policy: c.name, reason: r.notApplicable });
  }
  return { ok: !violations.some((v) => v.enforcementLevel === "mandatory"), violations, notApplicable };
}
