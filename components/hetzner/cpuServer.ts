/**
 * `hetzner.CpuServer`: an hcloud dedicated-vCPU server (ccx*) for CPU-only inference (llama.cpp,
 * Ollama), with an hcloud firewall that lets in SSH only from the configured CIDRs and nothing else,
 * a project SSH key, and a cloud-init that creates a non-root sudo user and hardens sshd.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { catalog, closest, type Offer } from "../../core/catalog";
import { renderHardeningCloudConfig } from "../../core/cloudinit";
import { checkCloudHost, factTags, hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";

/** Default image. */
export const DEFAULT_HCLOUD_IMAGE = "ubuntu-24.04";
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
  /** Facts for this host (from `resolveHost`); rendered as server labels. */
  facts: HostFacts;
  /** Protect the server against `pulumi destroy` and replacement. @default false */
  protect?: boolean;
}

/**
 * Checks a server type and location against the catalog. Returns the offer, or throws an Error whose
 * message starts with `prefix` and names the property, the value, the allowed values and the fix.
 */
export function checkHetznerCloudOffer(prefix: string, serverType: string, location: string, offers: readonly Offer[] = catalog().offers): Offer {
  const cpu = offers.filter((o) => o.provider === "hetzner" && o.kind === "cloud-cpu");
  const listed = cpu.filter((o) => o.status === "listed").map((o) => o.name);
  const offer = cpu.find((o) => o.name.toLowerCase() === serverType.trim().toLowerCase());
  if (!offer || offer.status !== "listed") {
    throw new Error(
      `${prefix}: serverType "${serverType}" is not a listed Hetzner dedicated-vCPU (cloud-cpu) offer; allowed: ${listed.join(", ")}; did you mean ${closest(serverType, listed, 1).join("")}?`,
    );
  }
  const loc = location.trim().toLowerCase();
  if (!offer.locations.includes(loc)) {
    throw new Error(`${prefix}: location "${location}" does not offer ${offer.name}; it is offered in ${offer.locations.join(", ")}`);
  }
  return offer;
}

/**
 * Makes tags valid hcloud labels: keys are `[prefix/]name` with a DNS-subdomain prefix and a name of
 * at most 63 characters from `[A-Za-z0-9._-]`, starting and ending alphanumeric; values follow the
 * name rules and may be empty. Runs of other characters become `-`. Pure.
 */
export function hcloudLabels(tags: Record<string, string>): Record<string, string> {
  const part = (s: string, allowed: RegExp): string =>
    s
      .replace(allowed, "-")
      .replace(/-+/g, "-")
      .slice(0, 63)
      .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? part(k.slice(0, slash).toLowerCase(), /[^a-z0-9.-]+/g) : "";
    const name = part(slash >= 0 ? k.slice(slash + 1) : k, /[^A-Za-z0-9._-]+/g) || "key";
    out[prefix ? `${prefix}/${name}` : name] = part(v, /[^A-Za-z0-9._-]+/g);
  }
  return out;
}

/** An hcloud CPU server for CPU-only inference, hardened at first boot; implements {@link GpuHost}. */
export class CpuServer extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = "gpu-hosting:hetzner:CpuServer";

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
    super(CpuServer.__pulumiType, name, hostInputs(args.facts, { serverType: args.serverType, location: args.location, image: args.image, sshAllowedCidrs: args.sshAllowedCidrs }), opts);
    const prefix = `hetzner.CpuServer ${name}`;
    const adminUser = args.adminUser ?? DEFAULT_CPU_ADMIN_USER;
    const offer = checkCloudHost(this, prefix, () => checkHetznerCloudOffer(prefix, args.serverType, args.location), args.location, args.facts, adminUser);
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
        rules: cidrs.length > 0 ? [{ direction: "in", protocol: "tcp", port: "22", sourceIps: cidrs, description: "SSH from sshAllowedCidrs" }] : [],
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
