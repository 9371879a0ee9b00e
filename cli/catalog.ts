/** `gpu-hosting catalog gpus|offers|models`. */
import type { Command } from "commander";
import { catalog, formatPriceSource, gpuMemoryGiB, type Offer } from "../core/catalog";
import { filterOffers, offerFootprint, offerVramGiB } from "../core/offers";
import { countParameters, parseHfConfig } from "../core/sizing/architecture";
import { UsageError } from "./errors";
import { addOfferFilterFlags, parseOfferFilters } from "./fit";
import { fmt, printJson, table } from "./format";

export function registerCatalog(program: Command): void {
  const cat = program.command("catalog").description("List the catalog: GPUs, offers (Hetzner, Scaleway) and models, each with sources");
  cat
    .command("gpus")
    .description("GPUs: vendor, architecture, memory, bandwidth, power, native data types")
    .option("--json", "print JSON")
    .action((f: { json?: boolean }) => {
      const gpus = catalog().gpus;
      if (f.json) return printJson({ gpus });
      console.log(
        table(
          ["id", "name", "arch", "CC", "memory", "usable GiB", "GB/s", "W", "bf16", "fp8", "fp4", "int8"],
          gpus.map((g) => [
            g.id,
            g.name,
            g.architecture,
            g.computeCapability ?? g.gfxTarget ?? "-",
            `${g.memoryGB} GB ${g.memoryType}`,
            fmt.gib(gpuMemoryGiB(g)),
            g.bandwidthGBps,
            g.boardPowerWatts,
            ...(["bf16", "fp8", "fp4", "int8"] as const).map((d) => (g.dataTypes[d] ? "yes" : "-")),
          ]),
          // Narrow terminals drop the descriptive columns first; ids, memory and data types stay.
          { columns: [undefined, { priority: 3 }, { priority: 2 }, { priority: 1 }, undefined, undefined, { priority: 1 }, { priority: 2 }] },
        ),
      );
    });
  const offers = cat
    .command("offers")
    .description("Offers: GPUs, price per hour and month, setup fee, billing, locations; filter and sort as in `fit`")
    .option("--fits-only", "(needs a model: use `gpu-hosting fit <model> --fits-only`)");
  // The catalog lists every offer, also those no longer listed (see the status column).
  addOfferFilterFlags(offers, { unlistedFlag: false, speed: "GPUs' total memory bandwidth, highest first" })
    .option("--json", "print JSON")
    .action((f: OfferFlags) => listOffers(f));
  cat
    .command("models")
    .description("Models: parameters (published and counted from config.json), licence, gating, quantised variants")
    .option("--json", "print JSON")
    .action((f: { json?: boolean }) => {
      const models = catalog().models;
      if (f.json) return printJson({ models });
      console.log(
        table(
          ["id", "aliases", "published", "counted", "active", "licence", "gated", "context", "variants"],
          models.map((m) => {
            const arch = parseHfConfig(m.config);
            const p = countParameters(arch);
            return [
              m.id,
              m.aliases.join(", "),
              fmt.params(m.publishedParameters),
              fmt.params(p.total),
              p.active < p.total ? fmt.params(p.active) : "-",
              m.licence,
              m.gated ? "yes" : "no",
              fmt.int(arch.maxPositionEmbeddings),
              [...new Set(m.quantizedVariants.map((v) => v.method))].join(","),
            ];
          }),
        ),
      );
    });
}

interface OfferFlags {
  provider?: string[];
  gpu?: string[];
  minVramGib?: string;
  euOnly?: boolean;
  sort: string;
  top?: string;
  fitsOnly?: boolean;
  json?: boolean;
}

/**
 * `catalog offers`: every offer passing the filters (listed or not: see the status column), sorted.
 * Without a model "speed" is the GPUs' total memory bandwidth, which bounds decode speed.
 */
function listOffers(f: OfferFlags): void {
  if (f.fitsOnly) throw new UsageError("--fits-only: whether an offer fits depends on a model; use `gpu-hosting fit <model> --fits-only`");
  const filters = { ...parseOfferFilters(f), includeUnlisted: true };
  const c = catalog();
  const rows = filterOffers(filters, c).map((o) => {
    const gpu = o.gpu ? c.gpus.find((g) => g.id === o.gpu) : undefined;
    const kept = o.locations.filter((l) => !filters.euOnly || c.locations.find((x) => x.provider === o.provider && x.id === l)?.eu === true);
    return { o, kept, vramGiB: offerVramGiB(o, c), bandwidthGBps: (gpu?.bandwidthGBps ?? 0) * o.gpuCount, ...offerFootprint(o, kept, c) };
  });
  const key = { price: (r: (typeof rows)[number]) => r.o.eurPerMonth, speed: (r: (typeof rows)[number]) => -r.bandwidthGBps, watts: (r: (typeof rows)[number]) => r.peakWatts, co2e: (r: (typeof rows)[number]) => r.co2eKgPerMonth }[filters.sort];
  const sorted = rows.sort((a, b) => key(a) - key(b) || a.o.eurPerMonth - b.o.eurPerMonth || a.o.id.localeCompare(b.o.id)).slice(0, filters.top);
  if (f.json) return printJson({ offers: sorted.map((r) => ({ ...r.o, locations: r.kept, vramGiB: r.vramGiB, bandwidthGBps: r.bandwidthGBps, peakWatts: r.peakWatts, kwhPerMonth: r.kwhPerMonth, co2eKgPerMonth: r.co2eKgPerMonth })) });
  console.log(
    table(
      ["id", "provider", "GPUs", "VRAM GiB", "GB/s", "vCPU", "RAM GiB", "€/h", "€/month", "setup €", "peak W", "CO2e kg/month", "billing", "locations", "status", "price"],
      sorted.map(({ o, kept, vramGiB, bandwidthGBps, peakWatts, co2eKgPerMonth }: { o: Offer; kept: string[]; vramGiB: number; bandwidthGBps: number; peakWatts: number; co2eKgPerMonth: number }) => [
        o.id,
        o.provider,
        o.gpu ? `${o.gpuCount}× ${o.gpu}` : "CPU",
        o.gpu ? fmt.gib(vramGiB) : "-",
        o.gpu ? fmt.int(bandwidthGBps) : "-",
        o.vcpus ?? "-",
        o.ramGiB ?? "-",
        o.eurPerHour !== null ? fmt.eurPerHour(o.eurPerHour) : "-",
        fmt.eur(o.eurPerMonth),
        fmt.eur(o.setupEur),
        fmt.int(peakWatts),
        fmt.int(co2eKgPerMonth),
        o.billing,
        kept.join(","),
        o.status,
        formatPriceSource(o),
      ]),
      { columns: [undefined, undefined, undefined, undefined, { priority: 2 }, { priority: 2 }, { priority: 2 }, { priority: 1 }, undefined, { priority: 1 }, undefined, { priority: 2 }, { priority: 3 }, { priority: 1 }, { priority: 3 }, { priority: 3 }] },
    ),
  );
}
