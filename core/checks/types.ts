/**
 * The shape every check shares. A check is a pure function over the stack's facts; the policy
 * pack wraps each one in a CrossGuard policy and `gpu-hosting check` runs them offline. A check
 * that throws is reported as a violation (fail closed), never as a pass.
 */
import type { StackConfig } from "../config/schema";
import type { Fleet } from "../fleet";
import type { ResourceFacts } from "./networkExposure";

export type EnforcementLevel = "advisory" | "mandatory" | "disabled";

export interface Violation {
  /** Policy name, kebab-case, e.g. "vram-fit". */
  policy: string;
  enforcementLevel: EnforcementLevel;
  /** What the violation is about: "deployment chat", "site office-dc", "host gpu-1", "stack". */
  subject: string;
  message: string;
  /** How to fix it. */
  remediation: string;
}

/** Everything a check may read. */
export interface CheckContext {
  config: StackConfig;
  fleet: Fleet;
  /**
   * Raw stack config as in the stack file (all namespaces, `gpu-hosting:` prefixed keys), for checks
   * that look at how values are stored (secrets). Empty when only parsed config is available.
   */
  rawConfig: Record<string, unknown>;
  /** Config keys the Pulumi engine reports as secret (from `--secret` / `secure:` values). */
  secretKeys: string[];
  /** Provider resources as the analyzer sees them (policy pack only; absent offline). */
  resources?: ResourceFacts[];
}

/** A JSON-schema property with a default, as CrossGuard's `configSchema` expects. */
export interface ConfigProperty {
  type: "number" | "string" | "boolean" | "array" | "object";
  description: string;
  default?: unknown;
  items?: { type: string; enum?: string[] };
  enum?: string[];
  minimum?: number;
  maximum?: number;
}

/** What a check reports; the runner adds the policy name and enforcement level. */
export interface Finding {
  subject: string;
  message: string;
  remediation: string;
  /** Forces advisory for a finding that is only a warning (e.g. power headroom). */
  level?: "advisory";
}

export interface Check<C extends object = Record<string, unknown>> {
  /** kebab-case policy name. */
  name: string;
  /** "Checks that…" */
  description: string;
  /** Default enforcement; may depend on the stack (network exposure is mandatory in production). */
  defaultEnforcement(ctx: CheckContext): EnforcementLevel;
  remediationSteps: string;
  /** JSON schema of the check's own config, with defaults. */
  configSchema: Record<keyof C & string, ConfigProperty>;
  /**
   * Runs the check. Returns the violations (enforcement filled in by the runner) or a reason why
   * the check does not apply to this stack.
   */
  run(ctx: CheckContext, config: C): Finding[] | { notApplicable: string };
}

/** Defaults of a check's config schema as a plain object. */
export function configDefaults<C extends object>(check: Check<C>): C {
  return Object.fromEntries(Object.entries(check.configSchema).map(([k, v]) => [k, (v as ConfigProperty).default])) as C;
}
