/**
 * Host kind `scaleway`: a Scaleway GPU Instance (component `scaleway.GpuInstance`). Its schema,
 * its offer resolver (commercial type and zone from the catalog), its validators, the secrets it
 * needs and the reader of its security groups for network-exposure.
 */
import { z } from "zod";
import type { Catalog, Offer } from "../catalog";
import { HostBase } from "../config/common";
import { CLOUD_HOST_SECRETS, findHostOffer, isAnywhere, isRecord, portsCovered, resolvedFromOffer, shapeOf, sourceText } from "./common";
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


/**
 * Security groups that let traffic in from anywhere to a private port (alone or together), or do
 * not drop by default. Fails closed on shapes it cannot read: properties or rules that are not
 * mappings, `inboundRules` that is not a list, an `ipRange` that is not a CIDR string.
 */
export function scalewayExposures(resources: readonly ResourceFacts[], ports: readonly number[]): Exposure[] {
  const out: Exposure[] = [];
  for (const r of resources) {
    if (r.type !== "scaleway:instance/securityGroup:SecurityGroup") continue;
    const subject = `resource ${r.name}`;
    const props = r.props as unknown;
    if (!isRecord(props)) {
      out.push({ subject, message: `${r.type} has properties network-exposure cannot read (${shapeOf(props)}); failing closed` });
      continue;
    }
    const policy = props.inboundDefaultPolicy;
    if (policy !== "drop") out.push({ subject, message: `${r.type} has inbound default policy ${JSON.stringify(policy ?? "accept")}; it must be "drop"` });
    const rules = props.inboundRules ?? [];
    if (!Array.isArray(rules)) {
      out.push({ subject, message: `${r.type} has inboundRules network-exposure cannot read (${shapeOf(rules)}, not a list); failing closed` });
      continue;
    }
    // Sources of the accepting rules, per port: several narrow rules can open a port to everyone together.
    const open = new Map<number, unknown[]>();
    const reported = new Set<number>();
    rules.forEach((rule: unknown, i) => {
      if (!isRecord(rule)) {
        out.push({ subject, message: `${r.type} inboundRules[${i}] cannot be read (${shapeOf(rule)}); failing closed` });
        return;
      }
      if (rule.action === "drop") return;
      const range = rule.ipRange ?? rule.ip ?? "0.0.0.0/0";
      const covered = portsCovered(rule.port ?? rule.portRange, ports);
      for (const p of covered) open.set(p, [...(open.get(p) ?? []), range]);
      if (typeof range === "string" && !isAnywhere(range)) return;
      for (const p of covered) {
        reported.add(p);
        out.push({ subject, message: `${r.type} opens port ${p} to ${sourceText("ipRange", range)}` });
      }
    });
    for (const [p, sources] of open) {
      if (!reported.has(p) && isAnywhere(sources)) out.push({ subject, message: `${r.type} opens port ${p} to ${sources.map(String).join(" + ")} (together: the internet)` });
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
