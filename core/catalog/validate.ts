/**
 * Validation of the catalog's data files with zod: the shapes in ./schema.ts plus the cross
 * references (offers name GPUs and locations that exist, ids unique, CPUs and offers agree). Kept
 * apart from ./index.ts so that code reading a catalog validated at build time never loads zod
 * (core/validatedAtBuild.ts).
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { FootprintDefaults } from "../footprint/schema";
import { catalog, findGpu, type Catalog } from "./index";
import { ContainerImage, CpuCatalog, Gpu, HardwarePrices, Location, Model, Offer, ServerlessPrices } from "./schema";

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

/** Validates hardware and serverless prices; every GPU id they name must be in the GPU catalog. */
export function validateOwnershipPrices(raw: { hardware: unknown; serverless: unknown }, c: Catalog = catalog()): { hardware: HardwarePrices; serverless: ServerlessPrices } {
  // jitless: one parse per process; compiling the fast path costs more than it saves.
  const hardware = HardwarePrices.parse(raw.hardware, { jitless: true });
  const serverless = ServerlessPrices.parse(raw.serverless, { jitless: true });
  const ids = [...hardware.cards.map((x) => x.gpu), ...hardware.systems.map((x) => x.gpu), ...serverless.providers.flatMap((p) => p.gpus.map((g) => g.gpu))];
  for (const id of ids) if (!findGpu(id, c)) throw new Error(`hardware.json/serverless.json: "${id}" is not a GPU id in gpus.json`);
  return { hardware, serverless };
}

/** Validates the footprint defaults (core/footprint/defaults.json). */
export function validateFootprintDefaults(raw: unknown): FootprintDefaults {
  return FootprintDefaults.parse(raw);
}

/** The data files the package ships and the CLI bundle inlines, relative to the package root. */
export const BUNDLED_DATA_FILES = {
  gpus: "core/catalog/data/gpus.json",
  offers: "core/catalog/data/offers.json",
  locations: "core/catalog/data/locations.json",
  models: "core/catalog/data/models.json",
  images: "core/catalog/data/images.json",
  cpus: "core/catalog/data/cpus.json",
  hardware: "core/catalog/data/hardware.json",
  serverless: "core/catalog/data/serverless.json",
  footprint: "core/footprint/defaults.json",
} as const;

/**
 * Validates every bundled data file as the library does on first use, and checks that validation
 * returns each one unchanged (no default filled in, no key stripped), since the CLI bundle serves
 * the files as they are without validating them again (core/validatedAtBuild.ts). `read` gives a
 * file's parsed JSON by its path in BUNDLED_DATA_FILES. Returns the problems; empty when none.
 */
export function validateBundledData(read: (file: string) => unknown): string[] {
  const f = BUNDLED_DATA_FILES;
  const raw = { gpus: read(f.gpus), offers: read(f.offers), locations: read(f.locations), models: read(f.models) };
  const problems: string[] = [];
  const check = (files: string, input: unknown, validate: (x: unknown) => unknown): unknown => {
    let output: unknown;
    try {
      output = validate(input);
    } catch (e) {
      problems.push(`${files}: ${(e as Error).message}`);
      return undefined;
    }
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(output)), input)) {
      problems.push(`${files}: validation changes the data (a default filled in or an unknown key stripped); write the value into the file or remove the key`);
    }
    return output;
  };
  const c = check(`${f.gpus}, ${f.offers}, ${f.locations}, ${f.models}`, raw, () => validateCatalog(raw)) as Catalog | undefined;
  if (!c) return problems; // the rest is checked against the catalog
  check(f.images, read(f.images), (x) => validateImages(x));
  check(f.cpus, read(f.cpus), (x) => validateCpus(x, c.offers));
  const prices = { hardware: read(f.hardware), serverless: read(f.serverless) };
  check(`${f.hardware}, ${f.serverless}`, prices, () => validateOwnershipPrices(prices, c));
  check(f.footprint, read(f.footprint), (x) => validateFootprintDefaults(x));
  return problems;
}
