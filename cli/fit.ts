/**
 * `gpu-hosting fit <model>`: the cheapest setup (replicas × offer) of every catalog offer that
 * holds the model at the context and total concurrency, with speed per user, price and footprint;
 * then what owning, co-locating or serverless GPUs would cost instead.
 */
import type { Command } from "commander";
import { catalog, closest, findGpu, formatPriceSource } from "../core/catalog";
import { COOLING_TYPES, footprintDefaults, type CoolingType } from "../core/footprint";
import { compareOwnership, matchOwnedGpus, ownableGpus, type OwnershipRow } from "../core/ownership";
import { DEFAULT_MAX_REPLICAS, fitAll, SORT_KEYS, type FitRequest, type OfferFit, type SortKey } from "../core/planner";
import { normalizeDtype, type ConcreteDtype } from "../core/sizing/dtypes";
import { badValue, UsageError } from "./errors";
import { describeAlternatives } from "./estimate";
import { fmt, outputWidth, printJson, table, wrapText } from "./format";
import * as p from "./parse";

/**
 * Default decode speed per user: about reading speed. A setup that "fits" at 1 token/s (a few vCPUs
 * for several users) is not an answer to "what serves my users", so it ranks after those that reach
 * this, marked slow; `--min-tokens-per-second 0` turns the floor off.
 */
export const DEFAULT_MIN_TOKENS_PER_SECOND = 5;

/** `--min-tokens-per-second`: a number of tokens/s, 0 for no minimum (undefined). */
function parseMinSpeed(value: string | undefined): number | undefined {
  if (value === undefined || /^\s*0+(\.0*)?\s*$/.test(value)) return undefined;
  try {
    return p.parsePositiveNumber("--min-tokens-per-second", value);
  } catch {
    throw badValue("--min-tokens-per-second", value, "expected tokens/s per user, a number of 0 or more (0: no minimum)", `default ${DEFAULT_MIN_TOKENS_PER_SECOND}`);
  }
}

interface FitFlags {
  config?: string;
  revision?: string;
  context: string;
  concurrency: string;
  dtype: string;
  kvCacheDtype: string;
  gpuMemoryUtilization: string;
  provider?: string[];
  gpu?: string[];
  minVramGib?: string;
  euOnly?: boolean;
  maxEurMonth?: string;
  includeUnlisted?: boolean;
  minTokensPerSecond?: string;
  promptTokens?: string;
  maxReplicas: string;
  sort: string;
  fitsOnly?: boolean;
  top?: string;
  compare: boolean;
  years: string;
  eurPerKwh?: string;
  cooling: string;
  coloEurPerKwMonth?: string;
  owned?: string[];
  includeServerless?: boolean;
  busyHoursPerDay: string;
  hardwareEur?: string;
  json?: boolean;
}

/** Flags `fit` and `catalog offers` share: which offers, in which order, how many. */
export function addOfferFilterFlags(cmd: Command, o: { unlistedFlag: boolean; speed: string } = { unlistedFlag: true, speed: "fastest per user first" }): Command {
  cmd
    .option("--provider <name...>", "only these providers (hetzner, scaleway)")
    .option("--gpu <id...>", "only offers with these GPUs (catalog ids or names, see `catalog gpus`)")
    .option("--min-vram-gib <gib>", "only offers whose GPUs together have at least this much memory")
    .option("--eu-only", "only offers with an EU location (and list only EU locations)");
  if (o.unlistedFlag) cmd.option("--include-unlisted", "also offers the provider no longer lists (GEX44, GEX130, ...)");
  return cmd.option("--sort <key>", `order: ${SORT_KEYS.join(", ")} (speed: ${o.speed})`, "price").option("--top <n>", "show only the first n rows");
}

/** Parses the shared filter flags; every bad value is a UsageError naming the flag. */
export function parseOfferFilters(f: { provider?: string[]; gpu?: string[]; minVramGib?: string; euOnly?: boolean; includeUnlisted?: boolean; sort: string; top?: string }) {
  const providers = f.provider?.map((x) => x.toLowerCase());
  const known = [...new Set(catalog().offers.map((o) => o.provider))];
  for (const pr of providers ?? []) {
    if (!known.includes(pr as never)) throw badValue("--provider", pr, `allowed: ${known.join(", ")}`);
  }
  const gpus = f.gpu?.map((g) => {
    const found = findGpu(g);
    if (!found) throw badValue("--gpu", g, `not a GPU in the catalog; closest: ${closest(g, catalog().gpus.flatMap((x) => [x.id, ...x.aliases])).join(", ")}`, "Run `gpu-hosting catalog gpus` for the ids");
    return found.id;
  });
  const sort = f.sort.toLowerCase();
  if (!(SORT_KEYS as readonly string[]).includes(sort)) throw badValue("--sort", f.sort, `allowed: ${SORT_KEYS.join(", ")}`);
  return {
    providers,
    gpus,
    minVramGiB: f.minVramGib !== undefined ? p.parsePositiveNumber("--min-vram-gib", f.minVramGib) : undefined,
    euOnly: f.euOnly ?? false,
    includeUnlisted: f.includeUnlisted ?? false,
    sort: sort as SortKey,
    top: f.top !== undefined ? p.parsePositiveInt("--top", f.top) : undefined,
  };
}

export function registerFit(program: Command): void {
  const cmd = program
    .command("fit")
    .description("Rank setups (replicas × catalog offer) for a model: fit, tokens/s per user, €/month, watts, kWh, CO2e; then own / co-locate / serverless")
    .argument("[model]", "Hugging Face repo id (case-insensitive) or alias; or use --config")
    .option("--config <path>", "a local Hugging Face config.json instead of a catalog model")
    .option("--revision <rev>", "branch, tag or commit of a Hugging Face repo read from the Hub (default main)")
    .option("-c, --context <tokens>", "context per request, e.g. 8192, 32k", "8k")
    .option("--concurrency <n>", "requests served at full context at once, in total over all replicas", "1")
    .option("--dtype <type>", "best (highest precision that fits and the GPU runs natively), auto, or a type as in `estimate`", "best")
    .option("--kv-cache-dtype <type>", "auto or fp8", "auto")
    .option("--gpu-memory-utilization <f>", "fraction of each GPU vLLM may use", "0.9")
    .option("--max-eur-month <eur>", "only setups at or below this monthly price, all replicas together (an offer whose cheapest setup costs more is left out)")
    .option("--min-tokens-per-second <n>", `decode speed each user must get, tokens/s (setups below it rank after those that reach it, marked slow); 0: no minimum`, String(DEFAULT_MIN_TOKENS_PER_SECOND))
    .option("--prompt-tokens <tokens>", "prompt length for time to first token (default: the context)")
    .option("--max-replicas <n>", "most replicas per setup", String(DEFAULT_MAX_REPLICAS))
    .option("--fits-only", "only setups that fit (and reach --min-tokens-per-second)");
  addOfferFilterFlags(cmd)
    .option("--no-compare", "leave out the own / co-locate / serverless table")
    .option("--years <n>", "own: years to write the hardware off over", "3")
    .option("--eur-per-kwh <eur>", `own: electricity price (default ${footprintDefaults().electricity.defaultEurPerKwh}, the EU non-household average)`)
    .option("--cooling <type>", `own: cooling of the room, for its PUE: ${COOLING_TYPES.join(", ")}`, "air")
    .option("--owned <gpu...>", "own / co-locate: only these GPUs (catalog id or alias, or a family such as rtx-pro-6000-blackwell; default: every GPU with a hardware price)")
    .option("--colo-eur-per-kw-month <eur>", "co-locate: rack rent per kW of peak IT power and month (default: none; the rows then say up to which rent co-locating pays)")
    .option("--include-serverless", "add serverless GPU rows (Modal, Beam), billed per second while busy")
    .option("--busy-hours-per-day <h>", "serverless: hours a day the GPUs are billed", "8")
    .option("--hardware-eur <eur>", "own: price of one server instead of the hardware list")
    .option("--json", "print one JSON object")
    .action((model: string | undefined, flags: FitFlags) => runFit(model, flags));
}

function checkpointDtypeOf(match: { via: string; variantMethod?: string } | undefined): ConcreteDtype | undefined {
  if (match?.via !== "variant" || !match.variantMethod || match.variantMethod === "gguf") return undefined;
  const d = normalizeDtype(match.variantMethod);
  return d && d !== "auto" ? d : undefined;
}

export async function runFit(modelId: string | undefined, f: FitFlags): Promise<void> {
  const model = await p.resolveModelAsync(modelId, f.config, "<model>", f.revision);
  const filters = parseOfferFilters(f);
  const busy = p.parsePositiveNumber("--busy-hours-per-day", f.busyHoursPerDay);
  if (busy > 24) throw badValue("--busy-hours-per-day", f.busyHoursPerDay, "expected hours in a day, more than 0 and at most 24");
  const coolingType = f.cooling.toLowerCase();
  if (!(COOLING_TYPES as readonly string[]).includes(coolingType)) throw badValue("--cooling", f.cooling, `allowed: ${COOLING_TYPES.join(", ")}`);
  const maxReplicas = p.parsePositiveInt("--max-replicas", f.maxReplicas);
  if (maxReplicas > 64) throw badValue("--max-replicas", f.maxReplicas, "expected at most 64");
  const req: FitRequest = {
    arch: model.arch,
    context: p.parseTokens("--context", f.context),
    concurrency: p.parsePositiveInt("--concurrency", f.concurrency),
    dtype: p.parseDtype("--dtype", f.dtype, ["best"]),
    checkpointDtype: checkpointDtypeOf(model.match),
    kvCacheDtype: p.parseKvDtype("--kv-cache-dtype", f.kvCacheDtype),
    gpuMemoryUtilization: p.parseFraction("--gpu-memory-utilization", f.gpuMemoryUtilization),
    ...filters,
    maxEurPerMonth: f.maxEurMonth !== undefined ? p.parsePositiveNumber("--max-eur-month", f.maxEurMonth) : undefined,
    minTokensPerSecond: parseMinSpeed(f.minTokensPerSecond),
    promptTokens: f.promptTokens !== undefined ? p.parseTokens("--prompt-tokens", f.promptTokens) : undefined,
    maxReplicas,
  };
  if (req.checkpointDtype && req.dtype !== "best" && req.dtype !== "auto" && req.dtype !== req.checkpointDtype) {
    throw new UsageError(`--dtype: got "${req.dtype}", but ${modelId} is a ${req.checkpointDtype} checkpoint; use --dtype best or auto, or name the base model ${model.name}`);
  }
  const all = fitAll(req);
  const rows = (f.fitsOnly ? all.filter((r) => r.meets) : all).slice(0, filters.top);
  const own = f.compare
    ? compareOwnership(req, all, {
        years: p.parsePositiveNumber("--years", f.years),
        eurPerKwh: f.eurPerKwh !== undefined ? p.parsePositiveNumber("--eur-per-kwh", f.eurPerKwh) : undefined,
        cooling: coolingType as CoolingType,
        coloEurPerKwMonth: f.coloEurPerKwMonth !== undefined ? p.parsePositiveNumber("--colo-eur-per-kw-month", f.coloEurPerKwMonth) : undefined,
        busyHoursPerDay: busy,
        hardwareEur: f.hardwareEur !== undefined ? p.parsePositiveNumber("--hardware-eur", f.hardwareEur) : undefined,
        ownedGpus: parseOwned(f.owned),
        includeServerless: f.includeServerless === true,
      })
    : [];
  if (f.json) {
    return printJson({
      model: model.name,
      checkpointDtype: req.checkpointDtype ?? null,
      context: req.context,
      concurrency: req.concurrency,
      dtype: req.dtype,
      minTokensPerSecond: req.minTokensPerSecond ?? null,
      sort: filters.sort,
      offers: rows.map(toJson),
      ownership: own.slice(0, filters.top),
    });
  }
  const speed = req.minTokensPerSecond !== undefined ? `, at least ${req.minTokensPerSecond} tokens/s per user` : "";
  say(`${model.name}${req.checkpointDtype ? ` (${req.checkpointDtype} checkpoint)` : ""}: ${fmt.int(req.context)} tokens × ${req.concurrency} concurrent in total${speed}, dtype ${req.dtype}`);
  console.log(
    table(
      ["#", "replicas × offer", "GPUs each", "fits", "dtype", "users each", "weights/GPU", "KV/GPU", "KV tokens", "tok/s/user", "tok/s total", "€/month", "peak W", "kWh/month", "CO2e kg", "locations", "price"],
      rows.map((r, i) => [
        i + 1,
        `${r.replicas} × ${r.offer.provider} ${r.offer.name}`,
        r.gpu ? `${r.gpusUsed < r.offer.gpuCount && r.engine === "vllm" ? `${r.gpusUsed}/` : ""}${r.offer.gpuCount}× ${r.gpu.id}` : "CPU",
        r.shortfall === null ? "yes" : r.shortfall === "speed" ? "slow" : "no",
        `${r.dtype} ${r.engine}`,
        r.concurrencyPerReplica,
        fmt.gib(r.estimate.perGpu.weightsGiB),
        fmt.gib(r.estimate.perGpu.kvCacheGiB),
        fmt.int(r.estimate.kvCacheTokens),
        r.tokensPerSecondPerUser === null ? "?" : fmt.num(r.tokensPerSecondPerUser),
        r.aggregateTokensPerSecond === null ? "?" : fmt.int(r.aggregateTokensPerSecond),
        fmt.eur(r.eurPerMonth),
        fmt.int(r.peakWatts),
        fmt.int(r.kwhPerMonth),
        fmt.int(r.co2eKgPerMonth),
        r.locations.join(","),
        formatPriceSource(r.offer),
      ]),
      { columns: [undefined, undefined, undefined, undefined, { priority: 2 }, undefined, { priority: 3 }, { priority: 3 }, { priority: 3 }, undefined, { priority: 1 }, undefined, undefined, { priority: 1 }, { priority: 2 }, { priority: 2 }, { priority: 2 }] },
    ),
  );
  const notes = rows
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.reason)
    .map(({ r, i }) => `  ${i + 1}. ${r.offer.name}: ${r.reason}${r.alternatives && !r.fits ? `; would fit: ${describeAlternatives(r.alternatives)}` : ""}`);
  if (notes.length > 0) say(`\nNotes (GiB per GPU; "slow": fits but below the asked speed):\n${notes.join("\n")}`);
  const fitting = all.filter((r) => r.fits).length;
  const meeting = all.filter((r) => r.meets).length;
  say(
    `${fitting} of ${all.length} offers fit.${all.length === 0 ? " No offer passes the filters." : ""}` +
      (req.minTokensPerSecond !== undefined ? ` ${meeting} of them give ${req.minTokensPerSecond} tokens/s per user.` : "") +
      (rows.length < all.length ? ` ${rows.length} shown.` : ""),
  );
  if (f.compare) printOwnership(own.slice(0, filters.top), busy);
}

/** `--owned`: GPU ids with a hardware price; undefined when not given. @throws UsageError naming the value and the GPUs that can be owned. */
export function parseOwned(values: string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  return [
    ...new Set(
      values.flatMap((v) => {
        const ids = matchOwnedGpus(v);
        if (ids.length === 0) {
          const gpu = findGpu(v);
          const known = gpu ? `${gpu.id} has no hardware price; ` : "";
          throw badValue("--owned", v, `${known}GPUs with a hardware price: ${ownableGpus().join(", ")}`);
        }
        return ids;
      }),
    ),
  ];
}

/** Prints a line of prose wrapped to the output width (tables fit themselves). */
function say(text: string): void {
  console.log(wrapText(text, outputWidth(), "  "));
}

function printOwnership(rows: OwnershipRow[], busy: number): void {
  if (rows.length === 0) {
    say("\nOwn / co-locate / serverless: no priced hardware holds the model at this context and concurrency.");
    return;
  }
  const against = rows.find((r) => r.against)?.against;
  const serverless = rows.some((r) => r.kind === "serverless");
  const kinds = serverless ? "Own / co-locate / serverless" : "Own / co-locate";
  say(`\n${kinds} (${serverless ? `serverless busy ${busy} h/day; ` : ""}break-even against ${against ?? "no fitting rental"}):`);
  console.log(
    table(
      ["#", "option", "dtype", "tok/s/user", "€/month", "kWh/month", "CO2e kg", "break-even", "prices"],
      rows.map((r, i) => [
        i + 1,
        r.label,
        r.dtype,
        r.tokensPerSecondPerUser === null ? "?" : fmt.num(r.tokensPerSecondPerUser),
        r.kind === "colo" && r.rackEurPerKwMonth === null ? `${fmt.eur(r.eurPerMonth)} + rent` : fmt.eur(r.eurPerMonth),
        fmt.int(r.kwhPerMonth),
        fmt.int(r.co2eKgPerMonth),
        breakEven(r),
        r.confidence,
      ]),
      { columns: [undefined, undefined, { priority: 2 }, undefined, undefined, { priority: 1 }, { priority: 1 }, undefined, { priority: 2 }] },
    ),
  );
  say(
    [
      "Own: hardware over --years + electricity at peak draw around the clock × PUE.",
      rows.some((r) => r.kind === "colo" && r.rackEurPerKwMonth === null)
        ? "Co-locate: the same plus rack rent per kW of peak IT power, which varies by site: break-even is the highest rent per kW and month at which it still beats the rental (give a quote with --colo-eur-per-kw-month)."
        : "Co-locate: the same plus --colo-eur-per-kw-month per kW of peak IT power.",
      serverless ? "Serverless: per-second GPU price × --busy-hours-per-day (USD converted at the rate in hardware.json)." : "Serverless GPU rows: --include-serverless.",
      "Break-even: own pays off when the rental would run more than that share of the month (billed hourly; a rental billed by the month costs the same busy or idle)" +
        (serverless ? "; serverless is cheaper while busy less than that share." : "."),
    ].join(" "),
  );
}

function breakEven(r: OwnershipRow): string {
  if (r.kind === "colo" && r.rackEurPerKwMonth === null) {
    const rent = r.breakEvenRackEurPerKwMonth;
    if (rent === null) return "-";
    return rent <= 0 ? "never (rent)" : `rent below ${fmt.eur(rent)}/kW-month`;
  }
  const u = r.breakEvenUtilisation;
  if (u === null && r.kind !== "serverless" && r.againstEurPerMonth !== null) return r.eurPerMonth < r.againstEurPerMonth ? "always (monthly rental)" : "never (monthly rental)";
  if (u === null) return "-";
  const pct = `${Math.round(u * 100)}%`;
  if (r.kind === "serverless") return u >= 1 ? "always cheaper" : `cheaper below ${pct} busy`;
  return u > 1 ? "never (rent)" : `pays off above ${pct} busy`;
}

function toJson(r: OfferFit) {
  return {
    offer: r.offer.id,
    provider: r.offer.provider,
    name: r.offer.name,
    replicas: r.replicas,
    concurrencyPerReplica: r.concurrencyPerReplica,
    gpu: r.gpu?.id ?? null,
    gpuCount: r.offer.gpuCount,
    gpusUsed: r.gpusUsed,
    locations: r.locations,
    engine: r.engine,
    dtype: r.dtype,
    fits: r.fits,
    meets: r.meets,
    shortfall: r.shortfall,
    reason: r.reason,
    weightsGiB: r.estimate.perGpu.weightsGiB,
    kvCacheGiB: r.estimate.perGpu.kvCacheGiB,
    overheadGiB: r.estimate.perGpu.activationGiB + r.estimate.perGpu.overheadGiB,
    freeGiB: r.estimate.perGpu.freeGiB,
    kvCacheTokens: r.estimate.kvCacheTokens,
    maxConcurrency: r.estimate.maxConcurrency,
    tokensPerSecondPerUser: r.tokensPerSecondPerUser,
    aggregateTokensPerSecond: r.aggregateTokensPerSecond,
    timeToFirstTokenMs: r.speed?.timeToFirstTokenMs ?? null,
    eurPerMonth: r.eurPerMonth,
    setupEur: r.setupEur,
    peakWatts: r.peakWatts,
    kwhPerMonth: r.kwhPerMonth,
    co2eKgPerMonth: r.co2eKgPerMonth,
    alternatives: r.alternatives,
  };
}
