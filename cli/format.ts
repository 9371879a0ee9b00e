/** Output helpers: readable tables for people, one JSON object for scripts. */
import Table from "cli-table3";

export const fmt = {
  gib: (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "-"),
  int: (x: number): string => Math.round(x).toLocaleString("en-US"),
  eur: (x: number): string => `€${x.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 0 })}`,
  params: (x: number): string => (x >= 1e9 ? `${(x / 1e9).toFixed(x >= 1e11 ? 0 : 2)}B` : `${(x / 1e6).toFixed(0)}M`),
};

/** A borderless table with a header row. */
export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "", top: "", "top-mid": "", "top-left": "", "top-right": "", bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "", left: "", right: "", middle: "  " },
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

/** Two-column key/value table. */
export function keyValues(pairs: [string, string | number][]): string {
  return table(["", ""], pairs).split("\n").slice(1).join("\n");
}

/** Rounds every number in a JSON tree to `digits` decimals for stable script output. */
export function roundDeep<T>(v: T, digits = 3): T {
  if (typeof v === "number") return (Number.isInteger(v) ? v : Math.round(v * 10 ** digits) / 10 ** digits) as T;
  if (Array.isArray(v)) return v.map((x) => roundDeep(x, digits)) as T;
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x, digits)])) as T;
  return v;
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(roundDeep(v), null, 2)}\n`);
}
