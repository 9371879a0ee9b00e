/**
 * What people see: the text output of the built CLI at 80 and 160 columns, with and without
 * colour (snapshots), plus the rules behind it (cli/format.ts): width, colour switches, number
 * formats, and `schemaVersion` in every `--json` object.
 *
 * The snapshots hold catalog figures: a catalog change shows up here too. Review the diff, then
 * `npx jest test/cli-output.test.ts -u`.
 */
import path from "node:path";
import fc from "fast-check";
import { colorEnabled, fmt, keyValues, outputWidth, setColorMode, table, VAT_NOTE, visibleWidth, withSchemaVersion, wrapText } from "../cli/format";
import { runCli, type CliRun } from "./helpers/cliChild";

const ROOT = path.join(__dirname, "..");
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/;

/** Runs the built CLI with only the environment given (no FORCE_COLOR or NO_COLOR leaking in from the test runner). */
/** The CLI with only PATH, HOME and `env` (no inherited colour or width settings). */
function cli(args: string[], env: Record<string, string>): CliRun {
  return runCli(args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } });
}

const COMMANDS: [string, string[]][] = [
  ["estimate (fits)", ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--max-model-len", "16k", "--concurrency", "2"]],
  ["estimate (does not fit)", ["estimate", "--model", "llama-3.1-70b", "--gpu", "l4"]],
  ["catalog gpus", ["catalog", "gpus"]],
  ["check stacks/Pulumi.dev.yaml", ["check", "stacks/Pulumi.dev.yaml"]],
  // fit's output belongs to the planner (issue #11): if it changes there, update this snapshot.
  ["fit --top 3", ["fit", "llama-3.1-8b", "--context", "8k", "--top", "3"]],
];
/** Commands whose every line must fit 80 columns: all of them (fit's prose lines wrap through `wrapText`). */
const WIDTH_CHECKED = new Set(COMMANDS.map(([name]) => name));

const cases = COMMANDS.flatMap(([name, args]) =>
  [80, 160].flatMap((columns) => [false, true].map((color) => ({ name, args, columns, color, label: `${name} at ${columns} columns, ${color ? "colour" : "no colour"}` }))),
);

describe("text output (snapshots)", () => {
  it.each(cases)("$label", ({ name, args, columns, color }) => {
    const r = cli(args, { COLUMNS: String(columns), ...(color ? { FORCE_COLOR: "1" } : { NO_COLOR: "1" }) });
    expect(r.stderr).toBe("");
    expect([0, 1]).toContain(r.status);
    expect(ANSI.test(r.stdout)).toBe(color);
    const wide = r.stdout.split("\n").filter((l) => visibleWidth(l) > columns);
    if (columns === 80 && WIDTH_CHECKED.has(name)) expect(wide).toEqual([]);
    expect(r.stdout).toMatchSnapshot();
  });

  it("fits every table line into 80 columns with colour codes taking no room", () => {
    const plain = cli(["check", "stacks/Pulumi.prod.yaml"], { COLUMNS: "80", NO_COLOR: "1" }).stdout;
    const coloured = cli(["check", "stacks/Pulumi.prod.yaml"], { COLUMNS: "80", FORCE_COLOR: "1" }).stdout;
    expect(coloured.replace(new RegExp(ANSI.source, "g"), "")).toBe(plain);
  });

  it("does not wrap or hide anything when piped without COLUMNS", () => {
    const r = cli(["catalog", "gpus"], {});
    const lines = r.stdout.split("\n");
    expect(Math.max(...lines.map((l) => l.length))).toBeGreaterThan(160);
    expect(lines[0]).toMatch(/^ id +name +arch +CC +memory +usable GiB +GB\/s +W +bf16 +fp8 +fp4 +int8$/);
    expect(r.stdout).not.toContain("hidden to fit");
  });
});

describe("colour switches", () => {
  it.each([
    ["a terminal", {}, true, true],
    ["a pipe", {}, false, false],
    ["NO_COLOR=1 on a terminal", { NO_COLOR: "1" }, true, false],
    ["an empty NO_COLOR (ignored, per no-color.org)", { NO_COLOR: "" }, true, true],
    ["FORCE_COLOR=1 on a pipe", { FORCE_COLOR: "1" }, false, true],
    ["FORCE_COLOR (empty) on a pipe", { FORCE_COLOR: "" }, false, true],
    ["FORCE_COLOR=0 on a terminal", { FORCE_COLOR: "0" }, true, false],
    ["NO_COLOR and FORCE_COLOR both set", { NO_COLOR: "1", FORCE_COLOR: "1" }, true, false],
    ["TERM=dumb on a terminal", { TERM: "dumb" }, true, false],
  ])("%s", (_, env, isTTY, expected) => {
    expect(colorEnabled(env as NodeJS.ProcessEnv, { isTTY })).toBe(expected);
  });

  it("--no-color wins over FORCE_COLOR, wherever it is on the command line", () => {
    for (const args of [["--no-color", "check", "stacks/Pulumi.dev.yaml"], ["check", "stacks/Pulumi.dev.yaml", "--no-color"]]) {
      const r = cli(args, { FORCE_COLOR: "1" });
      expect(r.status).toBe(0);
      expect(ANSI.test(r.stdout)).toBe(false);
      expect(r.stdout).toContain("stacks/Pulumi.dev.yaml: OK");
    }
  });

  it("setColorMode(false) turns colour off in-process until reset", () => {
    setColorMode(false);
    expect(colorEnabled({ FORCE_COLOR: "1" }, { isTTY: true })).toBe(false);
    setColorMode(undefined);
    expect(colorEnabled({ FORCE_COLOR: "1" }, { isTTY: true })).toBe(true);
  });
});

describe("output width", () => {
  it.each([
    ["COLUMNS", { COLUMNS: "100" }, { isTTY: true, columns: 120 }, 100],
    ["the terminal", {}, { isTTY: true, columns: 120 }, 120],
    ["a pipe: unlimited", {}, { isTTY: false }, Infinity],
    ["COLUMNS that is not a number is ignored", { COLUMNS: "wide" }, { isTTY: true, columns: 90 }, 90],
  ])("%s", (_, env, stream, expected) => {
    expect(outputWidth(env as NodeJS.ProcessEnv, stream)).toBe(expected);
  });
});

describe("table", () => {
  const head = ["id", "name", "arch", "memory", "€/month", "fits"];
  const rows = [
    ["rtx-pro-6000-blackwell-max-q", "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "blackwell", "96 GB GDDR7", fmt.eur(1234.5), "yes"],
    ["h100-sxm-80gb", "NVIDIA H100 SXM 80GB", "hopper", "80 GB HBM3", fmt.eur(3), "no"],
  ];

  it("keeps the layout of a table that fits: leading space, 4-space gutters, no trailing spaces, VAT note under prices", () => {
    expect(table(["a", "bb"], [["x", "y"]], { width: Infinity })).toBe(" a    bb\n x    y");
    expect(table(head, rows, { width: Infinity }).split("\n").at(-1)).toBe(VAT_NOTE);
    expect(table(["a"], [["x"]], { width: Infinity, priceNote: true })).toBe(` a\n x\n${VAT_NOTE}`);
  });

  it("hides optional columns, highest priority number first, and says which", () => {
    const out = table(head, rows, { width: 100, columns: [{}, { priority: 2 }, { priority: 1 }] });
    expect(out).not.toContain("NVIDIA");
    expect(out).toContain("hopper");
    expect(out).toContain("(column name hidden to fit 100 columns");
    const narrower = table(head, rows, { width: 60, columns: [{}, { priority: 2 }, { priority: 1 }] });
    expect(narrower).not.toContain("hopper");
    expect(narrower).toContain("(columns name, arch hidden to fit 60 columns");
  });

  it("prints one block per row when even wrapping cannot fit", () => {
    const out = table(head, rows, { width: 40 });
    expect(out).toContain(" id: rtx-pro-6000-blackwell-max-q\n   name     NVIDIA RTX PRO 6000\n            Blackwell Max-Q Workstation\n");
    expect(out).toContain("   €/month  €3.00");
  });

  it("property: every line fits and every word of every cell is still there, at any width from 40", () => {
    fc.assert(
      fc.property(fc.integer({ min: 40, max: 240 }), (width) => {
        const out = table(head, rows, { width });
        for (const l of out.split("\n")) expect(visibleWidth(l)).toBeLessThanOrEqual(width);
        // Words may be broken across lines, never dropped: compare the text without whitespace.
        const squashed = out.replace(/\s+/g, "");
        for (const cell of rows.flat()) for (const piece of cell.split(/\s+/)) expect(squashed).toContain(piece.slice(0, Math.min(piece.length, 10)));
      }),
      { numRuns: 60, seed: 12 },
    );
  });

  it("colours the fits column and bold headers only when colour is on", () => {
    setColorMode(true);
    try {
      const out = table(head, rows, { width: Infinity });
      expect(out).toContain("\u001b[1mid\u001b[22m");
      expect(out).toContain("\u001b[32myes\u001b[39m");
      expect(out).toContain("\u001b[31mno\u001b[39m");
      expect(keyValues([["fits", "NO: too big"]], { width: 80 })).toContain("\u001b[31mNO: too big\u001b[39m");
    } finally {
      setColorMode(false);
    }
    expect(ANSI.test(table(head, rows, { width: Infinity }))).toBe(false);
    setColorMode(undefined);
  });

  it("measures emoji and wide characters as two columns, so columns line up and nothing is cut", () => {
    expect([visibleWidth("✅ fixed"), visibleWidth("⚠️"), visibleWidth("漢字"), visibleWidth("€1 × 2"), visibleWidth("\u001b[31mno\u001b[39m")]).toEqual([8, 2, 4, 6, 2]);
    expect(table(["a", "b"], [["✅ fixed", "x"], ["new", "y"]], { width: Infinity })).toBe(" a           b\n ✅ fixed    x\n new         y");
  });

  it("lays out a 92,000-character cell within seconds (hostile input), every line within the width", () => {
    const huge = `${"x".repeat(60_000)} ${"word ".repeat(8_000)}`;
    const started = Date.now();
    const out = table(["name", "value"], [["a", huge]], { width: 80 });
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const l of out.split("\n")) expect(visibleWidth(l)).toBeLessThanOrEqual(80);
    expect(out.replace(/[\s]/g, "").length).toBe("namevaluea".length + 60_000 + 4 * 8_000);
  });

  it("wraps key/value text under its value column", () => {
    expect(keyValues([["fits", "NO: weights 131.45 GiB exceed 20.24 GiB per GPU"], ["on", "1 × L4"]], { width: 30 })).toBe(" fits    NO: weights 131.45\n         GiB exceed 20.24 GiB\n         per GPU\n on      1 × L4");
  });
});

describe("wrapText", () => {
  it("wraps at spaces, after slashes in long ids, and breaks words longer than the line", () => {
    expect(wrapText("the model meta-llama/Llama-3.1-8B-Instruct fits", 24, "  ")).toBe("the model meta-llama/\n  Llama-3.1-8B-Instruct\n  fits");
    expect(wrapText("abcdefghijklmnop", 6)).toBe("abcdef\nghijkl\nmnop");
    expect(wrapText("short", Infinity)).toBe("short");
  });
});

describe("numbers, one way", () => {
  it.each([
    [fmt.eur(1234.5), "€1,234.50"],
    [fmt.eur(0), "€0.00"],
    [fmt.eur(-3), "-€3.00"],
    [fmt.eur(NaN), "-"],
    [fmt.eurPerHour(0.982), "€0.982"],
    [fmt.eurPerHour(2.5), "€2.50"],
    [fmt.int(131072), "131,072"],
    [fmt.gib(1128), "1,128.0"],
    [fmt.gib(79.64), "79.6"],
    [fmt.num(1234.56, 1), "1,234.6"],
    [fmt.gpus(1), "1 GPU"],
    [fmt.gpus(2), "2 GPUs"],
    [fmt.count(1, "violation"), "1 violation"],
    [fmt.count(0, "violation"), "0 violations"],
    [fmt.count(2048, "token"), "2,048 tokens"],
  ])("%s is %s", (got, want) => expect(got).toBe(want));
});

describe("schemaVersion in --json", () => {
  it("leads every JSON object; arrays are left as they are", () => {
    expect(Object.keys(withSchemaVersion({ a: 1 }) as object)).toEqual(["schemaVersion", "a"]);
    expect(withSchemaVersion([1, 2])).toEqual([1, 2]);
  });

  it.each([
    ["estimate", ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--json"]],
    ["check", ["check", "stacks/Pulumi.dev.yaml", "--json"]],
    ["check --format json", ["check", "stacks/Pulumi.dev.yaml", "--format", "json"]],
    ["fit", ["fit", "llama-3.1-8b", "--json"]],
  ])("%s prints schemaVersion 1", (_, args) => {
    const r = cli(args, {});
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { schemaVersion: unknown }).schemaVersion).toBe(1);
  });
});
