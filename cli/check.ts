/** `gpu-hosting check`: validate a stack and run the policy checks offline. */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { validatePolicyConfig, type PolicyConfig, type Violation } from "../core/checks";
import { checkStackConfig, readStackYaml, StackInputError, type StackCheck } from "../core/checks/stackFile";
import { badValue, UsageError } from "./errors";
import { fmt, roundDeep, table } from "./format";

interface CheckFlags {
  stack?: string;
  format: string;
  json?: boolean;
  policyConfig?: string;
}


export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("Validate a stack and run the policy checks offline (VRAM fit, GPU capability, power, cost, locations, exposure, secrets). Exit 0 clean, 1 mandatory violation, 2 invalid input")
    .argument("[stack-file]", "a stack file, e.g. stacks/Pulumi.prod.yaml (or use --stack)")
    .option("-s, --stack <name>", "stack name: reads stacks/Pulumi.<name>.yaml")
    .option("--format <format>", "text, markdown (a pull-request comment) or json", "text")
    .option("--policy-config <file>", "policy config JSON, as for `pulumi preview --policy-pack-config`")
    .option("--json", "same as --format json")
    .action((file: string | undefined, flags: CheckFlags) => {
      process.exitCode = runCheckCommand(file, flags);
    });
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
  process.stdout.write(formatCheckReport(stackFile, result, format as CheckFormat));
  return result.report.ok ? 0 : 1;
}

/** Output formats of `check`. */
export type CheckFormat = "text" | "markdown" | "json";

/**
 * The report `check` prints for a checked stack: JSON for scripts, Markdown for a pull-request
 * comment, or text for people. Pure (the fuzz tests call it in-process).
 */
export function formatCheckReport(stackFile: string, result: StackCheck, format: CheckFormat): string {
  const json = toJson(stackFile, result);
  if (format === "json") return `${JSON.stringify(roundDeep(json), null, 2)}\n`;
  return format === "markdown" ? markdown(json) : textReport(json);
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

function textReport(j: CheckJson): string {
  const lines: string[] = [`${j.stack}: ${j.ok ? "OK" : "FAILED"} (${j.violations.length} violation${j.violations.length === 1 ? "" : "s"})`, ""];
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
      ),
      "(GiB per GPU; KV cache = what vLLM allocates, free = budget left after the KV cache that context × concurrency needs)",
      "",
    );
  }
  lines.push(
    table(
      ["site", "hosts", "IT W", "PUE", "budget W", "kWh/month", "kg CO2e/month"],
      j.sites.map((s) => [s.name, s.hosts.join(","), fmt.int(s.itWatts), s.pue, s.powerBudgetWatts === null ? "-" : fmt.int(s.powerBudgetWatts), fmt.int(s.kwhPerMonth), fmt.int(s.co2eKgPerMonth)]),
    ),
    "",
  );
  const t = j.totals;
  lines.push(
    `stack: €${t.eurPerMonth.toFixed(2)}/month${t.budgets.eurPerMonth !== null ? ` (budget €${t.budgets.eurPerMonth})` : ""}, ${fmt.int(t.kwhPerMonth)} kWh/month, ${fmt.int(t.co2eKgPerMonth)} kg CO2e/month, ${fmt.int(t.peakWatts)} W peak`,
    "",
  );
  if (j.violations.length > 0) {
    lines.push("violations:");
    for (const v of j.violations) lines.push(`  ${vline(v)}`, `    fix: ${v.remediation}`);
  } else lines.push("no violations");
  return `${lines.join("\n")}\n`;
}

/** Marker that lets CI find and update its own comment. */
export const COMMENT_MARKER = "<!-- gpu-hosting-check -->";

function markdown(j: CheckJson): string {
  const out: string[] = [COMMENT_MARKER, `### gpu-hosting check: \`${j.stack}\` ${j.ok ? "✅ passed" : "❌ failed"}`, ""];
  const mandatory = j.violations.filter((v) => v.enforcementLevel === "mandatory");
  const advisory = j.violations.filter((v) => v.enforcementLevel === "advisory");
  out.push(`${mandatory.length} mandatory, ${advisory.length} advisory violation(s).`, "");
  if (j.violations.length > 0) {
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
    out.push("", "```mermaid", "xychart-beta", '  title "GiB per GPU: used (bars) against budget (line)"', `  x-axis [${j.deployments.map((d) => JSON.stringify(d.name)).join(", ")}]`, '  y-axis "GiB"');
    out.push(`  bar [${j.deployments.map((d) => (d.memoryGiBPerGpu.weights + d.memoryGiBPerGpu.kvCache + d.memoryGiBPerGpu.overhead).toFixed(1)).join(", ")}]`);
    out.push(`  line [${j.deployments.map((d) => d.memoryGiBPerGpu.budget.toFixed(1)).join(", ")}]`, "```", "");
  }
  out.push("#### Power per site", "", "| site | hosts | IT W | PUE | budget W | kWh/month | kg CO2e/month |", "|---|---|---:|---:|---:|---:|---:|");
  for (const s of j.sites) out.push(`| ${s.name} | ${s.hosts.join(", ")} | ${Math.round(s.itWatts)} | ${s.pue} | ${s.powerBudgetWatts ?? "–"} | ${Math.round(s.kwhPerMonth)} | ${Math.round(s.co2eKgPerMonth)} |`);
  if (j.sites.length > 0) {
    out.push("", "```mermaid", "xychart-beta", '  title "Peak watts per site (bars) against budget (line, 0 = none)"', `  x-axis [${j.sites.map((s) => JSON.stringify(s.name)).join(", ")}]`, '  y-axis "W"');
    out.push(`  bar [${j.sites.map((s) => Math.round(s.itWatts)).join(", ")}]`, `  line [${j.sites.map((s) => s.powerBudgetWatts ?? 0).join(", ")}]`, "```", "");
  }
  const t = j.totals;
  out.push("#### Stack", "", "| | per month | budget |", "|---|---:|---:|");
  out.push(`| cost | €${t.eurPerMonth.toFixed(2)} | ${t.budgets.eurPerMonth !== null ? `€${t.budgets.eurPerMonth}` : "–"} |`);
  out.push(`| energy | ${Math.round(t.kwhPerMonth)} kWh | ${t.budgets.kwhPerMonth ?? "–"} |`);
  out.push(`| emissions | ${Math.round(t.co2eKgPerMonth)} kg CO2e | ${t.budgets.co2eKgPerMonth ?? "–"} |`, "");
  return `${out.join("\n")}\n`;
}
