/**
 * Offline entry: a stack file (`stacks/Pulumi.<env>.yaml`) to facts and a check report, without
 * the Pulumi CLI or credentials. Pure apart from the YAML text handed in.
 */
import { CORE_SCHEMA, load as loadYaml } from "js-yaml";
import { parseStackConfig, stackConfigInput, type StackConfig } from "../config/schema";
import { buildFleet, type Fleet } from "../fleet";
import { runChecks, type CheckReport, type PolicyConfig } from "./index";

export interface StackCheck {
  config: StackConfig;
  fleet: Fleet;
  report: CheckReport;
}

export class StackInputError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = "StackInputError";
  }
}

/** The `config:` map of a stack file, all namespaces. */
export function readStackYaml(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // js-yaml: about five times faster than \`yaml\` on large stack files (bench/check.js).
    doc = loadYaml(text, { schema: CORE_SCHEMA, filename: file });
  } catch (e) {
    throw new StackInputError(`${file}: not valid YAML (${(e as Error).message})`, []);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new StackInputError(`${file}: expected a mapping with a config: key`, []);
  const config = (doc as Record<string, unknown>).config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new StackInputError(`${file}: config: must be a mapping of keys to values`, []);
  return config as Record<string, unknown>;
}

/** Parses, resolves and checks a stack's raw config. Throws StackInputError listing every problem. */
export function checkStackConfig(raw: Record<string, unknown>, file: string, policyConfig: PolicyConfig = {}, secretKeys: string[] = []): StackCheck {
  const parsed = parseStackConfig(stackConfigInput(raw));
  if (!parsed.ok) throw new StackInputError(`${file}: invalid stack config`, parsed.problems);
  const fleet = buildFleet(parsed.config);
  if (fleet.problems.length > 0) throw new StackInputError(`${file}: invalid stack config`, fleet.problems);
  const report = runChecks({ config: parsed.config, fleet, rawConfig: raw, secretKeys }, policyConfig);
  return { config: parsed.config, fleet, report };
}
