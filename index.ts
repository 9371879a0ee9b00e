/**
 * The stack program: parse stack config, build the fleet, export the facts. Thin by design:
 * logic lives in core/ (pure) and components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "./components/fleet";
import { parseStackConfig, stackConfigInput } from "./core/config/schema";
import { clusterSecretKeys } from "./core/clusters";
import { secretNeeds } from "./core/hosts";

const all = pulumi.runtime.allConfig();
const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret ?? (() => false);
const secretKeys = Object.keys(all).filter((k) => isSecret(k));
const parsed = parseStackConfig(stackConfigInput(all));
if (!parsed.ok) throw new Error(`invalid stack config:\n  ${parsed.problems.join("\n  ")}`);
const config = parsed.config;

const cfg = new pulumi.Config("gpu-hosting");
const has = (k: string): boolean => `gpu-hosting:${k}` in all;
// Each host kind names the secrets it needs (core/hosts/<kind>.ts); public keys are read plainly.
const needs = new Map(secretNeeds(config.hosts).map(({ need }) => [need.key, need.secret]));
// Stack-wide, optional: the endpoints' API key (generated when absent) and a Hugging Face token for gated models.
for (const k of ["apiKey", "hfToken", ...clusterSecretKeys(config.clusters)]) needs.set(k, true);

const fleet = new Fleet(pulumi.getStack(), {
  config,
  // Secret values never become component inputs: the secrets policy only needs to know which keys are secret.
  rawConfig: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, secretKeys.includes(k) ? "[secret]" : v])),
  secretKeys,
  secrets: Object.fromEntries([...needs].filter(([k]) => has(k)).map(([k, secret]) => [k, secret ? cfg.requireSecret(k) : cfg.require(k)])),
});

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Per deployment: model, GPU, weights and KV cache per GPU, KV tokens, fit verdict. */
export const sizing = fleet.facts.deployments.map((s) => ({
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

/** Per host: how to reach it (the private key stays a secret inside the components). */
export const hosts = Object.fromEntries(Object.entries(fleet.hosts).map(([n, h]) => [n, { address: h.connection.host, user: h.connection.user, facts: h.facts }]));

/** Per site: IT watts, facility watts, budget, kWh, CO2e. */
export const sites = fleet.facts.sites.map((s) => ({
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
  eurPerMonth: r2(fleet.facts.totals.eurPerMonth),
  kwhPerMonth: Math.round(fleet.facts.totals.kwhPerMonth),
  co2eKgPerMonth: Math.round(fleet.facts.totals.co2eKgPerMonth),
  peakWatts: Math.round(fleet.facts.totals.peakWatts),
};

/** Per deployment: where it answers and the model id to ask for (the API key is `apiKey`). */
export const endpoints = fleet.endpoints;

/** The endpoints' API key (secret): `pulumi stack output --show-secrets apiKey`. */
export const apiKey = fleet.apiKey;
