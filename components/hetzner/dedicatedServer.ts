/**
 * `hetzner.DedicatedServer`: a Hetzner GEX dedicated GPU server, adopted by number or ordered
 * through the Robot webservice (only with `confirmOrder: true`), with its Robot firewall (the hcloud
 * firewall does not apply to dedicated servers) and, optionally, a vSwitch private network and an
 * HTTPS load balancer. Destroying it never cancels the server: that is a manual Robot action.
 */
import * as pulumi from "@pulumi/pulumi";
import { catalog, closest, type Offer } from "../../core/catalog";
import { RobotServer, robotFirewallRules, type RobotFirewallOptions } from "./robotProvider";
import { factsMismatch, hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";
import { PrivateNetwork, DEFAULT_DESTINATION_PORT, planPrivateNetwork, type LoadBalancerOptions } from "./privateNetwork";

/** Distribution installed on an ordered server (a name from the product's `dist` list in Robot). */
export const DEFAULT_DIST = "Ubuntu 24.04 LTS base";
/** Addons ordered with a server: a primary IPv4 (new servers are IPv6-only without it). */
export const DEFAULT_ADDONS = ["primary_ipv4"];

/** Robot stores SSH keys under MD5 fingerprints, `aa:bb:…` (16 hex pairs). */
const FINGERPRINT = /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i;

/** Arguments of {@link DedicatedServer}. Plain values are checked against the catalog at construction. */
export interface DedicatedServerArgs {
  /** Product name, e.g. `"GEX45"` (case-insensitive). A listed Hetzner dedicated offer of the catalog, or a not-listed one with `serverNumber`. */
  product: string;
  /** Location, e.g. `"fsn1"`; one the catalog lists for `product`. */
  location: string;
  /** Adopt this existing server (Robot server number) instead of ordering one. */
  serverNumber?: number;
  /**
   * Place a real order when `serverNumber` is not given. An order costs money and cannot be undone
   * through the API; without this the order runs in test mode and the deployment fails. @default false
   */
  confirmOrder?: boolean;
  /** CIDRs allowed to reach SSH (TCP 22) through the Robot firewall. @default `facts.sshAllowedCidrs` */
  sshAllowedCidrs?: string[];
  /** Fingerprints (MD5, `aa:bb:…`) of SSH keys uploaded to Robot; an order installs them for root. Required to order. */
  authorizedKeyFingerprints: string[];
  /** Robot webservice user; made secret. */
  robotUser: pulumi.Input<string>;
  /** Robot webservice password; made secret. */
  robotPassword: pulumi.Input<string>;
  /** Private key matching one of the fingerprints; only exposed as `connection.privateKey`, a secret. */
  sshPrivateKey: pulumi.Input<string>;
  /** Facts for this host (from `resolveHost`); plain values, so policies can read them at preview. */
  facts: HostFacts;
  /** Join a vSwitch coupled to an hcloud network (eu-central only). */
  privateNetwork?: { vlan: number; networkIpRange: string; vswitchSubnet: string; serverPrivateIp?: string; cloudSubnet?: string };
  /** An hcloud load balancer with a managed certificate in front of the server (needs `privateNetwork`). */
  loadBalancer?: LoadBalancerOptions;
  /** A public HTTPS port the server serves itself, opened to `httpsAllowedCidrs` in the Robot firewall. @default none */
  httpsPort?: number;
  /** Sources allowed to reach `httpsPort`. @default anywhere */
  httpsAllowedCidrs?: string[];
  /** Distribution for an ordered server, as Robot lists it for the product. @default "Ubuntu 24.04 LTS base" */
  dist?: string;
  /** Robot product ID when it differs from the product name. @default the catalog's product name, e.g. "GEX45" */
  robotProductId?: string;
  /** @default "https://robot-ws.your-server.de" */
  robotBaseUrl?: string;
  /** How long to wait for an order to be ready, ms. @default 14_400_000 (4 hours) */
  readyTimeoutMs?: number;
  /** Protect the server resource against `pulumi destroy` (which would only forget it). @default false */
  protect?: boolean;
}

/**
 * Checks a product and location against the catalog. Returns the offer, or throws an Error whose
 * message starts with `prefix` and names the property, the value, the allowed values and the fix.
 */
export function checkHetznerDedicatedOffer(prefix: string, product: string, location: string, serverNumber?: number, offers: readonly Offer[] = catalog().offers): Offer {
  const dedicated = offers.filter((o) => o.provider === "hetzner" && o.kind === "dedicated");
  const listed = dedicated.filter((o) => o.status === "listed").map((o) => o.name);
  const offer = dedicated.find((o) => o.name.toLowerCase() === product.trim().toLowerCase());
  if (!offer) {
    throw new Error(
      `${prefix}: product "${product}" is not a Hetzner dedicated server offer; allowed: ${listed.join(", ")} (older ones with serverNumber: ${dedicated.filter((o) => o.status !== "listed").map((o) => o.name).join(", ")}); did you mean ${closest(product, listed, 1).join("")}?`,
    );
  }
  const loc = location.trim().toLowerCase();
  if (!offer.locations.includes(loc)) {
    throw new Error(`${prefix}: location "${location}" does not offer ${offer.name}; it is offered in ${offer.locations.join(", ")}`);
  }
  if (offer.status !== "listed" && serverNumber === undefined) {
    throw new Error(
      `${prefix}: product "${offer.name}" is no longer listed by Hetzner, so it cannot be ordered; adopt a server you already have with serverNumber, or pick a listed product: ${listed.join(", ")}`,
    );
  }
  return offer;
}

/** A Hetzner dedicated GPU server managed through Robot; implements {@link GpuHost}. */
export class DedicatedServer extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = "gpu-hosting:hetzner:DedicatedServer";

  /** The Robot server resource (escape hatch). */
  public readonly server: RobotServer;
  /** Sizing facts, as given. */
  public readonly facts: HostFacts;
  /** SSH access as root (Robot's images log in as root); the private key is a secret. */
  public readonly connection: HostConnection;
  /** The server's number in Robot. */
  public readonly serverNumber: pulumi.Output<number>;
  /** Main IPv4 address. */
  public readonly publicIp: pulumi.Output<string>;
  /** The vSwitch network, when `privateNetwork` is given. */
  public readonly privateNetwork?: PrivateNetwork;
  /** `https://<domain>` when a load balancer is given. */
  public readonly endpoint?: pulumi.Output<string>;
  /** The load balancer's public IPv4, for the domain's DNS A record, when a load balancer is given. */
  public readonly loadBalancerIpv4?: pulumi.Output<string>;
  /** Incoming Robot firewall rules applied to the server. */
  public readonly firewallRules: ReturnType<typeof robotFirewallRules>;

  constructor(name: string, args: DedicatedServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      DedicatedServer.__pulumiType,
      name,
      hostInputs(args.facts, { product: args.product, location: args.location, serverNumber: args.serverNumber, confirmOrder: args.confirmOrder ?? false, sshAllowedCidrs: args.sshAllowedCidrs }),
      opts,
    );
    const prefix = `hetzner.DedicatedServer ${name}`;
    const fail = (message: string): never => {
      throw new pulumi.ResourceError(message, this);
    };
    let offer: Offer;
    try {
      offer = checkHetznerDedicatedOffer(prefix, args.product, args.location, args.serverNumber);
    } catch (e) {
      throw new pulumi.ResourceError((e as Error).message, this);
    }
    const location = args.location.trim().toLowerCase();
    const mismatch = factsMismatch(prefix, args.facts, offer.id, location);
    if (mismatch) fail(mismatch);
    if (args.serverNumber !== undefined && (!Number.isInteger(args.serverNumber) || args.serverNumber <= 0)) {
      fail(`${prefix}: serverNumber ${args.serverNumber} is not a Robot server number; use the positive integer Robot shows for the server`);
    }
    if (args.serverNumber === undefined && args.authorizedKeyFingerprints.length === 0) {
      fail(`${prefix}: authorizedKeyFingerprints is empty; an order needs at least one SSH key uploaded to Robot (Key management), given by its fingerprint such as "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10"`);
    }
    args.authorizedKeyFingerprints.forEach((f, i) => {
      if (!FINGERPRINT.test(f)) fail(`${prefix}: authorizedKeyFingerprints[${i}] "${f}" is not a Robot key fingerprint; copy it from Robot → Key management (16 hex pairs joined by ":")`);
    });
    if (args.loadBalancer && !args.privateNetwork) {
      fail(`${prefix}: loadBalancer needs privateNetwork: the load balancer reaches the server through the vSwitch`);
    }
    if (args.privateNetwork) {
      // Checked here too, so a bad network fails before any child is declared.
      try {
        planPrivateNetwork({ ...args.privateNetwork, location });
      } catch (e) {
        throw new pulumi.ResourceError(`${prefix}: ${(e as Error).message}`, this);
      }
    }
    const destinationPort = args.loadBalancer?.destinationPort ?? DEFAULT_DESTINATION_PORT;
    const firewall: RobotFirewallOptions = {
      sshAllowedCidrs: args.sshAllowedCidrs ?? args.facts.sshAllowedCidrs,
      httpsPort: args.httpsPort,
      httpsAllowedCidrs: args.httpsAllowedCidrs,
      privateNetwork: args.privateNetwork && args.loadBalancer ? { ipRange: args.privateNetwork.networkIpRange, port: destinationPort } : undefined,
    };
    try {
      this.firewallRules = robotFirewallRules(firewall);
    } catch (e) {
      throw new pulumi.ResourceError(`${prefix}: ${(e as Error).message}`, this);
    }

    this.server = new RobotServer(
      `${name}-server`,
      {
        robotUser: args.robotUser,
        robotPassword: args.robotPassword,
        baseUrl: args.robotBaseUrl,
        serverNumber: args.serverNumber,
        productId: args.robotProductId ?? offer.name,
        location,
        authorizedKeys: args.authorizedKeyFingerprints,
        confirmOrder: args.confirmOrder === true,
        firewallRules: this.firewallRules,
        dist: args.dist ?? DEFAULT_DIST,
        addons: DEFAULT_ADDONS,
        readyTimeoutMs: args.readyTimeoutMs,
      },
      args.protect ? { parent: this, protect: true } : { parent: this },
    );
    this.serverNumber = this.server.robotServerNumber;
    this.publicIp = this.server.serverIp;

    if (args.privateNetwork) {
      this.privateNetwork = new PrivateNetwork(
        `${name}-net`,
        {
          ...args.privateNetwork,
          location,
          serverNumbers: [this.serverNumber],
          robotUser: args.robotUser,
          robotPassword: args.robotPassword,
          robotBaseUrl: args.robotBaseUrl,
          loadBalancer: args.loadBalancer,
        },
        { parent: this },
      );
      this.endpoint = this.privateNetwork.endpoint;
      this.loadBalancerIpv4 = this.privateNetwork.loadBalancer?.ipv4;
    }

    this.facts = args.facts;
    this.connection = {
      host: this.publicIp,
      port: 22,
      // Robot's installimage sets up root with the ordered keys; the software layers harden it.
      user: "root",
      privateKey: pulumi.secret(args.sshPrivateKey),
    };

    this.registerOutputs({
      server: this.server,
      serverNumber: this.serverNumber,
      publicIp: this.publicIp,
      endpoint: this.endpoint,
      loadBalancerIpv4: this.loadBalancerIpv4,
      facts: this.facts,
      connection: { host: this.connection.host, port: this.connection.port, user: this.connection.user },
    });
  }
}
