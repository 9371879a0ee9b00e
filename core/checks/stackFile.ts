/**
 * Offline entry: a stack file (`stacks/Pulumi.<env>.yaml`) to facts and a check report, without
 * the Pulumi CLI or credentials. Pure apart from the YAML text handed in.
 */
import { CORE_SCHEMA, load as loadYaml, YAMLException, type LoadOptions } from "js-yaml";
import { parseStackConfig, RESERVED_KEYS, stackConfigInput, type StackConfig } from "../config/schema";
import { buildFleet, type Fleet } from "../fleet";
import { runChecks, type CheckReport, type PolicyConfig } from "./index";
import { redactSecrets } from "./secrets";

export interface StackCheck {
  config: StackConfig;
  fleet: Fleet;
  report: CheckReport;
}

/**
 * A stack file that cannot be checked. Its message and problems have every part that looks like a
 * credential redacted and long values cut ({@link redactSecrets}): they end up in terminals, CI
 * logs and pull-request comments.
 */
export class StackInputError extends Error {
  readonly problems: string[];
  constructor(message: string, problems: string[]) {
    super(redactSecrets(message));
    this.problems = problems.map(redactSecrets);
    this.name = "StackInputError";
  }
}

/** Largest stack file `check` reads, bytes: real ones are a few KB, the benchmark's 10,000 hosts 2.6 MB (docs/benchmarks.md). */
export const MAX_STACK_FILE_BYTES = 4 * 1024 * 1024;
/** Deepest nesting of mappings and lists, aliases expanded (stack files nest about 6 deep). */
export const MAX_STACK_DEPTH = 64;
/**
 * Most values (mappings, lists and scalars) a stack file may expand to through YAML aliases and
 * merge keys, beyond the one value per character a file without aliases can hold at most.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

/** Keys copied by merge keys (`<<: *base`) in one file, at most: js-yaml's own limit, made explicit. */
const MAX_MERGED_KEYS = 10_000;

/** js-yaml 4.3 reads `maxDepth` and `maxTotalMergeKeys`; @types/js-yaml does not list them yet. */
const YAML_OPTIONS = (filename: string): LoadOptions => ({ schema: CORE_SCHEMA, filename, maxDepth: MAX_STACK_DEPTH, maxTotalMergeKeys: MAX_MERGED_KEYS }) as LoadOptions;

/** `gpu-hosting:hosts[0].name` for keys under `config:`, `other.key` elsewhere. */
const childPath = (parent: string, key: string | number): string =>
  typeof key === "number" ? `${parent}[${key}]` : parent === "" ? key : `${parent}.${key}`;

/**
 * Walks the loaded document as its consumers will, aliases expanded, with a budget: refuses
 * alias bombs (a few KB that expand to millions of values), cycles, nesting past
 * {@link MAX_STACK_DEPTH} and keys named like JavaScript prototype properties, each by path.
 */
function inspectDocument(doc: Record<string, unknown>, file: string, budget: number): void {
  let values = 0;
  const ancestors = new Set<object>();
  const visit = (v: unknown, path: string, depth: number): void => {
    if (++values > budget) {
      throw new StackInputError(
        `${file}: YAML aliases (*name) or merge keys (<<) expand the document past ${budget.toLocaleString("en-US")} values, ${MAX_ALIAS_EXPANSION.toLocaleString("en-US")} more than its size can spell out; refused as a possible alias bomb. Write the values out, or use fewer aliases`,
        [],
      );
    }
    if (typeof v !== "object" || v === null) return;
    if (ancestors.has(v)) throw new StackInputError(`${file}: ${path}: an alias refers to a mapping or list that contains it (a cycle); write the value out`, []);
    if (depth > MAX_STACK_DEPTH) throw new StackInputError(`${file}: ${path}: nested more than ${MAX_STACK_DEPTH} levels deep; a stack file nests about 6`, []);
    ancestors.add(v);
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, childPath(path, i), depth + 1));
    else {
      for (const k of Object.keys(v)) {
        const at = path === "config" ? k : childPath(path, k);
        // Under config:, keys are namespaced: gpu-hosting:__proto__ is the schema's __proto__.
        const name = path === "config" && k.includes(":") ? k.slice(k.indexOf(":") + 1) : k;
        if (RESERVED_KEYS.has(name)) throw new StackInputError(`${file}: ${at}: "${name}" is a reserved name (a JavaScript prototype property) and cannot be a key; rename or remove it`, []);
        visit((v as Record<string, unknown>)[k], at, depth + 1);
      }
    }
    ancestors.delete(v);
  };
  visit(doc, "", 0);
}

/** The first keys of a mapping, for messages. */
const someKeys = (keys: string[]): string => (keys.length > 10 ? `${keys.slice(0, 10).join(", ")} and ${keys.length - 10} more` : keys.join(", "));

const NEEDS = "a stack file needs a top-level config: mapping with gpu-hosting: keys";

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`);
const listed = (keys: string[]): string => (keys.length === 0 ? "no keys" : someKeys(keys));

/**
 * The `config:` map of a stack file, all namespaces.
 *
 * @throws StackInputError naming the file and the problem when the text is larger than
 * {@link MAX_STACK_FILE_BYTES}, is not YAML, is empty (nothing but whitespace and comments), expands
 * through aliases past a budget (alias bombs), nests past {@link MAX_STACK_DEPTH}, has a key named
 * like a prototype property (`__proto__`, `constructor`, `prototype`), has no top-level `config:`
 * mapping, or its `config:` holds no `gpu-hosting:` setting: such a file would otherwise check as
 * a clean, empty stack. Messages give the line and column of a YAML error, never the text around
 * it (a neighbouring line can hold a secret).
 */
export function readStackYaml(text: string, file: string): Record<string, unknown> {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_STACK_FILE_BYTES) {
    throw new StackInputError(`${file}: ${bytes.toLocaleString("en-US")} bytes, more than the ${MAX_STACK_FILE_BYTES.toLocaleString("en-US")} a stack file may have; split the stack`, []);
  }
  let doc: unknown;
  try {
    // js-yaml: about five times faster than \`yaml\` on large stack files (bench/check.js).
    doc = loadYaml(text, YAML_OPTIONS(file));
  } catch (e) {
    if (e instanceof YAMLException) {
      const at = e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : "";
      throw new StackInputError(`${file}: not valid YAML${at}: ${e.reason}`, []);
    }
    throw new StackInputError(`${file}: not valid YAML`, []);
  }
  if (doc === null || doc === undefined) throw new StackInputError(`${file}: empty file${text.trim() ? " (only comments)" : ""}; ${NEEDS}`, []);
  if (typeof doc !== "object" || Array.isArray(doc)) throw new StackInputError(`${file}: the document is ${kind(doc)}, not a mapping; ${NEEDS}`, []);
  const top = doc as Record<string, unknown>;
  inspectDocument(top, file, MAX_ALIAS_EXPANSION + text.length);
  if (!Object.hasOwn(top, "config")) throw new StackInputError(`${file}: no top-level config: key (found: ${listed(Object.keys(top))}); ${NEEDS}`, []);
  const config = top.config;
  if (config === null || config === undefined) throw new StackInputError(`${file}: config: is empty, no gpu-hosting: settings; ${NEEDS}`, []);
  if (typeof config !== "object" || Array.isArray(config)) throw new StackInputError(`${file}: config: must be a mapping of keys to values, got ${kind(config)}`, []);
  const keys = Object.keys(config);
  if (keys.length === 0) throw new StackInputError(`${file}: config: is empty, no gpu-hosting: settings; ${NEEDS}`, []);
  if (!keys.some((k) => k.startsWith("gpu-hosting:"))) {
    throw new StackInputError(`${file}: config: has no gpu-hosting: settings (found: ${someKeys(keys)}); ${NEEDS}`, []);
  }
  return config as Record<string, unknown>;
}

/**
 * Parses, resolves and checks a stack's raw config. Throws StackInputError listing every problem.
 * Violation messages come back with anything that looks like a credential redacted (a value pasted
 * into the wrong field, an allow-list entry), ready for a terminal or a pull-request comment.
 */
export function checkStackConfig(raw: Record<string, unknown>, file: string, policyConfig: PolicyConfig = {}, secretKeys: string[] = []): StackCheck {
  const parsed = parseStackConfig(stackConfigInput(raw));
  if (!parsed.ok) throw new StackInputError(`${file}: invalid stack config`, parsed.problems);
  const fleet = buildFleet(parsed.config);
  if (fleet.problems.length > 0) throw new StackInputError(`${file}: invalid stack config`, fleet.problems);
  const report = runChecks({ config: parsed.config, fleet, rawConfig: raw, secretKeys }, policyConfig);
  return {
    config: parsed.config,
    fleet,
    report: {
      ...report,
      violations: report.violations.map((v) => ({ ...v, subject: redactSecrets(v.subject), message: redactSecrets(v.message), remediation: redactSecrets(v.remediation) })),
      notApplicable: report.notApplicable.map((n) => ({ ...n, reason: redactSecrets(n.reason) })),
    },
  };
}
