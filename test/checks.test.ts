import { allowedLocations, CHECKS, configDefaults, costBudget, gpuCapability, networkExposure, powerBudget, runCheck, runChecks, secrets, validatePolicyConfig, vramFit, type Check, type CheckContext } from "../core/checks";
import { parseStackConfig } from "../core/config/schema";
import { buildFleet } from "../core/fleet";

/** A context from a config object (gpu-hosting keys without namespace) and optional raw config. */
function ctx(config: Record<string, unknown>, rawConfig: Record<string, unknown> = {}, extra: Partial<CheckContext> = {}): CheckContext {
  const r = parseStackConfig(config);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  const fleet = buildFleet(r.config);
  if (fleet.problems.length > 0) throw new Error(fleet.problems.join("\n"));
  return { config: r.config, fleet, rawConfig, secretKeys: [], ...extra };
}

const l4 = { name: "gpu", kind: "scaleway", type: "L4-1-24G", zone: "fr-par-2", sshAllowedCidrs: ["203.0.113.0/24"] };
const rack = (extra: Record<string, unknown> = {}) => ({
  name: "rack",
  kind: "onprem",
  site: "lab",
  address: "192.0.2.10",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x",
  inventory: { gpu: "rtx-4090", gpuCount: 2, nonGpuWatts: 300 },
  ...extra,
});
const run = <C extends object>(check: Check<C>, c: CheckContext, cfg: Partial<C> = {}) => check.run(c, { ...configDefaults(check), ...cfg });

describe("vram-fit", () => {
  it("passes Llama 3.1 8B at 16k × 2 on an L4", () => {
    expect(run(vramFit, ctx({ hosts: [l4], deployments: [{ name: "chat", model: "llama-3.1-8b", hosts: ["gpu"], context: "16k", concurrency: 2 }] }))).toEqual([]);
  });

  it("rejects Llama 3.1 70B in bf16 on one L4 with the numbers and what would fit", () => {
    const v = run(vramFit, ctx({ hosts: [l4], deployments: [{ name: "big", model: "llama-3.1-70b", hosts: ["gpu"], dtype: "bf16" }] })) as { subject: string; message: string }[];
    expect(v).toHaveLength(1);
    expect(v[0]!.subject).toBe("deployment big");
    expect(v[0]!.message).toMatch(/^gpu-hosting:deployments\[0\] meta-llama\/Llama-3\.1-70B-Instruct \(bf16, vllm\) on 1 × l4 \(22\.5 GiB each\): weights 131\.4 GiB/);
    expect(v[0]!.message).toMatch(/no memory left for the KV cache; would fit: 8 GPUs$/);
  });

  it("is not applicable without deployments", () => {
    expect(run(vramFit, ctx({ hosts: [l4] }))).toEqual({ notApplicable: "the stack has no deployments" });
  });

  it("asks for headroom when minFreeGiB is set", () => {
    const c = ctx({ hosts: [l4], deployments: [{ name: "chat", model: "llama-3.1-8b", hosts: ["gpu"], context: "16k", concurrency: 2 }] });
    const v = run(vramFit, c, { minFreeGiB: 50 });
    expect(v).toHaveLength(1);
    expect((v as { message: string }[])[0]!.message).toMatch(/\+ 50 GiB headroom\): less headroom than configured/);
  });
});

describe("gpu-capability", () => {
  const p100 = { name: "old", kind: "scaleway", type: "RENDER-S", zone: "fr-par-1" };
  it("passes fp8 on an L4 (Ada)", () => {
    expect(run(gpuCapability, ctx({ hosts: [l4], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["gpu"], dtype: "fp8" }] }))).toEqual([]);
  });

  it("rejects fp8 and vLLM on a Tesla P100", () => {
    const v = run(gpuCapability, ctx({ hosts: [p100], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["old"], dtype: "fp8", context: 2048 }] })) as { message: string }[];
    expect(v.map((x) => x.message)).toEqual([
      expect.stringMatching(/fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU/),
      expect.stringMatching(/^vLLM needs compute capability 7\.0 or newer; .* has 6\.0: use engine llamacpp with a GGUF type$/),
    ]);
  });

  it("passes llama.cpp with a GGUF type on the P100", () => {
    expect(run(gpuCapability, ctx({ hosts: [p100], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["old"], engine: "llamacpp", dtype: "q4_k_m", context: 2048 }] }))).toEqual([]);
  });

  it("is not applicable to CPU-only deployments", () => {
    const cpu = { name: "cpu", kind: "hetzner-cloud", serverType: "ccx33", location: "fsn1" };
    expect(run(gpuCapability, ctx({ hosts: [cpu], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["cpu"], engine: "cpu", dtype: "q4_k_m" }] }))).toEqual({ notApplicable: "no deployment runs on a GPU" });
  });
});

describe("power-budget", () => {
  const site = (w: number) => ({ name: "lab", powerBudgetWatts: w, country: "DE" });
  it("passes 2 × RTX 4090 (2 × 450 W + 300 W) under 2000 W", () => {
    expect(run(powerBudget, ctx({ sites: [site(2000)], hosts: [rack()] }))).toEqual([]);
  });

  it("rejects 1200 W on a 1000 W site, listing each host", () => {
    const v = run(powerBudget, ctx({ sites: [site(1000)], hosts: [rack()] })) as { message: string; level?: string }[];
    expect(v).toEqual([{ subject: "site lab", message: "draws 1200 W at peak, over its budget of 1000 W by 200 W: rack 1200 W (2 × rtx-4090 at 450 W + 300 W)", remediation: powerBudget.remediationSteps }]);
  });

  it("counts a power cap instead of board power", () => {
    expect(run(powerBudget, ctx({ sites: [site(1000)], hosts: [rack({ gpuPowerCapWatts: 300 })] }))).toEqual([
      expect.objectContaining({ level: "advisory", message: expect.stringMatching(/^draws 900 W at peak, 90 % of its 1000 W budget \(warning above 80 %\)/) }),
    ]);
  });

  it("warns only above the configured headroom", () => {
    expect(run(powerBudget, ctx({ sites: [site(1000)], hosts: [rack({ gpuPowerCapWatts: 300 })] }), { headroomWarningPercent: 95 })).toEqual([]);
  });

  it("is not applicable when no site has a budget", () => {
    expect(run(powerBudget, ctx({ hosts: [l4] }))).toEqual({ notApplicable: "no site has a power budget" });
  });
});

describe("cost-budget", () => {
  it("passes an L4 at €575 under €800", () => {
    expect(run(costBudget, ctx({ hosts: [l4], budgets: { eurPerMonth: 800 } }))).toEqual([]);
  });

  it("reports the overrun in euros", () => {
    const v = run(costBudget, ctx({ hosts: [l4], budgets: { eurPerMonth: 500 } })) as { message: string }[];
    expect(v[0]!.message).toBe("costs €574.88/month, over the budget of €500 by €74.88 (rent: gpu €575)");
  });

  it("checks energy and CO2e budgets too", () => {
    const v = run(costBudget, ctx({ sites: [{ name: "lab", country: "PL" }], hosts: [rack()], budgets: { kwhPerMonth: 100, co2eKgPerMonth: 10 } })) as { message: string }[];
    expect(v.map((x) => x.message)).toEqual([expect.stringMatching(/^uses 1349 kWh\/month at peak, over the budget of 100 kWh$/), expect.stringMatching(/kg CO2e\/month at peak, over the budget of 10 kg$/)]);
  });

  it("is advisory by default and not applicable without budgets", () => {
    const c = ctx({ hosts: [l4] });
    expect(costBudget.defaultEnforcement(c)).toBe("advisory");
    expect(run(costBudget, c)).toEqual({ notApplicable: "gpu-hosting:budgets is empty" });
  });
});

describe("allowed-locations", () => {
  it("passes EU hosts", () => {
    expect(run(allowedLocations, ctx({ hosts: [l4] }))).toEqual([]);
  });

  it("rejects a US location under EU-only", () => {
    const us = { name: "cpu", kind: "hetzner-cloud", serverType: "ccx33", location: "ash" };
    expect(run(allowedLocations, ctx({ hosts: [us] }))).toEqual([expect.objectContaining({ message: "hetzner ash is in US, outside the EU, and the stack is EU-only" })]);
  });

  it("fails closed for an on-prem site without a country", () => {
    const v = run(allowedLocations, ctx({ sites: [{ name: "lab" }], hosts: [rack()] })) as { message: string }[];
    expect(v[0]!.message).toMatch(/^cannot tell whether site lab is in the EU: give the site a country/);
  });

  it("applies provider and region allow-lists from the stack or the policy config", () => {
    const c = ctx({ hosts: [l4], allowed: { providers: ["hetzner"] } });
    expect(run(allowedLocations, c)).toEqual([expect.objectContaining({ message: "provider scaleway is not allowed; allowed: hetzner" })]);
    expect(run(allowedLocations, ctx({ hosts: [l4] }), { regions: ["pl-waw-2"] })).toEqual([expect.objectContaining({ message: "scaleway location fr-par-2 is not allowed; allowed: pl-waw-2" })]);
  });

  it("is not applicable without hosts", () => {
    expect(run(allowedLocations, ctx({}))).toEqual({ notApplicable: "the stack has no hosts" });
  });
});

describe("network-exposure", () => {
  it("passes SSH from a listed range and the default endpoint", () => {
    expect(run(networkExposure, ctx({ hosts: [l4], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["gpu"] }] }))).toEqual([]);
  });

  it("rejects SSH from 0.0.0.0/0 and ::/0, an endpoint without TLS or key, and a public engine port", () => {
    const open = { ...l4, sshAllowedCidrs: ["0.0.0.0/0", "::/0"] };
    const v = run(networkExposure, ctx({ hosts: [open], deployments: [{ name: "a", model: "qwen3-8b", hosts: ["gpu"], endpoint: { tls: false, apiKey: false, publicEnginePort: true } }] })) as { message: string }[];
    expect(v.map((x) => x.message)).toEqual([
      "gpu-hosting:hosts[0].sshAllowedCidrs: 0.0.0.0/0 opens SSH to the whole internet",
      "gpu-hosting:hosts[0].sshAllowedCidrs: ::/0 opens SSH to the whole internet",
      expect.stringMatching(/endpoint\.tls is false/),
      expect.stringMatching(/endpoint\.apiKey is false/),
      expect.stringMatching(/publicEnginePort is true: the engine port 8000 would be public/),
    ]);
  });

  it("finds provider rules that open SSH or the engine port to everyone", () => {
    const resources = [
      { type: "scaleway:instance/securityGroup:SecurityGroup", name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", port: 8000, ipRange: "0.0.0.0/0" }, { action: "accept", port: 22, ipRange: "203.0.113.0/24" }] } },
      { type: "hcloud:index/firewall:Firewall", name: "fw", props: { rules: [{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["::/0"] }] } },
      { type: "hcloud:index/loadBalancerService:LoadBalancerService", name: "lb", props: { protocol: "http", listenPort: 80 } },
    ];
    const v = run(networkExposure, ctx({ hosts: [l4] }, {}, { resources })) as { message: string }[];
    expect(v.map((x) => x.message)).toEqual([
      "scaleway:instance/securityGroup:SecurityGroup opens port 8000 to 0.0.0.0/0",
      "hcloud:index/firewall:Firewall opens port 22 to ::/0",
      'hcloud:index/loadBalancerService:LoadBalancerService serves "http" on port 80; the endpoint must be https',
    ]);
  });

  it("is mandatory in production and advisory elsewhere", () => {
    expect(networkExposure.defaultEnforcement(ctx({ environment: "production" }))).toBe("mandatory");
    expect(networkExposure.defaultEnforcement(ctx({}))).toBe("advisory");
  });

  it("is not applicable to an empty stack", () => {
    expect(run(networkExposure, ctx({}))).toEqual({ notApplicable: "the stack has no hosts and no deployments" });
  });
});

describe("secrets", () => {
  it("passes secure values and plain non-secret keys", () => {
    expect(run(secrets, ctx({}, { "gpu-hosting:robotPassword": { secure: "v1:abc" }, "hcloud:token": { secure: "v1:def" }, "gpu-hosting:environment": "production" }))).toEqual([]);
  });

  it("rejects plain credentials, private keys and Hugging Face tokens", () => {
    const v = run(secrets, ctx({}, {
      "gpu-hosting:robotPassword": "hunter2",
      "scaleway:secretKey": "11111111-2222-3333-4444-555555555555",
      "gpu-hosting:notes": ["-----BEGIN OPENSSH PRIVATE KEY-----\nabc"],
      "gpu-hosting:extra": { token: { nested: "hf_abcdefghijklmnopqrstuvwxyzABCDEF1234" } },
    })) as { message: string }[];
    expect(v.map((x) => x.message)).toEqual([
      "gpu-hosting:robotPassword looks like a credential but is stored in plain text",
      "scaleway:secretKey looks like a credential but is stored in plain text",
      "gpu-hosting:notes[0] contains a private key in plain text",
      "gpu-hosting:extra.token.nested contains a Hugging Face token in plain text",
    ]);
  });

  it("trusts the engine's list of secret keys", () => {
    expect(run(secrets, ctx({}, { "gpu-hosting:robotPassword": "[secret]" }, { secretKeys: ["gpu-hosting:robotPassword"] }))).toEqual([]);
  });

  it("is not applicable without raw config", () => {
    expect(run(secrets, ctx({}))).toEqual({ notApplicable: "no raw stack config was provided" });
  });
});

describe("runner", () => {
  it("gives every check a kebab-case name, a 'Checks that' description, remediation and config defaults", () => {
    expect(CHECKS.map((c) => c.name)).toEqual(["vram-fit", "gpu-capability", "power-budget", "cost-budget", "allowed-locations", "network-exposure", "secrets"]);
    for (const c of CHECKS) {
      expect(c.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(c.description).toMatch(/^Checks that\b/);
      expect(c.remediationSteps.length).toBeGreaterThan(20);
      for (const [k, p] of Object.entries(c.configSchema)) expect({ k, hasDefault: "default" in (p as object) }).toEqual({ k, hasDefault: true });
    }
  });

  it("fails closed when a check throws", () => {
    const broken = { ...vramFit, run: () => { throw new Error("boom"); } };
    const r = runCheck(broken as never, ctx({}));
    expect(r.violations).toEqual([expect.objectContaining({ policy: "vram-fit", enforcementLevel: "mandatory", message: "could not decide (boom); failing closed" })]);
  });

  it("applies enforcement levels from policy config, and advisory findings never fail the stack", () => {
    const c = ctx({ hosts: [l4], budgets: { eurPerMonth: 100 } });
    expect(runChecks(c).ok).toBe(true);
    const strict = runChecks(c, { "cost-budget": { enforcementLevel: "mandatory" } });
    expect(strict.ok).toBe(false);
    expect(runChecks(c, { "cost-budget": { enforcementLevel: "disabled" } }).notApplicable).toContainEqual({ policy: "cost-budget", reason: "disabled by policy config" });
  });

  it("validates policy config: names, keys and types", () => {
    expect(validatePolicyConfig({ "power-budget": { headroomWarningPercent: 90 }, "cost-budget": "mandatory" })).toEqual({ ok: true, config: { "power-budget": { headroomWarningPercent: 90 }, "cost-budget": { enforcementLevel: "mandatory" } } });
    const bad = validatePolicyConfig({ "vram-fits": {}, "power-budget": { headroom: 1, headroomWarningPercent: "90", enforcementLevel: "strict" } });
    expect(bad).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(/^vram-fits: not a policy; allowed: vram-fit, /),
        'power-budget.headroom: not a setting of power-budget; allowed: enforcementLevel, headroomWarningPercent',
        'power-budget.headroomWarningPercent: got "90"; expected a number',
        'power-budget.enforcementLevel: got "strict"; allowed: advisory, mandatory, disabled',
      ],
    });
  });
});
