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
 * Why `facts` do not describe the offer and location a component was given, or null. Facts are
 * built by `resolveHost` from the same host config; a mismatch means they were passed to the
 * wrong host.
 */
export function factsMismatch(prefix: string, facts: HostFacts, offerId: string, location: string): string | null {
  if (facts.offerId === offerId && facts.location === location) return null;
  return `${prefix}: facts describe ${facts.offerId ?? "no offer"} in "${facts.location}", not ${offerId} in "${location}"; build facts with resolveHost from the same host config`;
}

/**
 * The checks every cloud host component runs before declaring children: the offer against the
 * catalog (`checkOffer` throws with the allowed values), facts built for this host, and a valid
 * admin user. Errors become `ResourceError`s on `resource`. Returns the offer.
 */
export function checkCloudHost(
  resource: pulumi.Resource,
  prefix: string,
  checkOffer: () => Offer,
  location: string,
  facts: HostFacts,
  adminUser: string,
): Offer {
  const fail = (message: string): never => {
    throw new pulumi.ResourceError(message, resource);
  };
  let offer: Offer | undefined;
  try {
    offer = checkOffer();
  } catch (e) {
    fail((e as Error).message);
  }
  const mismatch = factsMismatch(prefix, facts, offer!.id, location.trim().toLowerCase());
  if (mismatch) fail(mismatch);
  const userProblem = adminUserProblem(adminUser);
  if (userProblem) fail(`${prefix}: ${userProblem}`);
  return offer!;
}

/**
 * The inputs a host component sends to the engine: its facts and plain settings, never secrets.
 * They are what a policy sees for this resource at preview (Node.js components send their inputs
 * since @pulumi/pulumi 3.202.0).
 */
export function hostInputs(facts: HostFacts, settings: Record<string, unknown>): Record<string, unknown> {
  return { facts, ...settings };
}
