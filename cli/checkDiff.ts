/**
 * `check --base <file>`: reads the base branch's version of a stack with the same code as the head,
 * and renders the change (core/checks/diff.ts) as Markdown for the pull-request comment or as text.
 * Also the one place Mermaid charts are written, with the rules that keep them informative.
 */
import fs from "node:fs";
import type { PolicyConfig, Violation } from "../core/checks";
import type { DiffBase, FieldChange, HostRow, ItemChanges, StackDiff, TotalChange } from "../core/checks/diff";
import { checkStackConfig, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { badValue } from "./errors";
import { fmt } from "./format";

/** Problems of an invalid base quoted in the report, at most. */
const MAX_BASE_PROBLEMS = 5;

/**
 * Reads and checks the base branch's stack file with exactly the code that checks the head
 * (`readStackYaml`, `checkStackConfig`, the same policy config). A file that does not exist is a
 * stack this pull request adds; one that does not check is reported, not fatal.
 *
 * @throws UsageError naming `--base` when the path exists but cannot be read (a folder, no permission).
 */
export function loadBase(file: string, policyConfig: PolicyConfig): DiffBase {
  // An empty path is an unset variable in a script, not a new stack.
  if (file.trim() === "") throw badValue("--base", file, "expected the path of the base branch's copy of the stack file");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { status: "missing", file };
    throw badValue("--base", file, `cannot read ${file} (${code ?? (e as Error).message})`, "Give the base branch's copy of the stack file, e.g. from `git show origin/main:stacks/Pulumi.prod.yaml > base/stacks/Pulumi.prod.yaml`, or a path that does not exist for a new stack");
  }
  try {
    return { status: "checked", file, check: checkStackConfig(readStackYaml(text, file), file, policyConfig) };
  } catch (e) {
    if (!(e instanceof StackInputError)) throw e;
    const shown = e.problems.slice(0, MAX_BASE_PROBLEMS);
    const more = e.problems.length - shown.length;
    return { status: "invalid", file, error: [e.message, ...shown, ...(more > 0 ? [`and ${more} more`] : [])].join("; ") };
  }
}

/** A Markdown table cell: pipes escaped, line breaks folded. */
export const cell = (s: string | number | null): string => (s === null ? "–" : String(s).replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " "));

/** "+12.3%", "−4.0%" (a real minus sign). */
const pct = (p: number): string => `${p < 0 ? "−" : "+"}${Math.abs(p).toFixed(1)}%`;
const signed = (x: number, unit: (v: number) => string): string => `${x < 0 ? "−" : "+"}${unit(Math.abs(x))}`;

/** "+€12.34 (+5.0%)", "no change", or "–" where the base has no number. */
export function changeText(t: TotalChange, unit: (v: number) => string): string {
  if (t.delta === null) return "–";
  if (unit(Math.abs(t.delta)) === unit(0)) return "no change";
  return `${signed(t.delta, unit)}${t.percent === null ? "" : ` (${pct(t.percent)})`}`;
}

const TOTALS: { key: keyof StackDiff["totals"]; label: string; unit: (v: number) => string }[] = [
  { key: "eurPerMonth", label: "cost per month (excl. VAT)", unit: fmt.eur },
  { key: "peakWatts", label: "peak power", unit: (v) => `${fmt.int(v)} W` },
  { key: "kwhPerMonth", label: "energy per month", unit: (v) => `${fmt.int(v)} kWh` },
  { key: "co2eKgPerMonth", label: "emissions per month", unit: (v) => `${fmt.int(v)} kg CO2e` },
];

/** "2 hosts added, 1 removed, 1 changed" or "hosts unchanged". */
function itemSummary(c: ItemChanges<{ name: string }>, one: string): string {
  const counts = ([[c.added.length, "added"], [c.removed.length, "removed"], [c.changed.length, "changed"]] as const).filter(([n]) => n > 0);
  if (counts.length === 0) return `${one}s unchanged`;
  return counts.map(([n, what], i) => (i === 0 ? `${fmt.count(n, one)} ${what}` : `${n} ${what}`)).join(", ");
}

/** One line saying what changed, for the comment's head and the text report. */
export function diffSummary(d: StackDiff): string {
  if (d.base.status === "invalid") return `the base branch's ${d.base.file} does not check, so there is nothing to compare with: ${d.base.error}`;
  const v = d.violations;
  const head = d.base.status === "missing" ? `new stack (no ${d.base.file} on the base branch): everything is added` : `against ${d.base.file}`;
  return `${head}; ${itemSummary(d.hosts, "host")}; ${itemSummary(d.deployments, "deployment")}; violations: ${v.new.length} new, ${v.fixed.length} fixed, ${v.unchanged.length} unchanged`;
}

const gpuText = (gpu: string | null, count: number): string => (gpu ? `${count} × ${gpu}` : "CPU");

/** A cell of a changed row: "a → b" when the field changed, else the head's value. */
function changedCell(changes: FieldChange[], fields: string[], value: string | number | null, show: (c: FieldChange) => [string | number | null, string | number | null] = (c) => [c.base, c.head]): string {
  const c = changes.find((x) => fields.includes(x.field));
  if (!c) return cell(value);
  const [b, h] = show(c);
  return `${cell(b)} → **${cell(h)}**`;
}

/** Numbers of a field change as tables show them. */
const num = (c: FieldChange): [string | null, string | null] => [typeof c.base === "number" ? fmt.int(c.base) : c.base, typeof c.head === "number" ? fmt.int(c.head) : c.head];

/** The base → head section of the pull-request comment. */
export function diffMarkdown(d: StackDiff): string[] {
  const out: string[] = ["#### Change against the base branch", ""];
  if (d.base.status === "invalid") {
    out.push(`⚠️ The base branch's \`${cell(d.base.file)}\` does not check, so there is nothing to compare with; the report below is this branch's alone.`, "", `> ${cell(d.base.error)}`, "");
    return out;
  }
  const missing = d.base.status === "missing";
  out.push(missing ? `🆕 **New stack**: \`${cell(d.base.file)}\` does not exist on the base branch, so everything is added.` : `Compared with \`${cell(d.base.file)}\` from the base branch.`, "");
  out.push("| | base | this branch | change |", "|---|---:|---:|---:|");
  for (const t of TOTALS) {
    const x = d.totals[t.key];
    out.push(`| ${t.label} | ${missing || x.base === null ? "–" : t.unit(x.base)} | ${t.unit(x.head)} | ${missing ? "new" : changeText(x, t.unit)} |`);
  }
  out.push("");
  const h = d.hosts;
  const dp = d.deployments;
  if ([h, dp].every((c) => c.added.length + c.removed.length + c.changed.length === 0)) out.push("No host or deployment changed.", "");
  if (h.added.length + h.removed.length + h.changed.length > 0) {
    out.push("| host | change | offer | GPUs | location | peak W |", "|---|---|---|---|---|---:|");
    for (const x of h.added) out.push(`| ${cell(x.name)} | ➕ added | ${cell(x.offer ?? x.kind)} | ${gpuText(x.gpu, x.gpuCount)} | ${cell(x.location)} | ${fmt.int(x.peakWatts)} |`);
    for (const x of h.removed) out.push(`| ${cell(x.name)} | ➖ removed | ${cell(x.offer ?? x.kind)} | ${gpuText(x.gpu, x.gpuCount)} | ${cell(x.location)} | ${fmt.int(x.peakWatts)} |`);
    for (const x of h.changed) {
      const was = <K extends keyof HostRow>(f: K): HostRow[K] => {
        const c = x.changes.find((y) => y.field === f);
        return (c ? c.base : x.head[f]) as HostRow[K]; // a base of null (no GPU) is a value, not "unchanged"
      };
      const headGpus = gpuText(x.head.gpu, x.head.gpuCount);
      const baseGpus = gpuText(was("gpu"), was("gpuCount"));
      const gpus = baseGpus === headGpus ? headGpus : `${baseGpus} → **${headGpus}**`;
      out.push(`| ${cell(x.name)} | ✏️ changed | ${changedCell(x.changes, ["offer"], x.head.offer ?? x.head.kind)} | ${gpus} | ${changedCell(x.changes, ["location"], x.head.location)} | ${changedCell(x.changes, ["peakWatts"], fmt.int(x.head.peakWatts), num)} |`);
    }
    out.push("");
  }
  if (dp.added.length + dp.removed.length + dp.changed.length > 0) {
    out.push("| deployment | change | model | dtype | context | concurrency |", "|---|---|---|---|---:|---:|");
    const row = (x: { name: string; model: string; dtype: string; context: number; concurrency: number }, what: string) =>
      `| ${cell(x.name)} | ${what} | ${cell(x.model)} | ${cell(x.dtype)} | ${fmt.int(x.context)} | ${x.concurrency} |`;
    for (const x of dp.added) out.push(row(x, "➕ added"));
    for (const x of dp.removed) out.push(row(x, "➖ removed"));
    for (const x of dp.changed) {
      const c = x.changes;
      out.push(`| ${cell(x.name)} | ✏️ changed | ${changedCell(c, ["model"], x.head.model)} | ${changedCell(c, ["dtype"], x.head.dtype)} | ${changedCell(c, ["context"], fmt.int(x.head.context), num)} | ${changedCell(c, ["concurrency"], x.head.concurrency, num)} |`);
    }
    out.push("");
  }
  const chart = mermaidChart({
    title: "Peak watts per site: this branch (bars) against the base branch (line)",
    yLabel: "W",
    categories: d.sites.map((s) => s.name),
    bar: d.sites.map((s) => s.head ?? 0),
    line: missing ? null : d.sites.map((s) => s.base ?? 0),
    digits: 0,
    lineRequired: true,
  });
  out.push(...chart);
  return out;
}

/** The violations table of a comment with a base: each row marked new, unchanged or fixed. */
export function violationsMarkdown(v: StackDiff["violations"]): string[] {
  const all: [string, Violation][] = [...v.new.map((x): [string, Violation] => ["🆕 new", x]), ...v.unchanged.map((x): [string, Violation] => ["unchanged", x]), ...v.fixed.map((x): [string, Violation] => ["✅ fixed", x])];
  if (all.length === 0) return [];
  return [
    "| | level | policy | subject | message | fix |",
    "|---|---|---|---|---|---|",
    ...all.map(([what, x]) => `| ${what} | ${x.enforcementLevel} | ${cell(x.policy)} | ${cell(x.subject)} | ${cell(x.message)} | ${cell(x.remediation)} |`),
    "",
  ];
}

/** The base → head lines of the text report. */
export function diffText(d: StackDiff): string[] {
  const out = [diffSummary(d)];
  if (d.base.status === "invalid") return [...out, ""];
  const missing = d.base.status === "missing";
  for (const t of TOTALS) {
    const x = d.totals[t.key];
    out.push(`  ${t.label}: ${missing || x.base === null ? "" : `${t.unit(x.base)} → `}${t.unit(x.head)}${missing ? "" : `, ${changeText(x, t.unit)}`}`);
  }
  for (const [what, list] of [["host", d.hosts], ["deployment", d.deployments]] as const) {
    for (const x of list.added) out.push(`  + ${what} ${x.name}`);
    for (const x of list.removed) out.push(`  - ${what} ${x.name}`);
    for (const x of list.changed) out.push(`  ~ ${what} ${x.name}: ${x.changes.map((c) => `${c.field} ${c.base ?? "none"} → ${c.head ?? "none"}`).join(", ")}`);
  }
  for (const [what, list] of [["new", d.violations.new], ["fixed", d.violations.fixed]] as const) {
    for (const v of list) out.push(`  ${what}: [${v.enforcementLevel}] ${v.policy} · ${v.subject}: ${v.message}`);
  }
  return [...out, ""];
}

/** A Mermaid xychart: bars, and optionally a line over the same categories. */
export interface ChartSpec {
  title: string;
  yLabel: string;
  categories: string[];
  bar: number[];
  /** The reference series; null for none. */
  line: number[] | null;
  /** Decimals the values are written with; series are compared at this precision. */
  digits: number;
  /** Omit the chart when the line is dropped (a comparison chart is nothing without it). @default false */
  lineRequired?: boolean;
}

/**
 * The lines of a Mermaid `xychart-beta` block, or none when the chart would carry nothing the tables
 * do not: fewer than two categories (one bar says nothing; Mermaid draws a line of one point as
 * nothing), or a line required but equal to the bars. A line equal to its bars at the precision
 * shown is dropped, never drawn over them.
 */
export function mermaidChart(s: ChartSpec): string[] {
  if (s.categories.length < 2) return [];
  const bar = s.bar.map((x) => x.toFixed(s.digits));
  let line = s.line?.map((x) => x.toFixed(s.digits)) ?? null;
  if (line && line.every((x, i) => x === bar[i])) line = null;
  if (!line && s.lineRequired) return [];
  return [
    "```mermaid",
    "xychart-beta",
    `  title ${JSON.stringify(s.title)}`,
    `  x-axis [${s.categories.map((c) => JSON.stringify(c)).join(", ")}]`,
    `  y-axis ${JSON.stringify(s.yLabel)}`,
    `  bar [${bar.join(", ")}]`,
    ...(line ? [`  line [${line.join(", ")}]`] : []),
    "```",
    "",
  ];
}
