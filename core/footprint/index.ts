/**
 * Power, energy, cost, carbon and water of hosts and sites. Pure.
 *
 * Host power = GPUs × (power cap or board power) × load + the rest of the server (CPU, RAM,
 * disks, fans, PSU loss). Site power = Σ host power × PUE. Energy per month = power × 730 h.
 * Formulas, defaults and sources: docs/footprint.md.
 */
import { VALIDATED_AT_BUILD, validators } from "../validatedAtBuild";
import raw from "./defaults.json";
import type { FootprintDefaults } from "./schema";

export type { FootprintDefaults } from "./schema";

let cached: FootprintDefaults | undefined;
/** Footprint defaults (PUE by cooling type, grid intensity, electricity price), validated once. */
export function footprintDefaults(): FootprintDefaults {
  cached ??= VALIDATED_AT_BUILD ? (raw as unknown as FootprintDefaults) : validators().validateFootprintDefaults(raw);
  return cached;
}

export const COOLING_TYPES = ["air", "liquid", "free-air", "adiabatic", "office"] as const;
export type CoolingType = (typeof COOLING_TYPES)[number];

export interface HostPowerInput {
  gpuCount: number;
  /** Board power of one GPU, watts. */
  gpuBoardWatts: number;
  /** Power cap set on each GPU (`nvidia-smi -pl`), watts; overrides board power. */
  gpuPowerCapWatts?: number;
  /** Everything but the GPUs at load, watts. */
  nonGpuWatts: number;
  /** Share of peak drawn on average, 0-1. @default 1 (always busy: an upper bound) */
  load?: number;
}

export interface HostPower {
  /** Peak draw, watts: what a power budget must hold. */
  peakWatts: number;
  /** Average draw at `load`, watts: what the energy bill sees. */
  averageWatts: number;
  gpuWatts: number;
}

/** Peak and average IT power of one host. */
export function hostPower(h: HostPowerInput): HostPower {
  const perGpu = Math.min(h.gpuPowerCapWatts ?? h.gpuBoardWatts, h.gpuBoardWatts);
  const gpuWatts = h.gpuCount * perGpu;
  const peakWatts = gpuWatts + h.nonGpuWatts;
  const load = h.load ?? 1;
  return { peakWatts, gpuWatts, averageWatts: peakWatts * load };
}

export interface EnergyInput {
  /** Average IT power, watts. */
  itWatts: number;
  pue: number;
  /** gCO2e per kWh of the grid feeding the site. */
  gridGramsPerKwh: number;
  /** Water drawn per kWh of IT energy, litres. */
  waterLitresPerKwh: number;
  /** Electricity price, EUR per kWh; 0 where rent includes it. */
  eurPerKwh: number;
}

export interface Energy {
  facilityWatts: number;
  kwhPerMonth: number;
  co2eKgPerMonth: number;
  waterLitresPerMonth: number;
  electricityEurPerMonth: number;
}

/** Facility energy, carbon, water and electricity cost per month. */
export function energy(e: EnergyInput): Energy {
  const hours = footprintDefaults().hoursPerMonth;
  const facilityWatts = e.itWatts * e.pue;
  const kwhPerMonth = (facilityWatts * hours) / 1000;
  const itKwh = (e.itWatts * hours) / 1000;
  return {
    facilityWatts,
    kwhPerMonth,
    co2eKgPerMonth: (kwhPerMonth * e.gridGramsPerKwh) / 1000,
    waterLitresPerMonth: itKwh * e.waterLitresPerKwh,
    electricityEurPerMonth: kwhPerMonth * e.eurPerKwh,
  };
}

/** PUE and water use of a cooling type. */
export function cooling(type: CoolingType): { pue: number; waterLitresPerKwh: number } {
  const c = footprintDefaults().cooling.find((x) => x.id === type);
  if (!c) throw new Error(`cooling "${type}" is unknown; use one of ${COOLING_TYPES.join(", ")}`);
  return { pue: c.pue, waterLitresPerKwh: c.waterLitresPerKwh };
}

/** Grid intensity for an ISO country code, falling back to the EU average. */
export function gridIntensity(country: string | undefined): number {
  const g = footprintDefaults().gridIntensity.gramsPerKwh;
  return (country ? g[country.toUpperCase()] : undefined) ?? g.EU ?? 240;
}

export interface OwnedCostInput {
  electricityEurPerMonth: number;
  /** Purchase price of the hardware, EUR. */
  hardwareEur?: number;
  /** Months over which the purchase is written off. @default 36 */
  amortisationMonths?: number;
  /** Colocation rent per month, EUR. */
  colocationEurPerMonth?: number;
}

/** Monthly cost of an owned host: electricity + amortised hardware + colocation rent. */
export function ownedMonthlyCost(c: OwnedCostInput): number {
  const months = c.amortisationMonths ?? 36;
  return c.electricityEurPerMonth + (c.hardwareEur ?? 0) / months + (c.colocationEurPerMonth ?? 0);
}
