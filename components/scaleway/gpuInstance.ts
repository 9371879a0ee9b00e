/**
 * `scaleway.GpuInstance`: one Scaleway GPU Instance with a routed public IPv4, a drop-by-default
 * security group that lets SSH in only from the configured CIDRs, a project SSH key, and a
 * cloud-init that creates a non-root sudo user and hardens sshd.
 */
import * as pulumi from "@pulumi/pulumi";
import * as scw from "@pulumiverse/scaleway";
import { catalog, type Catalog, type Offer } from "../../core/catalog";
import { renderHardeningCloudConfig } from "../../core/cloudinit";
import { DEFAULT_ROOT_VOLUME_GB, DEFAULT_SCALEWAY_GPU_IMAGE, scalewayHostProblems, scalewayOffer } from "../../core/hosts/scaleway";
import { SCALEWAY_GPU_INSTANCE_TYPE } from "../../core/tokens";
import { checkRentedHost, factTags, hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";

/** Arguments of {@link GpuInstance}. Plain values are checked against the catalog at construction. */
export interface GpuInstanceArgs {
  /** Commercial type, as Scaleway spells it (matched case-insensitively), e.g. `"L40S-1-48G"`. Must be a listed GPU Instance offer of the catalog. */
  type: string;
  /** Zone, e.g. `"fr-par-2"`. Must be one of the zones the catalog lists for `type`. */
  zone: string;
  /** Marketplace image label or image UUID. @default "ubuntu_noble_gpu_os_12" (Ubuntu 24.04 with the NVIDIA driver, Docker and the container toolkit) */
  image?: string;
  /** Root volume size, GB (block storage, `sbs_volume`). @default 200 */
  rootVolumeGb?: number;
  /** CIDRs allowed to reach SSH (TCP 22). Nothing else is allowed in. @default [] (no inbound traffic at all) */
  sshAllowedCidrs?: string[];
  /** OpenSSH public key (`ssh-ed25519 AAAA…`) for the admin user; also registered as a project SSH key. */
  sshPublicKey: pulumi.Input<string>;
  /** Matching private key; only exposed through `connection.privateKey`, always as a secret. */
  sshPrivateKey: pulumi.Input<string>;
  /** Non-root login created by cloud-init, with passwordless sudo. @default "llm" */
  adminUser?: string;
  /** Open this TCP port to anyone (the TLS endpoint, 443; 80 for a plain-HTTP endpoint). @default none */
  endpointPort?: number;
  /** Facts for this host (from `resolveHost`); plain values, so policies can read them at preview. Rendered as server tags. */
  facts: HostFacts;
  /** Protect the server against `pulumi destroy` and replacement. Production stacks pass true. @default false */
  protect?: boolean;
  /** Scaleway project id. @default the provider's `scaleway:projectId` */
  projectId?: pulumi.Input<string>;
}

export { DEFAULT_ROOT_VOLUME_GB, DEFAULT_SCALEWAY_GPU_IMAGE };
/** Default admin user. */
export const DEFAULT_ADMIN_USER = "llm";

/**
 * Checks a type and zone against the catalog with the scaleway host kind's resolver. Returns the
 * offer, or throws an Error whose message starts with `prefix` and names the property, the value,
 * the allowed values and the fix.
 */
export function checkScalewayOffer(prefix: string, type: string, zone: string, c: Catalog = catalog()): Offer {
  const offer = scalewayOffer(prefix, type, zone, c);
  if ("problems" in offer) throw new Error(offer.problems.join("\n"));
  return offer;
}

/** A Scaleway GPU Instance, hardened at first boot; implements {@link GpuHost}. */
export class GpuInstance extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = SCALEWAY_GPU_INSTANCE_TYPE;

  /** The server itself (escape hatch). */
  public readonly server: scw.instance.Server;
  /** Routed public IPv4 address. */
  public readonly publicIp: pulumi.Output<string>;
  /** Sizing facts, as given. */
  public readonly facts: HostFacts;
  /** SSH access as `adminUser`; the private key is a secret. */
  public readonly connection: HostConnection;

  constructor(name: string, args: GpuInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GpuInstance.__pulumiType, name, hostInputs(args.facts, { type: args.type, zone: args.zone, image: args.image, sshAllowedCidrs: args.sshAllowedCidrs, endpointPort: args.endpointPort }), opts);
    const prefix = `scaleway.GpuInstance ${name}`;
    const adminUser = args.adminUser ?? DEFAULT_ADMIN_USER;
    const rootVolumeGb = args.rootVolumeGb ?? DEFAULT_ROOT_VOLUME_GB;
    const offer = checkRentedHost(
      this,
      prefix,
      scalewayOffer(prefix, args.type, args.zone, catalog()),
      scalewayHostProblems(prefix, { type: args.type, zone: args.zone, rootVolumeGb }),
      args.zone,
      args.facts,
      adminUser,
    );
    const zone = args.zone.trim().toLowerCase();

    const parent = { parent: this };
    const projectId = args.projectId;

    const sshKey = new scw.iam.SshKey(`${name}-sshkey`, { name: `${name}-admin`, publicKey: args.sshPublicKey, projectId }, parent);

    const ip = new scw.instance.Ip(`${name}-ip`, { type: "routed_ipv4", zone, projectId }, parent);

    const securityGroup = new scw.instance.SecurityGroup(
      `${name}-sg`,
      {
        name: `${name}-ssh-only`,
        description: `gpu-hosting ${name}: SSH from ${args.sshAllowedCidrs?.length ? args.sshAllowedCidrs.join(", ") : "nowhere"}${args.endpointPort !== undefined ? `, the endpoint on ${args.endpointPort}` : ""}, nothing else inbound`,
        zone,
        projectId,
        stateful: true,
        inboundDefaultPolicy: "drop",
        outboundDefaultPolicy: "accept",
        inboundRules: [
          ...(args.sshAllowedCidrs ?? []).map((ipRange) => ({ action: "accept", protocol: "TCP", port: 22, ipRange })),
          ...(args.endpointPort !== undefined ? ["0.0.0.0/0", "::/0"].map((ipRange) => ({ action: "accept", protocol: "TCP", port: args.endpointPort!, ipRange })) : []),
        ],
      },
      parent,
    );

    const cloudInit = pulumi.output(args.sshPublicKey).apply((key) => renderHardeningCloudConfig({ adminUser, sshPublicKeys: [key] }));

    this.server = new scw.instance.Server(
      `${name}-server`,
      {
        name,
        type: offer.name,
        zone,
        image: args.image ?? DEFAULT_SCALEWAY_GPU_IMAGE,
        ipId: ip.id,
        securityGroupId: securityGroup.id,
        rootVolume: { sizeInGb: rootVolumeGb, volumeType: "sbs_volume" },
        cloudInit,
        tags: Object.entries(factTags(args.facts)).map(([k, v]) => `${k}=${v}`),
        replaceOnTypeChange: true,
        projectId,
      },
      // The project key is copied into the server at boot, so create it first.
      args.protect ? { parent: this, protect: true, dependsOn: [sshKey] } : { parent: this, dependsOn: [sshKey] },
    );

    this.publicIp = ip.address;
    this.facts = args.facts;
    this.connection = {
      host: ip.address,
      port: 22,
      user: adminUser,
      // Marks plain strings secret; an Output that is already secret stays so.
      privateKey: pulumi.secret(args.sshPrivateKey),
    };

    this.registerOutputs({
      server: this.server,
      publicIp: this.publicIp,
      facts: this.facts,
      connection: { host: this.connection.host, port: this.connection.port, user: this.connection.user },
    });
  }
}
