/** `gpu-hosting fit <model>`: every catalog offer, fitting ones first, cheapest first. */
import type { Command } from "commander";
import { catalog } from "../core/catalog";
import { fitAll, type OfferFit } from "../core/planner";
import { UsageError } from "./errors";
import { describeAlternatives } from "./estimate";
import { fmt, printJson, table } from "./format";
import * as p from "./parse";

interface FitFlags {
  config?: string;
  context: string;
  concurrency: string;
  dtype: string;
  kvCacheDtype: string;
  gpuMemoryUtilization: string;
  provider?: string[];
  euOnly?: boolean;
  maxEurMonth?: string;
  includeUnlisted?: boolean;
  json?: boolean;
}

export function registerFit(program: Command): void {
  program
    .command("fit")
    .description("Rank every catalog offer for a model: fit verdict, VRAM breakdown, €/month, watts, kWh/month")
    .argument("[model]", "Hugging Face repo id (case-insensitive) or alias; or use --config")
    .option("--config <path>", "a local Hugging Face config.json instead of a catalog model")
    .option("-c, --context <tokens>", "context per request, e.g. 8192, 32k", "8k")
    .option("--concurrency <n>", "requests served at full context at once", "1")
    .option("--dtype <type>", "best (highest precision that fits and the GPU runs natively), auto, or a type as in `estimate`", "best")
    .option("--kv-cache-dtype <type>", "auto or fp8", "auto")
    .option("--gpu-memory-utilization <f>", "fraction of each GPU vLLM may use", "0.9")
    .option("--provider <name...>", "only these providers (hetzner, scaleway)")
    .option("--eu-only", "only offers with an EU location (and list only EU locations)")
    .option("--max-eur-month <eur>", "only offers at or below this monthly price")
    .option("--include-unlisted", "also offers the provider no longer lists (GEX44, GEX130, ...)")
    .option("--json", "print one JSON object")
    .action((model: string | undefined, flags: FitFlags) => runFit(model, flags));
}

export function runFit(modelId: string | undefined, f: FitFlags): void {
  const model = p.resolveModel(modelId, f.config, "<model>");
  const providers = f.provider?.map((x) => x.toLowerCase());
  const known = [...new Set(catalog().offers.map((o) => o.provider))];
  for (const pr of providers ?? []) {
    if (!known.includes(pr as never)) throw new UsageError(`--provider: got "${pr}"; allowed: ${known.join(", ")}`);
  }
  const req = {
    arch: model.arch,
    context: p.parseTokens("--context", f.context),
    concurrency: p.parsePositiveInt("--concurrency", f.concurrency),
    dtype: p.parseDtype("--dtype", f.dtype, ["best"]),
    kvCacheDtype: p.parseKvDtype("--kv-cache-dtype", f.kvCacheDtype),
    gpuMemoryUtilization: p.parseFraction("--gpu-memory-utilization", f.gpuMemoryUtilization),
    providers,
    euOnly: f.euOnly ?? false,
    maxEurPerMonth: f.maxEurMonth !== undefined ? p.parsePositiveNumber("--max-eur-month", f.maxEurMonth) : undefined,
    includeUnlisted: f.includeUnlisted ?? false,
  };
  const rows = fitAll(req);
  if (f.json) {
    return printJson({
      model: model.name,
      context: req.context,
      concurrency: req.concurrency,
      dtype: req.dtype,
      offers: rows.map(toJson),
    });
  }
  console.log(`${model.name}: ${fmt.int(req.context)} tokens × ${req.concurrency} concurrent, dtype ${req.dtype}`);
  console.log(
    table(
      ["#", "offer", "GPUs", "fits", "engine", "dtype", "weights/GPU", "KV/GPU", "overhead", "KV tokens", "€/month", "peak W", "kWh/month", "locations"],
      rows.map((r, i) => [
        i + 1,
        `${r.offer.provider} ${r.offer.name}`,
        r.gpu ? `${r.offer.gpuCount}× ${r.gpu.id}` : "CPU",
        r.fits ? "yes" : "no",
        r.engine,
        r.dtype,
        fmt.gib(r.estimate.perGpu.weightsGiB),
        fmt.gib(r.estimate.perGpu.kvCacheGiB),
        fmt.gib(r.estimate.perGpu.activationGiB + r.estimate.perGpu.overheadGiB),
        fmt.int(r.estimate.kvCacheTokens),
        fmt.eur(r.eurPerMonth),
        fmt.int(r.peakWatts),
        fmt.int(r.kwhPerMonth),
        r.locations.join(","),
      ]),
    ),
  );
  const notes = rows
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.reason)
    .map(({ r, i }) => `  ${i + 1}. ${r.offer.name}: ${r.reason}${r.alternatives ? `; would fit: ${describeAlternatives(r.alternatives)}` : ""}`);
  if (notes.length > 0) console.log(`\nNotes (GiB per GPU; overhead = activations + runtime):\n${notes.join("\n")}`);
  const n = rows.filter((r) => r.fits).length;
  console.log(`${n} of ${rows.length} offers fit.${rows.length === 0 ? " No offer passes the filters." : ""}`);
}

function toJson(r: OfferFit) {
  return {
    offer: r.offer.id,
    provider: r.offer.provider,
    name: r.offer.name,
    gpu: r.gpu?.id ?? null,
    gpuCount: r.offer.gpuCount,
    gpusUsed: r.gpusUsed,
    locations: r.locations,
    engine: r.engine,
    dtype: r.dtype,
    fits: r.fits,
    reason: r.reason,
    weightsGiB: r.estimate.perGpu.weightsGiB,
    kvCacheGiB: r.estimate.perGpu.kvCacheGiB,
    overheadGiB: r.estimate.perGpu.activationGiB + r.estimate.perGpu.overheadGiB,
    freeGiB: r.estimate.perGpu.freeGiB,
    kvCacheTokens: r.estimate.kvCacheTokens,
    maxConcurrency: r.estimate.maxConcurrency,
    eurPerMonth: r.eurPerMonth,
    setupEur: r.offer.setupEur,
    peakWatts: r.peakWatts,
    kwhPerMonth: r.kwhPerMonth,
    co2eKgPerMonth: r.co2eKgPerMonth,
    alternatives: r.alternatives,
  };
}
