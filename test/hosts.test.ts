/**
 * The host-kind registry (core/hosts): what is derived from it, and each kind's pure pieces that
 * the other tests do not reach through a stack (resource readers for network-exposure, secrets).
 */
import { catalog, findGpu } from "../core/catalog";
import { AllowedConfig, parseStackConfig, SECRET_CONFIG_KEYS, stackConfigInput } from "../core/config/schema";
import { robotFirewallRules } from "../core/hetzner/firewall";
import { exposuresOf, HOST_KIND_NAMES, HOST_KINDS, hostKindOf, PROVIDERS, secretKeysOf, secretNeeds, type HostConfig } from "../core/hosts";
import { powerCapProblem } from "../core/hosts/common";
import { robotExposures } from "../core/hosts/hetznerDedicated";
import { HOST_COMPONENTS } from "../components/kinds";

describe("registry", () => {
  it("derives the kinds, providers and the config union from HOST_KINDS", () => {
    expect(HOST_KIND_NAMES).toEqual(["scaleway", "hetzner-dedicated", "hetzner-cloud", "onprem", "colocation"]);
    expect(PROVIDERS).toEqual(["scaleway", "hetzner", "onprem", "colocation"]);
    expect(AllowedConfig.safeParse({ providers: PROVIDERS }).success).toBe(true);
    expect(AllowedConfig.safeParse({ providers: ["ovhcloud"] }).success).toBe(false);
  });

  it("has a component for every kind", () => {
    expect(Object.keys(HOST_COMPONENTS).sort()).toEqual([...HOST_KIND_NAMES].sort());
  });

  it("names an unregistered kind and the known ones", () => {
    expect(() => hostKindOf({ kind: "ovhcloud" })).toThrow('host kind "ovhcloud" is not registered; known: scaleway, hetzner-dedicated, hetzner-cloud, onprem, colocation');
  });

  it("every kind's schema is strict and needs a name", () => {
    for (const k of HOST_KINDS) {
      const r = k.schema.safeParse({ kind: k.kinds[0], unknownField: 1 });
      expect(r.success).toBe(false);
      const paths = r.success ? [] : r.error.issues.map((i) => i.path.join("."));
      expect(paths).toContain("name");
    }
  });
});

describe("secrets by kind", () => {
  const parse = (hosts: unknown[]): HostConfig[] => {
    const r = parseStackConfig({ sites: [{ name: "dc", country: "DE" }], hosts });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    return r.config.hosts;
  };
  const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x";

  it("lists what each host needs: public and private key for cloud hosts, Robot credentials, a named key for owned hosts", () => {
    const hosts = parse([
      { name: "a", kind: "scaleway", type: "L4-1-24G", zone: "fr-par-2" },
      { name: "b", kind: "hetzner-dedicated", product: "GEX45", location: "fsn1", serverNumber: 1 },
      { name: "c", kind: "onprem", site: "dc", address: "h", hostKey: HOST_KEY, privateKeySecret: "rackKey", inventory: { gpu: null, gpuCount: 0 } },
    ]);
    const needs = secretNeeds(hosts).map(({ host, need }) => `${host}:${need.key}:${need.secret}`);
    expect(needs).toEqual(["0:sshPublicKey:false", "0:sshPrivateKey:true", "1:sshPrivateKey:true", "1:robotUser:true", "1:robotPassword:true", "2:rackKey:true"]);
  });

  it("keeps every secret key, and any key a host names, out of the parsed stack data", () => {
    expect(SECRET_CONFIG_KEYS).toEqual(expect.arrayContaining(["sshPublicKey", "sshPrivateKey", "robotUser", "robotPassword", "hfToken", "apiKey"]));
    expect(secretKeysOf([{ privateKeySecret: "rackKey" }])).toContain("rackKey");
    const input = stackConfigInput({ "gpu-hosting:robotPassword": "x", "gpu-hosting:rackKey": "y", "gpu-hosting:hosts": JSON.stringify([{ privateKeySecret: "rackKey" }]) });
    expect(Object.keys(input)).toEqual(["hosts"]);
  });
});

describe("power caps", () => {
  const rtx3090 = findGpu("rtx-3090", catalog())!;

  it("refuses 1 W on an RTX 3090, naming the settable range", () => {
    expect(powerCapProblem("gpu-hosting:hosts[0]", 1, rtx3090)).toBe(
      "gpu-hosting:hosts[0].gpuPowerCapWatts: 1 W is outside the range the NVIDIA GeForce RTX 3090's power limit can be set to, 100–375 W; use a value in it, e.g. 225",
    );
  });

  it("accepts the range's ends and refuses a cap on a host without GPUs", () => {
    expect(powerCapProblem("p", 100, rtx3090)).toBeNull();
    expect(powerCapProblem("p", 375, rtx3090)).toBeNull();
    expect(powerCapProblem("p", 376, rtx3090)).toMatch(/^p\.gpuPowerCapWatts: 376 W is outside/);
    expect(powerCapProblem("p", 200, null)).toBe("p.gpuPowerCapWatts: 200 W set on a host without GPUs; remove it");
    expect(powerCapProblem("p", undefined, null)).toBeNull();
  });
});

describe("network-exposure readers", () => {
  const robotServer = (firewallRules: unknown[]): { type: string; name: string; props: Record<string, unknown> } => ({
    type: "pulumi-nodejs:dynamic:Resource",
    name: "gex-1-server",
    props: { productId: "GEX131", confirmOrder: false, firewallRules },
  });

  it("passes the rules the component builds (SSH from a CIDR, replies with the ack flag, private network)", () => {
    const rules = robotFirewallRules({ sshAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } });
    expect(robotExposures([robotServer(rules)], [22, 8000, 8080, 11434])).toEqual([]);
  });

  it("reads the Robot firewall: SSH from anywhere, or a rule with no source and no port", () => {
    const found = robotExposures(
      [
        robotServer([
          { name: "ssh", ipVersion: "ipv4", srcIp: "0.0.0.0/0", dstPort: "22", protocol: "tcp", action: "accept" },
          { name: "engine v6", ipVersion: "ipv6", dstPort: "8000", protocol: "tcp", action: "accept" },
          { name: "all", action: "accept" },
          { name: "drop", srcIp: "0.0.0.0/0", action: "discard" },
        ]),
      ],
      [22, 8000],
    );
    expect(found.map((e) => e.message)).toEqual([
      'Robot firewall rule "ssh" accepts port 22 from 0.0.0.0/0',
      'Robot firewall rule "engine v6" accepts port 8000 from ::/0 and 0.0.0.0/0',
      'Robot firewall rule "all" accepts port 22 from ::/0 and 0.0.0.0/0',
      'Robot firewall rule "all" accepts port 8000 from ::/0 and 0.0.0.0/0',
    ]);
  });

  it("treats a port it cannot read as every port (fails closed)", () => {
    const found = exposuresOf([{ type: "hcloud:index/firewall:Firewall", name: "fw", props: { rules: [{ direction: "in", port: "ssh", sourceIps: ["0.0.0.0/0"] }] } }], [22]);
    expect(found.map((e) => e.message)).toEqual(["hcloud:index/firewall:Firewall opens port 22 to 0.0.0.0/0"]);
  });

  it("keeps the order the resources were declared in, across kinds", () => {
    const found = exposuresOf(
      [
        { type: "hcloud:index/loadBalancerService:LoadBalancerService", name: "lb", props: { protocol: "http", listenPort: 80 } },
        { type: "scaleway:instance/securityGroup:SecurityGroup", name: "sg", props: { inboundDefaultPolicy: "accept", inboundRules: [] } },
      ],
      [22],
    );
    expect(found.map((e) => e.subject)).toEqual(["resource lb", "resource sg"]);
  });
});
