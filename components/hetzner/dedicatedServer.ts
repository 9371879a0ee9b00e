/**
 * `hetzner.DedicatedServer`: a Hetzner GEX dedicated GPU server, adopted by number or ordered
 * through the Robot webservice (only with `confirmOrder: true`), with its Robot firewall (the hcloud
 * firewall does not apply to dedicated servers) and, optionally, a vSwitch private network and an
 * HTTPS load balancer. Destroying it does not cancel the server by default: a choice, not an API limit
 * (see docs/hosts/hetzner.md, "What happens on destroy").
 */
import * as pulumi from "@pulumi/pulumi";
import { catalog, type Catalog, type Offer } from "../../core/catalog";
import { robotFirewallRules } from "../../core/hetzner/firewall";
import { dedicatedServerProblems, hetznerDedicatedOffer } from "../../core/hosts/hetznerDedicated";
import { HETZNER_DEDICATED_SERVER_TYPE } from "../../core/tokens";
import { checkRentedHost, hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";
import { PrivateNetwork, DEFAULT_DESTINATION_PORT, type LoadBalancerOptions } from "./privateNetwork";
import { RobotServer } from "./robotProvider";

/** Distribution installed on an ordered server (a name from the product's `dist` list in Robot). */
export const DEFAULT_DIST = "Ubuntu 24.04 LTS base";
/** Addons ordered with a server: a primary IPv4 (new servers are IPv6-only without it). */
export const DEFAULT_ADDONS = ["primary_ipv4"];

/** Arguments of {@link DedicatedServer}. Plain values are checked against the catalog at construction. */
export interface DedicatedServerArgs {
  /** Product name, e.g. `"GEX45"` (case-insensitive). A listed Hetzner dedicated offer of the catalog, or a not-listed one with `serverNumber`. */
  product: string;
  /** Location, e.g. `"fsn1"`; one the catalog lists for `product`. */
  location: string;
  /** Adopt this existing server (Robot server number) instead of ordering one. */
  serverNumber?: number;
  /**
   * Place a real order when `serverNumber` is not given. An order costs money as soon as it is placed
   * (monthly rent plus a one-time setup fee); cancelling the server later only ends it from the
   * cancellation date on. Without this the order runs in test mode and the deployment fails. @default false
   */
  confirmOrder?: boolean;
  /** CIDRs allowed to reach SSH (TCP 22) through the Robot firewall. @default `facts.sshAllowedCidrs` */
  sshAllowedCidrs?: string[];
  /** Fingerprints (MD5, `aa:bb:…`) of SSH keys uploaded to Robot; an order installs them for root. Required to order. @default [] */
  authorizedKeys?: string[];
  /** @deprecated Use `authorizedKeys` (the stack config's name). */
  authorizedKeyFingerprints?: string[];
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
  /**
   * Cancel the server in Robot (at the earliest cancellation date Robot reports) and its vSwitch when
   * they are destroyed. Takes effect once applied with `pulumi up`. @default false (destroy only forgets)
   */
  cancelOnDestroy?: boolean;
  /** Protect the server resource against `pulumi destroy` (which would only forget it). @default false */
  protect?: boolean;
}

/**
 * Checks a product and location against the catalog with the hetzner-dedicated host kind's
 * resolver. Returns the offer, or throws an Error whose message starts with `prefix` and names the
 * property, the value, the allowed values and the fix.
 */
export function checkHetznerDedicatedOffer(prefix: string, product: string, location: string, serverNumber?: number, c: Catalog = catalog()): Offer {
  const offer = hetznerDedicatedOffer(prefix, product, location, serverNumber, c);
  if ("problems" in offer) throw new Error(offer.problems.join("\n"));
  return offer;
}

/** A Hetzner dedicated GPU server managed through Robot; implements {@link GpuHost}. */
export class DedicatedServer extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = HETZNER_DEDICATED_SERVER_TYPE;

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
      hostInputs(args.facts, { product: args.product, location: args.location, serverNumber: args.serverNumber, confirmOrder: args.confirmOrder ?? false, cancelOnDestroy: args.cancelOnDestroy ?? false, sshAllowedCidrs: args.sshAllowedCidrs }),
      opts,
    );
    const prefix = `hetzner.DedicatedServer ${name}`;
    const authorizedKeys = args.authorizedKeys ?? args.authorizedKeyFingerprints ?? [];
    const sshAllowedCidrs = args.sshAllowedCidrs ?? args.facts.sshAllowedCidrs;
    const destinationPort = args.loadBalancer?.destinationPort ?? DEFAULT_DESTINATION_PORT;
    // The same validators `gpu-hosting check` runs (core/hosts/hetznerDedicated.ts).
    const offer = checkRentedHost(
      this,
      prefix,
      hetznerDedicatedOffer(prefix, args.product, args.location, args.serverNumber, catalog()),
      dedicatedServerProblems(prefix, { ...args, authorizedKeys, sshAllowedCidrs }),
      args.location,
      args.facts,
    );
    const location = args.location.trim().toLowerCase();
    this.firewallRules = robotFirewallRules({
      sshAllowedCidrs,
      httpsPort: args.httpsPort,
      httpsAllowedCidrs: args.httpsAllowedCidrs,
      privateNetwork: args.privateNetwork && args.loadBalancer ? { ipRange: args.privateNetwork.networkIpRange, port: destinationPort } : undefined,
    });

    this.server = new RobotServer(
      `${name}-server`,
      {
        robotUser: args.robotUser,
        robotPassword: args.robotPassword,
        baseUrl: args.robotBaseUrl,
        serverNumber: args.serverNumber,
        productId: args.robotProductId ?? offer.name,
        location,
        authorizedKeys: [...authorizedKeys],
        confirmOrder: args.confirmOrder === true,
        firewallRules: this.firewallRules,
        dist: args.dist ?? DEFAULT_DIST,
        addons: DEFAULT_ADDONS,
        readyTimeoutMs: args.readyTimeoutMs,
        cancelOnDestroy: args.cancelOnDestroy === true,
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
          cancelOnDestroy: args.cancelOnDestroy === true,
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
