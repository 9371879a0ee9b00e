/**
 * Buy, co-locate or pay per use, beside renting: what a setup that serves the model costs per
 * month when the servers are owned (on premises or in a co-location rack) or when the GPUs are
 * serverless (billed per second while busy). Pure; `gpu-hosting fit` prints these rows.
 *
 * - Own: hardware (core/catalog/data/hardware.json, or `hardwareEur`) written off over `years`,
 *   plus electricity for the server at peak draw around the clock (an upper bound: idle draw is
 *   lower) × the PUE of its cooling, at `eurPerKwh`.
 * - Co-locate: the same, plus `coloEurPerKwMonth` for each kW of the servers' peak IT power.
 * - Serverless (core/catalog/data/serverless.json): the per-second GPU price × GPUs ×
 *   `busyHoursPerDay`; energy counted for the GPUs' board power over the busy hours.
 * - Break-even utilisation against the cheapest rental that fits: for owning, the share of the
 *   month the rental would have to run (billed by the hour) to cost what owning costs; for
 *   serverless, the share of the month the serverless GPUs may be busy before they cost more
 *   than the rental.
 */
import { catalog, findGpu, type Catalog, type HardwarePrices, type Offer, type PriceConfidence, type ServerlessPrices } from "./catalog";
import { cooling, energy, footprintDefaults, gridIntensity, hostPower, type CoolingType } from "./footprint";
import { bestSetup, type FitRequest, type OfferFit } from "./planner";
import { VALIDATED_AT_BUILD, validators } from "./validatedAtBuild";
import hardwareJson from "./catalog/data/hardware.json";
import serverlessJson from "./catalog/data/serverless.json";

let prices: { hardware: HardwarePrices; serverless: ServerlessPrices } | undefined;
/** Hardware and serverless prices, validated once; every GPU id must be in the GPU catalog. */
export function ownershipPrices(c: Catalog = catalog()): { hardware: HardwarePrices; serverless: ServerlessPrices } {
  if (prices) return prices;
  const raw = { hardware: hardwareJson, serverless: serverlessJson };
  prices = VALIDATED_AT_BUILD ? (raw as unknown as { hardware: HardwarePrices; serverless: ServerlessPrices }) : validators().validateOwnershipPrices(raw, c);
  return prices;
}

export interface OwnedCostInput {
  /** Purchase price of all servers, EUR. */
  hardwareEur: number;
  /** Write-off period, years. */
  years: number;
  /** Peak IT power of all servers, watts. */
  itWatts: number;
  pue: number;
  eurPerKwh: number;
  gridGramsPerKwh: number;
  /** Co-location rent per kW of peak IT power and month, EUR; absent on premises. */
  coloEurPerKwMonth?: number;
}

export interface OwnedCost {
  capexEurPerMonth: number;
  electricityEurPerMonth: number;
  coloEurPerMonth: number;
  eurPerMonth: number;
  kwhPerMonth: number;
  co2eKgPerMonth: number;
}

/** Monthly cost of owned servers: amortised hardware + electricity at peak × PUE, around the clock (+ co-location rent). */
export function ownedCost(i: OwnedCostInput): OwnedCost {
  const e = energy({ itWatts: i.itWatts, pue: i.pue, gridGramsPerKwh: i.gridGramsPerKwh, waterLitresPerKwh: 0, eurPerKwh: i.eurPerKwh });
  const capexEurPerMonth = i.hardwareEur / (i.years * 12);
  const coloEurPerMonth = i.coloEurPerKwMonth !== undefined ? (i.coloEurPerKwMonth * i.itWatts) / 1000 : 0;
  return {
    capexEurPerMonth,
    electricityEurPerMonth: e.electricityEurPerMonth,
    coloEurPerMonth,
    eurPerMonth: capexEurPerMonth + e.electricityEurPerMonth + coloEurPerMonth,
    kwhPerMonth: e.kwhPerMonth,
    co2eKgPerMonth: e.co2eKgPerMonth,
  };
}

export interface ServerlessCostInput {
  usdPerSecond: number;
  usdPerEur: number;
  /** GPUs billed at once (per container × containers). */
  gpus: number;
  busyHoursPerDay: number;
  /** Board power of one GPU, watts. */
  gpuBoardWatts: number;
  pue: number;
  gridGramsPerKwh: number;
}

/** Monthly cost and energy of serverless GPUs busy `busyHoursPerDay` (a month = 730 h). */
export function serverlessCost(i: ServerlessCostInput): { eurPerBusyHour: number; eurPerMonth: number; kwhPerMonth: number; co2eKgPerMonth: number } {
  const hoursPerMonth = footprintDefaults().hoursPerMonth;
  const busyHours = (i.busyHoursPerDay / 24) * hoursPerMonth;
  const eurPerBusyHour = (i.usdPerSecond * 3600 * i.gpus) / i.usdPerEur;
  const kwhPerMonth = (i.gpus * i.gpuBoardWatts * i.pue * busyHours) / 1000;
  return { eurPerBusyHour, eurPerMonth: eurPerBusyHour * busyHours, kwhPerMonth, co2eKgPerMonth: (kwhPerMonth * i.gridGramsPerKwh) / 1000 };
}

/**
 * Utilisation (share of the month's hours) at which two costs are equal. Owning (fixed `fixedEurPerMonth`)
 * against a rental billed by the hour: owning pays off above it. Serverless (`perBusyHour`) against a
 * rental's fixed month: serverless costs less below it. Null when the rental is billed by the month
 * only (it costs the same busy or idle, so no utilisation balances the two).
 */
export function breakEvenUtilisation(kind: "own" | "serverless", own: { fixedEurPerMonth?: number; eurPerBusyHour?: number }, rental: { eurPerMonth: number; eurPerHour: number | null }): number | null {
  const hours = footprintDefaults().hoursPerMonth;
  if (kind === "own") {
    if (rental.eurPerHour === null) return null;
    return (own.fixedEurPerMonth ?? 0) / (rental.eurPerHour * hours);
  }
  return rental.eurPerMonth / ((own.eurPerBusyHour ?? Infinity) * hours);
}

export interface OwnershipOptions {
  /** Write-off period, years. @default 3 */
  years?: number;
  /** Electricity price, EUR per kWh. @default footprint defaults (EU non-household average) */
  eurPerKwh?: number;
  /** Cooling of the owned servers' room, for its PUE. @default "air" */
  cooling?: CoolingType;
  /**
   * Co-location rent per kW of peak IT power and month. Without it, the co-location rows carry no
   * rent: their €/month is hardware and electricity, and `breakEvenRackEurPerKwMonth` says up to
   * which rent co-locating beats the cheapest rental.
   */
  coloEurPerKwMonth?: number;
  /** GPU ids to own (own and co-location rows), whatever `req.gpus` says; default every GPU with a hardware price that `req.gpus` allows. */
  ownedGpus?: readonly string[];
  /** Serverless rows. @default true */
  includeServerless?: boolean;
  /** Hours a day the serverless GPUs are busy (incl. start-up and keep-warm). @default 8 */
  busyHoursPerDay?: number;
  /** Price of one server, EUR, instead of the hardware list (applies to every owned row). */
  hardwareEur?: number;
  /** Country of the owned servers and of the grid, ISO code. @default EU average grid */
  country?: string;
}

export interface OwnershipRow {
  kind: "own" | "colo" | "serverless";
  /** "own 2 × 1× rtx-pro-6000-blackwell-max-q server", "Modal 3 × 1× H100". */
  label: string;
  gpu: string;
  gpusPerReplica: number;
  replicas: number;
  dtype: string;
  tokensPerSecondPerUser: number | null;
  eurPerMonth: number;
  kwhPerMonth: number;
  co2eKgPerMonth: number;
  /** Purchase price of all servers (own, colo), EUR; null for serverless. */
  hardwareEur: number | null;
  /** @see breakEvenUtilisation; null without a fitting rental or against a monthly-only rental. */
  breakEvenUtilisation: number | null;
  /** The rental compared against, `replicas × offer id`, and its price per month. */
  against: string | null;
  againstEurPerMonth: number | null;
  /** Weakest confidence of the prices used. */
  confidence: PriceConfidence;
  sources: string[];
  /** Co-location rows: the rent per kW-month included in eurPerMonth; null when none was given (the row then has no rent in it). */
  rackEurPerKwMonth: number | null;
  /**
   * Co-location rows: the rent per kW of peak IT power and month at which co-locating costs as
   * much as the rental compared against, running all month; at or below 0, never cheaper. Null
   * for other rows and without a fitting rental.
   */
  breakEvenRackEurPerKwMonth: number | null;
  /** Peak IT power of all servers, watts (own, colo); null for serverless. */
  itWatts: number | null;
}

const RANK: Record<PriceConfidence, number> = { confirmed: 0, secondary: 1, estimate: 2 };
const weakest = (...cs: PriceConfidence[]): PriceConfidence => cs.reduce((a, b) => (RANK[b] > RANK[a] ? b : a), "confirmed");

/** Price, watts and RAM of one owned server with `count` × `gpu`, or null when the lists have no price. */
export function serverPrice(gpu: string, count: number, p: HardwarePrices = ownershipPrices().hardware): { eur: number; nonGpuWatts: number; ramGiB: number; label: string; confidence: PriceConfidence; sources: string[] } | null {
  const system = p.systems.find((s) => s.gpu === gpu && s.gpuCount === count);
  if (system) return { eur: system.usd / p.usdPerEur.value, nonGpuWatts: system.nonGpuWatts, ramGiB: 1024, label: system.label, confidence: weakest(system.source.confidence, p.usdPerEur.source.confidence), sources: [system.source.url] };
  if (p.systems.some((s) => s.gpu === gpu)) return null; // SXM GPUs come only as whole systems
  const card = p.cards.find((x) => x.gpu === gpu);
  const base = p.baseServers.find((b) => b.maxGpus >= count);
  if (!card || !base) return null;
  return {
    eur: base.eur + (count * card.usd) / p.usdPerEur.value,
    nonGpuWatts: base.nonGpuWatts,
    ramGiB: base.ramGiB,
    label: `${base.label} + ${count} × ${gpu}`,
    confidence: weakest(card.source.confidence, base.source.confidence, p.usdPerEur.source.confidence),
    sources: [card.source.url, base.source.url],
  };
}

/** GPU ids the hardware list prices (as cards or whole systems): what can be owned or co-located. */
export function ownableGpus(p: HardwarePrices = ownershipPrices().hardware): string[] {
  return [...new Set([...p.systems.map((s) => s.gpu), ...p.cards.map((x) => x.gpu)])];
}

/**
 * The GPUs `--owned` names: a catalog GPU (id, name or alias), or the start of GPU ids naming a
 * family (`rtx-pro-6000-blackwell`: its Max-Q and Server editions). Only GPUs with a hardware
 * price; an empty list when nothing matches.
 */
export function matchOwnedGpus(query: string, c: Catalog = catalog(), p: HardwarePrices = ownershipPrices(c).hardware): string[] {
  const ownable = ownableGpus(p);
  const exact = findGpu(query, c);
  if (exact) return ownable.includes(exact.id) ? [exact.id] : [];
  const q = query.trim().toLowerCase();
  return q.length < 3 ? [] : ownable.filter((id) => id.startsWith(`${q}-`));
}

/**
 * An offer-shaped record for hardware one would own or use serverless, so the planner sizes it as
 * it sizes rentals. Only the fields the planner reads are set; it is never validated or listed.
 */
function hypothetical(id: string, gpu: string, count: number, nonGpuWatts: number, ramGiB: number): Offer {
  const o: Partial<Offer> = {
    id,
    provider: "onprem" as Offer["provider"],
    kind: "dedicated",
    name: id,
    gpu,
    gpuCount: count,
    vcpus: null,
    cpu: null,
    ramGiB,
    nonGpuWatts,
    eurPerHour: null,
    eurPerMonth: 0,
    setupEur: 0,
    billing: "monthly",
    locations: ["-"],
    status: "listed",
  };
  return o as Offer;
}

/**
 * Own, co-locate and serverless rows for the request: per GPU with a price, the fewest GPUs per
 * server (1, 2, 4, 8) and replicas that fit and reach the asked speed; cheapest first.
 * `rentals` are the planner's rows; the first that meets the need is the break-even reference.
 */
export function compareOwnership(req: FitRequest, rentals: readonly OfferFit[], o: OwnershipOptions = {}, c: Catalog = catalog()): OwnershipRow[] {
  const { hardware, serverless } = ownershipPrices(c);
  const d = footprintDefaults();
  const years = o.years ?? 3;
  const eurPerKwh = o.eurPerKwh ?? d.electricity.defaultEurPerKwh;
  const pue = cooling(o.cooling ?? "air").pue;
  const grid = gridIntensity(o.country);
  const busy = o.busyHoursPerDay ?? 8;
  const ref = rentals.find((r) => r.meets) ?? null;
  // A rental billed by the month costs the same busy or idle: it has no hourly price to weigh.
  const refPrice = ref ? { eurPerMonth: ref.eurPerMonth, eurPerHour: ref.offer.eurPerHour === null || ref.offer.billing === "monthly" ? null : ref.offer.eurPerHour * ref.replicas } : null;
  const against = ref ? `${ref.replicas} × ${ref.offer.id}` : null;
  const rows: OwnershipRow[] = [];
  /** The fields every row takes from its sized setup, its cost and the rental compared against. */
  const common = (gpu: string, k: number, fit: OfferFit, cost: { eurPerMonth: number; kwhPerMonth: number; co2eKgPerMonth: number }) => ({
    gpu,
    gpusPerReplica: k,
    replicas: fit.replicas,
    dtype: fit.dtype,
    tokensPerSecondPerUser: fit.tokensPerSecondPerUser,
    eurPerMonth: cost.eurPerMonth,
    kwhPerMonth: cost.kwhPerMonth,
    co2eKgPerMonth: cost.co2eKgPerMonth,
    against,
    againstEurPerMonth: ref?.eurPerMonth ?? null,
  });

  // Owned servers: every GPU with a card or system price (or those asked for).
  const wanted = (gpu: string): boolean => !req.gpus || req.gpus.length === 0 || req.gpus.includes(gpu);
  // --owned names the GPUs to own outright; otherwise the offer filter (--gpu) applies here too.
  const ownGpus = ownableGpus(hardware).filter((g) => (o.ownedGpus ? o.ownedGpus.includes(g) : wanted(g)));
  for (const gpu of ownGpus) {
    const counts = hardware.systems.some((s) => s.gpu === gpu) ? hardware.systems.filter((s) => s.gpu === gpu).map((s) => s.gpuCount) : [1, 2, 4, 8];
    for (const k of counts) {
      const server = serverPrice(gpu, k, hardware);
      if (!server) continue;
      const fit = bestSetup(req, hypothetical(`own-${k}x-${gpu}`, gpu, k, server.nonGpuWatts, server.ramGiB), c, undefined, false);
      if (!fit.meets) continue;
      const g = findGpu(gpu, c)!;
      const itWatts = hostPower({ gpuCount: k, gpuBoardWatts: g.boardPowerWatts, nonGpuWatts: server.nonGpuWatts }).peakWatts * fit.replicas;
      const hardwareEur = (o.hardwareEur ?? server.eur) * fit.replicas;
      const confidence = o.hardwareEur !== undefined ? "confirmed" : server.confidence;
      for (const kind of ["own", "colo"] as const) {
        const cost = ownedCost({ hardwareEur, years, itWatts, pue, eurPerKwh, gridGramsPerKwh: grid, ...(kind === "colo" ? { coloEurPerKwMonth: o.coloEurPerKwMonth } : {}) });
        const rentFree = kind === "colo" && o.coloEurPerKwMonth === undefined;
        rows.push({
          kind,
          label: `${kind === "own" ? "own" : "co-locate"} ${fit.replicas} × ${k}× ${gpu} server`,
          ...common(gpu, k, fit, cost),
          hardwareEur,
          // Without a rent the co-location cost is incomplete: its break-even is a rent, not a utilisation.
          breakEvenUtilisation: refPrice && !rentFree ? breakEvenUtilisation("own", { fixedEurPerMonth: cost.eurPerMonth }, refPrice) : null,
          confidence,
          sources: o.hardwareEur !== undefined ? ["--hardware-eur"] : server.sources,
          rackEurPerKwMonth: kind === "colo" ? (o.coloEurPerKwMonth ?? null) : null,
          breakEvenRackEurPerKwMonth: kind === "colo" && ref ? (ref.eurPerMonth - (cost.eurPerMonth - cost.coloEurPerMonth)) / (itWatts / 1000) : null,
          itWatts,
        });
      }
      break; // more GPUs per server only cost more
    }
  }

  // Serverless GPUs.
  for (const p of o.includeServerless === false ? [] : serverless.providers) {
    for (const s of p.gpus.filter((x) => wanted(x.gpu))) {
      const g = findGpu(s.gpu, c)!;
      for (const k of [1, 2, 4, 8].filter((n) => n <= p.maxGpus)) {
        const fit = bestSetup(req, hypothetical(`${p.provider}-${k}x-${s.gpu}`, s.gpu, k, 0, 1024), c, undefined, false);
        if (!fit.meets) continue;
        const cost = serverlessCost({ usdPerSecond: s.usdPerSecond, usdPerEur: hardware.usdPerEur.value, gpus: k * fit.replicas, busyHoursPerDay: busy, gpuBoardWatts: g.boardPowerWatts, pue, gridGramsPerKwh: grid });
        rows.push({
          kind: "serverless",
          label: `${p.name} ${fit.replicas} × ${k}× ${s.label}`,
          ...common(s.gpu, k, fit, cost),
          hardwareEur: null,
          breakEvenUtilisation: refPrice ? breakEvenUtilisation("serverless", { eurPerBusyHour: cost.eurPerBusyHour }, refPrice) : null,
          confidence: weakest(s.source.confidence, hardware.usdPerEur.source.confidence),
          sources: [s.source.url],
          rackEurPerKwMonth: null,
          breakEvenRackEurPerKwMonth: null,
          itWatts: null,
        });
        break;
      }
    }
  }
  const order = { own: 0, colo: 1, serverless: 2 } as const;
  return rows.sort((a, b) => a.eurPerMonth - b.eurPerMonth || order[a.kind] - order[b.kind] || a.label.localeCompare(b.label));
}
