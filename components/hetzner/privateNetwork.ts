/**
 * `hetzner.PrivateNetwork`: a Robot vSwitch coupled to an hcloud network (a `vswitch` subnet), so
 * dedicated servers share a private network with cloud resources; optionally an hcloud load balancer
 * with a managed TLS certificate in front of the server's private IP. vSwitch coupling exists only in
 * network zone eu-central (fsn1, nbg1, hel1): https://docs.hetzner.com/cloud/networks/faq/ (read
 * 2026-11-30; shared/facts/providers-gpus-power.md §1.3).
 *
 * Addresses follow Hetzner's architecture page (docs.hetzner.com/networking/networks/technical-concepts/architecture):
 * in a vSwitch subnet the first host address is the vSwitch gateway and the servers take the next
 * ones; the load balancer sits in a cloud subnet of the same network and reaches the server's private
 * IP as an `ip` target (dedicated servers are never `server` targets; `usePrivateIp` applies only to
 * those). https://docs.hetzner.com/cloud/load-balancers/faq (read 2026-11-30).
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { HETZNER_PRIVATE_NETWORK_TYPE } from "../../core/tokens";
import { RobotVswitch } from "./robotProvider";
import { DEFAULT_DESTINATION_PORT, DEFAULT_HEALTH_CHECK_PATH, planPrivateNetwork, type PrivateNetworkPlan, type PrivateNetworkPlanInput } from "../../core/hetzner/network";

export * from "../../core/hetzner/network";

// ---------------------------------------------------------------------------------------------
// Component
// ---------------------------------------------------------------------------------------------

/** A load balancer in front of the server: HTTPS on 443 with a managed certificate, HTTP to the server. */
export interface LoadBalancerOptions {
  /** Domain served, e.g. `llm.example.com`. Its DNS zone must be hosted on Hetzner DNS (managed certificates need it). */
  domain: string;
  /** Port the serving layer listens on, on the server's private IP. @default 8000 */
  destinationPort?: number;
  /** HTTP path the load balancer polls on `destinationPort`. @default "/health" */
  healthCheckPath?: string;
}

/** Arguments of {@link PrivateNetwork}. */
export interface PrivateNetworkArgs extends PrivateNetworkPlanInput {
  /** Robot numbers of the dedicated servers to put in the vSwitch. */
  serverNumbers: pulumi.Input<number>[];
  /** Robot webservice user; made secret. */
  robotUser: pulumi.Input<string>;
  /** Robot webservice password; made secret. */
  robotPassword: pulumi.Input<string>;
  /** @default "https://robot-ws.your-server.de" */
  robotBaseUrl?: string;
  /** Cancel the vSwitch in Robot (after taking its servers out) when it is destroyed. @default false (destroy only forgets it) */
  cancelOnDestroy?: boolean;
  /** Put a load balancer in front of `serverPrivateIp`. */
  loadBalancer?: LoadBalancerOptions;
}

/** A Robot vSwitch coupled to an hcloud network, with an optional HTTPS load balancer. */
export class PrivateNetwork extends pulumi.ComponentResource {
  /** Type token. */
  public static readonly __pulumiType = HETZNER_PRIVATE_NETWORK_TYPE;

  /** The Robot vSwitch. */
  public readonly vswitch: RobotVswitch;
  /** The hcloud network. */
  public readonly network: hcloud.Network;
  /** The `vswitch` subnet coupling the two. */
  public readonly vswitchSubnet: hcloud.NetworkSubnet;
  /** Validated addresses (gateway, server IP, cloud subnet). */
  public readonly plan: PrivateNetworkPlan;
  /** The load balancer, when requested. */
  public readonly loadBalancer?: hcloud.LoadBalancer;
  /** `https://<domain>`, when a load balancer is requested. */
  public readonly endpoint?: pulumi.Output<string>;

  constructor(name: string, args: PrivateNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PrivateNetwork.__pulumiType, name, {}, opts);
    const prefix = `hetzner.PrivateNetwork ${name}`;
    try {
      this.plan = planPrivateNetwork(args);
    } catch (e) {
      throw new pulumi.ResourceError(`${prefix}: ${(e as Error).message}`, this);
    }
    const lbPort = args.loadBalancer?.destinationPort ?? DEFAULT_DESTINATION_PORT;
    if (!Number.isInteger(lbPort) || lbPort < 1 || lbPort > 65535) {
      throw new pulumi.ResourceError(`${prefix}: loadBalancer.destinationPort ${lbPort} is not a TCP port; use 1–65535 (8000 for vLLM, 443 for a TLS-terminating proxy)`, this);
    }
    const parent = { parent: this };

    this.vswitch = new RobotVswitch(
      `${name}-vswitch`,
      { robotUser: args.robotUser, robotPassword: args.robotPassword, baseUrl: args.robotBaseUrl, name, vlan: args.vlan, serverNumbers: pulumi.all(args.serverNumbers), cancelOnDestroy: args.cancelOnDestroy === true },
      parent,
    );
    this.network = new hcloud.Network(`${name}-network`, { name, ipRange: args.networkIpRange }, parent);
    const networkId = this.network.id.apply((id) => Number(id));
    this.vswitchSubnet = new hcloud.NetworkSubnet(
      `${name}-vswitch-subnet`,
      { networkId, type: "vswitch", networkZone: this.plan.networkZone, ipRange: args.vswitchSubnet, vswitchId: this.vswitch.vswitchId },
      parent,
    );

    if (args.loadBalancer) {
      const lbArgs = args.loadBalancer;
      const cloudSubnet = new hcloud.NetworkSubnet(`${name}-lb-subnet`, { networkId, type: "cloud", networkZone: this.plan.networkZone, ipRange: this.plan.cloudSubnet }, parent);
      const lb = new hcloud.LoadBalancer(`${name}-lb`, { name, loadBalancerType: "lb11", location: args.location.trim().toLowerCase() }, parent);
      const lbId = lb.id.apply((id) => Number(id));
      const lbNetwork = new hcloud.LoadBalancerNetwork(`${name}-lb-network`, { loadBalancerId: lbId, subnetId: cloudSubnet.id, enablePublicInterface: true }, parent);
      const cert = new hcloud.ManagedCertificate(`${name}-cert`, { name: `${name}-${lbArgs.domain.replace(/[^A-Za-z0-9-]/g, "-")}`, domainNames: [lbArgs.domain] }, parent);
      // A private IP target needs the load balancer in the network and the vSwitch coupled first.
      new hcloud.LoadBalancerTarget(
        `${name}-lb-target`,
        { loadBalancerId: lbId, type: "ip", ip: this.plan.serverPrivateIp },
        { parent: this, dependsOn: [lbNetwork, this.vswitchSubnet] },
      );
      new hcloud.LoadBalancerService(
        `${name}-https`,
        {
          loadBalancerId: lb.id,
          protocol: "https",
          listenPort: 443,
          destinationPort: lbPort,
          http: { certificates: [cert.id.apply((id) => Number(id))], redirectHttp: true },
          healthCheck: {
            protocol: "http",
            port: lbPort,
            interval: 15,
            timeout: 10,
            retries: 3,
            http: { path: lbArgs.healthCheckPath ?? DEFAULT_HEALTH_CHECK_PATH, statusCodes: ["2??"] },
          },
        },
        parent,
      );
      this.loadBalancer = lb;
      this.endpoint = pulumi.output(`https://${lbArgs.domain}`);
    }

    this.registerOutputs({
      vswitchId: this.vswitch.vswitchId,
      networkId: this.network.id,
      serverPrivateIp: this.plan.serverPrivateIp,
      gateway: this.plan.gateway,
      endpoint: this.endpoint,
      loadBalancerIpv4: this.loadBalancer?.ipv4,
    });
  }
}
