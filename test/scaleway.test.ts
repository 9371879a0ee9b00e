/**
 * scaleway.GpuInstance under pulumi mocks: children and their inputs, parentage, tags, protect,
 * cloud-init, secrecy of the private key, and the catalog checks' exact messages.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderHardeningCloudConfig } from "../core/cloudinit";
import { ScalewayHostConfig } from "../core/config/schema";
import { resolveHost, type HostFacts } from "../core/fleet";
import { factTags } from "../components/host";
import * as scaleway from "../components/scaleway";
import { findInClear, outputValue, recordResources, type Recorder } from "./helpers/mocks";

const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5Ylq2lVz0m3m8aJ9Xw5V1tq8m3VxQKf6q7bYpZ0nA ops@gpu-hosting";
const PRIVATE_MATERIAL = "b3BlbnNzaC1rZXktdjEAAAAAFAKEPRIVATEKEYMATERIALx7Q9";
const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${PRIVATE_MATERIAL}\n-----END OPENSSH PRIVATE KEY-----\n`;
const CIDRS = ["203.0.113.0/24", "2001:db8::/48"];

const T = {
  component: "gpu-hosting:scaleway:GpuInstance",
  sshKey: "scaleway:iam/sshKey:SshKey",
  ip: "scaleway:instance/ip:Ip",
  sg: "scaleway:instance/securityGroup:SecurityGroup",
  server: "scaleway:instance/server:Server",
};

function factsFor(name: string, type = "L40S-1-48G", zone = "fr-par-2"): HostFacts {
  const host = ScalewayHostConfig.parse({ kind: "scaleway", name, type, zone, sshAllowedCidrs: CIDRS });
  const problems: string[] = [];
  const facts = resolveHost(host, 0, [], problems);
  if (!facts) throw new Error(problems.join("\n"));
  return facts;
}

function args(name: string, over: Partial<scaleway.GpuInstanceArgs> = {}): scaleway.GpuInstanceArgs {
  return { type: "L40S-1-48G", zone: "fr-par-2", sshAllowedCidrs: CIDRS, sshPublicKey: PUBLIC_KEY, sshPrivateKey: PRIVATE_KEY, facts: factsFor(name), ...over };
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error, none was thrown");
}

let rec: Recorder;
let plain: scaleway.GpuInstance;
let guarded: scaleway.GpuInstance;

beforeAll(async () => {
  rec = await recordResources();
  plain = new scaleway.GpuInstance("gpu-1", args("gpu-1"));
  // A private key that arrives as a plain Output (not secret) must still come out secret.
  guarded = new scaleway.GpuInstance("gpu-2", args("gpu-2", { protect: true, sshPrivateKey: pulumi.output(PRIVATE_KEY), adminUser: "ops", image: "ubuntu_noble_gpu_os_13_nvidia", rootVolumeGb: 500, sshAllowedCidrs: [] }));
  await rec.settled(plain.urn, guarded.urn, plain.publicIp, guarded.publicIp, plain.server.urn, guarded.server.urn);
});

describe("scaleway.GpuInstance children", () => {
  it("declares exactly an SSH key, a routed IP, a security group and a server under the component", () => {
    const children = rec.resources.filter((r) => r.name.startsWith("gpu-1-")).map((r) => `${r.type} ${r.name}`);
    expect(children.sort()).toEqual([`${T.sshKey} gpu-1-sshkey`, `${T.ip} gpu-1-ip`, `${T.server} gpu-1-server`, `${T.sg} gpu-1-sg`].sort());
    expect(rec.one(T.component, "gpu-1").custom).toBe(false);
  });

  it("parents every child on the component (URN type chain and register request)", async () => {
    const componentUrn = (await outputValue(plain.urn)).value!;
    expect(componentUrn).toBe("urn:pulumi:stack::project::gpu-hosting:scaleway:GpuInstance::gpu-1");
    expect((await outputValue(plain.server.urn)).value).toBe("urn:pulumi:stack::project::gpu-hosting:scaleway:GpuInstance$scaleway:instance/server:Server::gpu-1-server");
    for (const role of ["sshkey", "ip", "sg", "server"]) {
      const child = rec.one(`gpu-1-${role}`);
      expect(child.urn.split("::")[2]).toMatch(/^gpu-hosting:scaleway:GpuInstance\$scaleway:/);
      expect(child.parentUrn).toBe(componentUrn);
    }
    expect(rec.childrenOf(componentUrn).map((r) => r.name).sort()).toEqual(["gpu-1-ip", "gpu-1-server", "gpu-1-sg", "gpu-1-sshkey"]);
  });

  it("creates the server with the type, zone, default image, IP, security group and SBS root volume", () => {
    const s = rec.one(T.server, "gpu-1-server").inputs;
    expect(s).toMatchObject({
      type: "L40S-1-48G",
      zone: "fr-par-2",
      image: "ubuntu_noble_gpu_os_12",
      ipId: "gpu-1-ip-id",
      securityGroupId: "gpu-1-sg-id",
      rootVolume: { sizeInGb: 200, volumeType: "sbs_volume" },
      replaceOnTypeChange: true,
    });
  });

  it("passes image, root volume size and admin user through when given", () => {
    const s = rec.one(T.server, "gpu-2-server").inputs;
    expect(s.image).toBe("ubuntu_noble_gpu_os_13_nvidia");
    expect(s.rootVolume).toEqual({ sizeInGb: 500, volumeType: "sbs_volume" });
    expect(s.cloudInit).toBe(renderHardeningCloudConfig({ adminUser: "ops", sshPublicKeys: [PUBLIC_KEY] }));
  });

  it("reserves a routed IPv4 in the zone and registers the public key in the project", () => {
    expect(rec.one(T.ip, "gpu-1-ip").inputs).toMatchObject({ type: "routed_ipv4", zone: "fr-par-2" });
    expect(rec.one(T.sshKey, "gpu-1-sshkey").inputs.publicKey).toBe(PUBLIC_KEY);
  });

  it("drops all inbound traffic except TCP 22 from exactly the configured CIDRs", () => {
    const sg = rec.one(T.sg, "gpu-1-sg").inputs;
    expect(sg).toMatchObject({ inboundDefaultPolicy: "drop", outboundDefaultPolicy: "accept", stateful: true, zone: "fr-par-2" });
    expect(sg.inboundRules).toEqual(CIDRS.map((ipRange) => ({ action: "accept", protocol: "TCP", port: 22, ipRange })));
    expect(sg.outboundRules ?? []).toEqual([]);
  });

  it("has no inbound rule at all when no CIDR is allowed", () => {
    const sg = rec.one(T.sg, "gpu-2-sg").inputs;
    expect(sg.inboundDefaultPolicy).toBe("drop");
    expect(sg.inboundRules ?? []).toEqual([]);
  });

  it("tags the server with the host facts as key=value", () => {
    const tags = rec.one(T.server, "gpu-1-server").inputs.tags as string[];
    const facts = factsFor("gpu-1");
    expect(tags).toEqual(Object.entries(factTags(facts)).map(([k, v]) => `${k}=${v}`));
    expect(tags).toEqual(expect.arrayContaining(["gpu-hosting/host=gpu-1", "gpu-hosting/gpu=l40s", "gpu-hosting/gpu-count=1", "gpu-hosting/site=scaleway-fr-par-2"]));
  });

  it("protects the server only when asked, and never the other children", () => {
    expect(rec.one(T.server, "gpu-1-server").protect).toBe(false);
    expect(rec.one(T.server, "gpu-2-server").protect).toBe(true);
    for (const role of ["sshkey", "ip", "sg"]) expect(rec.one(`gpu-2-${role}`).protect).toBe(false);
    expect(rec.one(T.component, "gpu-2").protect).toBe(false);
  });

  it("boots with exactly the hardening cloud-config for the admin user and key", () => {
    expect(rec.one(T.server, "gpu-1-server").inputs.cloudInit).toBe(renderHardeningCloudConfig({ adminUser: "llm", sshPublicKeys: [PUBLIC_KEY] }));
  });
});

describe("scaleway.GpuInstance outputs", () => {
  it("exposes the routed IP as the connection host, the admin user and port 22", async () => {
    expect((await outputValue(plain.publicIp)).value).toBe("51.15.0.10");
    expect((await outputValue(plain.connection.host)).value).toBe("51.15.0.10");
    expect(plain.connection.user).toBe("llm");
    expect(plain.connection.port).toBe(22);
    expect(guarded.connection.user).toBe("ops");
    expect(plain.facts).toEqual(factsFor("gpu-1"));
  });

  it("keeps the private key secret, whether it came as a string or a plain Output", async () => {
    for (const host of [plain, guarded]) {
      const k = await outputValue(host.connection.privateKey);
      expect(k).toEqual({ value: PRIVATE_KEY, isSecret: true, isKnown: true });
      expect(await pulumi.isSecret(host.connection.privateKey)).toBe(true);
    }
  });

  it("never puts the private key in clear in any resource input or registered output", () => {
    expect(rec.resources.length).toBeGreaterThanOrEqual(10);
    // Guard against a vacuous pass: the outputs were recorded and the key is really there, secret.
    expect(rec.one(T.component, "gpu-1").outputs).toBeDefined();
    expect(findInClear({ k: PRIVATE_KEY }, PRIVATE_MATERIAL)).toEqual(["k"]);
    const leaks = rec.resources.flatMap((r) => [...findInClear(r.inputs, PRIVATE_MATERIAL, `${r.name}.inputs`), ...findInClear(r.outputs, PRIVATE_MATERIAL, `${r.name}.outputs`)]);
    expect(leaks).toEqual([]);
  });

  it("registers the public outputs on the component", () => {
    const outputs = rec.one(T.component, "gpu-1").outputs;
    expect(outputs).toMatchObject({ publicIp: "51.15.0.10", connection: { host: "51.15.0.10", port: 22, user: "llm" }, facts: { name: "gpu-1", offerId: "scaleway-l40s-1-48g" } });
  });
});

describe("scaleway.GpuInstance catalog checks", () => {
  const LISTED = "RENDER-S, L4-1-24G, L4-2-24G, L4-4-24G, L4-8-24G, L40S-1-48G, L40S-2-48G, L40S-4-48G, L40S-8-48G, H100-1-80G, H100-2-80G, H100-SXM-2-80G, H100-SXM-4-80G, H100-SXM-8-80G, B300-SXM-8-288G";

  it("rejects a type Scaleway does not sell, listing the allowed types and the closest one", () => {
    expect(errorOf(() => new scaleway.GpuInstance("bad-1", args("bad-1", { type: "H200-1-141G" })))).toBe(
      `scaleway.GpuInstance bad-1.type: "H200-1-141G" is not a Scaleway GPU Instance type; allowed: ${LISTED}; did you mean H100-1-80G?`,
    );
  });

  it("rejects a zone that does not offer the type (H100-SXM-8-80G in pl-waw-2)", () => {
    expect(errorOf(() => new scaleway.GpuInstance("bad-2", args("bad-2", { type: "H100-SXM-8-80G", zone: "pl-waw-2" })))).toBe(
      `scaleway.GpuInstance bad-2.zone: "pl-waw-2" does not offer H100-SXM-8-80G; it is offered in fr-par-2`,
    );
  });

  it("rejects a type no longer listed (GPU-3070-S)", () => {
    expect(errorOf(() => new scaleway.GpuInstance("bad-3", args("bad-3", { type: "GPU-3070-S" })))).toBe(
      `scaleway.GpuInstance bad-3.type: "GPU-3070-S" is no longer listed by Scaleway; pick a listed one: ${LISTED}`,
    );
  });

  it("throws a ResourceError (tied to the component) before declaring any child", () => {
    let err: unknown;
    try {
      new scaleway.GpuInstance("bad-4", args("bad-4", { zone: "nl-ams-1" }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect((err as Error).message).toBe(`scaleway.GpuInstance bad-4.zone: "nl-ams-1" does not offer L40S-1-48G; it is offered in fr-par-2, pl-waw-2`);
    expect(rec.resources.filter((r) => r.name.startsWith("bad-") && r.custom)).toEqual([]);
  });

  it("rejects facts built for another type or zone", () => {
    expect(errorOf(() => new scaleway.GpuInstance("bad-5", args("bad-5", { zone: "pl-waw-2" })))).toBe(
      `scaleway.GpuInstance bad-5: facts describe scaleway-l40s-1-48g in "fr-par-2", not scaleway-l40s-1-48g in "pl-waw-2"; build facts with resolveHost from the same host config`,
    );
  });

  it("rejects root as the admin user", () => {
    expect(errorOf(() => new scaleway.GpuInstance("bad-6", args("bad-6", { adminUser: "root" })))).toBe(
      `scaleway.GpuInstance bad-6.adminUser: "root" is not allowed (root login is disabled); use a name such as "llm"`,
    );
  });
});
