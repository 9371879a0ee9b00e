/**
 * The component of each host kind: how `fleet.Fleet` turns a host of the stack config into its
 * component. An exhaustive table keyed by `kind` (as pulumi-eks keys its AMI table), so adding a
 * kind to core/hosts without its component here fails to compile.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../core/hosts";
import type { HostFacts } from "../core/fleet";
import { PRIVATE_PROXY_PORT } from "../core/layers/plan";
import { CpuServer, DedicatedServer } from "./hetzner";
import type { GpuHost } from "./host";
import { Host } from "./onprem";
import { GpuInstance } from "./scaleway";

/** Secrets by config key (without namespace), as the host kinds' `secrets()` name them. */
export type FleetSecrets = Record<string, pulumi.Input<string> | undefined>;

/** What a factory gets besides the host's config. */
export interface HostBuild<H> {
  host: H;
  facts: HostFacts;
  /** The secret under `key`; throws naming the key and how to set it when it is missing. */
  secret(key: string): pulumi.Input<string>;
  protect: boolean;
  /** The public port the host's endpoint listens on (443 with TLS), opened to anyone; none when it serves nothing. */
  endpointPort?: number;
  opts: pulumi.ComponentResourceOptions;
}

/** The config of hosts whose `kind` is K (owned hosts share one schema for two kinds). */
type OfKind<K, H = HostConfig> = H extends { kind: infer KK } ? (K extends KK ? H : never) : never;
type Factories = { [K in HostConfig["kind"]]: (b: HostBuild<OfKind<K>>) => GpuHost };

/** @internal One line per kind; `fleet.Fleet` reads it. */
export const HOST_COMPONENTS: Factories = {
  scaleway: ({ host: h, facts, secret, protect, endpointPort, opts }) =>
    new GpuInstance(h.name, { type: h.type, zone: h.zone, image: h.image, rootVolumeGb: h.rootVolumeGb, sshAllowedCidrs: h.sshAllowedCidrs, sshPublicKey: secret("sshPublicKey"), sshPrivateKey: secret("sshPrivateKey"), facts, protect, endpointPort }, opts),
  "hetzner-cloud": ({ host: h, facts, secret, protect, endpointPort, opts }) =>
    new CpuServer(h.name, { serverType: h.serverType, location: h.location, image: h.image, sshAllowedCidrs: h.sshAllowedCidrs, sshPublicKey: secret("sshPublicKey"), sshPrivateKey: secret("sshPrivateKey"), facts, protect, endpointPort }, opts),
  "hetzner-dedicated": ({ host: h, facts, secret, protect, endpointPort, opts }) =>
    new DedicatedServer(
      h.name,
      {
        product: h.product,
        location: h.location,
        serverNumber: h.serverNumber,
        confirmOrder: h.confirmOrder,
        cancelOnDestroy: h.cancelOnDestroy,
        sshAllowedCidrs: h.sshAllowedCidrs,
        authorizedKeys: h.authorizedKeys,
        robotUser: secret("robotUser"),
        robotPassword: secret("robotPassword"),
        sshPrivateKey: secret("sshPrivateKey"),
        facts,
        privateNetwork: h.privateNetwork,
        // The balancer terminates TLS and reaches the proxy's private listener (core/layers/plan.ts).
        loadBalancer: h.loadBalancer ? { ...h.loadBalancer, destinationPort: PRIVATE_PROXY_PORT } : undefined,
        httpsPort: endpointPort,
        protect,
      },
      opts,
    ),
  onprem: ({ host: h, facts, secret, opts }) => new Host(h.name, { address: h.address, port: h.port, user: h.user, privateKey: secret(h.privateKeySecret), hostKey: h.hostKey, facts }, opts),
  colocation: ({ host: h, facts, secret, opts }) => new Host(h.name, { address: h.address, port: h.port, user: h.user, privateKey: secret(h.privateKeySecret), hostKey: h.hostKey, facts }, opts),
};
