/**
 * `hetzner.CpuServer`: an hcloud dedicated-vCPU server (ccx*) for CPU-only inference (llama.cpp,
 * Ollama), with an hcloud firewall that lets in SSH only from the configured CIDRs and nothing else,
 * a project SSH key, and a cloud-init that creates a non-root sudo user and hardens sshd.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { catalog, type Catalog, type Offer } from "../../core/catalog";
import { renderHardeningCloudConfig } from "../../core/cloudinit";
import { DEFAULT_HCLOUD_IMAGE, hcloudLabels, hetznerCloudOffer } from "../../core/hosts/hetznerCloud";
import { HETZNER_CPU_SERVER_TYPE } from "../../core/tokens";
import { checkRentedHost, factTags, hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";

export { DEFAULT_HCLOUD_IMAGE };
/** Default admin user created by cloud-init. */
export const DEFAULT_CPU_ADMIN_USER = "llm";

/** Arguments of {@link CpuServer}. Plain values are checked against the catalog at construction. */
export interface CpuServerArgs {
  /** Dedicated-vCPU server type, e.g. `"ccx33"` (case-insensitive); a listed Hetzner cloud-cpu offer of the catalog. */
  serverType: string;
  /** Location, e.g. `"fsn1"`; one the catalog lists for `serverType`. */
  location: string;
  /** @default "ubuntu-24.04" */
  image?: string;
  /** CIDRs allowed to reach SSH (TCP 22). Nothing else is allowed in. @default `facts.sshAllowedCidrs` */
  sshAllowedCidrs?: string[];
  /** OpenSSH public key for the admin user; also registered as an hcloud SSH key. */
  sshPublicKey: pulumi.Input<string>;
  /** Matching private key; only exposed through `connection.privateKey`, always as a secret. */
  sshPrivateKey: pulumi.Input<string>;
  /** Non-root login created by cloud-init, with passwordless sudo. @default "llm" */
  adminUser?: string;
  /** Open this TCP port to anyone (the TLS endpoint, 443; 80 for a plain-HTTP endpoint). @default none */
  endpointPort?: number;
  /** Facts for this host (from `resolveHost`); rendered as server labels. */
  facts: HostFacts;
  /** Protect the server against `pulumi destroy` and replacement. @default false */
  protect?: boolean;
}

/**
 * Checks a server type and location against the catalog with the hetzner-cloud host kind's
 * resolver. Returns the offer, or throws an Error whose message starts with `prefix` and names the
 * property, the value, the allowed values and the fix.
 */
export function checkHetznerCloudOffer(prefix: string, serverType: string, location: string, c: Catalog = catalog()): Offer {
  const offer = hetznerCloudOffer(prefix, serverType, location, c);
  if ("problems" in offer) throw new Error(offer.problems.join("\n"));
  return offer;
}

export { hcloudLabels };

/** An hcloud CPU server for CPU-only inference, hardened at first boot; implements {@link GpuHost}. */
export class CpuServer extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = HETZNER_CPU_SERVER_TYPE;

  /** The server itself (escape hatch). */
  public readonly server: hcloud.Server;
  /** The inbound firewall (SSH from `sshAllowedCidrs` only). */
  public readonly firewall: hcloud.Firewall;
  /** Public IPv4 address. */
  public readonly publicIp: pulumi.Output<string>;
  /** Sizing facts, as given. */
  public readonly facts: HostFacts;
  /** SSH access as `adminUser`; the private key is a secret. */
  public readonly connection: HostConnection;

  constructor(name: string, args: CpuServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(CpuServer.__pulumiType, name, hostInputs(args.facts, { serverType: args.serverType, location: args.location, image: args.image, sshAllowedCidrs: args.sshAllowedCidrs, endpointPort: args.endpointPort }), opts);
    const prefix = `hetzner.CpuServer ${name}`;
    const adminUser = args.adminUser ?? DEFAULT_CPU_ADMIN_USER;
    const offer = checkRentedHost(this, prefix, hetznerCloudOffer(prefix, args.serverType, args.location, catalog()), [], args.location, args.facts, adminUser);
    const location = args.location.trim().toLowerCase();
    const cidrs = args.sshAllowedCidrs ?? args.facts.sshAllowedCidrs;
    const labels = hcloudLabels(factTags(args.facts));

    const sshKey = new hcloud.SshKey(`${name}-sshkey`, { name: `${name}-admin`, publicKey: args.sshPublicKey, labels }, { parent: this });

    this.firewall = new hcloud.Firewall(
      `${name}-firewall`,
      {
        name: `${name}-ssh-only`,
        labels,
        // hcloud firewalls drop inbound traffic no rule allows; with no CIDRs there is no rule at all.
        rules: [
          ...(cidrs.length > 0 ? [{ direction: "in", protocol: "tcp", port: "22", sourceIps: cidrs, description: "SSH from sshAllowedCidrs" }] : []),
          ...(args.endpointPort !== undefined ? [{ direction: "in", protocol: "tcp", port: String(args.endpointPort), sourceIps: ["0.0.0.0/0", "::/0"], description: "the inference endpoint" }] : []),
        ],
      },
      { parent: this },
    );

    const userData = pulumi.output(args.sshPublicKey).apply((key) => renderHardeningCloudConfig({ adminUser, sshPublicKeys: [key] }));

    this.server = new hcloud.Server(
      `${name}-server`,
      {
        name,
        serverType: offer.name,
        location,
        image: args.image ?? DEFAULT_HCLOUD_IMAGE,
        sshKeys: [sshKey.id],
        firewallIds: [this.firewall.id.apply((id) => Number(id))],
        userData,
        labels,
        publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
      },
      args.protect ? { parent: this, protect: true } : { parent: this },
    );

    this.publicIp = this.server.ipv4Address;
    this.facts = args.facts;
    this.connection = { host: this.publicIp, port: 22, user: adminUser, privateKey: pulumi.secret(args.sshPrivateKey) };

    this.registerOutputs({
      server: this.server,
      publicIp: this.publicIp,
      facts: this.facts,
      connection: { host: this.connection.host, port: this.connection.port, user: this.connection.user },
    });
  }
}
