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

const NEEDS = "a stack file needs a top-level config: mapping with gpu-hosting: keys";

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`);
const listed = (keys: string[]): string => (keys.length === 0 ? "no keys" : keys.join(", "));

/**
 * The `config:` map of a stack file, all namespaces.
 *
 * @throws StackInputError naming the file and the problem when the text is not YAML, is empty
 * (nothing but whitespace and comments), has no top-level `config:` mapping, or its `config:`
 * holds no `gpu-hosting:` setting: such a file would otherwise check as a clean, empty stack.
 */
export function readStackYaml(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // js-yaml: about five times faster than \`yaml\` on large stack files (bench/check.js).
    doc = loadYaml(text, { schema: CORE_SCHEMA, filename: file });
  } catch (e) {
    throw new StackInputError(`${file}: not valid YAML (${(e as Error).message})`, []);
  }
  if (doc === null || doc === undefined) throw new StackInputError(`${file}: empty file${text.trim() ? " (only comments)" : ""}; ${NEEDS}`, []);
  if (typeof doc !== "object" || Array.isArray(doc)) throw new StackInputError(`${file}: the document is ${kind(doc)}, not a mapping; ${NEEDS}`, []);
  const top = doc as Record<string, unknown>;
  if (!("config" in top)) throw new StackInputError(`${file}: no top-level config: key (found: ${listed(Object.keys(top))}); ${NEEDS}`, []);
  const config = top.config;
  if (config === null || config === undefined) throw new StackInputError(`${file}: config: is empty, no gpu-hosting: settings; ${NEEDS}`, []);
  if (typeof config !== "object" || Array.isArray(config)) throw new StackInputError(`${file}: config: must be a mapping of keys to values, got ${kind(config)}`, []);
  const keys = Object.keys(config);
  if (keys.length === 0) throw new StackInputError(`${file}: config: is empty, no gpu-hosting: settings; ${NEEDS}`, []);
  if (!keys.some((k) => k.startsWith("gpu-hosting:"))) {
    throw new StackInputError(`${file}: config: has no gpu-hosting: settings (found: ${keys.join(", ")}); ${NEEDS}`, []);
  }
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
