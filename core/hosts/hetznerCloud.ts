/**
 * Host kind `hetzner-cloud`: an hcloud dedicated-vCPU server (ccx*) for CPU-only inference
 * (component `hetzner.CpuServer`). Its schema, offer resolver, label rules, secrets, and the
 * reader of hcloud firewalls for network-exposure.
 */
import { z } from "zod";
import type { Catalog, Offer } from "../catalog";
import { HostBase } from "../config/common";
import { CLOUD_HOST_SECRETS, findHostOffer, isAnywhere, isRecord, portsCovered, resolvedFromOffer, shapeOf, sourceText } from "./common";
import { defineHostKind, type Exposure, type ResourceFacts } from "./types";

/** Default image. */
export const DEFAULT_HCLOUD_IMAGE = "ubuntu-24.04";

export const HetznerCloudHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("hetzner-cloud"),
    /** Dedicated-vCPU server type for CPU inference, e.g. "ccx33". */
    serverType: z.string(),
    /** Location, e.g. "fsn1". */
    location: z.string(),
    /** @default "ubuntu-24.04" */
    image: z.string().min(1).default(DEFAULT_HCLOUD_IMAGE),
  })
  .strict();
export type HetznerCloudHostConfig = z.infer<typeof HetznerCloudHostConfig>;

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


/**
 * hcloud firewall rules that let traffic in from anywhere to a private port, alone or together.
 * Fails closed on shapes it cannot read: properties or rules that are not mappings, `rules` or
 * `sourceIps` that are not lists, sources that are not CIDRs; a rule whose direction is not "out"
 * counts as inbound.
 */
export function hcloudFirewallExposures(resources: readonly ResourceFacts[], ports: readonly number[]): Exposure[] {
  const out: Exposure[] = [];
  for (const r of resources) {
    if (r.type !== "hcloud:index/firewall:Firewall") continue;
    const subject = `resource ${r.name}`;
    const props = r.props as unknown;
    if (!isRecord(props)) {
      out.push({ subject, message: `${r.type} has properties network-exposure cannot read (${shapeOf(props)}); failing closed` });
      continue;
    }
    const rules = props.rules ?? [];
    if (!Array.isArray(rules)) {
      out.push({ subject, message: `${r.type} has rules network-exposure cannot read (${shapeOf(rules)}, not a list); failing closed` });
      continue;
    }
    const open = new Map<number, unknown[]>();
    const reported = new Set<number>();
    rules.forEach((rule: unknown, i) => {
      if (!isRecord(rule)) {
        out.push({ subject, message: `${r.type} rules[${i}] cannot be read (${shapeOf(rule)}); failing closed` });
        return;
      }
      if (rule.direction === "out") return;
      const covered = portsCovered(rule.port, ports);
      if (!Array.isArray(rule.sourceIps)) {
        for (const p of covered) {
          reported.add(p);
          out.push({ subject, message: `${r.type} opens port ${p} to sources it cannot read (sourceIps: ${shapeOf(rule.sourceIps)}, not a list of CIDRs); failing closed` });
        }
        return;
      }
      const sources: unknown[] = rule.sourceIps;
      for (const p of covered) open.set(p, [...(open.get(p) ?? []), ...sources]);
      for (const src of sources) {
        if (!isAnywhere(src)) continue;
        for (const p of covered) {
          reported.add(p);
          out.push({ subject, message: `${r.type} opens port ${p} to ${sourceText("sourceIps", src)}` });
        }
      }
    });
    for (const [p, sources] of open) {
      if (!reported.has(p) && isAnywhere(sources)) out.push({ subject, message: `${r.type} opens port ${p} to ${sources.map(String).join(" + ")} (together: the internet)` });
    }
  }
  return out;
}

/** The hetzner-cloud kind's offer resolver: a listed dedicated-vCPU server type offered at the location. */
export function hetznerCloudOffer(path: string, serverType: string, location: string, c: Catalog): Offer | { problems: string[] } {
  return findHostOffer(
    { path, provider: "hetzner", offerKind: "cloud-cpu", noun: "Hetzner dedicated-vCPU (cloud-cpu) server type", field: "serverType", name: serverType, locationField: "location", location, allowUnlisted: false },
    c,
  );
}

export const hetznerCloud = defineHostKind({
  kinds: ["hetzner-cloud"],
  schema: HetznerCloudHostConfig,
  providers: ["hetzner"],
  provider: () => "hetzner",
  needsSite: false,
  resolve(h, path, ctx) {
    const offer = hetznerCloudOffer(path, h.serverType, h.location, ctx.catalog);
    return "problems" in offer ? offer : resolvedFromOffer(offer, h.location, ctx.catalog);
  },
  validate: () => [],
  secrets: () => [...CLOUD_HOST_SECRETS],
  exposures: hcloudFirewallExposures,
});
