/**
 * Redaction at source (issue #12): a secret pasted into a catalog-checked field (offer, GPU, model
 * id, location) or into allowed.regions is never echoed. The message names the field by its
 * config path and shows `(value of N characters, not shown)` instead of the value: through
 * `check` in-process (text, JSON, markdown), through checkStackConfig, and through the policy pack
 * as `pulumi preview --policy-pack` runs it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CORE_SCHEMA, load } from "js-yaml";
import { catalog } from "../core/catalog";
import { looksLikeIdentifier, notShown, quotedId, redactSecrets } from "../core/checks/secrets";
import { checkStackConfig, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { FLEET_TYPE } from "../core/tokens";
import { startPolicyPack, type AnalyzerResource, type PolicyPackHandle } from "../testing/analyzer";
import { runProgram, stackFileConfig } from "./helpers/program";
import { runCliInProcess, type CliRun } from "./helpers/cliInProcess";

const ROOT = path.join(__dirname, "..");
const DEV = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8");
const K8S = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.k8s.yaml"), "utf8");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-redaction-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Token-shaped strings, none real: each must never be echoed. */
const TOKENS: Record<string, string> = {
  "a Hetzner-style hcloud_ token (64 characters)": `hcloud_${"k3J9x2M1q8".repeat(6)}aBcD`,
  "a lower-case 64-character API key": `${"a1b2c3d4e5".repeat(6)}f6g7`,
  "a GitHub token": `ghp_${"Ab1Cd2Ef3Gh4".repeat(3)}`,
  "a JWT": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  "a password with punctuation": "Tr0ub4dor&3xyz!",
};
/** A part of each token that must not appear (a prefix like "ghp_" alone is harmless). */
const core = (t: string): string => t.slice(4, 24);

/** The dev stack with its one host replaced. */
const devHost = (...lines: string[]): string => DEV.replace(/\s{4}- name: dev-gpu[\s\S]*?sshAllowedCidrs: \[203\.0\.113\.0\/24\]/, ["    - name: dev-gpu", ...lines.map((l) => `      ${l}`)].join("\n"));
const ONPREM_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

/** Each catalog-checked field: the config path the message must name, and a stack with the value planted there. */
const FIELDS: [string, (v: string) => string][] = [
  ["gpu-hosting:hosts[0].type", (v) => DEV.replace("type: L4-1-24G", `type: ${JSON.stringify(v)}`)],
  ["gpu-hosting:hosts[0].zone", (v) => DEV.replace("zone: fr-par-2", `zone: ${JSON.stringify(v)}`)],
  ["gpu-hosting:hosts[0].product", (v) => devHost("kind: hetzner-dedicated", `product: ${JSON.stringify(v)}`, "location: fsn1")],
  ["gpu-hosting:hosts[0].location", (v) => devHost("kind: hetzner-dedicated", "product: GEX45", `location: ${JSON.stringify(v)}`)],
  ["gpu-hosting:hosts[0].serverType", (v) => devHost("kind: hetzner-cloud", `serverType: ${JSON.stringify(v)}`, "location: fsn1")],
  [
    "gpu-hosting:hosts[0].inventory.gpu",
    (v) => `${devHost("kind: onprem", "site: home", "address: 192.0.2.10", `hostKey: ${ONPREM_KEY}`, `inventory: {gpu: ${JSON.stringify(v)}, gpuCount: 1}`)}  gpu-hosting:sites: [{name: home, country: DE}]\n`,
  ],
  ["gpu-hosting:deployments[0].model", (v) => DEV.replace("model: meta-llama/Llama-3.1-8B-Instruct", `model: ${JSON.stringify(v)}`)],
  ["gpu-hosting:clusters[0].nodeType", (v) => K8S.replace("nodeType: L4-1-24G", `nodeType: ${JSON.stringify(v)}`)],
  ["gpu-hosting:clusters[0].zone", (v) => K8S.replace("zone: fr-par-2", `zone: ${JSON.stringify(v)}`)],
];


/** Runs the CLI in-process, capturing what it writes. */
const cli = (...args: string[]): Promise<CliRun> => runCliInProcess(args);

let fileCount = 0;
function write(text: string): string {
  const file = path.join(tmp, `stack-${fileCount++}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

describe("the rule: what could be a catalog identifier", () => {
  it("passes every id, name and alias in the catalog, so real values stay quoted", () => {
    const c = catalog();
    const ids = [...c.offers.flatMap((o) => [o.id, o.name, ...o.locations]), ...c.gpus.flatMap((g) => [g.id, g.name, ...g.aliases]), ...c.models.flatMap((m) => [m.id, ...(m.aliases ?? [])])];
    expect(ids.length).toBeGreaterThan(100);
    expect(ids.filter((id) => !looksLikeIdentifier(id))).toEqual([]);
    expect(quotedId("fr-par-2")).toBe('"fr-par-2"');
    expect(quotedId("Qwen/Qwen3-30B-A3B-Instruct-2507")).toBe('"Qwen/Qwen3-30B-A3B-Instruct-2507"');
  });

  it.each(Object.entries(TOKENS))("hides %s, giving only its length", (_label, token) => {
    expect(looksLikeIdentifier(token)).toBe(false);
    expect(quotedId(token)).toBe(`(value of ${token.length} characters, not shown)`);
    expect(notShown(token, "gpu-hosting:allowed.regions[1]")).toBe(`(value of ${token.length} characters at gpu-hosting:allowed.regions[1], not shown)`);
  });

  it("redacts JWTs, GitLab/Slack tokens and long lower-case keys in whole messages, and keeps SSH fingerprints", () => {
    expect(redactSecrets(`got ${TOKENS["a JWT"]}!`)).toBe("got [redacted]!");
    expect(redactSecrets(`key ${TOKENS["a lower-case 64-character API key"]} end`)).toBe("key [redacted] end");
    expect(redactSecrets("glpat-AbCdEfGhIjKlMnOpQrSt and xoxb-1234567890-abcdefghij")).toBe("[redacted] and [redacted]");
    const fp = "pinned ssh-ed25519 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    expect(redactSecrets(fp)).toBe(fp);
  });
});

describe("a token in a catalog-checked field is named by path, never shown", () => {
  const cases = FIELDS.flatMap(([field, plant]) => Object.entries(TOKENS).map(([label, token]) => [field, label, token, plant] as const));

  it.each(cases)("%s holding %s: checkStackConfig names the path, not the value", (field, _label, token, plant) => {
    let problems: string[] = [];
    try {
      const r = checkStackConfig(readStackYaml(plant(token), "s.yaml"), "s.yaml");
      problems = r.report.violations.map((v) => v.message);
    } catch (e) {
      expect(e).toBeInstanceOf(StackInputError);
      problems = (e as StackInputError).problems;
    }
    const hit = problems.find((p) => p.startsWith(`${field}: `));
    expect(hit).toBeDefined();
    expect(hit).toContain(`(value of ${token.length} characters, not shown)`);
    expect(JSON.stringify(problems)).not.toContain(core(token));
  });

  it.each(FIELDS)("%s: `check` in-process exits 2 naming the path, the planted values nowhere in stdout or stderr", async (field, plant) => {
    for (const token of Object.values(TOKENS)) {
      const r = await cli("check", write(plant(token)));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${field}: (value of ${token.length} characters, not shown)`);
      expect(r.stdout + r.stderr).not.toContain(core(token));
    }
  });

  it("keeps a real but wrong value readable, with its did-you-mean hint", async () => {
    const r = await cli("check", write(DEV.replace("type: L4-1-24G", "type: L4-1-24")));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('gpu-hosting:hosts[0].type: "L4-1-24" is not a Scaleway GPU Instance type;');
    expect(r.stderr).toMatch(/did you mean L4-1-24G\?/);
  });
});

describe("allowed.regions", () => {
  const regions = (...values: string[]): string => `${DEV.trimEnd()}\n  gpu-hosting:allowed: {regions: [${values.map((v) => JSON.stringify(v)).join(", ")}]}\n`;

  it.each(Object.entries(TOKENS))("holding %s: every format names the entry by index and hides it", async (_label, token) => {
    const file = write(regions("pl-waw-2", token));
    for (const f of ["text", "markdown", "json"]) {
      const r = await cli("check", file, "--format", f);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toContain(core(token));
      expect(r.stdout).toContain(`scaleway location fr-par-2 is not allowed; allowed: pl-waw-2, (value of ${token.length} characters at gpu-hosting:allowed.regions[1], not shown)`);
    }
  });
});

describe("through the policy pack, as `pulumi preview --policy-pack` runs it", () => {
  let pack: PolicyPackHandle;
  beforeAll(async () => {
    pack = await startPolicyPack(path.join(ROOT, "policies"), { timeoutMs: 180_000 });
  }, 200_000);
  afterAll(async () => {
    await pack?.close();
  });

  const said = (message: string): string => message.slice(message.indexOf("\n") + 1);
  async function analyze(config: Record<string, unknown>): Promise<string[]> {
    const { resources } = await runProgram(config);
    const ar: AnalyzerResource[] = resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, properties: r.inputs, parent: r.parentUrn }));
    const per = (await Promise.all(ar.map((r) => pack.analyze(r)))).flat();
    const stack = await pack.analyzeStack(ar);
    expect(ar.some((r) => r.type === FLEET_TYPE)).toBe(true);
    return [...per, ...stack].map((d) => said(d.message));
  }

  it("hides a token in the stack's allowed.regions and in the policy's own regions config", async () => {
    const token = TOKENS["a Hetzner-style hcloud_ token (64 characters)"]!;
    const c = JSON.parse(JSON.stringify(stackFileConfig("Pulumi.dev.yaml"))) as Record<string, unknown>;
    c["gpu-hosting:allowed"] = { regions: ["pl-waw-2", token] };
    const fromStack = await analyze(c);
    expect(fromStack).toContain(`host dev-gpu: scaleway location fr-par-2 is not allowed; allowed: pl-waw-2, (value of ${token.length} characters at gpu-hosting:allowed.regions[1], not shown)`);
    expect(JSON.stringify(fromStack)).not.toContain(core(token));

    const password = TOKENS["a password with punctuation"]!;
    await pack.configure({ "allowed-locations": { regions: [password] } });
    try {
      const fromPolicy = await analyze(stackFileConfig("Pulumi.dev.yaml"));
      expect(fromPolicy).toContain(`host dev-gpu: scaleway location fr-par-2 is not allowed; allowed: (value of ${password.length} characters at allowed-locations policy config regions[0], not shown)`);
      expect(JSON.stringify(fromPolicy)).not.toContain(password);
    } finally {
      await pack.configure({});
    }
  }, 60_000);

  it("the program itself refuses a token in a catalog-checked field without echoing it", async () => {
    const token = TOKENS["a GitHub token"]!;
    const c = load(FIELDS[0]![1](token), { schema: CORE_SCHEMA }) as { config: Record<string, unknown> };
    const err = await runProgram(c.config).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeNull();
    expect(String(err?.message)).toContain(`gpu-hosting:hosts[0].type: (value of ${token.length} characters, not shown)`);
    expect(String(err?.message)).not.toContain(core(token));
  }, 60_000);
});
