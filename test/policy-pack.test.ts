/**
 * The policy pack through the analyzer protocol, as `pulumi preview --policy-pack policies` runs
 * it: the pack is started by @pulumi/pulumi's run-policy-pack (what the CLI's
 * pulumi-analyzer-policy plugin runs), and gets Analyze / AnalyzeStack requests built from the
 * resources that the stack program registers under Pulumi mocks.
 */
import path from "node:path";
import { CHECKS, configDefaults } from "../core/checks";
import { startPolicyPack, type AnalyzerResource, type PolicyPackHandle } from "../testing/analyzer";
import type { RecordedResource } from "./helpers/mocks";
import { runProgram, stackFileConfig } from "./helpers/program";

const FLEET = "gpu-hosting:fleet:Fleet";
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
