/**
 * From parsed stack config to facts: every host resolved against the catalog (GPU, offer,
 * location, power, price), sites with their power and footprint, and each deployment sized on
 * its hosts. Pure; the stack program, the components, `gpu-hosting check` and the policy pack all
 * read these same facts.
 */
import { catalog, findGpu, findLocation, findOffer, gpuMemoryGiB, type Catalog, type Gpu, type Offer } from "./catalog";
import type {
  DeploymentConfig,
  HetznerCloudHostConfig,
  HetznerDedicatedHostConfig,
  HostConfig,
  ScalewayHostConfig,
  SiteConfig,
  StackConfig,
} from "./config/schema";
import { cooling, energy, footprintDefaults, gridIntensity, hostPower, ownedMonthlyCost } from "./footprint";
import { sizeOnGpu, type DeploymentSizing } from "./sizing/deployment";

export type HostProvider = "scaleway" | "hetzner" | "onprem" | "colocation";

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
  sites: SiteFacts[];
  deployments: DeploymentSizing[];
  totals: { eurPerMonth: number; kwhPerMonth: number; co2eKgPerMonth: number; peakWatts: number };
  /** Problems found against the catalog, each starting with its config path. */
  problems: string[];
}

const providerOf = (h: HostConfig): HostProvider =>
  h.kind === "scaleway" ? "scaleway" : h.kind === "hetzner-dedicated" || h.kind === "hetzner-cloud" ? "hetzner" : h.kind;

function list(values: string[]): string {
  return values.length > 6 ? `${values.slice(0, 6).join(", ")}, …` : values.join(", ");
}

/** Resolves one host against the catalog; pushes problems and returns null when it cannot. */
export function resolveHost(h: HostConfig, i: number, sites: SiteConfig[], problems: string[], c: Catalog = catalog()): HostFacts | null {
  const path = `gpu-hosting:hosts[${i}]`;
  const provider = providerOf(h);
  let offer: Offer | undefined;
  let gpu: Gpu | undefined;
  let location: string;
  let gpuCount = 0;
  let nonGpuWatts: number;
  let ramGiB: number | null = null;

  if (h.kind === "onprem" || h.kind === "colocation") {
    location = h.site ?? "";
    if (h.inventory.gpu !== null) {
      gpu = findGpu(h.inventory.gpu, c);
      if (!gpu) {
        problems.push(`${path}.inventory.gpu: "${h.inventory.gpu}" is not in the GPU catalog; closest ids are listed by \`gpu-hosting catalog gpus\``);
        return null;
      }
    }
    gpuCount = h.inventory.gpuCount;
    nonGpuWatts = h.inventory.nonGpuWatts;
    ramGiB = h.inventory.ramGiB ?? null;
  } else {
    const r = h as ScalewayHostConfig | HetznerDedicatedHostConfig | HetznerCloudHostConfig;
    const name = r.kind === "scaleway" ? r.type : r.kind === "hetzner-dedicated" ? r.product : r.serverType;
    const field = h.kind === "scaleway" ? "type" : h.kind === "hetzner-dedicated" ? "product" : "serverType";
    const kind = h.kind === "scaleway" ? "gpu-instance" : h.kind === "hetzner-dedicated" ? "dedicated" : "cloud-cpu";
    offer = c.offers.find((o) => o.provider === provider && o.kind === kind && o.name.toLowerCase() === name.toLowerCase()) ?? findOffer(`${provider}-${name}`, c);
    if (!offer || offer.provider !== provider || offer.kind !== kind) {
      const names = c.offers.filter((o) => o.provider === provider && o.kind === kind).map((o) => o.name);
      problems.push(`${path}.${field}: "${name}" is not a ${provider} ${kind} offer; allowed: ${list(names)}`);
      return null;
    }
    location = (r.kind === "scaleway" ? r.zone : r.location).toLowerCase();
    const locField = h.kind === "scaleway" ? "zone" : "location";
    if (!offer.locations.includes(location)) {
      problems.push(`${path}.${locField}: ${offer.name} is not offered in "${location}"; it is offered in ${offer.locations.join(", ")}`);
      return null;
    }
    if (offer.status !== "listed") {
      problems.push(`${path}.${field}: ${offer.name} is no longer listed by ${provider}; pick a listed offer (\`gpu-hosting catalog offers\`)${h.kind === "hetzner-dedicated" ? " or adopt an existing server with serverNumber" : ""}`);
      if (!(h.kind === "hetzner-dedicated" && h.serverNumber)) return null;
    }
    gpu = offer.gpu ? findGpu(offer.gpu, c) : undefined;
    gpuCount = offer.gpuCount;
    nonGpuWatts = offer.nonGpuWatts;
    ramGiB = offer.ramGiB;
  }

  const loc = provider === "onprem" || provider === "colocation" ? undefined : findLocation(provider, location, c);
  const site = h.site ?? `${provider}-${location}`;
  const siteCfg = sites.find((s) => s.name === site);
  const country = loc?.country ?? siteCfg?.country ?? null;
  const power = hostPower({ gpuCount, gpuBoardWatts: gpu?.boardPowerWatts ?? 0, gpuPowerCapWatts: h.gpuPowerCapWatts, nonGpuWatts });
  const onprem = h.kind === "onprem" || h.kind === "colocation";
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
    hardwareEur: onprem ? (h.hardwareEur ?? null) : null,
    amortisationMonths: onprem ? h.amortisationMonths : 36,
    sshAllowedCidrs: h.sshAllowedCidrs,
  };
}

/** EU member states (ISO 3166-1 alpha-2). */
export const EU_COUNTRIES = new Set(
  "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split(" "),
);

function siteFacts(name: string, hosts: HostFacts[], cfg: SiteConfig | undefined): SiteFacts {
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

/** Sizes a deployment on its first host (every replica host must have the same GPU). */
function sizeDeploymentOnHosts(d: DeploymentConfig, i: number, hosts: Map<string, HostFacts>, problems: string[]): DeploymentSizing | null {
  const path = `gpu-hosting:deployments[${i}]`;
  try {
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
export function buildFleet(config: StackConfig, c: Catalog = catalog()): Fleet {
  const problems: string[] = [];
  const hosts = config.hosts.map((h, i) => resolveHost(h, i, config.sites, problems, c)).filter((h): h is HostFacts => h !== null);
  const bySite = new Map<string, HostFacts[]>(config.sites.map((s) => [s.name, []]));
  for (const h of hosts) {
    const list = bySite.get(h.site);
    if (list) list.push(h);
    else bySite.set(h.site, [h]);
  }
  const siteCfg = new Map(config.sites.map((s) => [s.name, s]));
  const sites = [...bySite].map(([n, hs]) => siteFacts(n, hs, siteCfg.get(n)));
  const hostByName = new Map(hosts.map((h) => [h.name, h]));
  const deployments = config.deployments
    .map((d, i) => sizeDeploymentOnHosts(d, i, hostByName, problems))
    .filter((d): d is DeploymentSizing => d !== null);
  const rent = hosts.reduce((s, h) => s + (h.rentEurPerMonth ?? 0), 0);
  const owned = hosts.reduce((s, h) => s + (h.rentEurPerMonth === null ? ownedMonthlyCost({ electricityEurPerMonth: 0, hardwareEur: h.hardwareEur ?? 0, amortisationMonths: h.amortisationMonths }) : 0), 0);
  const siteCosts = sites.reduce((s, x) => s + x.electricityEurPerMonth + x.colocationEurPerMonth, 0);
  return {
    environment: config.environment,
    hosts,
    sites,
    deployments,
    totals: {
      eurPerMonth: rent + owned + siteCosts,
      kwhPerMonth: sites.reduce((s, x) => s + x.kwhPerMonth, 0),
      co2eKgPerMonth: sites.reduce((s, x) => s + x.co2eKgPerMonth, 0),
      peakWatts: hosts.reduce((s, h) => s + h.peakWatts, 0),
    },
    problems,
  };
}
