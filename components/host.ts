/**
 * What every host component hands the software layers, whatever its kind: how to connect, and
 * the facts (GPU vendor, model, count, site). Facts are plain values, known at preview, so the
 * policy pack can check them; connection details are Outputs, and the private key is a secret.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Offer } from "../core/catalog";
import { adminUserProblem } from "../core/cloudinit";
import type { HostFacts } from "../core/fleet";

export type { HostFacts };

/** How the software layers reach a host over SSH. */
export interface HostConnection {
  /** Address (IP or DNS name). */
  host: pulumi.Output<string>;
  /** @default 22 */
  port: number;
  /** Login user (non-root where the host component creates one). */
  user: string;
  /** Private key, always a Pulumi secret. */
  privateKey: pulumi.Output<string>;
  /** Pinned host public key ("ssh-ed25519 AAAA…"), where known before connecting. */
  hostKey?: pulumi.Output<string>;
}

/** Implemented by every host component: `scaleway.GpuInstance`, `hetzner.DedicatedServer`, `hetzner.CpuServer`, `onprem.Host`. */
export interface GpuHost {
  readonly facts: HostFacts;
  readonly connection: HostConnection;
}

/** Tags/labels carrying the sizing facts, identical across providers. */
export function factTags(f: HostFacts): Record<string, string> {
  return {
    "gpu-hosting/host": f.name,
    "gpu-hosting/gpu": f.gpu ?? "none",
    "gpu-hosting/gpu-count": String(f.gpuCount),
    "gpu-hosting/gpu-vendor": f.gpuVendor,
    "gpu-hosting/site": f.site,
    "gpu-hosting/peak-watts": String(Math.round(f.peakWatts)),
  };
}

/**
 * @internal
 * Why `facts` do not describe the offer and location a component was given, or null. Facts are
 * built by `resolveHost` from the same host config; a mismatch means they were passed to the
 * wrong host.
 */
export function factsMismatch(prefix: string, facts: HostFacts, offerId: string, location: string): string | null {
  if (facts.offerId === offerId && facts.location === location) return null;
  return `${prefix}: facts describe ${facts.offerId ?? "no offer"} in "${facts.location}", not ${offerId} in "${location}"; build facts with resolveHost from the same host config`;
}

/**
 * @internal
 * The prologue every rented host component runs before declaring children: its kind's offer
 * resolver and validators (the same functions `gpu-hosting check` runs, core/hosts/<kind>.ts),
 * facts built for this host, and a valid admin user where the component creates one. Problems
 * become one `ResourceError` on `resource`. Returns the offer.
 */
export function checkRentedHost(
  resource: pulumi.Resource,
  prefix: string,
  offer: Offer | { problems: string[] },
  problems: string[],
  location: string,
  facts: HostFacts,
  adminUser?: string,
): Offer {
  const all = [...("problems" in offer ? offer.problems : []), ...problems];
  if (!("problems" in offer)) {
    const mismatch = factsMismatch(prefix, facts, offer.id, location.trim().toLowerCase());
    if (mismatch) all.push(mismatch);
  }
  const userProblem = adminUser === undefined ? null : adminUserProblem(adminUser);
  if (userProblem) all.push(`${prefix}.${userProblem}`);
  if (all.length > 0 || "problems" in offer) throw new pulumi.ResourceError(all.join("\n"), resource);
  return offer;
}

/**
 * @internal
 * The inputs a host component sends to the engine: its facts and plain settings, never secrets.
 * They are what a policy sees for this resource at preview (Node.js components send their inputs
 * since @pulumi/pulumi 3.202.0).
 */
export function hostInputs(facts: HostFacts, settings: Record<string, unknown>): Record<string, unknown> {
  return { facts, ...settings };
}
