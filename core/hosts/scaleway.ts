/**
 * Host kind `scaleway`: a Scaleway GPU Instance (component `scaleway.GpuInstance`). Its schema,
 * its offer resolver (commercial type and zone from the catalog), its validators, the secrets it
 * needs and the reader of its security groups for network-exposure.
 */
import { z } from "zod";
import type { Catalog, Offer } from "../catalog";
import { HostBase } from "../config/common";
import { CLOUD_HOST_SECRETS, findHostOffer, isAnywhere, portsCovered, resolvedFromOffer } from "./common";
import { defineHostKind, type Exposure, type ResourceFacts } from "./types";

/** Default GPU OS image label (Ubuntu 24.04 with the NVIDIA driver, Docker and the container toolkit). */
export const DEFAULT_SCALEWAY_GPU_IMAGE = "ubuntu_noble_gpu_os_12";
/** Default root volume size, GB. */
export const DEFAULT_ROOT_VOLUME_GB = 200;
/** Smallest root volume, GB: the GPU OS image and a model cache need room. */
export const MIN_ROOT_VOLUME_GB = 20;

export const ScalewayHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("scaleway"),
    /** Commercial type, e.g. "L40S-1-48G". */
    type: z.string(),
    /** Zone, e.g. "fr-par-2". */
    zone: z.string(),
    /** Image label or UUID. @default "ubuntu_noble_gpu_os_12" (driver, Docker and container toolkit preinstalled) */
    image: z.string().min(1).default(DEFAULT_SCALEWAY_GPU_IMAGE),
    /** Root volume size, GB. @default 200 */
    rootVolumeGb: z.number().default(DEFAULT_ROOT_VOLUME_GB),
  })
  .strict();
export type ScalewayHostConfig = z.infer<typeof ScalewayHostConfig>;

/** What the validators read: the config's fields, as a component's arguments also carry them. */
export type ScalewayHostSettings = Pick<ScalewayHostConfig, "type" | "zone" | "rootVolumeGb">;

/** Validators of a Scaleway host beyond its offer. Each message starts with `path`. Pure. */
export function scalewayHostProblems(path: string, h: ScalewayHostSettings): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(h.rootVolumeGb) || h.rootVolumeGb < MIN_ROOT_VOLUME_GB) {
    problems.push(`${path}.rootVolumeGb: ${h.rootVolumeGb} is too small or not whole; use an integer of at least ${MIN_ROOT_VOLUME_GB} (GB)`);
  }
  return problems;
}

/** Security groups that let traffic in from anywhere to a private port, or do not drop by default. */
export function scalewayExposures(resources: readonly ResourceFacts[], ports: readonly number[]): Exposure[] {
  const out: Exposure[] = [];
  for (const r of resources) {
    if (r.type !== "scaleway:instance/securityGroup:SecurityGroup") continue;
    const policy = r.props.inboundDefaultPolicy;
    if (policy !== "drop") out.push({ subject: `resource ${r.name}`, message: `${r.type} has inbound default policy ${JSON.stringify(policy ?? "accept")}; it must be "drop"` });
    for (const rule of (r.props.inboundRules as Record<string, unknown>[] | undefined) ?? []) {
      if (rule.action === "drop") continue;
      const range = String(rule.ipRange ?? rule.ip ?? "0.0.0.0/0");
      if (!isAnywhere(range)) continue;
      for (const p of portsCovered(rule.port ?? rule.portRange, ports)) out.push({ subject: `resource ${r.name}`, message: `${r.type} opens port ${p} to ${range}` });
    }
  }
  return out;
}

/** The scaleway kind's offer resolver: a listed GPU Instance type offered in the zone. */
export function scalewayOffer(path: string, type: string, zone: string, c: Catalog): Offer | { problems: string[] } {
  return findHostOffer({ path, provider: "scaleway", offerKind: "gpu-instance", noun: "Scaleway GPU Instance type", field: "type", name: type, locationField: "zone", location: zone, allowUnlisted: false }, c);
}

export const scaleway = defineHostKind({
  kinds: ["scaleway"],
  schema: ScalewayHostConfig,
  providers: ["scaleway"],
  provider: () => "scaleway",
  needsSite: false,
  resolve(h, path, ctx) {
    const offer = scalewayOffer(path, h.type, h.zone, ctx.catalog);
    return "problems" in offer ? offer : resolvedFromOffer(offer, h.zone, ctx.catalog);
  },
  validate: (h, path) => scalewayHostProblems(path, h),
  secrets: () => [...CLOUD_HOST_SECRETS],
  exposures: scalewayExposures,
});
