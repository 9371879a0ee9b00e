import fs from "node:fs";
import path from "node:path";
import { CORE_SCHEMA, load } from "js-yaml";
import { parseStackConfig } from "../core/config/schema";
import { buildFleet } from "../core/fleet";
import { findInClear } from "./helpers/mocks";
import { runProgram, stackFileConfig, TEST_SECRETS } from "./helpers/program";

/** The same config as a plain object for parseStackConfig. */
function rawConfig(file: string): Record<string, unknown> {
  const doc = load(fs.readFileSync(path.join(__dirname, "..", "stacks", file), "utf8"), { schema: CORE_SCHEMA }) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).filter(([k]) => k.startsWith("gpu-hosting:")).map(([k, v]) => [k.slice("gpu-hosting:".length), v]));
}

describe("example stacks", () => {
  it.each(["Pulumi.dev.yaml", "Pulumi.prod.yaml"])("%s is valid and every deployment fits", (file) => {
    const r = parseStackConfig(rawConfig(file));
    if (!r.ok) throw new Error(r.problems.join("\n"));
    const fleet = buildFleet(r.config);
    expect(fleet.problems).toEqual([]);
    for (const d of fleet.deployments) expect({ name: d.name, fits: d.fits, reason: d.reason }).toEqual({ name: d.name, fits: true, reason: null });
  });

  it("prod has Hetzner, Scaleway and an on-prem site with a power budget", () => {
    const r = parseStackConfig(rawConfig("Pulumi.prod.yaml"));
    if (!r.ok) throw new Error(r.problems.join("\n"));
    const fleet = buildFleet(r.config);
    expect(new Set(fleet.hosts.map((h) => h.provider))).toEqual(new Set(["hetzner", "scaleway", "onprem"]));
    const office = fleet.sites.find((s) => s.name === "office-dc")!;
    expect(office.powerBudgetWatts).toBe(2500);
    // 2 × RTX 4090 capped at 350 W + 300 W for the rest of the box.
    expect(office.itWatts).toBe(1000);
    expect(r.config.environment).toBe("production");
  });
});

describe("stack program", () => {
  it("builds the dev stack under Pulumi mocks: Fleet, the Scaleway instance and its children", async () => {
    const { exports, resources } = await runProgram(stackFileConfig("Pulumi.dev.yaml"));
    const sizing = exports.sizing as { name: string; model: string; gpu: string; fits: boolean; kvCacheTokens: number }[];
    expect(sizing).toEqual([expect.objectContaining({ name: "chat", model: "meta-llama/Llama-3.1-8B-Instruct", gpu: "1 × l4", fits: true })]);
    expect(sizing[0]!.kvCacheTokens).toBeGreaterThanOrEqual(2 * 16384);
    expect((exports.totals as { eurPerMonth: number }).eurPerMonth).toBeCloseTo(574.88, 1);
    const types = resources.map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(["gpu-hosting:fleet:Fleet", "gpu-hosting:scaleway:GpuInstance", "scaleway:instance/server:Server", "scaleway:instance/securityGroup:SecurityGroup"]));
    const instance = resources.find((r) => r.type === "gpu-hosting:scaleway:GpuInstance")!;
    expect(instance.urn).toContain("gpu-hosting:fleet:Fleet$gpu-hosting:scaleway:GpuInstance::dev-gpu");
    // The component's inputs, which the engine hands to analyzers, carry its facts as plain values.
    expect(instance.inputs).toMatchObject({ type: "L4-1-24G", zone: "fr-par-2", facts: { gpu: "l4", gpuCount: 1, site: "scaleway-fr-par-2", offerId: "scaleway-l4-1-24g" } });
  });

  it("builds the prod stack: Hetzner dedicated server with private network and load balancer, Scaleway, on-prem host", async () => {
    const { resources } = await runProgram(stackFileConfig("Pulumi.prod.yaml"));
    const types = new Set(resources.map((r) => r.type));
    for (const t of ["gpu-hosting:hetzner:DedicatedServer", "gpu-hosting:scaleway:GpuInstance", "gpu-hosting:onprem:Host", "hcloud:index/networkSubnet:NetworkSubnet", "hcloud:index/loadBalancer:LoadBalancer"]) expect(types).toContain(t);
    // Production protects the servers.
    const server = resources.find((r) => r.type === "scaleway:instance/server:Server")!;
    expect(server.protect).toBe(true);
  });

  it("never puts a secret in clear text into any resource input or registered output", async () => {
    for (const file of ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]) {
      const { resources } = await runProgram(stackFileConfig(file));
      for (const secret of [TEST_SECRETS["gpu-hosting:sshPrivateKey"]!, TEST_SECRETS["gpu-hosting:robotPassword"]!, TEST_SECRETS["gpu-hosting:robotUser"]!]) {
        for (const r of resources) {
          expect({ resource: r.name, leaks: [...findInClear(r.inputs, secret), ...findInClear(r.outputs ?? {}, secret)] }).toEqual({ resource: r.name, leaks: [] });
        }
      }
    }
  });

  it("fails before declaring anything when secrets are missing, naming each and how to set it", async () => {
    await expect(runProgram(stackFileConfig("Pulumi.dev.yaml"), { withSecrets: false })).rejects.toThrow(
      /needs the secret gpu-hosting:sshPrivateKey; set it with `pulumi config set --secret sshPrivateKey < ~\/\.ssh\/id_ed25519`/,
    );
  });

  it("fails before declaring anything when the config is invalid, listing every problem by path", async () => {
    const bad = {
      "gpu-hosting:hosts": [{ name: "Gpu", kind: "scaleway", type: "L4-1-24G", zone: "fr-par-2", color: "red" }],
      "gpu-hosting:deployments": [{ name: "chat", model: "qwen3-8b", hosts: ["nope"], gpuCount: 0 }],
    };
    await expect(runProgram(bad)).rejects.toThrow(/invalid stack config:\n {2}gpu-hosting:hosts\[0\]\.name/);
    const r = parseStackConfig({ hosts: bad["gpu-hosting:hosts"], deployments: bad["gpu-hosting:deployments"] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual(
        expect.arrayContaining([
          "gpu-hosting:hosts[0].name: use lower-case letters, digits and dashes (at most 63)",
          expect.stringMatching(/^gpu-hosting:hosts\[0\]: Unrecognized key: "color"/),
          expect.stringMatching(/^gpu-hosting:deployments\[0\]\.gpuCount: /),
        ]),
      );
    }
  });

  it("lists catalog problems with their config paths: a type in a zone that does not offer it", () => {
    const r = parseStackConfig({
      hosts: [
        { name: "a", kind: "scaleway", type: "H100-SXM-8-80G", zone: "pl-waw-2" },
        { name: "b", kind: "hetzner-dedicated", product: "GEX99", location: "fsn1", serverNumber: 321 },
      ],
    });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(buildFleet(r.config).problems).toEqual([
      'gpu-hosting:hosts[0].zone: "pl-waw-2" does not offer H100-SXM-8-80G; it is offered in fr-par-2',
      'gpu-hosting:hosts[1].product: "GEX99" is not a Hetzner dedicated server product; allowed: GEX45, GEX63, GEX131; did you mean GEX45?',
    ]);
  });

  it("reads 32k-style context lengths and applies schema defaults", () => {
    const r = parseStackConfig({ deployments: [{ name: "a", model: "qwen3-8b", gpu: "l4", context: "32k" }] });
    expect(r.ok && r.config.deployments[0]).toMatchObject({ context: 32768, engine: "vllm", dtype: "auto", gpuMemoryUtilization: 0.9, endpoint: { tls: true, apiKey: true } });
    expect(r.ok && r.config).toMatchObject({ environment: "development", allowed: { euOnly: true }, budgets: {} });
  });
});
