/**
 * `gpu-hosting check --base <file>`: the change a pull request makes to a stack (core/checks/diff.ts,
 * cli/checkDiff.ts), the charts rules, and the workflow that passes the base branch's file.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CORE_SCHEMA, dump, load } from "js-yaml";
// First: entering core through cli/check trips an import cycle (core/hosts/common → checks/secrets → config/schema → hosts).
import { checkStackConfig, readStackYaml } from "../core/checks/stackFile";
import { formatCheckReport } from "../cli/check";
import { diffMarkdown, mermaidChart } from "../cli/checkDiff";
import type { Violation } from "../core/checks";
import { diffItems, diffViolations, totalChange, type StackDiff } from "../core/checks/diff";
import { describeWithTools, scriptFindings } from "./helpers/tools";

const ROOT = path.join(__dirname, "..");
const MAIN = path.join(ROOT, "dist", "cli", "main.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-check-diff-"));

function check(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, "check", ...args], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Config = Record<string, unknown>;
type Row = Record<string, unknown>;

/** The dev stack's config map, edited by `edit`, as YAML text. */
function devVariant(edit: (c: Config) => void): string {
  const doc = load(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8"), { schema: CORE_SCHEMA }) as { config: Config };
  edit(doc.config);
  return dump(doc);
}
const write = (name: string, text: string): string => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
};
const hosts = (c: Config) => c["gpu-hosting:hosts"] as Row[];
const deployments = (c: Config) => c["gpu-hosting:deployments"] as Row[];

/**
 * Base: the dev stack plus a second L4 host (old-gpu), over its €800 budget (a cost-budget advisory).
 * Head: old-gpu removed, an L40S host added, the budget raised to €2,000 (the advisory fixed), and the
 * chat deployment's context raised to 128k, which no longer fits the L4 (a new vram-fit violation).
 */
const BASE = devVariant((c) => hosts(c).push({ ...hosts(c)[0], name: "old-gpu" }));
const HEAD = devVariant((c) => {
  hosts(c).push({ ...hosts(c)[0], name: "big-gpu", type: "L40S-1-48G" });
  deployments(c)[0]!.context = "128k";
  (c["gpu-hosting:budgets"] as Row).eurPerMonth = 2000;
});

interface DiffJson {
  ok: boolean;
  diff: StackDiff;
}

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
});

describe("diff logic (pure)", () => {
  const v = (policy: string, subject: string, message: string): Violation => ({ policy, subject, message, enforcementLevel: "mandatory", remediation: "fix it" });

  it("marks violations new, fixed or unchanged by policy + subject + message, one for one", () => {
    const a = v("vram-fit", "deployment chat", "too big");
    const b = v("cost-budget", "stack", "over by €10");
    const c = v("cost-budget", "stack", "over by €20");
    const d = v("secrets", "stack", "plain text");
    const r = diffViolations([a, b, d, d], [{ ...a, remediation: "changed text is still the same violation" }, c, d]);
    expect(r.unchanged.map((x) => x.policy)).toEqual(["vram-fit", "secrets"]);
    expect(r.new).toEqual([c]);
    expect(r.fixed).toEqual([b, d]);
  });

  it("compares named rows field by field, in head order, removed in base order", () => {
    const base = [{ name: "a", x: 1 }, { name: "b", x: 2 }, { name: "c", x: 3 }];
    const head = [{ name: "d", x: 4 }, { name: "b", x: 5 }, { name: "a", x: 1 }];
    expect(diffItems(base, head, ["x"])).toEqual({
      added: [{ name: "d", x: 4 }],
      removed: [{ name: "c", x: 3 }],
      changed: [{ name: "b", changes: [{ field: "x", base: 2, head: 5 }], head: { name: "b", x: 5 } }],
    });
  });

  it("shows a changed host's GPUs old → new, a CPU-only base included", () => {
    const row = { name: "box", kind: "onprem", offer: null, gpu: "l4", gpuCount: 1, location: "office", peakWatts: 372 };
    const t = totalChange(300, 372);
    const d: StackDiff = {
      base: { file: "base.yaml", status: "checked", error: null },
      hosts: { added: [], removed: [], changed: [{ name: "box", changes: [{ field: "gpu", base: null, head: "l4" }, { field: "gpuCount", base: 0, head: 1 }, { field: "peakWatts", base: 300, head: 372 }], head: row }] },
      deployments: { added: [], removed: [], changed: [] },
      totals: { eurPerMonth: totalChange(10, 10), peakWatts: t, kwhPerMonth: t, co2eKgPerMonth: t },
      sites: [{ name: "office", base: 300, head: 372 }],
      violations: { new: [], fixed: [], unchanged: [] },
    };
    const md = diffMarkdown(d).join("\n");
    expect(md).toContain("| box | ✏️ changed | onprem | CPU → **1 × l4** | office | 300 → **372** |");
    expect(md).toContain("| cost per month (excl. VAT) | €10.00 | €10.00 | no change |");
    expect(md).toContain("| peak power | 300 W | 372 W | +72 W (+24.0%) |");
  });

  it.each<[number | null, number, ReturnType<typeof totalChange>]>([
    [100, 150, { base: 100, head: 150, delta: 50, percent: 50 }],
    [200, 150, { base: 200, head: 150, delta: -50, percent: -25 }],
    [0, 150, { base: 0, head: 150, delta: 150, percent: null }],
    [null, 150, { base: null, head: 150, delta: null, percent: null }],
  ])("totals %p → %p", (base, head, expected) => {
    expect(totalChange(base, head)).toEqual(expected);
  });
});

describe("charts carry information", () => {
  const spec = { title: "t", yLabel: "W", categories: ["a", "b"], bar: [100, 200], line: [300, 300], digits: 0 };

  it("draws bars and a line that differs from them", () => {
    expect(mermaidChart(spec).join("\n")).toBe('```mermaid\nxychart-beta\n  title "t"\n  x-axis ["a", "b"]\n  y-axis "W"\n  bar [100, 200]\n  line [300, 300]\n```\n');
  });

  it("drops a line equal to its bars at the precision shown, and a comparison chart with it", () => {
    expect(mermaidChart({ ...spec, line: [100.2, 199.9] }).join("\n")).not.toContain("line");
    expect(mermaidChart({ ...spec, line: [100.2, 199.9], lineRequired: true })).toEqual([]);
  });

  it("omits a chart of one category (one bar; Mermaid draws a line of one point as nothing)", () => {
    expect(mermaidChart({ ...spec, categories: ["a"], bar: [100], line: [300] })).toEqual([]);
  });

  /** The power chart of a stack's comment, checked in-process. */
  const powerChart = (text: string): string => {
    const file = "Pulumi.chart.yaml";
    const md = formatCheckReport(file, checkStackConfig(readStackYaml(text, file), file), "markdown");
    return md.slice(md.indexOf("#### Power per site"), md.indexOf("#### Stack"));
  };
  const twoSites = (budgets: [number | null, number | null]) =>
    devVariant((c) => {
      c["gpu-hosting:sites"] = budgets.map((b, i) => ({ name: `site-${i}`, country: "DE", ...(b === null ? {} : { powerBudgetWatts: b }) }));
      hosts(c).splice(0, 1, ...budgets.map((_, i) => ({ name: `rack-${i}`, kind: "onprem", site: `site-${i}`, address: `192.0.2.${10 + i}`, user: "llm", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x", inventory: { gpu: "rtx-4090", gpuCount: i + 1, nonGpuWatts: 300 } })));
      deployments(c)[0]!.hosts = ["rack-0"];
    });

  it("draws no budget line when no site has a budget (never a line at 0)", () => {
    const chart = powerChart(twoSites([null, null]));
    expect(chart).toContain('  title "Peak watts per site"\n  x-axis ["site-0", "site-1"]\n  y-axis "W"\n  bar [750, 1200]\n```');
    expect(chart).not.toMatch(/line \[/);
  });

  it("draws no budget line when only some sites have one, and says the budgets are in the table", () => {
    const chart = powerChart(twoSites([2000, null]));
    expect(chart).toContain('title "Peak watts per site (power budgets in the table)"');
    expect(chart).not.toMatch(/line \[/);
    expect(chart).toContain("| site-0 | rack-0 | 750 | 1.54 | 2000 |");
  });

  it("draws the budget line when every site has one", () => {
    expect(powerChart(twoSites([2000, 1500]))).toContain('title "Peak watts per site (bars) against power budget (line)"\n  x-axis ["site-0", "site-1"]\n  y-axis "W"\n  bar [750, 1200]\n  line [2000, 1500]');
  });

  it("omits the power chart of a single site without a budget, and plots VRAM needed (not the allocation that fills the budget)", () => {
    const md = formatCheckReport("dev", checkStackConfig(readStackYaml(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8"), "dev"), "dev"), "markdown");
    expect(md).not.toContain("```mermaid");
    const prod = check("--stack", "prod", "--format", "markdown").stdout;
    const vram = /title "GiB per GPU: needed for context × concurrency \(bars\) against budget \(line\)"\n.*\n.*\n {2}bar \[(.*)\]\n {2}line \[(.*)\]/.exec(prod);
    expect(vram).not.toBeNull();
    expect(vram![1]).not.toBe(vram![2]);
  });
});

describe("check --base", () => {
  const base = write("base.yaml", BASE);
  const head = write("head.yaml", HEAD);

  it("shows hosts added and removed, the changed context, totals old → new and each violation new or fixed (markdown)", () => {
    const r = check(head, "--format", "markdown", "--base", base);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1); // the head's new mandatory vram-fit violation decides
    const md = r.stdout;
    expect(md.startsWith(`<!-- gpu-hosting-check -->\n### gpu-hosting check: \`${head}\` ❌ failed`)).toBe(true);
    expect(md).toContain(`Compared with \`${base}\` from the base branch.`);
    expect(md).toContain("| big-gpu | ➕ added | scaleway-l40s-1-48g | 1 × l40s | fr-par-2 | 470 |");
    expect(md).toContain("| old-gpu | ➖ removed | scaleway-l4-1-24g | 1 × l4 | fr-par-2 | 172 |");
    expect(md).toContain("| chat | ✏️ changed | meta-llama/Llama-3.1-8B-Instruct | bf16 | 16,384 → **131,072** | 2 |");
    expect(md).toMatch(/\| cost per month \(excl\. VAT\) \| €1,149\.\d\d \| €1,647\.\d\d \| \+€498\.\d\d \(\+43\.3%\) \|/);
    expect(md).toMatch(/\| peak power \| 344 W \| 642 W \| \+298 W \(\+86\.6%\) \|/);
    expect(md).toMatch(/\| 🆕 new \| mandatory \| vram-fit \| deployment chat \| .*the KV cache holds \d+ of the 262144 tokens needed/);
    expect(md).toMatch(/\| ✅ fixed \| advisory \| cost-budget \| stack \| costs €1149\.\d\d\/month, over the budget of €800/);
    // One site in both: a base/head watts chart would be one bar, so there is none.
    expect(md).not.toContain("against the base branch (line)");
  });

  it("adds a diff object with a stable shape to --json", () => {
    const r = check(head, "--json", "--base", base);
    expect(r.status).toBe(1);
    const { diff } = JSON.parse(r.stdout) as DiffJson;
    expect(Object.keys(diff)).toEqual(["base", "hosts", "deployments", "totals", "sites", "violations"]);
    expect(diff.base).toEqual({ file: base, status: "checked", error: null });
    expect(diff.hosts.added).toEqual([{ name: "big-gpu", kind: "scaleway", offer: "scaleway-l40s-1-48g", gpu: "l40s", gpuCount: 1, location: "fr-par-2", peakWatts: 470 }]);
    expect(diff.hosts.removed.map((h) => h.name)).toEqual(["old-gpu"]);
    expect(diff.hosts.changed).toEqual([]);
    expect(diff.deployments.changed).toEqual([expect.objectContaining({ name: "chat", changes: [{ field: "context", base: 16384, head: 131072 }] })]);
    expect(diff.totals.peakWatts).toEqual({ base: 344, head: 642, delta: 298, percent: 86.63 });
    expect(diff.totals.eurPerMonth.delta).toBeCloseTo(diff.totals.eurPerMonth.head - diff.totals.eurPerMonth.base!, 1);
    expect(diff.sites).toEqual([{ name: "scaleway-fr-par-2", base: 344, head: 642 }]);
    expect(diff.violations.new.map((v) => `${v.policy} ${v.enforcementLevel}`)).toEqual(["vram-fit mandatory"]);
    expect(diff.violations.fixed.map((v) => `${v.policy} ${v.enforcementLevel}`)).toEqual(["cost-budget advisory"]);
    expect(diff.violations.unchanged).toEqual([]);
  });

  it("exits 0 when the head is clean, whatever the base had", () => {
    const r = check("stacks/Pulumi.dev.yaml", "--json", "--base", head);
    expect(r.status).toBe(0);
    const { diff } = JSON.parse(r.stdout) as DiffJson;
    expect(diff.violations.fixed.map((v) => v.policy)).toEqual(["vram-fit"]);
    expect(diff.hosts.removed.map((h) => h.name)).toEqual(["big-gpu"]);
  });

  it("says the text report's change too", () => {
    const r = check(head, "--base", base);
    expect(r.stdout).toContain(`against ${base}; 1 host added, 1 removed; 1 deployment changed; violations: 1 new, 1 fixed, 0 unchanged`);
    expect(r.stdout).toContain("  ~ deployment chat: context 16384 → 131072");
  });

  it("reports a base that does not exist as a new stack, everything added", () => {
    const missing = path.join(tmp, "no-such-dir", "Pulumi.dev.yaml");
    const md = check("stacks/Pulumi.dev.yaml", "--format", "markdown", "--base", missing);
    expect(md.status).toBe(0);
    expect(md.stdout).toContain(`🆕 **New stack**: \`${missing}\` does not exist on the base branch, so everything is added.`);
    expect(md.stdout).toContain("| dev-gpu | ➕ added | scaleway-l4-1-24g | 1 × l4 | fr-par-2 | 172 |");
    expect(md.stdout).toContain("| chat | ➕ added | meta-llama/Llama-3.1-8B-Instruct | bf16 | 16,384 | 2 |");
    expect(md.stdout).toMatch(/\| peak power \| – \| 172 W \| new \|/);
    const { diff } = JSON.parse(check("stacks/Pulumi.dev.yaml", "--json", "--base", missing).stdout) as DiffJson;
    expect(diff.base.status).toBe("missing");
    expect(diff.totals.peakWatts).toEqual({ base: 0, head: 172, delta: 172, percent: null });
    expect(diff.hosts.added.map((h) => h.name)).toEqual(["dev-gpu"]);
  });

  it("says an invalid base does not check and still shows the head's report", () => {
    const bad = write("bad-base.yaml", "config:\n  gpu-hosting:hosts: [\n");
    const r = check(head, "--format", "markdown", "--base", bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`⚠️ The base branch's \`${bad}\` does not check, so there is nothing to compare with`);
    expect(r.stdout).toContain(`> ${bad}: not valid YAML at line 3, column 1`);
    expect(r.stdout).toMatch(/\| mandatory \| vram-fit \| deployment chat \|/);
    expect(r.stdout).toContain("#### VRAM per GPU (GiB)");
    const invalidConfig = write("invalid-base.yaml", devVariant((c) => (hosts(c)[0]!.type = "L4-9-24G")));
    const { diff } = JSON.parse(check(head, "--json", "--base", invalidConfig).stdout) as DiffJson;
    expect(diff.base.status).toBe("invalid");
    expect(diff.base.error).toContain("gpu-hosting:hosts[0].type");
    expect(diff.hosts).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.totals.eurPerMonth.base).toBeNull();
  });

  it("says when nothing changed", () => {
    const r = check("stacks/Pulumi.prod.yaml", "--format", "markdown", "--base", "stacks/Pulumi.prod.yaml");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| peak power \| 2,100 W \| 2,100 W \| no change \|/);
    expect(r.stdout).toContain("No host or deployment changed.");
  });

  it("charts peak watts per site, base against head, when two sites or more and one changed", () => {
    const prod = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.prod.yaml"), "utf8");
    const doc = load(prod, { schema: CORE_SCHEMA }) as { config: Config };
    hosts(doc.config)[2]!.gpuPowerCapWatts = 300; // rack-1: 2 × RTX 4090 capped at 300 W instead of 350 W
    const headFile = write("Pulumi.capped.yaml", dump(doc));
    const md = check(headFile, "--format", "markdown", "--base", "stacks/Pulumi.prod.yaml").stdout;
    expect(md).toContain("| rack-1 | ✏️ changed | onprem | 2 × rtx-4090 | office-dc | 1,000 → **900** |");
    expect(md).toContain('  title "Peak watts per site: this branch (bars) against the base branch (line)"\n  x-axis ["office-dc", "hetzner-nbg1", "scaleway-fr-par-2"]\n  y-axis "W"\n  bar [900, 550, 550]\n  line [1000, 550, 550]\n```');
  });

  it("exits 2 naming --base when it is empty (an unset variable)", () => {
    const r = check("stacks/Pulumi.dev.yaml", "--base", "");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: --base: got ""; expected the path of the base branch's copy of the stack file\n`);
  });

  it("exits 2 naming --base when the base path exists but cannot be read", () => {
    const r = check("stacks/Pulumi.dev.yaml", "--format", "markdown", "--base", tmp);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`error: --base: got ${JSON.stringify(tmp)}; cannot read ${tmp} (EISDIR). Give the base branch's copy of the stack file, e.g. from \`git show origin/main:stacks/Pulumi.prod.yaml > base/stacks/Pulumi.prod.yaml\`, or a path that does not exist for a new stack\n`);
  });
});

describe("the workflow passes the base branch's stack files", () => {
  const workflow = load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "gpu-hosting.yml"), "utf8"), { schema: CORE_SCHEMA }) as { jobs: Record<string, { steps: { name?: string; run?: string; if?: string }[] }> };
  const steps = workflow.jobs.check!.steps;
  const fetchStep = steps.find((s) => s.run?.includes("git fetch"));
  const checkStep = steps.find((s) => s.run?.includes("main.js check"));

  it("fetches the base branch on pull requests and runs check with --base", () => {
    expect(fetchStep?.if).toBe("github.event_name == 'pull_request'");
    expect(fetchStep?.run).toContain('git fetch --no-tags --depth=1 origin "+refs/heads/$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF"');
    expect(fetchStep?.run).toContain('git show "origin/$GITHUB_BASE_REF:$file" > "base/$file"');
    expect(steps.indexOf(fetchStep!)).toBeLessThan(steps.indexOf(checkStep!));
    expect(checkStep?.run).toMatch(/--base "base\/\$file"/);
  });

  it("and so does the docs' example for another repository (valid YAML)", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "pull-requests.md"), "utf8");
    const block = /## From another repository[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc);
    expect(block).not.toBeNull();
    const example = load(block![1]!, { schema: CORE_SCHEMA }) as { jobs: { check: { steps: { run?: string }[] } } };
    const runs = example.jobs.check.steps.map((s) => s.run ?? "").join("\n");
    expect(runs).toContain('git show "origin/$GITHUB_BASE_REF:$f" > "base/$f"');
    expect(runs).toMatch(/npx gpu-hosting check "\$f" --format markdown --base "base\/\$f"/);
  });

  describeWithTools("its scripts", ["git", "shellcheck", "bash"], () => {
    it("pass shellcheck", () => {
      for (const s of [fetchStep!, checkStep!]) expect(scriptFindings(write(`step-${steps.indexOf(s)}.sh`, `#!/bin/bash\n${s.run!}`))).toBe("");
    });

    it("compare each stack with the base branch's in a real clone: changed, new and invalid-on-base stacks", () => {
      const git = (cwd: string, ...args: string[]) => {
        const r = spawnSync("git", ["-c", "user.email=ci@example.com", "-c", "user.name=ci", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
      };
      const origin = path.join(tmp, "origin");
      fs.mkdirSync(path.join(origin, "stacks"), { recursive: true });
      git(origin, "init", "-q");
      fs.writeFileSync(path.join(origin, "stacks", "Pulumi.dev.yaml"), BASE);
      fs.writeFileSync(path.join(origin, "stacks", "Pulumi.broken.yaml"), "config:\n  gpu-hosting:hosts: [\n");
      git(origin, "add", ".");
      git(origin, "commit", "-qm", "base");
      git(origin, "checkout", "-qb", "feature");
      fs.writeFileSync(path.join(origin, "stacks", "Pulumi.dev.yaml"), HEAD);
      fs.copyFileSync(path.join(ROOT, "stacks", "Pulumi.prod.yaml"), path.join(origin, "stacks", "Pulumi.prod.yaml"));
      fs.copyFileSync(path.join(ROOT, "stacks", "Pulumi.prod.yaml"), path.join(origin, "stacks", "Pulumi.broken.yaml"));
      git(origin, "add", ".");
      git(origin, "commit", "-qm", "head");
      const work = path.join(tmp, "work");
      git(tmp, "clone", "-q", "--depth=1", "--branch", "feature", `file://${origin}`, work);
      fs.symlinkSync(path.join(ROOT, "dist"), path.join(work, "dist"));
      fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(work, "node_modules"));
      const env = { ...process.env, GITHUB_BASE_REF: "main", GITHUB_OUTPUT: path.join(tmp, "gh-output"), GITHUB_STEP_SUMMARY: path.join(tmp, "gh-summary") };
      for (const s of [fetchStep!, checkStep!]) {
        const r = spawnSync("bash", ["-e", "-c", s.run!], { cwd: work, env, encoding: "utf8" });
        expect(r.stderr.replace(/From file:.*\n.*\n/, "")).toBe("");
        expect(r.status).toBe(0);
      }
      expect(fs.readFileSync(path.join(tmp, "gh-output"), "utf8")).toBe("status=1\n");
      const report = fs.readFileSync(path.join(work, "check-report.md"), "utf8");
      expect(report).toContain("⚠️ The base branch's `base/stacks/Pulumi.broken.yaml` does not check");
      expect(report).toContain("Compared with `base/stacks/Pulumi.dev.yaml` from the base branch.");
      expect(report).toContain("| old-gpu | ➖ removed |");
      expect(report).toContain("🆕 **New stack**: `base/stacks/Pulumi.prod.yaml` does not exist on the base branch");
    });
  });
});
