/** `gpu-hosting catalog gpus|offers|models`. */
import type { Command } from "commander";
import { catalog, gpuMemoryGiB } from "../core/catalog";
import { countParameters, parseHfConfig } from "../core/sizing/architecture";
import { fmt, printJson, table } from "./format";

export function registerCatalog(program: Command): void {
  const cat = program.command("catalog").description("List the catalog: GPUs, offers (Hetzner, Scaleway) and models, each with sources");
  cat
    .command("gpus")
    .description("GPUs: vendor, architecture, memory, bandwidth, power, native data types")
    .option("--json", "print JSON")
    .action((f: { json?: boolean }) => {
      const gpus = catalog().gpus;
      if (f.json) return printJson(gpus);
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
        ),
      );
    });
  cat
    .command("offers")
    .description("Offers: GPUs, price per hour and month, setup fee, billing, locations")
    .option("--json", "print JSON")
    .action((f: { json?: boolean }) => {
      const offers = catalog().offers;
      if (f.json) return printJson(offers);
      console.log(
        table(
          ["id", "provider", "GPUs", "vCPU", "RAM GiB", "€/h", "€/month", "setup €", "billing", "locations", "status", "price read"],
          offers.map((o) => [
            o.id,
            o.provider,
            o.gpu ? `${o.gpuCount}× ${o.gpu}` : "CPU",
            o.vcpus ?? "-",
            o.ramGiB ?? "-",
            o.eurPerHour?.toFixed(4) ?? "-",
            o.eurPerMonth.toFixed(2),
            o.setupEur,
            o.billing,
            o.locations.join(","),
            o.status,
            o.priceRead,
          ]),
        ),
      );
    });
  cat
    .command("models")
    .description("Models: parameters (published and counted from config.json), licence, gating, quantised variants")
    .option("--json", "print JSON")
    .action((f: { json?: boolean }) => {
      const models = catalog().models;
      if (f.json) return printJson(models);
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
