/**
 * One truth: `gpu-hosting check` and the stack program (what `pulumi preview` runs) accept and
 * refuse exactly the same stacks, naming the same config path. Every fixture below is a valid base
 * stack with one field broken; the check runs through the CLI's own entry points (the stack file is
 * written as YAML and read back with readStackYaml), the program runs under Pulumi mocks.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dump } from "js-yaml";
import { checkStackConfig, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { runProgram } from "./helpers/program";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x";
const FINGERPRINT = "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10";

type Host = Record<string, unknown>;
interface Stack {
  hosts: Host[];
  sites: Record<string, unknown>[];
  deployments: Record<string, unknown>[];
  allowed: Record<string, unknown>;
}

/** A valid stack with one host of every kind. Index: 0 scaleway, 1 hetzner-dedicated, 2 hetzner-cloud, 3 onprem, 4 colocation. */
function base(): Stack {
  return {
    sites: [
      { name: "office", country: "DE", powerBudgetWatts: 5000 },
      { name: "rack", country: "NL" },
    ],
    hosts: [
      { name: "scw", kind: "scaleway", type: "L40S-1-48G", zone: "fr-par-2", sshAllowedCidrs: ["198.51.100.0/24"] },
      { name: "gex", kind: "hetzner-dedicated", product: "GEX131", location: "nbg1", authorizedKeys: [FINGERPRINT], sshAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { vlan: 4000 }, loadBalancer: { domain: "llm.example.com" } },
      { name: "ccx", kind: "hetzner-cloud", serverType: "ccx33", location: "fsn1", sshAllowedCidrs: ["198.51.100.0/24"] },
      { name: "box", kind: "onprem", site: "office", address: "192.0.2.10", user: "llm", hostKey: HOST_KEY, gpuPowerCapWatts: 350, inventory: { gpu: "rtx-4090", gpuCount: 2, nonGpuWatts: 300 } },
      { name: "colo", kind: "colocation", site: "rack", address: "192.0.2.20", hostKey: HOST_KEY, inventory: { gpu: null, gpuCount: 0 } },
    ],
    deployments: [
      { name: "chat", model: "Qwen/Qwen3-8B", hosts: ["scw"], context: "16k" },
      { name: "small", model: "Qwen/Qwen3-8B", hosts: ["box"], context: "8k" },
    ],
    allowed: { euOnly: true },
  };
}

/** The stack file's `config:` map. */
function stackFile(s: Stack): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [`gpu-hosting:${k}`, v]));
}

type Mutation = (s: Stack) => void;
const host = (i: number, patch: Host): Mutation => (s) => Object.assign(s.hosts[i]!, patch);
const unset = (i: number, key: string): Mutation => (s) => void delete s.hosts[i]![key];

/** [what is broken, the change, the config path both must name]. */
const INVALID: [string, Mutation, string][] = [
  // scaleway
  ["scaleway: a type Scaleway does not sell", host(0, { type: "H200-1-141G" }), "gpu-hosting:hosts[0].type"],
  ["scaleway: a zone that does not offer the type", host(0, { type: "H100-SXM-8-80G", zone: "pl-waw-2" }), "gpu-hosting:hosts[0].zone"],
  ["scaleway: a type no longer listed", host(0, { type: "GPU-3070-S" }), "gpu-hosting:hosts[0].type"],
  ["scaleway: a root volume under 20 GB", host(0, { rootVolumeGb: 10 }), "gpu-hosting:hosts[0].rootVolumeGb"],
  ["scaleway: a root volume that is not whole", host(0, { rootVolumeGb: 50.5 }), "gpu-hosting:hosts[0].rootVolumeGb"],
  ["scaleway: a power cap of 1 W on an L40S", host(0, { gpuPowerCapWatts: 1 }), "gpu-hosting:hosts[0].gpuPowerCapWatts"],
  ["scaleway: an SSH source that is not a CIDR", host(0, { sshAllowedCidrs: ["office"] }), "gpu-hosting:hosts[0].sshAllowedCidrs[0]"],
  ["scaleway: an unknown field", host(0, { flavour: "big" }), "gpu-hosting:hosts[0]"],
  // hetzner-dedicated
  ["hetzner-dedicated: an unknown product", host(1, { product: "GEX99" }), "gpu-hosting:hosts[1].product"],
  ["hetzner-dedicated: a location that does not offer the product", host(1, { product: "GEX63", location: "fsn1" }), "gpu-hosting:hosts[1].location"],
  ["hetzner-dedicated: ordering a product no longer listed", host(1, { product: "GEX44", location: "fsn1" }), "gpu-hosting:hosts[1].product"],
  ["hetzner-dedicated: 9 SSH CIDRs, more than the Robot firewall's 10 rules allow", host(1, { sshAllowedCidrs: Array.from({ length: 9 }, (_, i) => `198.51.${i}.0/24`) }), "gpu-hosting:hosts[1].sshAllowedCidrs"],
  ["hetzner-dedicated: an IPv6 SSH source, which Robot cannot filter by address", host(1, { sshAllowedCidrs: ["2001:db8::/32"] }), "gpu-hosting:hosts[1].sshAllowedCidrs[0]"],
  ["hetzner-dedicated: a key that is not a Robot fingerprint", host(1, { authorizedKeys: ["ssh-ed25519 AAAA"] }), "gpu-hosting:hosts[1].authorizedKeys[0]"],
  ["hetzner-dedicated: an order without SSH keys", host(1, { authorizedKeys: [] }), "gpu-hosting:hosts[1].authorizedKeys"],
  ["hetzner-dedicated: a load balancer without a private network", unset(1, "privateNetwork"), "gpu-hosting:hosts[1].loadBalancer"],
  ["hetzner-dedicated: a VLAN outside 4000–4091", host(1, { privateNetwork: { vlan: 3999 } }), "gpu-hosting:hosts[1].privateNetwork.vlan"],
  ["hetzner-dedicated: a public network range", host(1, { privateNetwork: { vlan: 4000, networkIpRange: "8.8.0.0/16" } }), "gpu-hosting:hosts[1].privateNetwork.networkIpRange"],
  ["hetzner-dedicated: a vSwitch subnet outside the network", host(1, { privateNetwork: { vlan: 4000, vswitchSubnet: "10.200.1.0/24" } }), "gpu-hosting:hosts[1].privateNetwork.vswitchSubnet"],
  ["hetzner-dedicated: a load balancer domain that is not a DNS name", host(1, { loadBalancer: { domain: "my endpoint" } }), "gpu-hosting:hosts[1].loadBalancer.domain"],
  ["hetzner-dedicated: a power cap above the GPU's maximum", host(1, { gpuPowerCapWatts: 2000 }), "gpu-hosting:hosts[1].gpuPowerCapWatts"],
  ["hetzner-dedicated: server number 0", host(1, { serverNumber: 0 }), "gpu-hosting:hosts[1].serverNumber"],
  // hetzner-cloud
  ["hetzner-cloud: an unknown server type", host(2, { serverType: "cx22" }), "gpu-hosting:hosts[2].serverType"],
  ["hetzner-cloud: a location that does not offer the type", host(2, { location: "sin" }), "gpu-hosting:hosts[2].location"],
  ["hetzner-cloud: a power cap on a CPU server", host(2, { gpuPowerCapWatts: 200 }), "gpu-hosting:hosts[2].gpuPowerCapWatts"],
  ["hetzner-cloud: an empty image", host(2, { image: "" }), "gpu-hosting:hosts[2].image"],
  // onprem / colocation
  ["onprem: a host key with a shell command after it", host(3, { hostKey: "ssh-rsa A; rm -rf /" }), "gpu-hosting:hosts[3].hostKey"],
  ["onprem: a host key whose blob is not that key type", host(3, { hostKey: "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ" }), "gpu-hosting:hosts[3].hostKey"],
  ["onprem: 4 GPUs declared with gpu null", host(3, { inventory: { gpu: null, gpuCount: 4 } }), "gpu-hosting:hosts[3].inventory.gpuCount"],
  ["onprem: a GPU the catalog does not know", host(3, { inventory: { gpu: "rtx-9090", gpuCount: 2 } }), "gpu-hosting:hosts[3].inventory.gpu"],
  ["onprem: a GPU with a count of 0", host(3, { inventory: { gpu: "rtx-4090", gpuCount: 0 } }), "gpu-hosting:hosts[3].inventory.gpuCount"],
  ["onprem: a port above 65535", host(3, { port: 70000 }), "gpu-hosting:hosts[3].port"],
  ["onprem: a user name with a space", host(3, { user: "my user" }), "gpu-hosting:hosts[3].user"],
  ["onprem: no site", unset(3, "site"), "gpu-hosting:hosts[3].site"],
  ["onprem: a site that is not declared", host(3, { site: "garage" }), "gpu-hosting:hosts[3].site"],
  ["onprem: a power cap of 1 W on RTX 4090s", host(3, { gpuPowerCapWatts: 1 }), "gpu-hosting:hosts[3].gpuPowerCapWatts"],
  ["colocation: a negative GPU count", host(4, { inventory: { gpu: null, gpuCount: -1 } }), "gpu-hosting:hosts[4].inventory.gpuCount"],
  ["colocation: a private-key secret name that is not a config key", host(4, { privateKeySecret: "my key" }), "gpu-hosting:hosts[4].privateKeySecret"],
  // stack level
  ["a deployment on a host that does not exist", (s) => (s.deployments[0]!.hosts = ["ghost"]), "gpu-hosting:deployments[0].hosts[0]"],
  ["two hosts with one name", host(2, { name: "scw" }), "gpu-hosting:hosts[2].name"],
  ["a provider that is not a host kind's", (s) => (s.allowed.providers = ["aws"]), "gpu-hosting:allowed.providers[0]"],
];

const VALID: [string, Mutation][] = [
  ["the base stack (every host kind)", () => undefined],
  ["a Hetzner server adopted by number, no longer listed, without keys", host(1, { product: "GEX44", location: "fsn1", serverNumber: 321, authorizedKeys: [], privateNetwork: { vlan: 4001 } })],
  ["Robot's product id with a suffix", host(1, { product: "GEX131-1" })],
  ["5 IPv4 SSH CIDRs on a dedicated server with a load balancer (10 Robot rules)", host(1, { sshAllowedCidrs: Array.from({ length: 5 }, (_, i) => `198.51.${i}.0/24`) })],
  ["upper-case Robot fingerprints", host(1, { authorizedKeys: [FINGERPRINT.toUpperCase()] })],
  ["IPv6 SSH sources on a Scaleway instance", host(0, { sshAllowedCidrs: ["2001:db8::/32"] })],
  ["a power cap inside the L40S's range", host(0, { gpuPowerCapWatts: 300 })],
  ["a CPU-only owned host", (s) => { host(3, { inventory: { gpu: null, gpuCount: 0 } })(s); unset(3, "gpuPowerCapWatts")(s); s.deployments.pop(); }],
];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-agree-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `gpu-hosting check`'s verdict: the problems it exits 2 with, or [] when it accepts the stack. */
function checkProblems(name: string, s: Stack): string[] {
  const file = path.join(dir, `Pulumi.${name.replace(/[^a-z0-9]+/gi, "-")}.yaml`);
  fs.writeFileSync(file, dump({ config: stackFile(s) }));
  try {
    checkStackConfig(readStackYaml(fs.readFileSync(file, "utf8"), file), file);
    return [];
  } catch (e) {
    if (!(e instanceof StackInputError)) throw e;
    return e.problems.length > 0 ? e.problems : [e.message];
  }
}

/** The program's verdict under mocks: its error message, or null when it builds the stack. */
async function programError(s: Stack): Promise<string | null> {
  try {
    await runProgram(stackFile(s));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function build(m: Mutation): Stack {
  const s = base();
  m(s);
  return s;
}

describe("gpu-hosting check and the program under mocks agree", () => {
  it("has at least 30 invalid fixtures, covering every host kind", () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(30);
    for (const kind of ["scaleway", "hetzner-dedicated", "hetzner-cloud", "onprem", "colocation"]) expect(INVALID.filter(([what]) => what.startsWith(`${kind}:`)).length).toBeGreaterThan(0);
  });

  it.each(INVALID)("both refuse %s, naming the same path", async (what, mutate, configPath) => {
    const s = build(mutate);
    const problems = checkProblems(what, s);
    const named = problems.filter((p) => p.startsWith(`${configPath}:`));
    expect({ what, named: named.length > 0, problems }).toEqual({ what, named: true, problems });
    const err = await programError(s);
    expect(err).not.toBeNull();
    // The program reports the same problem text, under the same path.
    for (const p of named) expect(err).toContain(p);
  });

  it.each(VALID)("both accept %s", async (what, mutate) => {
    const s = build(mutate);
    expect(checkProblems(what, s)).toEqual([]);
    expect(await programError(s)).toBeNull();
  });
});

describe("replicas split a deployment's concurrency, in check and in the program alike", () => {
  /** `n` GEX131 servers (one RTX PRO 6000 Blackwell 96 GB each) serving Llama 3.3 70B (llama.cpp, Q4_K_M) at 32k for 20 users in total. */
  function gex131Replicas(n: number): Stack {
    const s = base();
    const names = Array.from({ length: n }, (_, i) => `gex${i + 1}`);
    s.hosts = names.map((name) => ({ name, kind: "hetzner-dedicated", product: "GEX131", location: "nbg1", authorizedKeys: [FINGERPRINT], sshAllowedCidrs: ["198.51.100.0/24"] }));
    s.sites = [];
    s.deployments = [{ name: "llama", model: "llama-3.3-70b", hosts: names, context: "32k", concurrency: 20, engine: "llamacpp", dtype: "q4_k_m" }];
    return s;
  }

  /** check's vram-fit messages for the stack (the same code the policy pack runs). */
  function vramFitMessages(name: string, s: Stack): string[] {
    const file = path.join(dir, `Pulumi.${name}.yaml`);
    fs.writeFileSync(file, dump({ config: stackFile(s) }));
    const r = checkStackConfig(readStackYaml(fs.readFileSync(file, "utf8"), file), file);
    return r.report.violations.filter((v) => v.policy === "vram-fit").map((v) => v.message);
  }

  it("5 hosts × GEX131 hold Llama 3.3 70B at 32k for 20 users (4 per replica); one host would not", async () => {
    expect(vramFitMessages("five", gex131Replicas(5))).toEqual([]);
    const one = vramFitMessages("one", gex131Replicas(1));
    expect(one).toEqual([expect.stringContaining("for 20 × 32768 tokens per replica (total concurrency 20 over 1 replica)")]);

    const five = (await runProgram(stackFile(gex131Replicas(5)))).exports.sizing as { fits: boolean; maxConcurrency: number }[];
    const single = (await runProgram(stackFile(gex131Replicas(1)))).exports.sizing as { fits: boolean }[];
    expect(five.map((d) => d.fits)).toEqual([true]);
    expect(five[0]!.maxConcurrency).toBeGreaterThanOrEqual(4);
    expect(single.map((d) => d.fits)).toEqual([false]);
  });

  it("names the per-replica share when 5 replicas are still too few", () => {
    const s = gex131Replicas(5);
    s.deployments[0]!.concurrency = 60;
    expect(vramFitMessages("sixty", s)).toEqual([expect.stringContaining("for 12 × 32768 tokens per replica (total concurrency 60 over 5 replicas)")]);
  });
});
