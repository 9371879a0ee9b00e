/**
 * Output helpers: readable tables for people, one JSON object for scripts.
 *
 * Every command prints through these, so width, colour and number formats are decided once:
 * - Width: `COLUMNS` if set, else the terminal's width on a TTY, else unlimited (a pipe or a file
 *   gets whole lines, as `gh` does). A table wider than that first narrows its gutters, then hides
 *   the columns its caller marked optional ({@link Column.priority}), then wraps long cells, and
 *   only when even that cannot fit prints one block per row (as `psql`'s `\x auto` does). No value
 *   is ever cut off.
 * - Colour: only on a TTY; off with `--no-color` or a non-empty `NO_COLOR` (https://no-color.org),
 *   on with `FORCE_COLOR` (except `0`/`false`). See {@link colorEnabled}.
 * - Numbers: thousands separators, euros with two decimals, "1 GPU" / "2 GPUs" ({@link fmt}).
 */

/** Version of the shape of every `--json` object; bumped only when a documented field changes meaning or goes away. */
export const JSON_SCHEMA_VERSION = 1;

/** Footer under every table with a price column, and in the `--help` of commands that show prices. */
export const VAT_NOTE = "Prices exclude VAT.";

// ---------------------------------------------------------------------------------------------
// Colour

let colorOverride: boolean | undefined;

/** Set by the global `--no-color` flag (`false`); `undefined` goes back to the environment's choice. */
export function setColorMode(enabled: boolean | undefined): void {
  colorOverride = enabled;
}

/**
 * Whether to print ANSI colour, decided at each call: `--no-color` first, then a non-empty
 * `NO_COLOR` (the user's standing choice; it wins over `FORCE_COLOR`, which tool runners such as
 * jest-worker set on their children), then `FORCE_COLOR` (`0` and `false` turn colour off), then
 * whether stdout is a terminal that is not `TERM=dumb`.
 */
export function colorEnabled(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (colorOverride !== undefined) return colorOverride;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return !["0", "false"].includes(env.FORCE_COLOR.toLowerCase());
  return stream.isTTY === true && env.TERM !== "dumb";
}

const sgr =
  (open: number, close: number) =>
  (s: string): string =>
    colorEnabled() && s !== "" ? `\u001b[${open}m${s}\u001b[${close}m` : s;

/**
 * ANSI styles that are no-ops when {@link colorEnabled} is false. Plain SGR codes: five styles do
 * not need a dependency, and colour libraries decide at import time with their own precedence.
 */
export const style = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
};

/** Colour for a verdict word: yes/OK green, no/NO/FAILED red; anything else unchanged. */
export function verdict(text: string): string {
  return verdictStyle(text)(text);
}

/** The style {@link verdict} picks for a text, to paint all of its wrapped lines alike. */
function verdictStyle(text: string): (s: string) => string {
  if (/^(yes|ok|passed)\b/i.test(text)) return style.green;
  if (/^(no|failed)\b/i.test(text)) return style.red;
  return (s) => s;
}

/** Colour for a policy enforcement level: mandatory red, advisory yellow. */
export function levelStyle(level: string, text: string = level): string {
  return level === "mandatory" ? style.red(text) : level === "advisory" ? style.yellow(text) : text;
}

// ---------------------------------------------------------------------------------------------
// Width

/**
 * Columns the output may use: a positive whole `COLUMNS` first (as Python's
 * `shutil.get_terminal_size` does; tests and `COLUMNS=100 gpu-hosting …` use it), then the
 * terminal's width on a TTY, else `Infinity`: piped output is never wrapped or cut.
 */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  const c = env.COLUMNS !== undefined && /^\s*\d+\s*$/.test(env.COLUMNS) ? Number(env.COLUMNS) : 0;
  if (c > 0) return c;
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  return Infinity;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Code points that take no column: combining marks and variation selectors (Mn, Me), format characters such as the zero-width joiner (Cf). */
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;
/** Code points that take two: emoji and East Asian wide characters (as terminals and the string-width package count them). */
const DOUBLE_WIDTH = /\p{Extended_Pictographic}|[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{20000}-\u{3fffd}]/u;

/**
 * Columns a string takes on screen: ANSI colour codes none, emoji and East Asian wide characters
 * two, combining marks none, everything else one.
 */
export function visibleWidth(s: string): number {
  let n = 0;
  for (const ch of s.replace(ANSI, "")) n += ZERO_WIDTH.test(ch) ? 0 : DOUBLE_WIDTH.test(ch) && ch.codePointAt(0)! > 0xff ? 2 : 1;
  return n;
}

/**
 * Wraps text to `width` columns at spaces; a word longer than `width` is broken. Existing line
 * breaks are kept. `indent` prefixes the continuation lines. Text with colour codes is returned as is.
 */
export function wrapText(text: string, width: number, indent = ""): string {
  if (!Number.isFinite(width) || HAS_ANSI.test(text)) return text;
  return text
    .split("\n")
    .map((para) => wrapLines(para, width, indent).join("\n"))
    .join("\n");
}

// eslint-disable-next-line no-control-regex
const HAS_ANSI = /\u001b\[[0-9;]*m/;

/** Where a long word may break besides spaces: after a slash (`meta-llama/` + `Llama-3.1-8B-Instruct`). */
const pieces = (word: string): string[] => word.split(/(?<=\/)(?=.)/);

function wrapLines(para: string, width: number, indent: string): string[] {
  const lead = /^\s*/.exec(para)?.[0] ?? "";
  const out: string[] = [];
  let prefix = lead;
  let line = "";
  const room = (): number => width - visibleWidth(prefix) - visibleWidth(line);
  for (const word of para.slice(lead.length).split(/ +/)) {
    if (word === "") continue;
    if (visibleWidth(word) + (line === "" ? 0 : 1) <= room()) {
      line = line === "" ? word : `${line} ${word}`;
      continue;
    }
    let sep = line === "" ? "" : " ";
    for (const piece of pieces(word)) {
      if (visibleWidth(piece) + sep.length > room() && line !== "") {
        out.push(prefix + line);
        prefix = indent;
        line = "";
        sep = "";
      }
      // A piece longer than a whole line: break it, as many characters as fit per line.
      // Linear in the piece's length: long hostile input must not make this quadratic.
      const chars = [...piece];
      const widths = chars.map(visibleWidth);
      let left = widths.reduce((a, w) => a + w, 0);
      let start = 0;
      while (left > room() - sep.length && start < chars.length) {
        let end = start;
        for (let used = 0; end < chars.length && used + widths[end]! <= room() - sep.length; end++) used += widths[end]!;
        if (end === start) break;
        out.push(prefix + line + sep + chars.slice(start, end).join(""));
        for (let i = start; i < end; i++) left -= widths[i]!;
        start = end;
        prefix = indent;
        line = "";
        sep = "";
      }
      line += sep + chars.slice(start).join("");
      sep = "";
    }
  }
  if (line !== "" || out.length === 0) out.push(prefix + line);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Numbers

/** Number formats: one way everywhere (en-US separators, `€` with two decimals). */
export const fmt = {
  /** GiB with one decimal and thousands separators: `79.6`, `1,128.0`; `-` when not finite. */
  gib: (x: number): string => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) : "-"),
  /** A whole number with thousands separators: `131,072`. */
  int: (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-"),
  /** A number with thousands separators and `digits` decimals: `1,234.5`. */
  num: (x: number, digits = 1): string => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "-"),
  /** Euros, two decimals: `€1,234.50`, `-€3.00`. Prices exclude VAT ({@link VAT_NOTE}). */
  eur: (x: number): string => (Number.isFinite(x) ? `${x < 0 ? "-" : ""}€${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}` : "-"),
  /**
   * Hourly euros: two decimals, up to four where the provider lists more (`€0.982`, €1.2210 → `€1.221`),
   * so a price per hour is never rounded away from the source.
   */
  eurPerHour: (x: number): string => (Number.isFinite(x) ? `${x < 0 ? "-" : ""}€${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 })}` : "-"),
  /** Parameter counts: `8.03B`, `671B`, `560M`. */
  params: (x: number): string => (x >= 1e9 ? `${(x / 1e9).toFixed(x >= 1e11 ? 0 : 2)}B` : `${(x / 1e6).toFixed(0)}M`),
  /** `1 GPU`, `2 GPUs`, `1,024 tokens`: a count with its noun, plural unless exactly 1. */
  count: (n: number, singular: string, plural = `${singular}s`): string => `${fmt.int(n)} ${n === 1 ? singular : plural}`,
  /** `1 GPU`, `8 GPUs`. */
  gpus: (n: number): string => fmt.count(n, "GPU"),
};

// ---------------------------------------------------------------------------------------------
// Tables

/** How a column behaves when the table is wider than the output. */
export interface Column {
  /**
   * 0 (default): always shown. Higher: may be hidden when the table does not fit, the highest
   * first (as Kubernetes' printer-column `priority`). Hidden columns are named under the table.
   * @default 0
   */
  priority?: number;
  /** Whether long cells may wrap onto more lines. @default true */
  wrap?: boolean;
}

/** Options of {@link table}. */
export interface TableOptions {
  /** Per column, in the order of `head`. */
  columns?: (Column | undefined)[];
  /** Columns to fit in. @default {@link outputWidth}() */
  width?: number;
  /** Print {@link VAT_NOTE} under the table. @default true when a header contains `€` and there are rows */
  priceNote?: boolean;
}

/** Spaces between columns (the layout cli-table3 gave this CLI before: one-space padding around a 2-space separator); 2 when tight. */
const WIDE = 4;
const TIGHT = 2;
/** Narrowest a wrapping column gets (unless its content is narrower). */
const MIN_WRAP = 6;
/** Words longer than this may be broken when wrapping at spaces is not enough. */
const WORD_CAP = 20;

const lines = (s: string): string[] => s.split("\n");
const padVisible = (s: string, width: number): string => s + " ".repeat(Math.max(0, width - visibleWidth(s)));
const longest = (xs: string[]): number => xs.reduce((m, x) => Math.max(m, visibleWidth(x)), 0);
const longestWord = (s: string): number => longest(s.split(/\s+/).flatMap(pieces));

/**
 * A borderless table with a header row, fitted to {@link outputWidth}. Without `options` every
 * column is kept and may wrap; callers mark optional columns with {@link Column.priority}.
 * Colour: bold headers; a column headed `fits` shows yes green and no red.
 */
export function table(head: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const width = options.width ?? outputWidth();
  const cells = rows.map((r) => head.map((_, i) => String(r[i] ?? "")));
  const spec = head.map((_, i) => options.columns?.[i] ?? {});
  const natural = head.map((h, i) => Math.max(longest(lines(h)), ...cells.map((r) => longest(lines(r[i]!)))));
  // Narrowest width of each column when wrapping at spaces only, and when long words may break too.
  const atSpaces = head.map((h, i) => (spec[i]!.wrap === false ? natural[i]! : Math.min(natural[i]!, Math.max(MIN_WRAP, longestWord(h), ...cells.map((r) => longestWord(r[i]!))))));
  const breaking = head.map((h, i) => (spec[i]!.wrap === false ? natural[i]! : Math.min(atSpaces[i]!, Math.max(MIN_WRAP, longestWord(h), WORD_CAP))));
  // Visible width of a line (trailing spaces are trimmed): a leading space, the columns, and a gutter
  // of 4 spaces between them, or 2 when tight.
  const total = (cols: number[], w: number[], gutter: number): number => 1 + cols.reduce((s, i) => s + w[i]!, 0) + gutter * Math.max(0, cols.length - 1);
  const fits = (cols: number[], w: number[]): number | undefined => [WIDE, TIGHT].find((g) => total(cols, w, g) <= width);

  // In order: as is; with tight gutters; without optional columns (highest priority number first,
  // rightmost first on ties) until it fits or none is left; wrapped at spaces; long words broken;
  // one block per row.
  let cols = head.map((_, i) => i);
  const hidden: number[] = [];
  const optional = cols.filter((i) => (spec[i]!.priority ?? 0) > 0).sort((a, b) => (spec[b]!.priority ?? 0) - (spec[a]!.priority ?? 0) || b - a);
  while (fits(cols, natural) === undefined && optional.length > 0) {
    const drop = optional.shift()!;
    hidden.push(drop);
    cols = cols.filter((i) => i !== drop);
  }
  const gutter = fits(cols, natural);
  const minimum = gutter !== undefined ? natural : total(cols, atSpaces, TIGHT) <= width ? atSpaces : breaking;
  let out: string;
  if (total(cols, minimum, TIGHT) > width) {
    out = expanded(head, cells, width);
    hidden.length = 0;
  } else {
    const w = [...natural];
    // Narrow the widest column that can still wrap, one step at a time, until the table fits.
    while (total(cols, w, TIGHT) > width) {
      const widest = cols.filter((i) => w[i]! > minimum[i]!).sort((a, b) => w[b]! - w[a]! || b - a)[0];
      if (widest === undefined) break;
      w[widest]!--;
    }
    out = grid(
      cols.map((i) => head[i]!),
      cells.map((r) => cols.map((i) => r[i]!)),
      cols.map((i) => w[i]!),
      cols.map((i) => head[i] === "fits"),
      gutter ?? TIGHT,
    );
  }
  const notes: string[] = [];
  if (hidden.length > 0) notes.push(style.dim(wrapText(`(${hidden.length === 1 ? "column" : "columns"} ${hidden.sort((a, b) => a - b).map((i) => head[i]).join(", ")} hidden to fit ${width} columns; widen the terminal, set COLUMNS, or use --json)`, width)));
  if (options.priceNote ?? (rows.length > 0 && head.some((h) => h.includes("€")))) notes.push(VAT_NOTE);
  return [out, ...notes].join("\n");
}

/**
 * Lays out pre-fitted columns: each cell wrapped to its column, padded, coloured line by line. Done
 * here rather than with cli-table3, whose layout takes seconds for a cell of a few thousand
 * characters once wrapped, and which cuts a cell whose width it measures differently.
 */
function grid(head: string[], rows: string[][], widths: number[], verdictColumn: boolean[], gutter: number): string {
  const plain = (s: string): string => s;
  const render = (cells: string[], paints: ((s: string) => string)[]): string[] => {
    const wrapped = cells.map((c, i) => wrapText(c, widths[i]!).split("\n"));
    const height = Math.max(1, ...wrapped.map((l) => l.length));
    const out: string[] = [];
    for (let k = 0; k < height; k++) {
      const line = wrapped.map((ls, i) => {
        const text = ls[k] ?? "";
        return paints[i]!(text) + " ".repeat(Math.max(0, widths[i]! - visibleWidth(text)));
      });
      out.push(` ${line.join(" ".repeat(gutter))}`.replace(/ +$/, ""));
    }
    return out;
  };
  const header = render(head, head.map(() => style.bold));
  const body = rows.flatMap((r) => render(r, r.map((c, i) => (verdictColumn[i] ? verdictStyle(c) : plain))));
  return [...header, ...body].join("\n");
}

/** One block per row, `header  value` lines under the row's first cell: for tables no width can hold. */
function expanded(head: string[], rows: string[][], width: number): string {
  const keyWidth = longest(head.slice(1));
  const valueWidth = Math.max(MIN_WRAP, width - keyWidth - 5);
  return rows
    .map((r) =>
      [
        ...wrapText(`${head[0]}: ${r[0]}`, width - 1, "  ")
          .split("\n")
          .map((l) => ` ${style.bold(l)}`),
        ...head.slice(1).map((h, i) => {
          const value = wrapText(r[i + 1]!, valueWidth, "").split("\n");
          const painted = h === "fits" ? value.map(verdictStyle(r[i + 1]!)) : value;
          return painted.map((v, j) => `   ${j === 0 ? style.bold(padVisible(h, keyWidth)) : " ".repeat(keyWidth)}  ${v}`.trimEnd()).join("\n");
        }),
      ].join("\n"),
    )
    .join("\n\n");
}

/**
 * Two-column key/value table (no header), fitted like {@link table}; values wrap. A `fits` value
 * starting with yes is green, with NO red.
 */
export function keyValues(pairs: [string, string | number][], options: Pick<TableOptions, "width"> = {}): string {
  const width = options.width ?? outputWidth();
  const keyWidth = longest(pairs.map(([k]) => k));
  const valueWidth = Math.max(MIN_WRAP, width - keyWidth - 1 - WIDE);
  const rows = pairs.map(([k, v]) => {
    const value = wrapText(String(v), valueWidth).split("\n");
    const paint = k === "fits" ? verdictStyle(String(v)) : (s: string): string => s;
    return value.map((line, j) => ` ${padVisible(j === 0 ? k : "", keyWidth)}${" ".repeat(WIDE)}${paint(line)}`.trimEnd()).join("\n");
  });
  return rows.join("\n");
}

// ---------------------------------------------------------------------------------------------
// JSON

/** Rounds every number in a JSON tree to `digits` decimals for stable script output. */
export function roundDeep<T>(v: T, digits = 3): T {
  if (typeof v === "number") return (Number.isInteger(v) ? v : Math.round(v * 10 ** digits) / 10 ** digits) as T;
  if (Array.isArray(v)) return v.map((x) => roundDeep(x, digits)) as T;
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x, digits)])) as T;
  return v;
}

/** `{ schemaVersion, ...v }` for an object; anything else unchanged. */
export function withSchemaVersion<T>(v: T): T | ({ schemaVersion: number } & T) {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? { schemaVersion: JSON_SCHEMA_VERSION, ...v } : v;
}

/** Prints one JSON document: numbers rounded, objects led by `schemaVersion` ({@link JSON_SCHEMA_VERSION}). */
export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(roundDeep(withSchemaVersion(v)), null, 2)}\n`);
}
