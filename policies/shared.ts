/**
 * Glue between the pure checks in core/checks and CrossGuard: every policy reads the facts from
 * the `gpu-hosting:fleet:Fleet` component's inputs (plain values, known at preview), rebuilds the
 * fleet with the same core the CLI uses, and reports the check's findings. Anything it cannot
 * read becomes a violation (fail closed).
 */
import type { PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { configDefaults, runCheck, type Check, type CheckContext, type EnforcementLevel, type PolicyConfig } from "../core/checks";
import type { ResourceFacts } from "../core/checks/networkExposure";
import { parseStackConfig } from "../core/config/schema";
import { buildFleet } from "../core/fleet";
import { FLEET_TYPE } from "../core/tokens";

/** Type token of the component that carries the stack's facts (declared in core/tokens.ts). */
export { FLEET_TYPE };

/**
 * Which finding levels a policy reports, and the settings its check gets, from the policy's
 * config as CrossGuard hands it over. A fixed list of levels passes the config through unchanged.
 */
export type LevelSelector = readonly EnforcementLevel[] | ((config: Record<string, unknown>) => { levels: readonly EnforcementLevel[]; settings: Record<string, unknown> });

function select(levels: LevelSelector, config: Record<string, unknown>): { levels: readonly EnforcementLevel[]; settings: Record<string, unknown> } {
  return typeof levels === "function" ? levels(config) : { levels, settings: config };
}

/** Rebuilds the check context from the Fleet component's inputs; throws with what is missing. */
export function contextFromFleetProps(props: Record<string, unknown>, resources?: ResourceFacts[]): CheckContext {
  if (!props || typeof props !== "object") throw new Error(`${FLEET_TYPE} has no inputs`);
  if (!props.config || typeof props.config !== "object" || Array.isArray(props.config)) {
    throw new Error(`${FLEET_TYPE} input "config" is ${props.config === undefined ? "missing" : "not an object"} (unknown at preview, or an older gpu-hosting)`);
  }
  const parsed = parseStackConfig(props.config);
  if (!parsed.ok) throw new Error(`${FLEET_TYPE} inputs are not a valid stack config: ${parsed.problems.join("; ")}`);
  const fleet = buildFleet(parsed.config);
  if (fleet.problems.length > 0) throw new Error(`stack config problems: ${fleet.problems.join("; ")}`);
  // Passed through as sent: the secrets check fails closed on a rawConfig that is not an object.
  const rawConfig = (props.rawConfig === undefined ? {} : props.rawConfig) as Record<string, unknown>;
  const secretKeys = Array.isArray(props.secretKeys) ? props.secretKeys.filter((x): x is string => typeof x === "string") : [];
  return { config: parsed.config, fleet, rawConfig, secretKeys, resources };
}

/** Runs a check and reports findings of the wanted levels; errors fail closed. */
export function report(
  check: Check<never>,
  ctxOrError: () => CheckContext,
  settings: Record<string, unknown>,
  levels: readonly EnforcementLevel[],
  reportViolation: (message: string, urn?: string) => void,
  urn?: string,
): void {
  let ctx: CheckContext;
  try {
    ctx = ctxOrError();
  } catch (e) {
    reportViolation(`cannot decide: ${(e as Error).message}; failing closed`, urn);
    return;
  }
  const policyConfig: PolicyConfig = { [check.name]: { ...configDefaults(check as Check<object>), ...settings } };
  const r = runCheck(check, ctx, policyConfig);
  for (const v of r.violations) {
    if (levels.includes(v.enforcementLevel)) reportViolation(`${v.subject}: ${v.message}`, urn);
  }
}

/** validateResource for checks over the fleet. */
export function fleetResourceValidator(check: Check<never>, levels: LevelSelector = ["mandatory", "advisory"]) {
  return (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
    if (args.type !== FLEET_TYPE) return;
    const s = select(levels, args.getConfig<Record<string, unknown>>() ?? {});
    report(check, () => contextFromFleetProps(args.props), s.settings, s.levels, (m) => reportViolation(m));
  };
}

/** validateStack for checks over the fleet and the provider resources. */
export function fleetStackValidator(check: Check<never>, levels: LevelSelector = ["mandatory", "advisory"]) {
  return (args: StackValidationArgs, reportViolation: ReportViolation): void => {
    const fleets = args.resources.filter((r: PolicyResource) => r.type === FLEET_TYPE);
    const ours = args.resources.filter((r: PolicyResource) => r.type.startsWith("gpu-hosting:"));
    if (fleets.length === 0) {
      if (ours.length > 0) reportViolation(`cannot decide: the stack has gpu-hosting resources but no ${FLEET_TYPE} carrying its facts; failing closed`);
      return;
    }
    const resources: ResourceFacts[] = args.resources.map((r: PolicyResource) => ({ type: r.type, name: r.name, props: (r.props ?? {}) as Record<string, unknown> }));
    const s = select(levels, args.getConfig<Record<string, unknown>>() ?? {});
    for (const f of fleets) {
      report(check, () => contextFromFleetProps(f.props, resources), s.settings, s.levels, reportViolation, f.urn);
    }
  };
}
