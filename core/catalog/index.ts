/**
 * The catalog: GPUs, offers, locations, models and footprint defaults, validated with zod when
 * first used. Lookups are case-insensitive by id or alias. Pure (reads only bundled JSON).
 */
import { distance } from "fastest-levenshtein";
import { z } from "zod";
import gpusJson from "./data/gpus.json";
import locationsJson from "./data/locations.json";
import modelsJson from "./data/models.json";
import offersJson from "./data/offers.json";
import { Gpu, Location, Model, Offer, type QuantizedVariant } from "./schema";
import imagesJson from "./data/images.json";
import { ContainerImage, type ImageVendor } from "./schema";
import cpusJson from "./data/cpus.json";
import { CpuCatalog, type CpuModel, type OfferCpu } from "./schema";

export * from "./schema";

export interface Catalog {
  gpus: readonly Gpu[];
  offers: readonly Offer[];
  locations: readonly Location[];
  models: readonly Model[];
}

/** Validates raw catalog data; throws with the file, index and field of every problem. */
export function validateCatalog(raw: { gpus: unknown; offers: unknown; locations: unknown; models: unknown }): Catalog {
  const problems: string[] = [];
  const parse = <T>(name: string, schema: z.ZodType<T>, data: unknown): T[] => {
    const r = z.array(schema).safeParse(data, { jitless: true }); // parsed once per process: compiling zod's fast path costs ~100 ms more than it saves
    if (!r.success) {
      for (const issue of r.error.issues) problems.push(`${name}.json[${issue.path.join("].")}: ${issue.message}`.replace(/\]\.(\w)/g, "].$1"));
      return [];
    }
    return r.data;
  };
  const catalog: Catalog = {
    gpus: parse("gpus", Gpu, raw.gpus),
    offers: parse("offers", Offer, raw.offers),
    locations: parse("locations", Location, raw.locations),
    models: parse("models", Model, raw.models),
  };
  // Cross references and uniqueness.
  const unique = (name: string, keys: string[]): void => {
    const seen = new Set<string>();
    for (const k of keys) {
      const key = k.toLowerCase();
      if (seen.has(key)) problems.push(`${name}: "${k}" is used twice (ids and aliases must be unique, case-insensitive)`);
      seen.add(key);
    }
  };
  const names = (id: string, aliases: string[]): string[] => [...new Set([id, ...aliases].map((x) => x.toLowerCase()))];
  unique("gpus.json", catalog.gpus.flatMap((g) => names(g.id, g.aliases)));
  unique("models.json", catalog.models.flatMap((m) => names(m.id, m.aliases)));
  unique("offers.json", catalog.offers.map((o) => o.id));
  const gpuIds = new Set(catalog.gpus.map((g) => g.id));
  const locIds = new Set(catalog.locations.map((l) => `${l.provider}/${l.id}`));
  catalog.offers.forEach((o, i) => {
    if (o.gpu !== null && !gpuIds.has(o.gpu)) problems.push(`offers.json[${i}].gpu: "${o.gpu}" is not a GPU id in gpus.json`);
    for (const l of o.locations) {
      if (!locIds.has(`${o.provider}/${l}`)) problems.push(`offers.json[${i}].locations: "${l}" is not a ${o.provider} location in locations.json`);
    }
  });
  if (problems.length > 0) throw new Error(`catalog is invalid:\n  ${problems.join("\n  ")}`);
  return catalog;
}

let cached: Catalog | undefined;

/** The bundled catalog (validated once per process). */
export function catalog(): Catalog {
  cached ??= validateCatalog({ gpus: gpusJson, offers: offersJson, locations: locationsJson, models: modelsJson });
  return cached;
}

const norm = (s: string): string => s.trim().toLowerCase();

/** Closest names to `query` among `names`, best first (edit distance, then substring matches). */
export function closest(query: string, names: readonly string[], limit = 3): string[] {
  const q = norm(query);
  return [...names]
    .map((n) => {
      const l = norm(n);
      const tail = l.includes("/") ? l.slice(l.indexOf("/") + 1) : l;
      const d = Math.min(distance(q, l), distance(q, tail)) - (l.includes(q) ? q.length : 0);
      return { n, d };
    })
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, limit)
    .map((x) => x.n);
}

export function findGpu(idOrAlias: string, c: Catalog = catalog()): Gpu | undefined {
  const q = norm(idOrAlias);
  return c.gpus.find((g) => g.id === q || norm(g.name) === q || g.aliases.some((a) => norm(a) === q));
}

export function findModel(idOrAlias: string, c: Catalog = catalog()): Model | undefined {
  return matchModel(idOrAlias, c)?.model;
}

/** How a model id was matched: exactly, or through a quantised variant or a sibling checkpoint. */
export interface ModelMatch {
  model: Model;
  /** id / alias: the catalog entry itself; variant: a quantised repo listed for it; sibling: the base or instruct checkpoint of the same architecture. */
  via: "id" | "alias" | "variant" | "sibling";
  /** The quantisation a variant repo ships, when `via` is "variant". */
  variantMethod?: QuantizedVariant["method"];
}

const SUFFIXES = ["-instruct", "-it", "-chat"];

/**
 * Finds a model as users name it: its repo id or alias (case-insensitive); a quantised variant's
 * repo (`hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4` is Llama 3.1 8B in AWQ); or a sibling
 * with the same tensor shapes (`meta-llama/Llama-3.1-8B` or `meta-llama/Meta-Llama-3.1-8B-Instruct`
 * for `meta-llama/Llama-3.1-8B-Instruct`, `Qwen/Qwen2.5-7B` for `Qwen/Qwen2.5-7B-Instruct`).
 */
export function matchModel(query: string, c: Catalog = catalog()): ModelMatch | undefined {
  const q = norm(query);
  for (const m of c.models) {
    if (norm(m.id) === q) return { model: m, via: "id" };
  }
  for (const m of c.models) {
    if (m.aliases.some((a) => norm(a) === q)) return { model: m, via: "alias" };
  }
  for (const m of c.models) {
    const v = m.quantizedVariants.find((x) => norm(x.repo) === q);
    if (v) return { model: m, via: "variant", variantMethod: v.method };
  }
  // Siblings: same org, name without "Meta-" and with or without an instruct suffix.
  const [org, name] = q.split("/");
  if (!org || !name) return undefined;
  const stem = (n: string): string => {
    let x = n.replace(/^meta-(?=llama)/, "");
    for (const sfx of SUFFIXES) if (x.endsWith(sfx)) x = x.slice(0, -sfx.length);
    return x;
  };
  const wanted = stem(name);
  for (const m of c.models) {
    const [mOrg, mName] = norm(m.id).split("/");
    if (mOrg === org && mName && stem(mName) === wanted) return { model: m, via: "sibling" };
  }
  return undefined;
}

export function findOffer(id: string, c: Catalog = catalog()): Offer | undefined {
  const q = norm(id);
  return c.offers.find((o) => o.id === q || norm(o.name) === q);
}

/** What a table's "source" column says for each price confidence (see PriceConfidence in ./schema). */
export const PRICE_CONFIDENCE_LABEL: Readonly<Record<Offer["priceConfidence"], string>> = { confirmed: "confirmed", secondary: "secondary source", estimate: "estimate" };

/** How sure an offer's price is and when it was read, for a table's "source" column: "secondary source, 2026-08-22". */
export function formatPriceSource(o: Pick<Offer, "priceConfidence" | "priceRead">): string {
  return `${PRICE_CONFIDENCE_LABEL[o.priceConfidence]}, ${o.priceRead}`;
}

export function findLocation(provider: string, id: string, c: Catalog = catalog()): Location | undefined {
  return c.locations.find((l) => l.provider === provider && l.id === norm(id));
}

/** Usable memory of a GPU in GiB, as the driver reports it. */
export function gpuMemoryGiB(g: Gpu): number {
  return g.usableMemoryMiB / 1024;
}

/**
 * The range a GPU's power limit can be set to, watts (`nvidia-smi -pl` and `amd-smi set --power-cap`
 * refuse values outside it). `confirmed` is true when some source for the range is not
 * "unconfirmed"; otherwise the range is a best estimate (see the catalog's notes).
 */
export function gpuPowerLimitRange(gpu: Gpu): { minWatts: number; maxWatts: number; confirmed: boolean } {
  const r = gpu.powerLimitWatts;
  return { minWatts: r.min, maxWatts: r.max, confirmed: r.sources.some((s) => s.confidence !== "unconfirmed") };
}

// Container images (core/catalog/data/images.json), validated apart from the rest of the catalog.

/** Validates raw image data; throws with the index and field of every problem. */
export function validateImages(raw: unknown): ContainerImage[] {
  const r = z.array(ContainerImage).safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `images.json[${i.path.join("].")}: ${i.message}`.replace(/\]\.(\w)/g, "].$1"));
    throw new Error(`catalog is invalid:\n  ${problems.join("\n  ")}`);
  }
  const seen = new Set<string>();
  for (const i of r.data) {
    if (seen.has(i.id)) throw new Error(`catalog is invalid:\n  images.json: "${i.id}" is used twice`);
    seen.add(i.id);
  }
  return r.data;
}

let cachedImages: readonly ContainerImage[] | undefined;

/** The bundled container images (validated once per process). */
export function images(): readonly ContainerImage[] {
  cachedImages ??= validateImages(imagesJson);
  return cachedImages;
}

/**
 * The catalog image for an engine on a vendor's GPUs ("none": CPU). The sizing engine "cpu" is
 * llama.cpp's CPU build. Undefined when the catalog has none (vLLM on CPU). The entry may have no
 * digest (`digest: null`); the inference renderer refuses those.
 */
export function findImage(engine: "vllm" | "llamacpp" | "ollama" | "cpu", vendor: ImageVendor, list: readonly ContainerImage[] = images()): ContainerImage | undefined {
  const e = engine === "cpu" ? "llamacpp" : engine;
  const v = engine === "cpu" ? "none" : vendor;
  return list.find((i) => i.engine === e && i.vendors.includes(v));
}

/** `repository@sha256:…` of a catalog image, or null when it has no digest. */
export function imageRef(i: ContainerImage): string | null {
  return i.digest === null ? null : `${i.repository}@${i.digest}`;
}

// Host CPUs (core/catalog/data/cpus.json), for CPU inference speed; validated apart from the rest.

/** Validates raw CPU data against the offers; throws with the field of every problem. */
export function validateCpus(raw: unknown, offers: readonly Offer[] = catalog().offers): CpuCatalog {
  const r = CpuCatalog.safeParse(raw);
  if (!r.success) {
    const where = (path: PropertyKey[]): string => path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
    const problems = r.error.issues.map((i) => `cpus.json${where(i.path)}: ${i.message}`);
    throw new Error(`catalog is invalid:\n  ${problems.join("\n  ")}`);
  }
  const problems: string[] = [];
  const cpuIds = new Set(r.data.cpus.map((c) => c.id));
  const offerIds = new Set(offers.map((o) => o.id));
  r.data.offers.forEach((o, i) => {
    if (!cpuIds.has(o.cpu)) problems.push(`cpus.json.offers[${i}].cpu: "${o.cpu}" is not a CPU id in cpus.json`);
    if (!offerIds.has(o.offer)) problems.push(`cpus.json.offers[${i}].offer: "${o.offer}" is not an offer id in offers.json`);
  });
  if (problems.length > 0) throw new Error(`catalog is invalid:\n  ${problems.join("\n  ")}`);
  return r.data;
}

let cachedCpus: CpuCatalog | undefined;

/** The bundled CPU data (validated once per process). */
export function cpuCatalog(): CpuCatalog {
  cachedCpus ??= validateCpus(cpusJson);
  return cachedCpus;
}

/**
 * The CPU an offer gives an inference engine: usable physical cores and memory bandwidth (GB/s),
 * with the CPU model. Undefined when cpus.json has no entry for the offer.
 */
export function offerCpu(offerId: string, c: CpuCatalog = cpuCatalog()): (OfferCpu & { model: CpuModel }) | undefined {
  const o = c.offers.find((x) => x.offer === norm(offerId));
  const model = o && c.cpus.find((x) => x.id === o.cpu);
  return o && model ? { ...o, model } : undefined;
}
