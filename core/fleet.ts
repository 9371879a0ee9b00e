/**
 * From parsed stack config to facts: every host resolved against the catalog (GPU, offer,
 * location, power, price), sites with their power and footprint, and each deployment sized on
 * its hosts. Pure; the stack program, the components, `gpu-hosting check` and the policy pack all
 * read these same facts.
 */
import { catalog, findLocation, gpuMemoryGiB, type Catalog } from "./catalog";
import type { DeploymentConfig, SiteConfig, StackConfig } from "./config/schema";
import { resolveCluster, type ClusterFacts } from "./clusters";
import { providerOf, resolveAndValidate, type HostConfig, type HostProvider } from "./hosts";
import { concurrencyPerReplica } from "./config/replicas";
import { cooling, energy, footprintDefaults, gridIntensity, hostPower, ownedMonthlyCost } from "./footprint";
import { sizeOnGpu, type DeploymentSizing } from "./sizing/deployment";

export type { HostProvider };

/** What every host hands the software layers and the checks, whatever its kind. */
export interface HostFacts {
  name: string;
  kind: HostConfig["kind"];
  provider: HostProvider;
  /** Zone, location, or the site name for owned hosts. */
  location: string;
  /** Site the host draws power from: declared, or `<provider>-<location>`. */
  site: string;
  country: string | null;
  /** Whether the host is in the EU; null when unknown (an owned host at a site without country). */
  eu: boolean | null;
  /** Catalog offer for rented hosts. */
  offerId: string | null;
  /** Catalog GPU id, null for CPU-only hosts. */
  gpu: string | null;
  gpuVendor: "nvidia" | "amd" | "none";
  gpuCount: number;
  /** Driver-reported memory per GPU, GiB. */
  gpuMemoryGiB: number;
  gpuBoardWatts: number;
  gpuPowerCapWatts: number | null;
  nonGpuWatts: number;
  /** GPUs at board power or cap, plus the rest of the server. */
  peakWatts: number;
  ramGiB: number | null;
  /** Rent per month for rented hosts, null for owned ones. */
  rentEurPerMonth: number | null;
  setupEur: number;
  hardwareEur: number | null;
  amortisationMonths: number;
  sshAllowedCidrs: string[];
}

export interface SiteFacts {
  name: string;
  /** Declared in the stack, or implied by a provider location. */
  declared: boolean;
  hosts: string[];
  itWatts: number;
  pue: number;
  facilityWatts: number;
  powerBudgetWatts: number | null;
  kwhPerMonth: number;
  co2eKgPerMonth: number;
  waterLitresPerMonth: number;
  /** Electricity paid directly (owned hosts), EUR per month. */
  electricityEurPerMonth: number;
  colocationEurPerMonth: number;
}

export interface Fleet {
  environment: StackConfig["environment"];
  hosts: HostFacts[];
  /** Kubernetes clusters deployments run on (core/clusters.ts). */
  clusters: ClusterFacts[];
  sites: SiteFacts[];
  deployments: DeploymentSizing[];
  totals: { eurPerMonth: number; kwhPerMonth: number; co2eKgPerMonth: number; peakWatts: number };
  /** Problems found against the catalog, each starting with its config path. */
  problems: string[];
}

/** Resolves one host against the catalog; pushes problems and returns null when it cannot be placed. */
export function resolveHost(h: HostConfig, i: number, sites: SiteConfig[], problems: string[], c: Catalog = catalog()): HostFacts | null {
  const path = `gpu-hosting:hosts[${i}]`;
  const r = resolveAndValidate(h, path, c);
  for (const p of r.problems) if (!problems.includes(p)) problems.push(p);
  if (!r.resolved) return null;
  const { offer, gpu, location, gpuCount, nonGpuWatts, ramGiB } = r.resolved;
  const provider = providerOf(h);
  const owned = offer === null;
  const loc = owned ? undefined : findLocation(provider, location, c);
  const site = h.site ?? `${provider}-${location}`;
  const siteCfg = sites.find((s) => s.name === site);
  const country = loc?.country ?? siteCfg?.country ?? null;
  const power = hostPower({ gpuCount, gpuBoardWatts: gpu?.boardPowerWatts ?? 0, gpuPowerCapWatts: h.gpuPowerCapWatts, nonGpuWatts });
  return {
    name: h.name,
    kind: h.kind,
    provider,
    location,
    site,
    country,
    eu: loc ? loc.eu : country ? EU_COUNTRIES.has(country) : null,
    offerId: offer?.id ?? null,
    gpu: gpu?.id ?? null,
    gpuVendor: gpu ? gpu.vendor : "none",
    gpuCount,
    gpuMemoryGiB: gpu ? gpuMemoryGiB(gpu) : 0,
    gpuBoardWatts: gpu?.boardPowerWatts ?? 0,
    gpuPowerCapWatts: h.gpuPowerCapWatts ?? null,
    nonGpuWatts,
    peakWatts: power.peakWatts,
    ramGiB,
    rentEurPerMonth: offer ? offer.eurPerMonth : null,
    setupEur: offer?.setupEur ?? 0,
    hardwareEur: r.resolved.hardwareEur,
    amortisationMonths: r.resolved.amortisationMonths,
    sshAllowedCidrs: h.sshAllowedCidrs,
  };
}

/** EU member states (ISO 3166-1 alpha-2). */
export const EU_COUNTRIES = new Set(
  "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split(" "),
);

/** What a site counts of a host, or of a cluster's node pool. */
type SiteMember = Pick<HostFacts, "name" | "peakWatts" | "provider" | "country" | "rentEurPerMonth">;

function siteFacts(name: string, hosts: SiteMember[], cfg: SiteConfig | undefined): SiteFacts {
  const d = footprintDefaults();
  const itWatts = hosts.reduce((s, h) => s + h.peakWatts, 0);
  const provider = hosts[0]?.provider;
  const rented = provider === "scaleway" || provider === "hetzner";
  const cool = cooling(cfg?.cooling ?? "air");
  const pue = cfg?.pue ?? (rented && !cfg ? (d.providerPue[provider]?.pue ?? cool.pue) : cool.pue);
  const country = cfg?.country ?? hosts[0]?.country ?? undefined;
  const owned = hosts.filter((h) => h.rentEurPerMonth === null);
  const ownedIt = owned.reduce((s, h) => s + h.peakWatts, 0);
  const price = cfg?.electricityEurPerKwh ?? d.electricity.defaultEurPerKwh;
  const e = energy({ itWatts, pue, gridGramsPerKwh: cfg?.gridGramsPerKwh ?? gridIntensity(country), waterLitresPerKwh: cool.waterLitresPerKwh, eurPerKwh: 0 });
  const paid = energy({ itWatts: ownedIt, pue, gridGramsPerKwh: 0, waterLitresPerKwh: 0, eurPerKwh: price });
  return {
    name,
    declared: cfg !== undefined,
    hosts: hosts.map((h) => h.name),
    itWatts,
    pue,
    facilityWatts: e.facilityWatts,
    powerBudgetWatts: cfg?.powerBudgetWatts ?? null,
    kwhPerMonth: e.kwhPerMonth,
    co2eKgPerMonth: e.co2eKgPerMonth,
    waterLitresPerMonth: e.waterLitresPerMonth,
    electricityEurPerMonth: paid.electricityEurPerMonth,
    colocationEurPerMonth: cfg?.colocationEurPerMonth ?? 0,
  };
}

/**
 * Sizes one replica of a deployment on its first host (every replica host must have the same GPU),
 * or on its cluster's node type, for its share of the concurrency (core/config/replicas.ts). Cost,
 * power and footprint are counted per host and per cluster pool elsewhere, never per deployment,
 * so replicas are not counted twice.
 */
function sizeDeploymentOnHosts(full: DeploymentConfig, i: number, hosts: Map<string, HostFacts>, problems: string[], clusters: Map<string, ClusterFacts> = new Map()): DeploymentSizing | null {
  const path = `gpu-hosting:deployments[${i}]`;
  const d: DeploymentConfig = { ...full, concurrency: concurrencyPerReplica(full) };
  try {
    if (d.cluster) {
      const c = clusters.get(d.cluster);
      if (!c) return null;
      // Each replica gets one node's GPUs (or the deployment's gpuCount of them).
      return sizeOnGpu(d, path, c.gpu, d.gpuCount ?? Math.max(c.gpusPerNode, 1), null, []);
    }
    if (d.hosts) {
      const hs = d.hosts.map((n) => hosts.get(n)).filter((h): h is HostFacts => h !== undefined);
      if (hs.length === 0) return null;
      const first = hs[0]!;
      const other = hs.find((h) => h.gpu !== first.gpu || h.gpuCount !== first.gpuCount);
      if (other) {
        problems.push(`${path}.hosts: replicas must have the same GPUs; ${first.name} has ${first.gpuCount} × ${first.gpu ?? "CPU"}, ${other.name} has ${other.gpuCount} × ${other.gpu ?? "CPU"}`);
      }
      return sizeOnGpu(d, path, first.gpu, d.gpuCount ?? Math.max(first.gpuCount, 1), first.ramGiB, d.hosts);
    }
    return sizeOnGpu(d, path, d.gpu ?? null, d.gpuCount ?? 1, null, []);
  } catch (e) {
    problems.push((e as Error).message);
    return null;
  }
}

/** Resolves a parsed stack config into facts. Never throws for catalog problems: it lists them. */
export function buildFleet(config: StackConfig, cat: Catalog = catalog()): Fleet {
  const problems: string[] = [];
  const hosts = config.hosts.map((h, i) => resolveHost(h, i, config.sites, problems, cat)).filter((h): h is HostFacts => h !== null);
  const bySite = new Map<string, SiteMember[]>(config.sites.map((s) => [s.name, []]));
  for (const h of hosts) {
    const list = bySite.get(h.site);
    if (list) list.push(h);
    else bySite.set(h.site, [h]);
  }
  const clusters = config.clusters.flatMap((c, i) => {
    const r = resolveCluster(c, i, cat);
    if ("problems" in r) {
      problems.push(...r.problems);
      return [];
    }
    return [r];
  });
  const clusterByName = new Map(clusters.map((c) => [c.name, c]));
  config.deployments.forEach((d, i) => {
    const c = d.cluster ? clusterByName.get(d.cluster) : undefined;
    if (c && d.gpuCount !== undefined && d.gpuCount > c.gpusPerNode) problems.push(`gpu-hosting:deployments[${i}].gpuCount: ${d.gpuCount} GPUs per replica, but cluster ${c.name}'s nodes have ${c.gpusPerNode}; a replica runs on one node`);
    if (d.autoscaling && !d.cluster) problems.push(`gpu-hosting:deployments[${i}].autoscaling: applies to cluster deployments; name a cluster, or remove it`);
    if (c && d.autoscaling && d.autoscaling.maxReplicas > c.nodes) problems.push(`gpu-hosting:deployments[${i}].autoscaling.maxReplicas: ${d.autoscaling.maxReplicas} replicas need ${d.autoscaling.maxReplicas} nodes, but cluster ${c.name} has ${c.nodes}; raise its pool size (or autoscaling.maxSize) or lower maxReplicas`);
    if (d.autoscaling && d.autoscaling.minReplicas > d.autoscaling.maxReplicas) problems.push(`gpu-hosting:deployments[${i}].autoscaling: minReplicas ${d.autoscaling.minReplicas} is above maxReplicas ${d.autoscaling.maxReplicas}; swap them`);
    if (c && d.replicas > c.nodes) problems.push(`gpu-hosting:deployments[${i}].replicas: ${d.replicas} replicas need ${d.replicas} nodes, but cluster ${c.name} has ${c.nodes}; raise its pool size (or autoscaling.maxSize) or lower replicas`);
  });
  for (const c of clusters) {
    if (c.site === null) continue;
    const list = bySite.get(c.site);
    const pool: SiteMember = { name: `${c.name} (cluster)`, peakWatts: c.peakWatts, provider: "scaleway", country: c.country, rentEurPerMonth: c.eurPerMonth };
    if (list) list.push(pool);
    else bySite.set(c.site, [pool]);
  }
  const siteCfg = new Map(config.sites.map((s) => [s.name, s]));
  const sites = [...bySite].map(([n, hs]) => siteFacts(n, hs, siteCfg.get(n)));
  const hostByName = new Map(hosts.map((h) => [h.name, h]));
  const deployments = config.deployments
    .map((d, i) => sizeDeploymentOnHosts(d, i, hostByName, problems, clusterByName))
    .filter((d): d is DeploymentSizing => d !== null);
  const rent = hosts.reduce((s, h) => s + (h.rentEurPerMonth ?? 0), 0) + clusters.reduce((s, c) => s + (c.eurPerMonth ?? 0), 0);
  const owned = hosts.reduce((s, h) => s + (h.rentEurPerMonth === null ? ownedMonthlyCost({ electricityEurPerMonth: 0, hardwareEur: h.hardwareEur ?? 0, amortisationMonths: h.amortisationMonths }) : 0), 0);
  const siteCosts = sites.reduce((s, x) => s + x.electricityEurPerMonth + x.colocationEurPerMonth, 0);
  return {
    environment: config.environment,
    hosts,
    clusters,
    sites,
    deployments,
    totals: {
      eurPerMonth: rent + owned + siteCosts,
      kwhPerMonth: sites.reduce((s, x) => s + x.kwhPerMonth, 0),
      co2eKgPerMonth: sites.reduce((s, x) => s + x.co2eKgPerMonth, 0),
      peakWatts: hosts.reduce((s, h) => s + h.peakWatts, 0) + clusters.reduce((s, c) => s + c.peakWatts, 0),
    },
    problems,
  };
}
