/**
 * hetzner.DedicatedServer, hetzner.PrivateNetwork and hetzner.CpuServer under pulumi mocks:
 * children and their inputs, parentage, the vSwitch coupling, the HTTPS load balancer, firewall
 * rules, secrecy of the Robot password and the SSH key, and the checks' exact messages.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderHardeningCloudConfig } from "../core/cloudinit";
import { HetznerCloudHostConfig, HetznerDedicatedHostConfig } from "../core/config/schema";
import { resolveHost, type HostFacts } from "../core/fleet";
import { robotFirewallRules } from "../components/hetzner/robotProvider";
import type { FirewallRule } from "../core/hetzner/robot";
import { factTags } from "../components/host";
import * as hetzner from "../components/hetzner";
import { findInClear, outputValue, recordResources, SECRET_SIG, SECRET_SIG_KEY, type Recorder } from "./helpers/mocks";

const ROBOT_USER = "robot-user";
const ROBOT_PASSWORD = "Robot-s3cret-Pa55word";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5Ylq2lVz0m3m8aJ9Xw5V1tq8m3VxQKf6q7bYpZ0nA ops@gpu-hosting";
const PRIVATE_MATERIAL = "b3BlbnNzaC1rZXktdjEAAAAAFAKEPRIVATEKEYMATERIALh3tZ";
const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${PRIVATE_MATERIAL}\n-----END OPENSSH PRIVATE KEY-----\n`;
const FINGERPRINT = "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10";
const CIDRS = ["203.0.113.0/24", "2001:db8::/48"];
/** Robot's firewall cannot filter IPv6 by source address, so dedicated (Robot) hosts list IPv4 CIDRs only. */
const ROBOT_CIDRS = ["203.0.113.0/24", "198.51.100.0/24"];

const T = {
  dedicated: "gpu-hosting:hetzner:DedicatedServer",
  network: "gpu-hosting:hetzner:PrivateNetwork",
  cpu: "gpu-hosting:hetzner:CpuServer",
  robotServer: "pulumi-nodejs:dynamic/hetzner:RobotServer",
  vswitch: "pulumi-nodejs:dynamic/hetzner:RobotVswitch",
  hNetwork: "hcloud:index/network:Network",
  subnet: "hcloud:index/networkSubnet:NetworkSubnet",
  lb: "hcloud:index/loadBalancer:LoadBalancer",
  lbNetwork: "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork",
  cert: "hcloud:index/managedCertificate:ManagedCertificate",
  target: "hcloud:index/loadBalancerTarget:LoadBalancerTarget",
  service: "hcloud:index/loadBalancerService:LoadBalancerService",
  sshKey: "hcloud:index/sshKey:SshKey",
  firewall: "hcloud:index/firewall:Firewall",
  server: "hcloud:index/server:Server",
};

function dedicatedFacts(name: string, product = "GEX45", location = "fsn1"): HostFacts {
  const host = HetznerDedicatedHostConfig.parse({ kind: "hetzner-dedicated", name, product, location, serverNumber: 321, sshAllowedCidrs: ROBOT_CIDRS });
  const problems: string[] = [];
  const facts = resolveHost(host, 0, [], problems);
  if (!facts) throw new Error(problems.join("\n"));
  return facts;
}

function cloudFacts(name: string, serverType = "ccx33", location = "nbg1"): HostFacts {
  const host = HetznerCloudHostConfig.parse({ kind: "hetzner-cloud", name, serverType, location, sshAllowedCidrs: CIDRS });
  const problems: string[] = [];
  const facts = resolveHost(host, 0, [], problems);
  if (!facts) throw new Error(problems.join("\n"));
  return facts;
}

function dedicatedArgs(name: string, over: Partial<hetzner.DedicatedServerArgs> = {}): hetzner.DedicatedServerArgs {
  return {
    product: "GEX45",
    location: "fsn1",
    authorizedKeyFingerprints: [FINGERPRINT],
    robotUser: ROBOT_USER,
    robotPassword: ROBOT_PASSWORD,
    sshPrivateKey: PRIVATE_KEY,
    facts: dedicatedFacts(name),
    ...over,
  };
}

function cpuArgs(name: string, over: Partial<hetzner.CpuServerArgs> = {}): hetzner.CpuServerArgs {
  return { serverType: "ccx33", location: "nbg1", sshPublicKey: PUBLIC_KEY, sshPrivateKey: PRIVATE_KEY, facts: cloudFacts(name), ...over };
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error, none was thrown");
}

const secret = (value: unknown): Record<string, unknown> => ({ [SECRET_SIG_KEY]: SECRET_SIG, value });

/** hcloud IDs are numeric strings; the shared recorder answers `<name>-id`, so number them here. */
const hcloudIds = new Map<string, string>();
function numberHcloudIds(): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as { mocks: pulumi.runtime.Mocks };
  const inner = monitor.mocks;
  monitor.mocks = {
    call: (args) => inner.call(args),
    async newResource(args) {
      const result = await inner.newResource(args);
      if (!args.type.startsWith("hcloud:")) return result;
      const id = String(1000 + hcloudIds.size);
      hcloudIds.set(args.name, id);
      return { ...result, id };
    },
  };
}
const idOf = (name: string): number => Number(hcloudIds.get(name));

let rec: Recorder;
let adopted: hetzner.DedicatedServer;
let ordered: hetzner.DedicatedServer;
let cpu: hetzner.CpuServer;
let closed: hetzner.CpuServer;

beforeAll(async () => {
  rec = await recordResources({
    state: (args) => {
      if (args.type === T.robotServer) return { robotServerNumber: 321, serverIp: "192.0.2.21", product: "GEX45", dc: "FSN1-DC14", origin: args.inputs.serverNumber ? "adopted" : "ordered" };
      if (args.type === T.vswitch) return { vswitchId: 7000 };
      if (args.type === T.lb) return { ipv4: "198.51.100.80" };
      return undefined;
    },
  });
  numberHcloudIds();
  adopted = new hetzner.DedicatedServer(
    "gpu-1",
    dedicatedArgs("gpu-1", {
      serverNumber: 321,
      sshAllowedCidrs: ROBOT_CIDRS,
      privateNetwork: { vlan: 4000, networkIpRange: "10.100.0.0/16", vswitchSubnet: "10.100.1.0/24" },
      loadBalancer: { domain: "llm.example.com" },
    }),
  );
  ordered = new hetzner.DedicatedServer("gpu-2", dedicatedArgs("gpu-2", { confirmOrder: true, protect: true, robotPassword: pulumi.output(ROBOT_PASSWORD), sshPrivateKey: pulumi.output(PRIVATE_KEY) }));
  cpu = new hetzner.CpuServer("cpu-1", cpuArgs("cpu-1"));
  closed = new hetzner.CpuServer("cpu-2", cpuArgs("cpu-2", { sshAllowedCidrs: [], adminUser: "ops", image: "debian-12", protect: true }));
  await rec.settled(adopted.urn, ordered.urn, cpu.urn, closed.urn, adopted.publicIp, adopted.endpoint!, cpu.publicIp, adopted.server.urn, adopted.privateNetwork!.urn);
});

describe("hetzner.DedicatedServer children", () => {
  it("declares the Robot server and, with privateNetwork, a PrivateNetwork component", () => {
    expect(rec.resources.filter((r) => r.name.startsWith("gpu-1-") && !r.name.startsWith("gpu-1-net-")).map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [`${T.robotServer} gpu-1-server`, `${T.network} gpu-1-net`].sort(),
    );
    expect(rec.resources.filter((r) => r.name.startsWith("gpu-2-")).map((r) => `${r.type} ${r.name}`)).toEqual([`${T.robotServer} gpu-2-server`]);
  });

  it("builds the private network from a vSwitch, an hcloud network, a vswitch subnet and the load balancer parts", () => {
    expect(rec.resources.filter((r) => r.name.startsWith("gpu-1-net-")).map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        `${T.vswitch} gpu-1-net-vswitch`,
        `${T.hNetwork} gpu-1-net-network`,
        `${T.subnet} gpu-1-net-vswitch-subnet`,
        `${T.subnet} gpu-1-net-lb-subnet`,
        `${T.lb} gpu-1-net-lb`,
        `${T.lbNetwork} gpu-1-net-lb-network`,
        `${T.cert} gpu-1-net-cert`,
        `${T.target} gpu-1-net-lb-target`,
        `${T.service} gpu-1-net-https`,
      ].sort(),
    );
  });

  it("parents the server and the network on the component, and the network's parts on the network", async () => {
    const urn = (await outputValue(adopted.urn)).value!;
    expect(urn).toBe("urn:pulumi:stack::project::gpu-hosting:hetzner:DedicatedServer::gpu-1");
    expect((await outputValue(adopted.server.urn)).value).toBe("urn:pulumi:stack::project::gpu-hosting:hetzner:DedicatedServer$pulumi-nodejs:dynamic/hetzner:RobotServer::gpu-1-server");
    const netUrn = (await outputValue(adopted.privateNetwork!.urn)).value!;
    expect(netUrn).toBe("urn:pulumi:stack::project::gpu-hosting:hetzner:DedicatedServer$gpu-hosting:hetzner:PrivateNetwork::gpu-1-net");
    expect(rec.childrenOf(urn).map((r) => r.name).sort()).toEqual(["gpu-1-net", "gpu-1-server"]);
    for (const r of rec.resources.filter((x) => x.name.startsWith("gpu-1-net-"))) {
      expect(r.urn.split("::")[2]).toMatch(/^gpu-hosting:hetzner:PrivateNetwork\$(hcloud:|pulumi-nodejs:dynamic\/hetzner:RobotVswitch)/);
      expect(r.parentUrn).toBe(netUrn);
    }
  });

  it("adopts server 321 as a GEX45 in fsn1 with the firewall rules: SSH from the CIDRs and the serving port from the network", () => {
    const s = rec.one(T.robotServer, "gpu-1-server").inputs;
    expect(s).toMatchObject({ serverNumber: 321, productId: "GEX45", location: "fsn1", confirmOrder: false, authorizedKeys: [FINGERPRINT], addons: ["primary_ipv4"], dist: "Ubuntu 24.04 LTS base" });
    expect(s.firewallRules).toEqual(robotFirewallRules({ sshAllowedCidrs: ROBOT_CIDRS, privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } }));
    const rules = s.firewallRules as FirewallRule[];
    expect(rules.filter((r) => r.dstPort === "22").map((r) => r.srcIp)).toEqual(ROBOT_CIDRS);
    expect(rules.find((r) => r.dstPort === "8000")).toEqual({ name: "private network", ipVersion: "ipv4", srcIp: "10.100.0.0/16", dstPort: "8000", protocol: "tcp", action: "accept" });
    // Within Robot's documented limits: at most 10 rules; addresses and protocols only with an IP version.
    expect(rules.length).toBeLessThanOrEqual(10);
    expect(rules.filter((r) => (r.srcIp !== undefined && r.ipVersion !== "ipv4") || (r.protocol !== undefined && r.ipVersion === undefined))).toEqual([]);
  });

  it("orders only with confirmOrder, taking the SSH CIDRs from the facts by default", () => {
    const s = rec.one(T.robotServer, "gpu-2-server").inputs;
    expect(s.serverNumber).toBeUndefined();
    expect(s.confirmOrder).toBe(true);
    expect(s.firewallRules).toEqual(robotFirewallRules({ sshAllowedCidrs: ROBOT_CIDRS }));
  });

  it("protects the Robot server only when asked", () => {
    expect(rec.one(T.robotServer, "gpu-1-server").protect).toBe(false);
    expect(rec.one(T.robotServer, "gpu-2-server").protect).toBe(true);
  });

  it("creates the vSwitch with the VLAN and the adopted server, and couples it as a vswitch subnet in eu-central", () => {
    expect(rec.one(T.vswitch, "gpu-1-net-vswitch").inputs).toMatchObject({ name: "gpu-1-net", vlan: 4000, serverNumbers: [321] });
    expect(rec.one(T.hNetwork, "gpu-1-net-network").inputs).toMatchObject({ ipRange: "10.100.0.0/16" });
    expect(rec.one(T.subnet, "gpu-1-net-vswitch-subnet").inputs).toEqual({
      networkId: idOf("gpu-1-net-network"),
      type: "vswitch",
      networkZone: "eu-central",
      ipRange: "10.100.1.0/24",
      vswitchId: 7000,
    });
    expect(typeof rec.one(T.subnet, "gpu-1-net-vswitch-subnet").inputs.vswitchId).toBe("number");
  });

  it("puts an lb11 in a cloud subnet of the network and targets the server's private IP in the vSwitch subnet", () => {
    expect(rec.one(T.subnet, "gpu-1-net-lb-subnet").inputs).toEqual({ networkId: idOf("gpu-1-net-network"), type: "cloud", networkZone: "eu-central", ipRange: "10.100.0.0/24" });
    expect(rec.one(T.lb, "gpu-1-net-lb").inputs).toMatchObject({ loadBalancerType: "lb11", location: "fsn1" });
    expect(rec.one(T.lbNetwork, "gpu-1-net-lb-network").inputs).toMatchObject({ loadBalancerId: idOf("gpu-1-net-lb"), subnetId: String(idOf("gpu-1-net-lb-subnet")), enablePublicInterface: true });
    const target = rec.one(T.target, "gpu-1-net-lb-target").inputs;
    expect(target).toEqual({ loadBalancerId: idOf("gpu-1-net-lb"), type: "ip", ip: "10.100.1.2" });
    expect(target.usePrivateIp).toBeUndefined();
  });

  it("serves HTTPS on 443 with the managed certificate for the domain, to port 8000 with a health check", () => {
    expect(rec.one(T.cert, "gpu-1-net-cert").inputs).toMatchObject({ domainNames: ["llm.example.com"] });
    expect(rec.one(T.service, "gpu-1-net-https").inputs).toEqual({
      loadBalancerId: String(idOf("gpu-1-net-lb")),
      protocol: "https",
      listenPort: 443,
      destinationPort: 8000,
      http: { certificates: [idOf("gpu-1-net-cert")], redirectHttp: true },
      healthCheck: { protocol: "http", port: 8000, interval: 15, timeout: 10, retries: 3, http: { path: "/health", statusCodes: ["2??"] } },
    });
  });
});

describe("hetzner.DedicatedServer outputs and secrets", () => {
  it("connects as root to the server's IP and exposes the number, IP and endpoint", async () => {
    expect((await outputValue(adopted.connection.host)).value).toBe("192.0.2.21");
    expect(adopted.connection.user).toBe("root");
    expect(adopted.connection.port).toBe(22);
    expect((await outputValue(adopted.serverNumber)).value).toBe(321);
    expect((await outputValue(adopted.publicIp)).value).toBe("192.0.2.21");
    expect((await outputValue(adopted.endpoint!)).value).toBe("https://llm.example.com");
    expect((await outputValue(adopted.loadBalancerIpv4!)).value).toBe("198.51.100.80");
    expect(ordered.endpoint).toBeUndefined();
    expect(adopted.facts).toEqual(dedicatedFacts("gpu-1"));
  });

  it("registers the public outputs on the component", () => {
    expect(rec.one(T.dedicated, "gpu-1").outputs).toMatchObject({
      serverNumber: 321,
      publicIp: "192.0.2.21",
      endpoint: "https://llm.example.com",
      loadBalancerIpv4: "198.51.100.80",
      connection: { host: "192.0.2.21", port: 22, user: "root" },
      facts: { name: "gpu-1", offerId: "hetzner-gex45" },
    });
  });

  it("keeps the SSH private key secret, whether it came as a string or a plain Output", async () => {
    for (const host of [adopted, ordered]) expect(await outputValue(host.connection.privateKey)).toEqual({ value: PRIVATE_KEY, isSecret: true, isKnown: true });
  });

  it("sends the Robot credentials to the Robot resources only as secrets", () => {
    for (const name of ["gpu-1-server", "gpu-2-server", "gpu-1-net-vswitch"]) {
      const inputs = rec.one(name).inputs;
      expect(inputs.robotPassword).toEqual(secret(ROBOT_PASSWORD));
      expect(inputs.robotUser).toEqual(secret(ROBOT_USER));
    }
  });

  it("never has the Robot password or the SSH key in clear in any recorded input or registered output", () => {
    expect(rec.one(T.dedicated, "gpu-1").outputs).toBeDefined();
    // Guard against a vacuous pass: the serialised provider is recorded, and the search finds clear text.
    expect(String(rec.one("gpu-1-server").inputs.__provider)).toContain("class RobotClient");
    expect(findInClear({ k: ROBOT_PASSWORD }, ROBOT_PASSWORD)).toEqual(["k"]);
    const leaks = rec.resources.flatMap((r) =>
      [ROBOT_PASSWORD, PRIVATE_MATERIAL].flatMap((needle) => [...findInClear(r.inputs, needle, `${r.name}.inputs`), ...findInClear(r.outputs, needle, `${r.name}.outputs`)]),
    );
    expect(leaks).toEqual([]);
  });
});

describe("hetzner.DedicatedServer checks", () => {
  it("rejects a product Hetzner does not sell, listing the products and the closest one", () => {
    expect(errorOf(() => new hetzner.DedicatedServer("bad-1", dedicatedArgs("bad-1", { product: "GEX99" })))).toBe(
      'hetzner.DedicatedServer bad-1.product: "GEX99" is not a Hetzner dedicated server product; allowed: GEX45, GEX63, GEX131; did you mean GEX45?',
    );
  });

  it("rejects GEX45 in a location that does not offer it", () => {
    expect(errorOf(() => new hetzner.DedicatedServer("bad-2", dedicatedArgs("bad-2", { location: "ash" })))).toBe(
      'hetzner.DedicatedServer bad-2.location: "ash" does not offer GEX45; it is offered in fsn1, hel1, nbg1',
    );
  });

  it("rejects ordering GEX44 (no longer listed) but adopts one with serverNumber", () => {
    expect(errorOf(() => new hetzner.DedicatedServer("bad-3", dedicatedArgs("bad-3", { product: "GEX44" })))).toBe(
      'hetzner.DedicatedServer bad-3.product: "GEX44" is no longer listed by Hetzner; pick a listed one: GEX45, GEX63, GEX131; or adopt a server you already have with serverNumber',
    );
    expect(() => new hetzner.DedicatedServer("old-1", dedicatedArgs("old-1", { product: "GEX44", serverNumber: 321, facts: dedicatedFacts("old-1", "GEX44") }))).not.toThrow();
  });

  it("rejects an order without SSH key fingerprints, and a malformed fingerprint", () => {
    expect(errorOf(() => new hetzner.DedicatedServer("bad-4", dedicatedArgs("bad-4", { authorizedKeyFingerprints: [] })))).toBe(
      'hetzner.DedicatedServer bad-4.authorizedKeys: empty; ordering a server needs at least one SSH key uploaded to Robot (Key management), given by its fingerprint such as "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10" (or adopt a server with serverNumber)',
    );
    expect(errorOf(() => new hetzner.DedicatedServer("bad-5", dedicatedArgs("bad-5", { authorizedKeyFingerprints: ["SHA256:abc"] })))).toBe(
      'hetzner.DedicatedServer bad-5.authorizedKeys[0]: "SHA256:abc" is not a Robot key fingerprint; copy it from Robot → Key management (16 hex pairs joined by ":")',
    );
  });

  it("rejects a load balancer without a private network", () => {
    expect(errorOf(() => new hetzner.DedicatedServer("bad-6", dedicatedArgs("bad-6", { loadBalancer: { domain: "llm.example.com" } })))).toBe(
      "hetzner.DedicatedServer bad-6.loadBalancer: needs privateNetwork: the load balancer reaches the server through the vSwitch",
    );
  });

  it("rejects a bad private network before declaring the server", () => {
    const args = dedicatedArgs("bad-8", { serverNumber: 321, privateNetwork: { vlan: 3999, networkIpRange: "10.100.0.0/16", vswitchSubnet: "10.100.1.0/24" } });
    expect(errorOf(() => new hetzner.DedicatedServer("bad-8", args))).toBe(
      "hetzner.DedicatedServer bad-8.privateNetwork.vlan: 3999 is not allowed; Robot vSwitch VLAN IDs are integers from 4000 to 4091 (e.g. 4000)",
    );
  });

  it("throws a ResourceError tied to the component, before declaring any child", () => {
    let err: unknown;
    try {
      new hetzner.DedicatedServer("bad-7", dedicatedArgs("bad-7", { product: "GEX131", location: "hel1" }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect((err as Error).message).toBe('hetzner.DedicatedServer bad-7.location: "hel1" does not offer GEX131; it is offered in nbg1, fsn1');
    expect(rec.resources.filter((r) => r.name.startsWith("bad-") && r.custom)).toEqual([]);
  });
});

describe("hetzner.PrivateNetwork checks", () => {
  const netArgs = (over: Partial<hetzner.PrivateNetworkArgs> = {}): hetzner.PrivateNetworkArgs => ({
    location: "fsn1",
    vlan: 4000,
    networkIpRange: "10.100.0.0/16",
    vswitchSubnet: "10.100.1.0/24",
    serverNumbers: [321],
    robotUser: ROBOT_USER,
    robotPassword: ROBOT_PASSWORD,
    ...over,
  });

  it("rejects a location outside eu-central", () => {
    expect(errorOf(() => new hetzner.PrivateNetwork("net-bad-1", netArgs({ location: "ash" })))).toBe(
      'hetzner.PrivateNetwork net-bad-1: privateNetwork: location "ash" is outside network zone eu-central; Hetzner couples vSwitches to cloud networks only in fsn1, nbg1, hel1. Use one of those locations, or drop privateNetwork (and loadBalancer)',
    );
  });

  it("rejects a VLAN outside 4000–4091 and a vSwitch subnet outside the network", () => {
    expect(errorOf(() => new hetzner.PrivateNetwork("net-bad-2", netArgs({ vlan: 4092 })))).toBe(
      "hetzner.PrivateNetwork net-bad-2: privateNetwork.vlan: 4092 is not allowed; Robot vSwitch VLAN IDs are integers from 4000 to 4091 (e.g. 4000)",
    );
    expect(errorOf(() => new hetzner.PrivateNetwork("net-bad-3", netArgs({ vswitchSubnet: "10.200.1.0/24" })))).toBe(
      'hetzner.PrivateNetwork net-bad-3: privateNetwork.vswitchSubnet: "10.200.1.0/24" must be a CIDR of /29 or wider inside networkIpRange 10.100.0.0/16, e.g. the default 10.100.1.0/24 in 10.100.0.0/16',
    );
  });

  it.each([
    [{ networkIpRange: "10.100.0.0/16", vswitchSubnet: "10.100.1.0/24" }, { gateway: "10.100.1.1", serverPrivateIp: "10.100.1.2", cloudSubnet: "10.100.0.0/24" }],
    [{ networkIpRange: "10.100.0.0/16", vswitchSubnet: "10.100.0.0/24" }, { gateway: "10.100.0.1", serverPrivateIp: "10.100.0.2", cloudSubnet: "10.100.1.0/24" }],
    [{ networkIpRange: "192.168.0.0/24", vswitchSubnet: "192.168.0.0/25", serverPrivateIp: "192.168.0.10" }, { gateway: "192.168.0.1", serverPrivateIp: "192.168.0.10", cloudSubnet: "192.168.0.128/25" }],
  ])("plans %j as %j", (input, expected) => {
    expect(hetzner.planPrivateNetwork({ location: "nbg1", vlan: 4010, ...input })).toEqual({ networkZone: "eu-central", ...expected });
  });

  it("rejects a public network range and a server IP on the gateway", () => {
    expect(() => hetzner.planPrivateNetwork({ location: "hel1", vlan: 4000, networkIpRange: "8.8.0.0/16", vswitchSubnet: "8.8.1.0/24" })).toThrow(
      'privateNetwork.networkIpRange: "8.8.0.0/16" is not a private IPv4 range; hcloud networks need an RFC 1918 range such as 10.100.0.0/16',
    );
    expect(() => hetzner.planPrivateNetwork({ location: "hel1", vlan: 4000, networkIpRange: "10.0.0.0/16", vswitchSubnet: "10.0.1.0/24", serverPrivateIp: "10.0.1.1" })).toThrow(
      'privateNetwork.serverPrivateIp: "10.0.1.1" must be a host address of vswitchSubnet 10.0.1.0/24 other than its gateway 10.0.1.1, e.g. 10.0.1.2',
    );
  });
});

describe("hetzner.CpuServer", () => {
  it("declares an SSH key, a firewall and a server under the component", async () => {
    const urn = (await outputValue(cpu.urn)).value!;
    expect(rec.childrenOf(urn).map((r) => `${r.type} ${r.name}`).sort()).toEqual([`${T.firewall} cpu-1-firewall`, `${T.server} cpu-1-server`, `${T.sshKey} cpu-1-sshkey`].sort());
    expect(rec.one(T.server, "cpu-1-server").urn).toBe("urn:pulumi:stack::project::gpu-hosting:hetzner:CpuServer$hcloud:index/server:Server::cpu-1-server");
  });

  it("lets in exactly TCP 22 from the configured CIDRs, and nothing at all without CIDRs", () => {
    expect(rec.one(T.firewall, "cpu-1-firewall").inputs.rules).toEqual([{ direction: "in", protocol: "tcp", port: "22", sourceIps: CIDRS, description: "SSH from sshAllowedCidrs" }]);
    expect(rec.one(T.firewall, "cpu-2-firewall").inputs.rules).toEqual([]);
  });

  it("creates the ccx33 in nbg1 with the firewall attached, the key, both public IPs and the hardening cloud-config", () => {
    expect(rec.one(T.server, "cpu-1-server").inputs).toMatchObject({
      name: "cpu-1",
      serverType: "ccx33",
      location: "nbg1",
      image: "ubuntu-24.04",
      sshKeys: [String(idOf("cpu-1-sshkey"))],
      firewallIds: [idOf("cpu-1-firewall")],
      publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
      userData: renderHardeningCloudConfig({ adminUser: "llm", sshPublicKeys: [PUBLIC_KEY] }),
    });
    expect(rec.one(T.server, "cpu-2-server").inputs).toMatchObject({ image: "debian-12", userData: renderHardeningCloudConfig({ adminUser: "ops", sshPublicKeys: [PUBLIC_KEY] }) });
    expect(rec.one(T.sshKey, "cpu-1-sshkey").inputs.publicKey).toBe(PUBLIC_KEY);
    expect(rec.one(T.server, "cpu-2-server").protect).toBe(true);
  });

  it("labels the server with the host facts (valid hcloud labels)", () => {
    const labels = rec.one(T.server, "cpu-1-server").inputs.labels as Record<string, string>;
    expect(labels).toEqual(hetzner.hcloudLabels(factTags(cloudFacts("cpu-1"))));
    expect(labels).toMatchObject({ "gpu-hosting/host": "cpu-1", "gpu-hosting/gpu": "none", "gpu-hosting/gpu-count": "0", "gpu-hosting/site": "hetzner-nbg1" });
  });

  it("connects as the admin user with a secret key, and never has the key in clear", async () => {
    expect((await outputValue(cpu.connection.host)).value).toBe("203.0.113.10");
    expect(cpu.connection.user).toBe("llm");
    expect(closed.connection.user).toBe("ops");
    expect(await outputValue(cpu.connection.privateKey)).toEqual({ value: PRIVATE_KEY, isSecret: true, isKnown: true });
    expect(rec.resources.filter((r) => r.name.startsWith("cpu-")).flatMap((r) => [...findInClear(r.inputs, PRIVATE_MATERIAL), ...findInClear(r.outputs, PRIVATE_MATERIAL)])).toEqual([]);
  });

  it("rejects a server type that is not a dedicated-vCPU offer, and a location without it", () => {
    expect(errorOf(() => new hetzner.CpuServer("cpu-bad-1", cpuArgs("cpu-bad-1", { serverType: "cx22" })))).toBe(
      'hetzner.CpuServer cpu-bad-1.serverType: "cx22" is not a Hetzner dedicated-vCPU (cloud-cpu) server type; allowed: ccx33, ccx43, ccx53, ccx63; did you mean ccx33?',
    );
    expect(errorOf(() => new hetzner.CpuServer("cpu-bad-2", cpuArgs("cpu-bad-2", { location: "sin" })))).toBe(
      'hetzner.CpuServer cpu-bad-2.location: "sin" does not offer ccx33; it is offered in fsn1, nbg1, hel1, ash, hil',
    );
  });

  it.each([
    [{ "gpu-hosting/gpu": "rtx-4000-sff-ada" }, { "gpu-hosting/gpu": "rtx-4000-sff-ada" }],
    [{ "gpu-hosting/site": "office DC (2nd floor)" }, { "gpu-hosting/site": "office-DC-2nd-floor" }],
    [{ "Weird Prefix!/name with spaces": "-x-" }, { "weird-prefix/name-with-spaces": "x" }],
    [{ "gpu-hosting/host": "a".repeat(70) }, { "gpu-hosting/host": "a".repeat(63) }],
  ])("hcloudLabels(%j) is %j", (tags, labels) => {
    expect(hetzner.hcloudLabels(tags)).toEqual(labels);
  });
});

describe("hetzner.DedicatedServer Robot firewall limits", () => {
  it("refuses an IPv6 SSH source, which Robot's firewall cannot filter, before declaring anything", () => {
    const message = errorOf(() => new hetzner.DedicatedServer("fw-1", dedicatedArgs("fw-1", { serverNumber: 321, sshAllowedCidrs: CIDRS })));
    expect(message).toMatch(/^hetzner\.DedicatedServer fw-1/);
    expect(message).toContain(
      'sshAllowedCidrs[1]: "2001:db8::/48" is IPv6; Robot\'s firewall cannot filter IPv6 by source address (src_ip needs ip_version ipv4), so IPv6 is dropped here; list IPv4 CIDRs, and reach the server over IPv4',
    );
    expect(rec.resources.filter((r) => r.name.startsWith("fw-1-"))).toEqual([]);
  });

  it("refuses more SSH CIDRs than Robot's 10 rules leave room for, naming how many fit", () => {
    const cidrs = Array.from({ length: 9 }, (_, i) => `198.51.100.${i * 16}/28`);
    const message = errorOf(() => new hetzner.DedicatedServer("fw-2", dedicatedArgs("fw-2", { serverNumber: 321, sshAllowedCidrs: cidrs })));
    expect(message).toContain("sshAllowedCidrs: 9 CIDRs need 13 rules");
    expect(message).toContain("merge them into at most 6 wider CIDRs");
  });
});
