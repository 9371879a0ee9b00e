/**
 * Helpers shared by the host-kind modules: the one offer resolver for rented hosts, the power-cap
 * rule, and the port/CIDR matching network-exposure readers use. Pure.
 */
import { parse as parseIp, type IPv4, type IPv6 } from "ipaddr.js";
import { closest, findGpu, gpuPowerLimitRange, type Catalog, type Gpu, type Offer } from "../catalog";
import { looksLikeIdentifier, quotedId } from "../checks/redact";
import type { ResolvedHost, SecretNeed } from "./types";

const list = (values: readonly string[]): string => values.join(", ");

/** Where a rented host's offer is looked up, and how its fields are called in config. */
export interface OfferQuery {
  path: string;
  provider: "scaleway" | "hetzner";
  /** Catalog offer kind: "gpu-instance", "dedicated", "cloud-cpu". */
  offerKind: string;
  /** What users call this offer kind, e.g. "Scaleway GPU Instance type". */
  noun: string;
  /** Config field holding the offer name, e.g. "type", and its value. */
  field: string;
  name: string;
  /** Config field holding the location, e.g. "zone", and its value. */
  locationField: string;
  location: string;
  /** Accept an offer that is no longer listed (adopting a server one already has). */
  allowUnlisted: boolean;
  /** Appended to the "no longer listed" message. */
  unlistedFix?: string;
}

/**
 * Finds a rented host's offer and checks its location. Returns the offer or the problems, which
 * quote the given name and location only when they could be identifiers ({@link quotedId}): a
 * token pasted into `type` or `zone` is named by its field, never shown.
 */
export function findHostOffer(q: OfferQuery, c: Catalog): Offer | { problems: string[] } {
  const offers = c.offers.filter((o) => o.provider === q.provider && o.kind === q.offerKind);
  const listed = offers.filter((o) => o.status === "listed").map((o) => o.name);
  const offer = offers.find((o) => o.name.toLowerCase() === q.name.trim().toLowerCase());
  if (!offer) {
    const hint = looksLikeIdentifier(q.name.trim()) ? closest(q.name, listed, 1) : [];
    return { problems: [`${q.path}.${q.field}: ${quotedId(q.name)} is not a ${q.noun}; allowed: ${list(listed)}${hint.length ? `; did you mean ${hint[0]}?` : ""}`] };
  }
  if (offer.status !== "listed" && !q.allowUnlisted) {
    const by = q.provider === "scaleway" ? "Scaleway" : "Hetzner";
    return { problems: [`${q.path}.${q.field}: ${quotedId(q.name)} is no longer listed by ${by}; pick a listed one: ${list(listed)}${q.unlistedFix ?? ""}`] };
  }
  const location = q.location.trim().toLowerCase();
  if (!offer.locations.includes(location)) {
    return { problems: [`${q.path}.${q.locationField}: ${quotedId(q.location)} does not offer ${offer.name}; it is offered in ${offer.locations.join(", ")}`] };
  }
  return offer;
}

/** A rented host resolved from its offer. */
export function resolvedFromOffer(offer: Offer, location: string, c: Catalog): ResolvedHost {
  return {
    offer,
    gpu: offer.gpu ? (findGpu(offer.gpu, c) ?? null) : null,
    location: location.trim().toLowerCase(),
    gpuCount: offer.gpuCount,
    nonGpuWatts: offer.nonGpuWatts,
    ramGiB: offer.ramGiB,
    hardwareEur: null,
    amortisationMonths: 36,
  };
}

/**
 * The problem with a GPU power cap, or null: a cap needs GPUs, and must lie inside the range the
 * GPU's power limit can be set to (`nvidia-smi -pl` refuses values outside it).
 */
export function powerCapProblem(path: string, capWatts: number | undefined, gpu: Gpu | null): string | null {
  if (capWatts === undefined) return null;
  if (gpu === null) return `${path}.gpuPowerCapWatts: ${capWatts} W set on a host without GPUs; remove it`;
  const r = gpuPowerLimitRange(gpu);
  if (capWatts < r.minWatts || capWatts > r.maxWatts) {
    return `${path}.gpuPowerCapWatts: ${capWatts} W is outside the range the ${gpu.name}'s power limit can be set to, ${r.minWatts}–${r.maxWatts} W${r.confirmed ? "" : " (range unconfirmed, see the catalog)"}; use a value in it, e.g. ${Math.round((r.minWatts + gpu.boardPowerWatts) / 2)}`;
  }
  return null;
}

/** An address range as two inclusive bounds; IPv4 and IPv6 apart. */
interface Span {
  v6: boolean;
  lo: bigint;
  hi: bigint;
}

const V4_ALL: Span = { v6: false, lo: 0n, hi: 2n ** 32n - 1n };
/** IPv6 global unicast (2000::/3): every IPv6 address reachable on the internet today. */
const V6_GLOBAL: Span = { v6: true, lo: 2n ** 125n, hi: 2n ** 125n + 2n ** 125n - 1n };
/** IPv4-mapped IPv6 addresses (::ffff:0:0/96): IPv4 sources seen on a dual-stack socket. */
const V4_MAPPED: Span = { v6: true, lo: 0xffffn << 32n, hi: (0xffffn << 32n) + 2n ** 32n - 1n };

const toBigInt = (bytes: readonly number[]): bigint => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);

/**
 * Reads one CIDR or bare address, however written: prefix lengths with leading zeros (`/00`),
 * IPv4 octets with leading zeros (`000.0.0.0`; `010.0.0.0` read as decimal 10.0.0.0, as firewalls
 * do), every IPv6 spelling (`0::`, `::`, embedded IPv4, zone ids). Parsing by ipaddr.js. Returns
 * null when it cannot be read, and for IPv4 written other than as four decimal parts (`0x0.0.0.0`,
 * `10.1`: inet_aton reads those, firewall APIs do not).
 */
function readCidr(text: string): Span | null {
  const m = /^([^/]+?)(?:\/(\d{1,4}))?$/.exec(text.trim());
  if (!m) return null;
  let addr = m[1]!;
  if (/^\d+(\.\d+){3}$/.test(addr)) {
    const octets = addr.split(".").map((o) => Number.parseInt(o, 10));
    if (octets.some((o) => o > 255)) return null;
    addr = octets.join(".");
  } else if (!addr.includes(":")) return null;
  let ip: IPv4 | IPv6;
  try {
    ip = parseIp(addr);
  } catch {
    return null;
  }
  const v6 = ip.kind() === "ipv6";
  const bits = v6 ? 128 : 32;
  const prefix = m[2] === undefined ? bits : Number(m[2]);
  if (prefix > bits) return null;
  const size = 2n ** BigInt(bits - prefix);
  const lo = (toBigInt(ip.toByteArray()) / size) * size;
  return { v6, lo, hi: lo + size - 1n };
}

/** How many addresses of `within` the spans cover together (overlaps counted once). */
function covered(spans: readonly Span[], within: Span): bigint {
  const parts = spans
    .filter((s) => s.v6 === within.v6 && s.hi >= within.lo && s.lo <= within.hi)
    .map((s) => ({ lo: s.lo > within.lo ? s.lo : within.lo, hi: s.hi < within.hi ? s.hi : within.hi }))
    .sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  let total = 0n;
  let end = within.lo - 1n;
  for (const p of parts) {
    const from = p.lo > end ? p.lo : end + 1n;
    if (p.hi >= from) total += p.hi - from + 1n;
    if (p.hi > end) end = p.hi;
  }
  return total;
}

/**
 * Whether CIDRs (one, or a list read together, as the rules of one firewall for one port) reach the
 * internet at large: at least half of all IPv4 addresses, or at least half of IPv6 global unicast
 * (2000::/3). `0.0.0.0/0`, `::/0` and any other prefix length 0 however written are the simple
 * case; `0.0.0.0/1` with `128.0.0.0/1`, or `0.0.0.0/1` alone, count too. IPv4-mapped IPv6 ranges
 * (`::ffff:0:0/96`) count as the IPv4 addresses they map. Fails closed: a value that is not a
 * string, or a string that is not a CIDR or address, counts as anywhere and is handed to
 * `onUnreadable`.
 */
export function isAnywhere(cidrs: unknown, onUnreadable?: (value: unknown) => void): boolean {
  const values = Array.isArray(cidrs) ? cidrs : [cidrs];
  const spans: Span[] = [];
  let unreadable = false;
  for (const v of values) {
    const s = typeof v === "string" ? readCidr(v) : null;
    if (s === null) {
      unreadable = true;
      onUnreadable?.(v);
      continue;
    }
    spans.push(s);
    if (s.v6 && s.lo <= V4_MAPPED.hi && s.hi >= V4_MAPPED.lo) {
      // The IPv4 part of an IPv4-mapped range.
      const lo = s.lo > V4_MAPPED.lo ? s.lo : V4_MAPPED.lo;
      const hi = s.hi < V4_MAPPED.hi ? s.hi : V4_MAPPED.hi;
      spans.push({ v6: false, lo: lo - V4_MAPPED.lo, hi: hi - V4_MAPPED.lo });
    }
  }
  if (unreadable) return true;
  const half = (s: Span): bigint => (s.hi - s.lo + 1n) / 2n;
  return covered(spans, V4_ALL) >= half(V4_ALL) || covered(spans, V6_GLOBAL) >= half(V6_GLOBAL);
}

const PORT = /^\s*(\d{1,5})\s*(?:[-:]\s*(\d{1,5})\s*)?$/;

/**
 * Which of `ports` a rule's port field covers: a number, `"22"`, a range `"8000-8100"` (either
 * order, `:` also read as the separator), a list of those, or empty / `"any"` (every port). Fails
 * closed: anything else (text such as `"ssh"`, fractions, objects, numbers outside 0–65535) covers
 * every port.
 */
export function portsCovered(rulePort: unknown, ports: readonly number[]): number[] {
  if (Array.isArray(rulePort)) {
    if (rulePort.length === 0) return [...ports];
    const hit = new Set(rulePort.flatMap((p: unknown) => (Array.isArray(p) ? [...ports] : portsCovered(p, ports))));
    return ports.filter((p) => hit.has(p));
  }
  if (rulePort === undefined || rulePort === null || rulePort === "" || (typeof rulePort === "string" && /^\s*any\s*$/i.test(rulePort))) return [...ports];
  if (typeof rulePort !== "number" && typeof rulePort !== "string") return [...ports];
  const m = PORT.exec(String(rulePort));
  if (!m) return [...ports];
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a > 65535 || b > 65535) return [...ports];
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return ports.filter((p) => p >= lo && p <= hi);
}

/** Secrets of hosts a stack creates with cloud-init: the admin user's public key, and the private key the layers log in with. */
export const CLOUD_HOST_SECRETS: readonly SecretNeed[] = [
  { key: "sshPublicKey", secret: false, how: 'pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"' },
  { key: "sshPrivateKey", secret: true, how: "pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519" },
];

/** Whether a value is a mapping (not null, not a list). */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** What a value is, for messages about shapes a reader cannot read. */
export const shapeOf = (v: unknown): string => (v === undefined ? "missing" : v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`);
/** A source as messages show it: the CIDR, or why it cannot be read. */
export const sourceText = (field: string, v: unknown): string => {
  let unreadable = false;
  isAnywhere(v, () => (unreadable = true));
  if (typeof v !== "string") return `a source it cannot read (${field}: ${shapeOf(v)}, not a CIDR); failing closed`;
  return unreadable ? `${v} (not a CIDR it can read; failing closed)` : v;
};
