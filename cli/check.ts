/** `gpu-hosting check`: validate a stack and run the policy checks offline. */
import fs from "node:fs";
import path from "node:path";
import { validatePolicyConfig, type PolicyConfig, type Violation } from "../core/checks";
import { diffStacks, type DiffBase, type StackDiff } from "../core/checks/diff";
import { checkStackConfig, readStackYaml, StackInputError, type StackCheck } from "../core/checks/stackFile";
import { diffMarkdown, diffText, loadBase, mermaidChart, violationsMarkdown } from "./checkDiff";
import { badValue, UsageError } from "./errors";
import { fmt, levelStyle, outputWidth, roundDeep, style, table, VAT_NOTE, verdict, withSchemaVersion, wrapText } from "./format";

export interface CheckFlags {
  stack?: string;
  format: string;
  json?: boolean;
  policyConfig?: string;
  base?: string;
}



export function resolveStackFile(file: string | undefined, stack: string | undefined): string {
  if (file && stack) throw new UsageError("--stack and <stack-file>: give one of them, not both");
  if (stack) {
    if (!/^[A-Za-z0-9._-]+$/.test(stack)) throw badValue("--stack", stack, "expected a stack name such as dev or prod");
    return path.join("stacks", `Pulumi.${stack}.yaml`);
  }
  if (file) return file;
  throw new UsageError("--stack or <stack-file>: one is required, e.g. `gpu-hosting check --stack prod`");
}

export function runCheckCommand(file: string | undefined, f: CheckFlags): number {
  // --format is checked even when --json decides: a wrong value is never silently ignored.
  if (!["text", "markdown", "json"].includes(f.format.toLowerCase())) throw badValue("--format", f.format, "allowed: text, markdown, json");
  const format = f.json ? "json" : f.format.toLowerCase();
  const stackFile = resolveStackFile(file, f.stack);
  let text: string;
  try {
    text = fs.readFileSync(stackFile, "utf8");
  } catch (e) {
    const where = f.stack ? "--stack" : "<stack-file>";
    throw badValue(where, f.stack ?? stackFile, `cannot read ${stackFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "Run from the project root, or give the path of a Pulumi.<stack>.yaml");
  }
  let policyConfig: PolicyConfig = {};
  if (f.policyConfig) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(f.policyConfig, "utf8"));
    } catch (e) {
      throw badValue("--policy-config", f.policyConfig, `cannot be read as JSON (${(e as Error).message})`);
    }
    const v = validatePolicyConfig(raw);
    if (!v.ok) throw new UsageError(`--policy-config ${f.policyConfig}:\n  ${v.problems.join("\n  ")}`);
    policyConfig = v.config;
  }
  let result: StackCheck;
  try {
    result = checkStackConfig(readStackYaml(text, stackFile), stackFile, policyConfig);
  } catch (e) {
    if (e instanceof StackInputError) throw new UsageError(e.problems.length > 0 ? `${e.message}:\n  ${e.problems.join("\n  ")}` : e.message);
    throw e;
  }
  // The base is read and checked by the same code as the head; the head's verdict decides the exit code.
  const base = f.base !== undefined ? loadBase(f.base, policyConfig) : undefined;
  process.stdout.write(formatCheckReport(stackFile, result, format as CheckFormat, base));
  return result.report.ok ? 0 : 1;
}

/** Output formats of `check`. */
export type CheckFormat = "text" | "markdown" | "json";

/**
 * The report `check` prints for a checked stack: JSON for scripts, Markdown for a pull-request
 * comment, or text for people. With `base` (the base branch's stack, see `loadBase`), each also
 * says what changed against it, and JSON gets a `diff` object. Pure (the fuzz tests call it
 * in-process).
 */
export function formatCheckReport(stackFile: string, result: StackCheck, format: CheckFormat, base?: DiffBase): string {
  const json = toJson(stackFile, result);
  const diff = base ? roundDeep(diffStacks(base, result), 2) : undefined;
  if (format === "json") return `${JSON.stringify(roundDeep(withSchemaVersion(diff ? { ...json, diff } : json)), null, 2)}\n`;
  return format === "markdown" ? markdown(json, diff) : textReport(json, diff);
}

export type CheckJson = ReturnType<typeof toJson>;

function toJson(stackFile: string, r: StackCheck) {
  const b = r.config.budgets;
  return roundDeep(
    {
      stack: stackFile,
      ok: r.report.ok,
      violations: r.report.violations,
      notApplicable: r.report.notApplicable,
      deployments: r.fleet.deployments.map((d) => ({
        name: d.name,
        model: d.model,
        hosts: d.hosts,
        gpu: d.gpu,
        gpuCount: d.gpuCount,
        engine: d.engine,
        dtype: d.dtype,
        context: d.result.maxModelLen,
        concurrency: d.result.concurrency,
        fits: d.fits,
        memoryGiBPerGpu: {
          total: d.result.perGpu.totalGiB,
          budget: d.result.perGpu.budgetGiB,
          weights: d.result.perGpu.weightsGiB,
          kvCache: d.result.perGpu.kvCacheGiB,
          overhead: d.result.perGpu.activationGiB + d.result.perGpu.overheadGiB,
          // What is left after weights, overhead and the KV cache that context × concurrency needs.
          free:
            d.result.perGpu.budgetGiB -
            d.result.perGpu.weightsGiB -
            d.result.perGpu.activationGiB -
            d.result.perGpu.overheadGiB -
            (d.result.requiredTokens * d.result.kvBytesPerToken) / 1024 ** 3,
        },
        kvCacheTokens: d.result.kvCacheTokens,
        requiredTokens: d.result.requiredTokens,
      })),
      sites: r.fleet.sites.map((s) => ({
        name: s.name,
        hosts: s.hosts,
        itWatts: s.itWatts,
        pue: s.pue,
        facilityWatts: s.facilityWatts,
        powerBudgetWatts: s.powerBudgetWatts,
        kwhPerMonth: s.kwhPerMonth,
        co2eKgPerMonth: s.co2eKgPerMonth,
        waterLitresPerMonth: s.waterLitresPerMonth,
      })),
      totals: { ...r.fleet.totals, budgets: { eurPerMonth: b.eurPerMonth ?? null, kwhPerMonth: b.kwhPerMonth ?? null, co2eKgPerMonth: b.co2eKgPerMonth ?? null } },
    },
    2,
  );
}

const vline = (v: Violation): string => `[${v.enforcementLevel}] ${v.policy} · ${v.subject}: ${v.message}`;

function textReport(j: CheckJson, diff?: StackDiff): string {
  const width = outputWidth();
  const title = wrapText(`${j.stack}: ${j.ok ? "OK" : "FAILED"} (${fmt.count(j.violations.length, "violation")})`, width, "  ");
  const lines: string[] = [title.replace(/: (OK|FAILED) \(/, (_, w: string) => `: ${verdict(w)} (`), ""];
  if (diff) lines.push(...diffText(diff).map((l) => wrapText(l, width, "      ")));
  if (j.deployments.length > 0) {
    lines.push(
      table(
        ["deployment", "model", "GPUs", "dtype", "ctx × conc", "weights", "KV cache", "overhead", "free", "budget", "fits"],
        j.deployments.map((d) => [
          d.name,
          d.model,
          d.gpu ? `${d.gpuCount}× ${d.gpu}` : "CPU",
          d.dtype,
          `${fmt.int(d.context)} × ${d.concurrency}`,
          fmt.gib(d.memoryGiBPerGpu.weights),
          fmt.gib(d.memoryGiBPerGpu.kvCache),
          fmt.gib(d.memoryGiBPerGpu.overhead),
          fmt.gib(d.memoryGiBPerGpu.free),
          fmt.gib(d.memoryGiBPerGpu.budget),
          d.fits ? "yes" : "NO",
        ]),
        // Narrow terminals lose the breakdown first; free, budget and the verdict stay.
        { columns: [{}, {}, {}, { priority: 3 }, { priority: 1 }, { priority: 2 }, { priority: 4 }, { priority: 5 }] },
      ),
      wrapText("(GiB per GPU; KV cache = what vLLM allocates, free = budget left after the KV cache that context × concurrency needs)", width, " "),
      "",
    );
  }
  lines.push(
    table(
      ["site", "hosts", "IT W", "PUE", "budget W", "kWh/month", "kg CO2e/month"],
      j.sites.map((s) => [s.name, s.hosts.join(", "), fmt.int(s.itWatts), s.pue, s.powerBudgetWatts === null ? "-" : fmt.int(s.powerBudgetWatts), fmt.int(s.kwhPerMonth), fmt.int(s.co2eKgPerMonth)]),
    ),
    "",
  );
  const t = j.totals;
  lines.push(
    wrapText(
      `stack: ${fmt.eur(t.eurPerMonth)}/month${t.budgets.eurPerMonth !== null ? ` (budget ${fmt.eur(t.budgets.eurPerMonth)})` : ""}, ${fmt.int(t.kwhPerMonth)} kWh/month, ${fmt.int(t.co2eKgPerMonth)} kg CO2e/month, ${fmt.int(t.peakWatts)} W peak`,
      width,
      "  ",
    ),
    VAT_NOTE,
    "",
  );
  if (j.violations.length > 0) {
    lines.push(style.bold("violations:"));
    for (const v of j.violations) {
      // Wrapped plain, then the level coloured: wrapText leaves coloured text as it is.
      const [first = "", ...rest] = wrapText(`  ${vline(v)}`, width, "    ").split("\n");
      const level = `[${v.enforcementLevel}]`;
      lines.push(first.replace(level, levelStyle(v.enforcementLevel, level)), ...rest, wrapText(`    fix: ${v.remediation}`, width, "      "));
    }
  } else lines.push("no violations");
  return `${lines.join("\n")}\n`;
}

/** Marker that lets CI find and update its own comment. */
export const COMMENT_MARKER = "<!-- gpu-hosting-check -->";

function markdown(j: CheckJson, diff?: StackDiff): string {
  const out: string[] = [COMMENT_MARKER, `### gpu-hosting check: \`${j.stack}\` ${j.ok ? "✅ passed" : "❌ failed"}`, ""];
  const mandatory = j.violations.filter((v) => v.enforcementLevel === "mandatory");
  const advisory = j.violations.filter((v) => v.enforcementLevel === "advisory");
  out.push(`${mandatory.length} mandatory, ${advisory.length} advisory violation(s).`, "");
  if (diff) out.push(...diffMarkdown(diff));
  if (diff && diff.base.status !== "invalid") out.push(...violationsMarkdown(diff.violations));
  else if (j.violations.length > 0) {
    out.push("| level | policy | subject | message | fix |", "|---|---|---|---|---|");
    for (const v of j.violations) out.push(`| ${v.enforcementLevel} | ${v.policy} | ${v.subject} | ${v.message.replace(/\|/g, "\\|")} | ${v.remediation.replace(/\|/g, "\\|")} |`);
    out.push("");
  }
  if (j.deployments.length > 0) {
    out.push("#### VRAM per GPU (GiB)", "", "| deployment | model | GPUs | dtype | context × concurrency | weights | KV cache | overhead | free | budget | fits |", "|---|---|---|---|---|---:|---:|---:|---:|---:|---|");
    for (const d of j.deployments) {
      const m = d.memoryGiBPerGpu;
      out.push(`| ${d.name} | ${d.model} | ${d.gpu ? `${d.gpuCount} × ${d.gpu}` : "CPU"} | ${d.dtype} | ${d.context} × ${d.concurrency} | ${m.weights.toFixed(1)} | ${m.kvCache.toFixed(1)} | ${m.overhead.toFixed(1)} | ${m.free.toFixed(1)} | ${m.budget.toFixed(1)} | ${d.fits ? "✅" : "❌"} |`);
    }
    out.push("");
    // Bars: what context × concurrency needs (the KV cache vLLM allocates fills the budget by design, so "used" would equal the line).
    out.push(
      ...mermaidChart({
        title: "GiB per GPU: needed for context × concurrency (bars) against budget (line)",
        yLabel: "GiB",
        categories: j.deployments.map((d) => d.name),
        bar: j.deployments.map((d) => d.memoryGiBPerGpu.budget - d.memoryGiBPerGpu.free),
        line: j.deployments.map((d) => d.memoryGiBPerGpu.budget),
        digits: 1,
      }),
    );
  }
  out.push("#### Power per site", "", "| site | hosts | IT W | PUE | budget W | kWh/month | kg CO2e/month |", "|---|---|---:|---:|---:|---:|---:|");
  for (const s of j.sites) out.push(`| ${s.name} | ${s.hosts.join(", ")} | ${Math.round(s.itWatts)} | ${s.pue} | ${s.powerBudgetWatts ?? "–"} | ${Math.round(s.kwhPerMonth)} | ${Math.round(s.co2eKgPerMonth)} |`);
  out.push("");
  // A budget line only where every site has a budget: a line through 0 (or through the bar) would draw a budget that does not exist.
  const budgets = j.sites.map((s) => s.powerBudgetWatts);
  const allBudgeted = budgets.every((b): b is number => b !== null);
  out.push(
    ...mermaidChart({
      title: allBudgeted ? "Peak watts per site (bars) against power budget (line)" : budgets.some((b) => b !== null) ? "Peak watts per site (power budgets in the table)" : "Peak watts per site",
      yLabel: "W",
      categories: j.sites.map((s) => s.name),
      bar: j.sites.map((s) => s.itWatts),
      line: allBudgeted ? budgets : null,
      digits: 0,
    }),
  );
  const t = j.totals;
  out.push("#### Stack", "", "| | per month | budget |", "|---|---:|---:|");
  out.push(`| cost | ${fmt.eur(t.eurPerMonth)} | ${t.budgets.eurPerMonth !== null ? fmt.eur(t.budgets.eurPerMonth) : "–"} |`);
  out.push(`| energy | ${Math.round(t.kwhPerMonth)} kWh | ${t.budgets.kwhPerMonth ?? "–"} |`);
  out.push(`| emissions | ${Math.round(t.co2eKgPerMonth)} kg CO2e | ${t.budgets.co2eKgPerMonth ?? "–"} |`, "");
  return `${out.join("\n")}\n`;
}
