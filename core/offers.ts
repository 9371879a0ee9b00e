/**
 * Offers as `fit` and `catalog offers` see them: which pass the filters, their GPU memory, and the
 * footprint (peak watts, kWh and CO2e per month) of one server. Pure.
 */
import { catalog, findLocation, gpuMemoryGiB, type Catalog, type Offer } from "./catalog";
import { energy, footprintDefaults, gridIntensity, hostPower } from "./footprint";

/** Which offers to consider: shared by `fit` and `catalog offers`. */
export interface OfferFilter {
  providers?: string[];
  /** Keep only offers with at least one EU location (and only those locations). */
  euOnly?: boolean;
  /** Include offers no longer listed by the provider. @default false */
  includeUnlisted?: boolean;
  /** Only offers with one of these catalog GPU ids. */
  gpus?: string[];
  /** Only offers whose GPUs together have at least this much memory (driver-reported), GiB. */
  minVramGiB?: number;
}

/** GPU memory of an offer, all GPUs together, GiB (0 for CPU offers). */
export function offerVramGiB(offer: Offer, c: Catalog = catalog()): number {
  const gpu = offer.gpu ? c.gpus.find((g) => g.id === offer.gpu) : undefined;
  return gpu ? gpuMemoryGiB(gpu) * offer.gpuCount : 0;
}

/** Offers passing the filters, in catalog order. */
export function filterOffers(f: OfferFilter, c: Catalog = catalog()): Offer[] {
  return c.offers.filter((o) => {
    if (!f.includeUnlisted && o.status !== "listed") return false;
    if (f.providers && f.providers.length > 0 && !f.providers.includes(o.provider)) return false;
    if (f.gpus && f.gpus.length > 0 && (o.gpu === null || !f.gpus.includes(o.gpu))) return false;
    if (f.minVramGiB !== undefined && offerVramGiB(o, c) < f.minVramGiB) return false;
    if (f.euOnly && !o.locations.some((l) => findLocation(o.provider, l, c)?.eu === true)) return false;
    return true;
  });
}

/** Peak watts, kWh and CO2e per month of one server of an offer, at its first kept location. */
export function offerFootprint(offer: Offer, locations: readonly string[], c: Catalog = catalog()): { peakWatts: number; kwhPerMonth: number; co2eKgPerMonth: number } {
  const gpu = offer.gpu ? c.gpus.find((g) => g.id === offer.gpu) : undefined;
  const power = hostPower({ gpuCount: offer.gpuCount, gpuBoardWatts: gpu?.boardPowerWatts ?? 0, nonGpuWatts: offer.nonGpuWatts });
  const pue = footprintDefaults().providerPue[offer.provider]?.pue ?? 1.54;
  const country = findLocation(offer.provider, locations[0] ?? offer.locations[0]!, c)?.country;
  const en = energy({ itWatts: power.peakWatts, pue, gridGramsPerKwh: gridIntensity(country), waterLitresPerKwh: 0, eurPerKwh: 0 });
  return { peakWatts: power.peakWatts, kwhPerMonth: en.kwhPerMonth, co2eKgPerMonth: en.co2eKgPerMonth };
}
