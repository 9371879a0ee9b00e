/**
 * The policy pack through the analyzer protocol, as `pulumi preview --policy-pack policies` runs
 * it: the pack is started by @pulumi/pulumi's run-policy-pack (what the CLI's
 * pulumi-analyzer-policy plugin runs), and gets Analyze / AnalyzeStack requests built from the
 * resources that the stack program registers under Pulumi mocks.
 */
import path from "node:path";
import { allowedLocations, CHECKS, configDefaults, costBudget, gpuCapability, networkExposure, powerBudget, secrets, vramFit, type Check } from "../core/checks";
import { FLEET_TYPE } from "../core/tokens";
import { FLEET_TYPE as FLEET_TYPE_FROM_POLICIES } from "../policies/shared";
import { POLICY_TABLE, policies, type FindingLevels } from "../policies/table";
import { startPolicyPack, type AnalyzerResource, type PolicyPackHandle } from "../testing/analyzer";
import type { RecordedResource } from "./helpers/mocks";
import { runProgram, stackFileConfig } from "./helpers/program";

const FLEET = FLEET_TYPE;
let pack: PolicyPackHandle;

beforeAll(async () => {
  pack = await startPolicyPack(path.join(__dirname, "..", "policies"), { timeoutMs: 180_000 });
}, 200_000);

afterAll(async () => {
  await pack?.close();
});

/** What the engine would hand the analyzer for each registered resource: its inputs. */
function asAnalyzerResources(resources: RecordedResource[]): AnalyzerResource[] {
  return resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, properties: r.inputs, parent: r.parentUrn }));
}

/** CrossGuard prefixes each message with the policy's description; keep what the policy said. */
const said = (message: string): string => message.slice(message.indexOf("\n") + 1);

async function analyzeAll(resources: RecordedResource[]) {
  const ar = asAnalyzerResources(resources);
  const perResource = (await Promise.all(ar.map((r) => pack.analyze(r)))).flat();
  const stack = await pack.analyzeStack(ar);
  return { perResource, stack, all: [...perResource, ...stack] };
}

describe("policy pack metadata", () => {
  it("lists every policy with a description, an enforcement level and remediation steps", async () => {
    const info = await pack.info();
    expect(info.name).toBe("gpu-hosting");
    expect(info.policies.map((p) => [p.name, p.enforcementLevel])).toEqual([
      ["vram-fit", "mandatory"],
      ["gpu-capability", "mandatory"],
      ["power-budget", "mandatory"],
      ["power-headroom", "advisory"],
      ["cost-budget", "advisory"],
      ["allowed-locations", "mandatory"],
      ["network-exposure", "mandatory"],
      ["secrets", "mandatory"],
    ]);
    for (const p of info.policies) {
      expect(p.description).toMatch(/^Checks that\b/);
      expect(p.remediationSteps.length).toBeGreaterThan(20);
    }
  });

  it("publishes config schemas whose defaults equal the checks' own defaults", async () => {
    const info = await pack.info();
    for (const check of CHECKS) {
      const schema = info.policies.find((p) => p.name === check.name)!.configSchema as Record<string, { default?: unknown }>;
      const published = Object.fromEntries(Object.entries(schema).filter(([k]) => k in check.configSchema).map(([k, v]) => [k, v.default]));
      expect({ policy: check.name, defaults: published }).toEqual({ policy: check.name, defaults: configDefaults(check as never) });
    }
  });
});

describe("the pack is one table over core/checks", () => {
  const BOTH: FindingLevels = ["mandatory", "advisory"];
  // What the eight one-file wrappers declared before the table replaced them.
  it.each<[string, Check<never>, "mandatory" | "advisory", "resource" | "stack", FindingLevels]>([
    ["vram-fit", vramFit as never, "mandatory", "resource", BOTH],
    ["gpu-capability", gpuCapability as never, "mandatory", "resource", BOTH],
    ["power-budget", powerBudget as never, "mandatory", "stack", ["mandatory"]],
    ["power-headroom", powerBudget as never, "advisory", "stack", ["advisory"]],
    ["cost-budget", costBudget as never, "advisory", "stack", BOTH],
    ["allowed-locations", allowedLocations as never, "mandatory", "resource", BOTH],
    ["network-exposure", networkExposure as never, "mandatory", "stack", ["mandatory"]],
    ["secrets", secrets as never, "mandatory", "resource", BOTH],
  ])("%s: its check, level, kind, reported levels, text and config schema", (name, check, level, kind, reports) => {
    const i = POLICY_TABLE.findIndex((r) => r.name === name);
    const row = POLICY_TABLE[i]!;
    expect({ check: row.check === check, level: row.enforcementLevel, kind: row.kind, reports: row.reports }).toEqual({ check: true, level, kind, reports });
    const policy = policies[i]!;
    expect(policy.name).toBe(name);
    expect(policy.enforcementLevel).toBe(level);
    expect(policy.description).toBe(
      name === "power-headroom" ? "Checks that every site with a power budget keeps the configured headroom (advisory warning before power-budget fails)." : check.description,
    );
    expect(policy.remediationSteps).toBe(check.remediationSteps);
    const extra = name === "network-exposure" ? { enforceInAllEnvironments: { type: "boolean", description: "enforce outside production stacks too", default: false } } : {};
    expect(policy.configSchema).toEqual({ properties: { ...check.configSchema, ...extra } });
    expect(Object.keys(policy.configSchema!.properties)).toEqual([...Object.keys(check.configSchema), ...Object.keys(extra)]);
    expect(["validateResource" in policy, "validateStack" in policy]).toEqual(kind === "resource" ? [true, false] : [false, true]);
  });

  it("has one row per check, named after it, plus power-headroom", () => {
    expect(POLICY_TABLE.map((r) => r.name)).toEqual(["vram-fit", "gpu-capability", "power-budget", "power-headroom", "cost-budget", "allowed-locations", "network-exposure", "secrets"]);
    for (const r of POLICY_TABLE.filter((x) => x.name !== "power-headroom")) expect(r.name).toBe(r.check.name);
    expect(new Set(POLICY_TABLE.map((r) => r.check))).toEqual(new Set(CHECKS));
  });

  it("publishes through the analyzer protocol exactly what the table builds", async () => {
    const info = await pack.info();
    expect(info.policies.map((p) => ({ name: p.name, description: p.description, enforcementLevel: p.enforcementLevel, remediationSteps: p.remediationSteps, configSchema: p.configSchema }))).toEqual(
      policies.map((p) => ({ name: p.name, description: p.description, enforcementLevel: p.enforcementLevel, remediationSteps: p.remediationSteps, configSchema: p.configSchema!.properties })),
    );
  });

  it("declares the Fleet type token once, in core/tokens.ts", () => {
    expect(FLEET_TYPE).toBe("gpu-hosting:fleet:Fleet");
    expect(FLEET_TYPE_FROM_POLICIES).toBe(FLEET_TYPE);
  });
});

describe("the facts reach the analyzer at preview", () => {
  it("the Fleet component's inputs carry the parsed stack config as plain values", async () => {
    const { resources } = await runProgram(stackFileConfig("Pulumi.dev.yaml"));
    const fleet = resources.find((r) => r.type === FLEET)!;
    expect(fleet).toBeDefined();
    const config = fleet.inputs.config as { hosts: { name: string; type: string }[]; deployments: { model: string }[] };
    expect(config.hosts[0]).toMatchObject({ name: "dev-gpu", type: "L4-1-24G" });
    expect(config.deployments[0]!.model).toBe("meta-llama/Llama-3.1-8B-Instruct");
    // No secret value is among the Fleet's inputs.
    expect(JSON.stringify(fleet.inputs)).not.toContain("TESTKEY-not-a-real-key");
  });

  it.each(["Pulumi.dev.yaml", "Pulumi.prod.yaml"])("passes %s with no mandatory diagnostic, per resource and for the stack", async (file) => {
    const { resources } = await runProgram(stackFileConfig(file));
    expect(resources.length).toBeGreaterThan(5);
    const { all } = await analyzeAll(resources);
    expect(all.filter((d) => d.enforcementLevel === "mandatory")).toEqual([]);
  });
});

describe("broken variants are refused with the right policy", () => {
  const dev = (): Record<string, unknown> => JSON.parse(JSON.stringify(stackFileConfig("Pulumi.dev.yaml"))) as Record<string, unknown>;

  it("vram-fit: Llama 3.1 70B in bf16 on one L4, through Analyze on the Fleet component", async () => {
    const c = dev();
    (c["gpu-hosting:deployments"] as Record<string, unknown>[])[0]!.model = "meta-llama/Llama-3.1-70B-Instruct";
    const { resources } = await runProgram(c);
    const fleet = asAnalyzerResources(resources).find((r) => r.type === FLEET)!;
    const d = await pack.analyze(fleet);
    expect(d.map((x) => [x.policyName, x.enforcementLevel])).toEqual([["vram-fit", "mandatory"]]);
    expect(said(d[0]!.message)).toMatch(/^deployment chat: gpu-hosting:deployments\[0\] meta-llama\/Llama-3\.1-70B-Instruct \(bf16, vllm\) on 1 × l4 \(22\.5 GiB each\): weights 131\.4 GiB .*: no memory left for the KV cache/);
  });

  it("power-budget and network-exposure, through AnalyzeStack", async () => {
    const c = JSON.parse(JSON.stringify(stackFileConfig("Pulumi.dev.yaml"))) as Record<string, unknown>;
    c["gpu-hosting:environment"] = "production";
    c["gpu-hosting:sites"] = [{ name: "lab", powerBudgetWatts: 500, country: "DE" }];
    c["gpu-hosting:hosts"] = [
      { name: "dev-gpu", kind: "scaleway", type: "L4-1-24G", zone: "fr-par-2", sshAllowedCidrs: ["0.0.0.0/0"] },
      { name: "rack", kind: "onprem", site: "lab", address: "192.0.2.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x", inventory: { gpu: "rtx-4090", gpuCount: 1, nonGpuWatts: 200 } },
    ];
    const { resources } = await runProgram(c);
    const { stack } = await analyzeAll(resources);
    const byPolicy = (p: string) => stack.filter((d) => d.policyName === p).map((d) => said(d.message));
    expect(byPolicy("power-budget")).toEqual([expect.stringMatching(/^site lab: draws 650 W at peak, over its budget of 500 W by 150 W/)]);
    // Both from the config and from the security group the Scaleway component actually declared.
    expect(byPolicy("network-exposure")).toEqual([
      expect.stringMatching(/^host dev-gpu: gpu-hosting:hosts\[0\]\.sshAllowedCidrs: 0\.0\.0\.0\/0 opens SSH to the whole internet/),
      "resource dev-gpu-sg: scaleway:instance/securityGroup:SecurityGroup opens port 22 to 0.0.0.0/0",
    ]);
  });

  it("power-headroom: only the advisory warning near a site's budget, which power-budget leaves out", async () => {
    const c = dev();
    c["gpu-hosting:sites"] = [{ name: "lab", powerBudgetWatts: 800, country: "DE" }];
    c["gpu-hosting:hosts"] = [
      ...(c["gpu-hosting:hosts"] as unknown[]),
      { name: "rack", kind: "onprem", site: "lab", address: "192.0.2.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x", inventory: { gpu: "rtx-4090", gpuCount: 1, nonGpuWatts: 200 } },
    ];
    const { resources } = await runProgram(c);
    const { stack } = await analyzeAll(resources);
    const power = stack.filter((d) => d.policyName.startsWith("power-")).map((d) => [d.policyName, d.enforcementLevel, said(d.message)]);
    expect(power).toEqual([["power-headroom", "advisory", expect.stringMatching(/^site lab: draws 650 W at peak, 81 % of its 800 W budget \(warning above 80 %\)/)]]);
  });

  it("network-exposure: outside production only with enforceInAllEnvironments", async () => {
    const c = dev();
    (c["gpu-hosting:hosts"] as Record<string, unknown>[])[0]!.sshAllowedCidrs = ["0.0.0.0/0"];
    const { resources } = await runProgram(c);
    const exposure = async () => (await analyzeAll(resources)).stack.filter((d) => d.policyName === "network-exposure").map((d) => [d.enforcementLevel, said(d.message)]);
    expect(await exposure()).toEqual([]);
    // No level given: the harness fills in the policy's own (mandatory), as the Pulumi CLI does.
    await pack.configure({ "network-exposure": { enforceInAllEnvironments: true } });
    try {
      expect(await exposure()).toEqual([
        ["mandatory", expect.stringMatching(/^host dev-gpu: gpu-hosting:hosts\[0\]\.sshAllowedCidrs: 0\.0\.0\.0\/0 opens SSH to the whole internet/)],
        ["mandatory", "resource dev-gpu-sg: scaleway:instance/securityGroup:SecurityGroup opens port 22 to 0.0.0.0/0"],
      ]);
    } finally {
      await pack.configure({});
    }
  });

  it("network-exposure reads the Robot firewall of a dedicated server", async () => {
    const c = stackFileConfig("Pulumi.prod.yaml");
    const hosts = c["gpu-hosting:hosts"] as Record<string, unknown>[];
    hosts[0]!.sshAllowedCidrs = ["0.0.0.0/0"];
    const { resources } = await runProgram(c);
    const robot = resources.find((r) => Array.isArray((r.inputs as { firewallRules?: unknown }).firewallRules))!;
    expect(robot).toBeDefined();
    const d = (await analyzeAll(resources)).stack.filter((x) => x.policyName === "network-exposure").map((x) => said(x.message));
    expect(d).toContain(`resource ${robot.name}: Robot firewall rule "ssh 1" accepts port 22 from 0.0.0.0/0`);
  });

  it("secrets: a credential in plain config", async () => {
    const c = dev();
    c["gpu-hosting:hfToken"] = "hf_abcdefghijklmnopqrstuvwxyzABCDEF1234";
    const { resources } = await runProgram(c);
    const d = (await analyzeAll(resources)).all.filter((x) => x.policyName === "secrets");
    expect(d.map((x) => said(x.message))).toEqual([expect.stringMatching(/^config gpu-hosting:hfToken: gpu-hosting:hfToken looks like a credential but is stored in plain text$/)]);
  });

  it("cost-budget stays advisory unless configured mandatory", async () => {
    const c = dev();
    c["gpu-hosting:budgets"] = { eurPerMonth: 100 };
    const { resources } = await runProgram(c);
    let cost = (await analyzeAll(resources)).stack.filter((x) => x.policyName === "cost-budget");
    expect(cost.map((x) => x.enforcementLevel)).toEqual(["advisory"]);
    await pack.configure({ "cost-budget": { enforcementLevel: "mandatory" } });
    try {
      cost = (await analyzeAll(resources)).stack.filter((x) => x.policyName === "cost-budget");
      expect(cost.map((x) => x.enforcementLevel)).toEqual(["mandatory"]);
    } finally {
      await pack.configure({});
    }
  });
});

describe("malformed input never crashes the analyzer", () => {
  it.each<[string, Record<string, unknown>]>([
    ["no inputs", {}],
    ["config of the wrong type", { config: "garbage" }],
    ["an invalid stack config", { config: { hosts: [{ name: "x", kind: "mainframe" }] } }],
  ])("answers a Fleet with %s with a fail-closed violation", async (_what, properties) => {
    const d = await pack.analyze({ type: FLEET, name: "broken", properties });
    expect(d.length).toBeGreaterThan(0);
    for (const x of d) expect(said(x.message)).toMatch(/^cannot decide: .*; failing closed$/);
  });

  it("fails closed when gpu-hosting resources come without their Fleet", async () => {
    const d = await pack.analyzeStack([{ type: "gpu-hosting:scaleway:GpuInstance", name: "lonely", properties: {} }]);
    expect(d.filter((x) => x.policyName === "power-budget").map((x) => said(x.message))).toEqual([expect.stringMatching(/^cannot decide: the stack has gpu-hosting resources but no gpu-hosting:fleet:Fleet/)]);
  });

  it("still answers after malformed requests", async () => {
    await pack.analyze({ type: FLEET, name: "broken", properties: { config: null } });
    expect((await pack.info()).policies).toHaveLength(8);
  });
});
