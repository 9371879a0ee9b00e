/**
 * Host kind `hetzner-dedicated`: a Hetzner GEX dedicated GPU server managed through the Robot
 * webservice (component `hetzner.DedicatedServer`). Its schema, offer resolver, every validator the
 * component runs (SSH key fingerprints, Robot firewall rules, private network plan, load balancer),
 * the secrets it needs, and the reader of Robot firewalls and hcloud load balancers for
 * network-exposure.
 */
import { z } from "zod";
import type { Catalog, Offer } from "../catalog";
import { HostBase } from "../config/common";
import { robotFirewallProblems } from "../hetzner/firewall";
import { DEFAULT_DESTINATION_PORT, planPrivateNetwork } from "../hetzner/network";
import { findHostOffer, isAnywhere, isRecord, portsCovered, resolvedFromOffer, shapeOf, sourceText } from "./common";
import { defineHostKind, type Exposure, type ResourceFacts } from "./types";

/** Robot stores SSH keys under MD5 fingerprints, `aa:bb:…` (16 hex pairs; Robot lists them in lower case). */
export const ROBOT_KEY_FINGERPRINT = /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i;
/** A DNS name a managed certificate can be issued for. */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export const HetznerDedicatedHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("hetzner-dedicated"),
    /** Product name, e.g. "GEX45". */
    product: z.string(),
    /** Location, e.g. "fsn1". */
    location: z.string(),
    /** Adopt an existing server by its number instead of ordering one. */
    serverNumber: z.number().int().positive().optional(),
    /** Place a real order. Without it an order runs in the webservice's test mode. @default false */
    confirmOrder: z.boolean().default(false),
    /**
     * Cancel the server (at the earliest date Robot allows) and its vSwitch when the stack is
     * destroyed. Apply it with `pulumi up` before `pulumi destroy`. @default false (destroy only forgets)
     */
    cancelOnDestroy: z.boolean().default(false),
    /** Fingerprints of SSH keys uploaded to Robot, installed on an ordered server. @default [] */
    authorizedKeys: z.array(z.string()).default([]),
    /** Join a vSwitch coupled to an hcloud network (eu-central only). */
    privateNetwork: z
      .object({
        /** VLAN ID, 4000–4091. */
        vlan: z.number(),
        /** @default "10.100.0.0/16" */
        networkIpRange: z.string().default("10.100.0.0/16"),
        /** @default "10.100.1.0/24" */
        vswitchSubnet: z.string().default("10.100.1.0/24"),
      })
      .strict()
      .optional(),
    /** Put an hcloud load balancer with a managed TLS certificate in front (needs privateNetwork). */
    loadBalancer: z.object({ domain: z.string() }).strict().optional(),
  })
  .strict();
export type HetznerDedicatedHostConfig = z.infer<typeof HetznerDedicatedHostConfig>;

/** What the validators read; the component's arguments carry the same fields. */
export interface DedicatedServerSettings {
  location: string;
  serverNumber?: number;
  authorizedKeys: readonly string[];
  sshAllowedCidrs: readonly string[];
  privateNetwork?: { vlan: number; networkIpRange: string; vswitchSubnet: string; serverPrivateIp?: string; cloudSubnet?: string };
  loadBalancer?: { domain: string; destinationPort?: number; healthCheckPath?: string };
  /** A public HTTPS port the server serves itself. */
  httpsPort?: number;
  httpsAllowedCidrs?: readonly string[];
}

/** Every problem with a dedicated server's settings, each starting with `path`. Pure. */
export function dedicatedServerProblems(path: string, s: DedicatedServerSettings): string[] {
  const problems: string[] = [];
  if (s.serverNumber !== undefined && (!Number.isInteger(s.serverNumber) || s.serverNumber <= 0)) {
    problems.push(`${path}.serverNumber: ${s.serverNumber} is not a Robot server number; use the positive integer Robot shows for the server`);
  }
  if (s.serverNumber === undefined && s.authorizedKeys.length === 0) {
    problems.push(
      `${path}.authorizedKeys: empty; ordering a server needs at least one SSH key uploaded to Robot (Key management), given by its fingerprint such as "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10" (or adopt a server with serverNumber)`,
    );
  }
  s.authorizedKeys.forEach((f, i) => {
    if (!ROBOT_KEY_FINGERPRINT.test(f)) problems.push(`${path}.authorizedKeys[${i}]: "${f}" is not a Robot key fingerprint; copy it from Robot → Key management (16 hex pairs joined by ":")`);
  });
  if (s.loadBalancer && !s.privateNetwork) problems.push(`${path}.loadBalancer: needs privateNetwork: the load balancer reaches the server through the vSwitch`);
  if (s.privateNetwork) {
    try {
      planPrivateNetwork({ ...s.privateNetwork, location: s.location });
    } catch (e) {
      problems.push(`${path}.${(e as Error).message}`);
    }
  }
  const lbPort = s.loadBalancer?.destinationPort ?? DEFAULT_DESTINATION_PORT;
  if (s.loadBalancer) {
    if (!DOMAIN.test(s.loadBalancer.domain)) problems.push(`${path}.loadBalancer.domain: "${s.loadBalancer.domain}" is not a DNS name; use the name the endpoint is served on, e.g. "llm.example.com"`);
    if (!Number.isInteger(lbPort) || lbPort < 1 || lbPort > 65535) {
      problems.push(`${path}.loadBalancer.destinationPort: ${lbPort} is not a TCP port; use 1–65535 (8000 for vLLM, 443 for a TLS-terminating proxy)`);
    }
  }
  const firewall = robotFirewallProblems({
    sshAllowedCidrs: s.sshAllowedCidrs,
    httpsPort: s.httpsPort,
    httpsAllowedCidrs: s.httpsAllowedCidrs,
    privateNetwork: s.privateNetwork && s.loadBalancer && problems.length === 0 ? { ipRange: s.privateNetwork.networkIpRange, port: lbPort } : undefined,
  });
  problems.push(...firewall.map((p) => `${path}.${p}`));
  return problems;
}


/** Whether a resource is a Robot server as the dynamic provider registers it (it carries the firewall rules). */
const isRobotServer = (r: ResourceFacts): boolean => isRecord(r.props) && typeof r.props.productId === "string" && "confirmOrder" in r.props;

/**
 * Robot firewall rules accepting a private port from anywhere (alone or together), and load
 * balancers serving plain HTTP. Fails closed on shapes it cannot read: `firewallRules` that is not a
 * list, rules that are not mappings, an action other than "discard", a source that is not a string.
 */
export function robotExposures(resources: readonly ResourceFacts[], ports: readonly number[]): Exposure[] {
  const out: Exposure[] = [];
  for (const r of resources) {
    const subject = `resource ${r.name}`;
    if (isRobotServer(r)) {
      const rules = r.props.firewallRules;
      if (!Array.isArray(rules)) {
        out.push({ subject, message: `Robot firewall rules of ${r.name} cannot be read (${shapeOf(rules)}, not a list); failing closed` });
        continue;
      }
      const open = new Map<number, unknown[]>();
      const reported = new Set<number>();
      rules.forEach((rule: unknown, i) => {
        if (!isRecord(rule)) {
          out.push({ subject, message: `Robot firewall rule ${i} cannot be read (${shapeOf(rule)}); failing closed` });
          return;
        }
        if (rule.action === "discard" || rule.action === "drop") return;
        if (typeof rule.protocol === "string" && !["tcp", "udp"].includes(rule.protocol.trim().toLowerCase())) return;
        // TCP replies (ack flag only) cannot open a connection.
        if (typeof rule.tcpFlags === "string" && /^ack$/i.test(rule.tcpFlags.trim())) return;
        const covered = portsCovered(rule.dstPort, ports);
        // A rule without a source address matches every source (Robot cannot filter IPv6 by address).
        const sourced = rule.srcIp !== undefined && rule.srcIp !== null && rule.srcIp !== "";
        for (const p of covered) open.set(p, [...(open.get(p) ?? []), ...(sourced ? [rule.srcIp] : ["0.0.0.0/0"])]);
        if (sourced && typeof rule.srcIp === "string" && !isAnywhere(rule.srcIp)) return;
        const src = !sourced ? (rule.ipVersion === "ipv4" ? "0.0.0.0/0" : "::/0 and 0.0.0.0/0") : sourceText("srcIp", rule.srcIp);
        for (const p of covered) {
          reported.add(p);
          out.push({ subject, message: `Robot firewall rule ${JSON.stringify(rule.name ?? "")} accepts port ${p} from ${src}` });
        }
      });
      for (const [p, sources] of open) {
        if (!reported.has(p) && isAnywhere(sources)) out.push({ subject, message: `Robot firewall rules of ${r.name} accept port ${p} from ${sources.map(String).join(" + ")} (together: the internet)` });
      }
    }
    if (r.type === "hcloud:index/loadBalancerService:LoadBalancerService") {
      const props = r.props as unknown;
      if (!isRecord(props)) out.push({ subject, message: `${r.type} has properties network-exposure cannot read (${shapeOf(props)}); failing closed` });
      else if (props.protocol !== "https") {
        out.push({ subject, message: `${r.type} serves ${JSON.stringify(props.protocol)} on port ${String(props.listenPort ?? "")}; the endpoint must be https` });
      }
    }
  }
  return out;
}

/**
 * The hetzner-dedicated kind's offer resolver: the product (Robot's "-1"-style suffixes ignored)
 * at the location; a product no longer listed only when adopting a server by number.
 */
export function hetznerDedicatedOffer(path: string, product: string, location: string, serverNumber: number | undefined, c: Catalog): Offer | { problems: string[] } {
  return findHostOffer(
    {
      path,
      provider: "hetzner",
      offerKind: "dedicated",
      noun: "Hetzner dedicated server product",
      field: "product",
      name: product.trim().replace(/-\d+$/, ""),
      locationField: "location",
      location,
      allowUnlisted: serverNumber !== undefined,
      unlistedFix: "; or adopt a server you already have with serverNumber",
    },
    c,
  );
}

export const hetznerDedicated = defineHostKind({
  kinds: ["hetzner-dedicated"],
  schema: HetznerDedicatedHostConfig,
  providers: ["hetzner"],
  provider: () => "hetzner",
  needsSite: false,
  resolve(h, path, ctx) {
    const offer = hetznerDedicatedOffer(path, h.product, h.location, h.serverNumber, ctx.catalog);
    return "problems" in offer ? offer : resolvedFromOffer(offer, h.location, ctx.catalog);
  },
  validate: (h, path) => dedicatedServerProblems(path, h),
  secrets: () => [
    { key: "sshPrivateKey", secret: true, how: "pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519" },
    { key: "robotUser", secret: true, how: "pulumi config set --secret robotUser '#ws+…' (Robot → Settings → Web service settings)" },
    { key: "robotPassword", secret: true, how: "pulumi config set --secret robotPassword (the webservice password; prompted)" },
  ],
  exposures: robotExposures,
});
