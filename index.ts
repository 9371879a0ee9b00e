/**
 * The stack program: parse stack config, resolve the fleet against the catalog, size every
 * deployment, export the facts. Thin by design: logic lives in core/ (pure) and components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, stackConfigInput } from "./core/config/schema";
import { buildFleet } from "./core/fleet";

const parsed = parseStackConfig(stackConfigInput(pulumi.runtime.allConfig()));
if (!parsed.ok) throw new Error(`invalid stack config:\n  ${parsed.problems.join("\n  ")}`);
const fleet = buildFleet(parsed.config);
if (fleet.problems.length > 0) throw new Error(`invalid stack config:\n  ${fleet.problems.join("\n  ")}`);

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Per deployment: model, GPU, weights and KV cache per GPU, KV tokens, fit verdict. */
export const sizing = fleet.deployments.map((s) => ({
  name: s.name,
  model: s.model,
  gpu: s.gpu ? `${s.gpuCount} × ${s.gpu}` : "CPU",
  engine: s.engine,
  dtype: s.dtype,
  hosts: s.hosts,
  weightsGiBPerGpu: r2(s.result.perGpu.weightsGiB),
  kvCacheGiBPerGpu: r2(s.result.perGpu.kvCacheGiB),
  kvCacheTokens: s.result.kvCacheTokens,
  maxConcurrency: r2(s.result.maxConcurrency),
  fits: s.fits,
  reason: s.reason,
}));

/** Per site: IT watts, facility watts, budget, kWh, CO2e. */
export const sites = fleet.sites.map((s) => ({
  name: s.name,
  hosts: s.hosts,
  itWatts: Math.round(s.itWatts),
  facilityWatts: Math.round(s.facilityWatts),
  powerBudgetWatts: s.powerBudgetWatts,
  kwhPerMonth: Math.round(s.kwhPerMonth),
  co2eKgPerMonth: Math.round(s.co2eKgPerMonth),
}));

/** Stack totals: EUR, kWh and CO2e per month, peak watts. */
export const totals = {
  eurPerMonth: r2(fleet.totals.eurPerMonth),
  kwhPerMonth: Math.round(fleet.totals.kwhPerMonth),
  co2eKgPerMonth: Math.round(fleet.totals.co2eKgPerMonth),
  peakWatts: Math.round(fleet.totals.peakWatts),
};
