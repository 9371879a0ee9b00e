/**
 * The whole stack as one component: every host of the stack config, by kind, as children. Its
 * inputs are the parsed stack config (plain values, known at preview) plus the raw config with
 * secrets redacted, so the policy pack reads the same facts `gpu-hosting check` does. Secrets are
 * taken separately and never become inputs of this component.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig, StackConfig } from "../core/config/schema";
import { buildFleet, type Fleet as FleetFacts, type HostFacts } from "../core/fleet";
import { CpuServer, DedicatedServer } from "./hetzner";
import type { GpuHost } from "./host";
import { Host } from "./onprem";
import { GpuInstance } from "./scaleway";

/** Credentials the hosts need; each a Pulumi secret (`config.requireSecret`). */
export interface FleetSecrets {
  /** Public key installed for the admin user on cloud hosts. */
  sshPublicKey?: pulumi.Input<string>;
  /** Private keys by config key name (`sshPrivateKey`, or a host's `privateKeySecret`). */
  sshPrivateKeys: Record<string, pulumi.Input<string>>;
  /** Hetzner Robot webservice user and password (dedicated servers only). */
  robotUser?: pulumi.Input<string>;
  robotPassword?: pulumi.Input<string>;
}

export interface FleetArgs {
  /** Parsed stack config (`parseStackConfig`). */
  config: StackConfig;
  /** The stack's config map with secret values replaced by "[secret]", for the secrets policy. */
  rawConfig?: Record<string, unknown>;
  /** Config keys the engine holds as secrets. */
  secretKeys?: string[];
  secrets: FleetSecrets;
}

/** Every secret the config's hosts need but `secrets` lacks, with the command that sets it. */
export function missingSecrets(config: StackConfig, secrets: FleetSecrets): string[] {
  const out = new Set<string>();
  config.hosts.forEach((h, i) => {
    const keyName = h.kind === "onprem" || h.kind === "colocation" ? h.privateKeySecret : "sshPrivateKey";
    if (secrets.sshPrivateKeys[keyName] === undefined) out.add(`gpu-hosting:hosts[${i}] ${h.name}: needs the secret gpu-hosting:${keyName}; set it with \`pulumi config set --secret ${keyName} < ~/.ssh/id_ed25519\``);
    if ((h.kind === "scaleway" || h.kind === "hetzner-cloud") && secrets.sshPublicKey === undefined) {
      out.add(`gpu-hosting:hosts[${i}] ${h.name}: needs gpu-hosting:sshPublicKey; set it with \`pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"\``);
    }
    if (h.kind === "hetzner-dedicated" && (secrets.robotUser === undefined || secrets.robotPassword === undefined)) {
      out.add(`gpu-hosting:hosts[${i}] ${h.name}: needs the secrets gpu-hosting:robotUser and gpu-hosting:robotPassword (the Robot webservice user); set them with \`pulumi config set --secret robotUser …\``);
    }
  });
  return [...out];
}

/** Builds a stack's hosts. Token `gpu-hosting:fleet:Fleet`. */
export class Fleet extends pulumi.ComponentResource {
  static readonly __pulumiType = "gpu-hosting:fleet:Fleet";
  /** Facts resolved from the catalog: hosts, sites, deployments, totals. */
  readonly facts: FleetFacts;
  /** Host components by host name. */
  readonly hosts: Record<string, GpuHost>;

  constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
    const facts = buildFleet(args.config);
    const problems = [...facts.problems, ...missingSecrets(args.config, args.secrets)];
    if (problems.length > 0) throw new Error(`gpu-hosting Fleet ${name}: invalid stack config:\n  ${problems.join("\n  ")}`);
    super(Fleet.__pulumiType, name, { config: args.config, rawConfig: args.rawConfig ?? {}, secretKeys: args.secretKeys ?? [] }, opts);
    this.facts = facts;
    const production = args.config.environment === "production";
    this.hosts = {};
    for (const h of args.config.hosts) {
      const f = facts.hosts.find((x) => x.name === h.name)!;
      this.hosts[h.name] = this.host(h, f, args.secrets, production);
    }
    this.registerOutputs({
      hosts: Object.fromEntries(Object.entries(this.hosts).map(([n, h]) => [n, { address: h.connection.host, user: h.connection.user }])),
      totals: facts.totals,
    });
  }

  private host(h: HostConfig, facts: HostFacts, s: FleetSecrets, protect: boolean): GpuHost {
    const opts = { parent: this };
    const key = (name: string): pulumi.Input<string> => {
      const k = s.sshPrivateKeys[name];
      if (k === undefined) throw new Error(`gpu-hosting:hosts ${h.name}: secret "gpu-hosting:${name}" is missing; set it with \`pulumi config set --secret ${name} < key\``);
      return k;
    };
    const publicKey = (): pulumi.Input<string> => {
      if (s.sshPublicKey === undefined) throw new Error(`gpu-hosting:hosts ${h.name}: "gpu-hosting:sshPublicKey" is missing; set it with \`pulumi config set sshPublicKey "$(cat key.pub)"\``);
      return s.sshPublicKey;
    };
    switch (h.kind) {
      case "scaleway":
        return new GpuInstance(h.name, { type: h.type, zone: h.zone, image: h.image, rootVolumeGb: h.rootVolumeGb, sshAllowedCidrs: h.sshAllowedCidrs, sshPublicKey: publicKey(), sshPrivateKey: key("sshPrivateKey"), facts, protect }, opts);
      case "hetzner-cloud":
        return new CpuServer(h.name, { serverType: h.serverType, location: h.location, image: h.image, sshAllowedCidrs: h.sshAllowedCidrs, sshPublicKey: publicKey(), sshPrivateKey: key("sshPrivateKey"), facts, protect }, opts);
      case "hetzner-dedicated": {
        if (s.robotUser === undefined || s.robotPassword === undefined) {
          throw new Error(`gpu-hosting:hosts ${h.name}: secrets "gpu-hosting:robotUser" and "gpu-hosting:robotPassword" are missing; set them with \`pulumi config set --secret robotUser …\``);
        }
        return new DedicatedServer(
          h.name,
          {
            product: h.product,
            location: h.location,
            serverNumber: h.serverNumber,
            confirmOrder: h.confirmOrder,
            sshAllowedCidrs: h.sshAllowedCidrs,
            authorizedKeyFingerprints: h.authorizedKeys,
            robotUser: s.robotUser,
            robotPassword: s.robotPassword,
            sshPrivateKey: key("sshPrivateKey"),
            facts,
            privateNetwork: h.privateNetwork,
            loadBalancer: h.loadBalancer,
            protect,
          },
          opts,
        );
      }
      case "onprem":
      case "colocation":
        return new Host(h.name, { address: h.address, port: h.port, user: h.user, privateKey: key(h.privateKeySecret), hostKey: h.hostKey, facts }, opts);
    }
  }
}
