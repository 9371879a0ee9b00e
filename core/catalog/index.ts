/**
 * The catalog: GPUs, offers, locations, models, container images and CPUs, validated with zod
 * (./validate.ts) when first used, or at build time in the CLI bundle (core/validatedAtBuild.ts).
 * Lookups are case-insensitive by id or alias. Pure (reads only bundled JSON).
 */
import { distance } from "fastest-levenshtein";
import { VALIDATED_AT_BUILD, validators } from "../validatedAtBuild";
import cpusJson from "./data/cpus.json";
import gpusJson from "./data/gpus.json";
import imagesJson from "./data/images.json";
import locationsJson from "./data/locations.json";
import modelsJson from "./data/models.json";
import offersJson from "./data/offers.json";
import type { ContainerImage, CpuCatalog, CpuModel, Gpu, ImageVendor, Location, Model, Offer, OfferCpu, QuantizedVariant } from "./schema";

export type * from "./schema";

export interface Catalog {
  gpus: readonly Gpu[];
  offers: readonly Offer[];
  locations: readonly Location[];
  models: readonly Model[];
}

let cached: Catalog | undefined;

/** The bundled catalog (validated once per process). */
export function catalog(): Catalog {
  const raw = { gpus: gpusJson, offers: offersJson, locations: locationsJson, models: modelsJson };
  cached ??= VALIDATED_AT_BUILD ? (raw as unknown as Catalog) : validators().validateCatalog(raw);
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

let cachedImages: readonly ContainerImage[] | undefined;

/** The bundled container images (validated once per process). */
export function images(): readonly ContainerImage[] {
  cachedImages ??= VALIDATED_AT_BUILD ? (imagesJson as unknown as ContainerImage[]) : validators().validateImages(imagesJson);
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

let cachedCpus: CpuCatalog | undefined;

/** The bundled CPU data (validated once per process). */
export function cpuCatalog(): CpuCatalog {
  cachedCpus ??= VALIDATED_AT_BUILD ? (cpusJson as unknown as CpuCatalog) : validators().validateCpus(cpusJson);
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
