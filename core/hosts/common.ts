/**
 * Helpers shared by the host-kind modules: the one offer resolver for rented hosts, the power-cap
 * rule, and the port/CIDR matching network-exposure readers use. Pure.
 */
import { closest, findGpu, gpuPowerLimitRange, type Catalog, type Gpu, type Offer } from "../catalog";
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

/** Finds a rented host's offer and checks its location. Returns the offer or the problems. */
export function findHostOffer(q: OfferQuery, c: Catalog): Offer | { problems: string[] } {
  const offers = c.offers.filter((o) => o.provider === q.provider && o.kind === q.offerKind);
  const listed = offers.filter((o) => o.status === "listed").map((o) => o.name);
  const offer = offers.find((o) => o.name.toLowerCase() === q.name.trim().toLowerCase());
  if (!offer) {
    const hint = closest(q.name, listed, 1);
    return { problems: [`${q.path}.${q.field}: "${q.name}" is not a ${q.noun}; allowed: ${list(listed)}${hint.length ? `; did you mean ${hint[0]}?` : ""}`] };
  }
  if (offer.status !== "listed" && !q.allowUnlisted) {
    const by = q.provider === "scaleway" ? "Scaleway" : "Hetzner";
    return { problems: [`${q.path}.${q.field}: "${q.name}" is no longer listed by ${by}; pick a listed one: ${list(listed)}${q.unlistedFix ?? ""}`] };
  }
  const location = q.location.trim().toLowerCase();
  if (!offer.locations.includes(location)) {
    return { problems: [`${q.path}.${q.locationField}: "${q.location}" does not offer ${offer.name}; it is offered in ${offer.locations.join(", ")}`] };
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

/** Whether a CIDR (or address) means "anywhere": prefix length 0. */
export const isAnywhere = (cidr: string): boolean => /\/0+$/.test(cidr.trim());

/** Which of `ports` a rule's port field (number, "22", "8000-8100", empty or "any") covers. */
export function portsCovered(rulePort: unknown, ports: readonly number[]): number[] {
  if (rulePort === undefined || rulePort === null || rulePort === "" || rulePort === "any") return [...ports];
  const m = /^(\d+)(?:-(\d+))?$/.exec(String(rulePort).trim());
  if (!m) return [...ports];
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  return ports.filter((p) => p >= lo && p <= hi);
}

/** Secrets of hosts a stack creates with cloud-init: the admin user's public key, and the private key the layers log in with. */
export const CLOUD_HOST_SECRETS: readonly SecretNeed[] = [
  { key: "sshPublicKey", secret: false, how: 'pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"' },
  { key: "sshPrivateKey", secret: true, how: "pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519" },
];
