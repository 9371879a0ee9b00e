import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CORE_SCHEMA, dump, load } from "js-yaml";

const ROOT = path.join(__dirname, "..");
const MAIN = path.join(ROOT, "dist", "cli", "main.js");

function check(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, "check", ...args], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface CheckJson {
  ok: boolean;
  violations: { policy: string; enforcementLevel: string; subject: string; message: string; remediation: string }[];
  deployments: { name: string; fits: boolean; memoryGiBPerGpu: Record<string, number> }[];
  sites: { name: string; itWatts: number; powerBudgetWatts: number | null }[];
  totals: { eurPerMonth: number; kwhPerMonth: number; co2eKgPerMonth: number; budgets: Record<string, number | null> };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-check-"));

/** Writes a variant of the prod stack with `edit` applied to its config map. */
function variant(name: string, edit: (config: Record<string, unknown>) => void): string {
  const doc = load(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.prod.yaml"), "utf8"), { schema: CORE_SCHEMA }) as { config: Record<string, unknown> };
  edit(doc.config);
  const file = path.join(tmp, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, dump(doc));
  return file;
}

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
});

describe("gpu-hosting check on the example stacks", () => {
  it.each(["dev", "prod"])("passes --stack %s with exit code 0", (stack) => {
    const r = check("--stack", stack, "--format", "json");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as CheckJson;
    expect(j.ok).toBe(true);
    expect(j.violations.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
    expect(j.deployments.every((d) => d.fits)).toBe(true);
  });

  it("reports the VRAM breakdown, power per site and the stack's cost against budgets", () => {
    const j = JSON.parse(check("stacks/Pulumi.prod.yaml", "--format", "json").stdout) as CheckJson;
    const d = j.deployments.find((x) => x.name === "chat-large")!;
    expect(Object.keys(d.memoryGiBPerGpu).sort()).toEqual(["budget", "free", "kvCache", "overhead", "total", "weights"]);
    expect(d.memoryGiBPerGpu.weights).toBeCloseTo(67.7, 0);
    expect(j.sites.find((s) => s.name === "office-dc")).toMatchObject({ itWatts: 1000, powerBudgetWatts: 2500 });
    expect(j.totals.budgets.eurPerMonth).toBe(4500);
    expect(j.totals.eurPerMonth).toBeGreaterThan(3000);
  });

  it("prints a readable text report by default", () => {
    const r = check("--stack", "prod");
    expect(r.stdout).toMatch(/^stacks\/Pulumi\.prod\.yaml: OK \(0 violations\)/);
    expect(r.stdout).toContain("(GiB per GPU; KV cache = what vLLM allocates");
    expect(r.stdout).toMatch(/stack: €\d,\d{3}\.\d\d\/month \(budget €4,500\.00\)/);
  });

  it("writes a pull-request comment with a marker and Mermaid charts", () => {
    const r = check("--stack", "prod", "--format", "markdown");
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith("<!-- gpu-hosting-check -->\n### gpu-hosting check: `stacks/Pulumi.prod.yaml` ✅ passed")).toBe(true);
    expect(r.stdout.match(/```mermaid\nxychart-beta/g)).toHaveLength(2);
    expect(r.stdout).toContain('x-axis ["chat-large", "chat", "internal"]');
  });
});

describe("broken variants fail with the right policy", () => {
  it.each<[string, (c: Record<string, unknown>) => void, string, RegExp]>([
    ["vram", (c) => ((c["gpu-hosting:deployments"] as Record<string, unknown>[])[0]!.concurrency = 8), "vram-fit", /the KV cache holds \d+ of the 131072 tokens needed/],
    ["power", (c) => ((c["gpu-hosting:sites"] as Record<string, unknown>[])[0]!.powerBudgetWatts = 800), "power-budget", /draws 1000 W at peak, over its budget of 800 W by 200 W/],
    ["dtype", (c) => { const h = c["gpu-hosting:hosts"] as Record<string, unknown>[]; h[1] = { ...h[1], type: "RENDER-S", zone: "fr-par-1" }; (c["gpu-hosting:deployments"] as Record<string, unknown>[])[1]!.context = 2048; }, "gpu-capability", /fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU/],
    ["ssh", (c) => ((c["gpu-hosting:hosts"] as Record<string, unknown>[])[1]!.sshAllowedCidrs = ["0.0.0.0/0"]), "network-exposure", /0\.0\.0\.0\/0 opens SSH to the whole internet/],
    ["secret", (c) => (c["gpu-hosting:robotPassword"] = "hunter2"), "secrets", /gpu-hosting:robotPassword looks like a credential but is stored in plain text/],
    ["region", (c) => ((c["gpu-hosting:allowed"] as Record<string, unknown>).regions = ["fsn1"]), "allowed-locations", /hetzner location nbg1 is not allowed; allowed: fsn1/],
  ])("%s", (name, edit, policy, message) => {
    const r = check(variant(name, edit), "--format", "json");
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as CheckJson;
    expect(j.ok).toBe(false);
    const v = j.violations.find((x) => x.policy === policy);
    expect(v).toBeDefined();
    expect(v!.enforcementLevel).toBe("mandatory");
    expect(v!.message).toMatch(message);
    expect(v!.remediation.length).toBeGreaterThan(20);
  });

  it("keeps an over-budget cost advisory (exit 0) unless the policy config makes it mandatory", () => {
    const file = variant("cost", (c) => ((c["gpu-hosting:budgets"] as Record<string, unknown>).eurPerMonth = 1000));
    const advisory = check(file, "--format", "json");
    expect(advisory.status).toBe(0);
    expect((JSON.parse(advisory.stdout) as CheckJson).violations).toEqual([expect.objectContaining({ policy: "cost-budget", enforcementLevel: "advisory" })]);
    const cfg = path.join(tmp, "policy.json");
    fs.writeFileSync(cfg, JSON.stringify({ "cost-budget": { enforcementLevel: "mandatory" } }));
    expect(check(file, "--policy-config", cfg).status).toBe(1);
  });
});

describe("invalid input exits 2 and names the problem", () => {
  it("an unknown stack", () => {
    const r = check("--stack", "nope");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --stack: got "nope"; cannot read stacks\/Pulumi\.nope\.yaml \(ENOENT\)/);
  });

  it("an invalid stack, listing every problem by config path", () => {
    const file = variant("invalid", (c) => {
      (c["gpu-hosting:hosts"] as Record<string, unknown>[])[0]!.product = "GEX99";
      (c["gpu-hosting:deployments"] as Record<string, unknown>[])[2]!.hosts = ["ghost"];
    });
    const r = check(file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('gpu-hosting:deployments[2].hosts[0]: "ghost" is not a host');
  });

  it("a catalog problem", () => {
    const file = variant("catalog", (c) => ((c["gpu-hosting:hosts"] as Record<string, unknown>[])[0]!.product = "GEX99"));
    const r = check(file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('gpu-hosting:hosts[0].product: "GEX99" is not a Hetzner dedicated server product; allowed: GEX45, GEX63, GEX131; did you mean GEX45?');
  });

  const NEEDS = "a stack file needs a top-level config: mapping with gpu-hosting: keys";
  it.each<[string, string, string]>([
    ["an empty file", "", "empty file; " + NEEDS],
    ["a file of whitespace and comments", "\n  \n# config:\n#   gpu-hosting:hosts: []\n", "empty file (only comments); " + NEEDS],
    ["a file without config:", "foo: 1\nbar:\n  gpu-hosting:hosts: []\n", "no top-level config: key (found: foo, bar); " + NEEDS],
    ["a file whose config: is null", "config:\n", "config: is empty, no gpu-hosting: settings; " + NEEDS],
    ["a file whose config: is {}", "config: {}\n", "config: is empty, no gpu-hosting: settings; " + NEEDS],
    ["a file whose config: has no gpu-hosting: key", "config:\n  scaleway:region: fr-par\n", "config: has no gpu-hosting: settings (found: scaleway:region); " + NEEDS],
    ["a list instead of a mapping", "- config\n", "the document is a list, not a mapping; " + NEEDS],
  ])("%s", (_what, text, problem) => {
    const file = path.join(tmp, `Pulumi.${_what.replace(/[^a-z]+/gi, "-")}.yaml`);
    fs.writeFileSync(file, text);
    const r = check(file);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`error: ${file}: ${problem}\n`);
    expect(r.status).toBe(2);
  });

  it("a bad format, a bad policy config, and both --stack and a file", () => {
    expect(check("--stack", "prod", "--format", "html").stderr).toMatch(/--format: got "html"; allowed: text, markdown, json/);
    const cfg = path.join(tmp, "bad-policy.json");
    fs.writeFileSync(cfg, JSON.stringify({ "vram-fits": "mandatory" }));
    const r = check("--stack", "prod", "--policy-config", cfg);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/vram-fits: not a policy; allowed: vram-fit/);
    expect(check("--stack", "prod", "stacks/Pulumi.dev.yaml").status).toBe(2);
  });
});
