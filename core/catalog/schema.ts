/**
 * Zod schemas for the catalog data files in `core/catalog/data/`.
 *
 * Every entry carries at least one {@link Source}: the URL the fact was read from, the date it was
 * read, and how reliable it is. Facts that could not be confirmed say so (`confidence:
 * "unconfirmed"`) rather than being dropped or silently trusted.
 */
import { z } from "zod";

/** ISO date `YYYY-MM-DD`. */
export const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date as YYYY-MM-DD");

/** Where a fact comes from. */
export const Source = z
  .object({
    /** URL the fact was read from. */
    url: z.url(),
    /** Date the source was read (YYYY-MM-DD). */
    read: IsoDate,
    /**
     * primary: the vendor's or project's own docs, code or spec; secondary: a third party quoting
     * it; unconfirmed: no reliable source, value is a best estimate.
     */
    confidence: z.enum(["primary", "secondary", "unconfirmed"]),
    /** What exactly this source backs, when an entry has several. */
    note: z.string().optional(),
  })
  .strict();
export type Source = z.infer<typeof Source>;

const Sources = z.array(Source).min(1, "every catalog entry needs at least one source");

/** Data types a GPU executes natively on its tensor / matrix cores. */
export const GpuDataTypes = z
  .object({
    fp16: z.boolean(),
    bf16: z.boolean(),
    fp8: z.boolean(),
    fp4: z.boolean(),
    int8: z.boolean(),
  })
  .strict();
export type GpuDataTypes = z.infer<typeof GpuDataTypes>;

/**
 * The range a GPU's power limit can be set to, watts: what `nvidia-smi -q -d POWER` reports as
 * "Min Power Limit" / "Max Power Limit" (`power.min_limit` / `power.max_limit`), or for AMD the power
 * cap range rocm-smi / amd-smi accept. Ranges marked `unconfirmed` are estimates.
 */
export const PowerLimitWatts = z
  .object({
    /** Lowest settable power limit, watts. */
    min: z.number().positive(),
    /** Highest settable power limit, watts. */
    max: z.number().positive(),
    sources: Sources,
  })
  .strict()
  .refine((r) => r.max >= r.min, { message: "max must be at least min", path: ["max"] });
export type PowerLimitWatts = z.infer<typeof PowerLimitWatts>;

/**
 * Dense (no structured sparsity) tensor / matrix throughput of a GPU, TFLOPS (TOPS for int8), per
 * data type it runs natively. For GeForce cards the 16-bit and fp8 rates are those with fp32
 * accumulation (what inference kernels use), half the fp16-accumulate rate NVIDIA advertises.
 * A data type the GPU lacks is absent. `sources` back these figures and the memory bandwidth.
 */
export const GpuTensorTflops = z
  .object({
    fp16: z.number().positive(),
    bf16: z.number().positive().optional(),
    fp8: z.number().positive().optional(),
    int8: z.number().positive().optional(),
    fp4: z.number().positive().optional(),
    sources: Sources,
  })
  .strict();
export type GpuTensorTflops = z.infer<typeof GpuTensorTflops>;

export const GpuVendor = z.enum(["nvidia", "amd"]);
export type GpuVendor = z.infer<typeof GpuVendor>;

export const Gpu = z
  .object({
    /** Catalog id, kebab-case, e.g. `h100-sxm-80gb`. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    /** Marketing name, e.g. "NVIDIA H100 SXM 80GB". */
    name: z.string(),
    /** Other spellings accepted on input (case-insensitive), e.g. nvidia-smi's product name. */
    aliases: z.array(z.string()).default([]),
    vendor: GpuVendor,
    /** Architecture / generation, e.g. "hopper", "ada-lovelace", "cdna3". */
    architecture: z.string(),
    /** NVIDIA compute capability "major.minor"; null for AMD. */
    computeCapability: z.string().regex(/^\d+\.\d+$/).nullable(),
    /** AMD gfx target, e.g. "gfx942"; null for NVIDIA. */
    gfxTarget: z.string().nullable(),
    /** Memory as marketed, in GB (10^9 bytes). */
    memoryGB: z.number().positive(),
    /** Memory the driver reports as total (nvidia-smi `memory.total`), MiB. */
    usableMemoryMiB: z.number().int().positive(),
    memoryType: z.string(),
    /** Peak memory bandwidth, GB/s (sources in `tensorTflops.sources` and `sources`). */
    bandwidthGBps: z.number().positive(),
    /** Dense tensor TFLOPS per data type, for the speed model (core/sizing/speed.ts). */
    tensorTflops: GpuTensorTflops,
    /** Board power / TDP, watts (default power cap). */
    boardPowerWatts: z.number().positive(),
    /** The range the power limit (`nvidia-smi -pl`, `amd-smi set --power-cap`) can be set to. */
    powerLimitWatts: PowerLimitWatts,
    dataTypes: GpuDataTypes,
    /** GPU-to-GPU interconnect, or null when none (PCIe only). */
    interconnect: z.string().nullable(),
    /** "datacenter", "workstation" or "consumer". */
    segment: z.enum(["datacenter", "workstation", "consumer"]),
    sources: Sources,
  })
  .strict();
export type Gpu = z.infer<typeof Gpu>;

export const Provider = z.enum(["hetzner", "scaleway"]);
export type Provider = z.infer<typeof Provider>;

/**
 * How sure an offer's price is. confirmed: read first-hand on the provider's own site, docs or
 * API; secondary: read in a third party's copy or transcription of the provider's list (a
 * mirror, a capture, the press); estimate: derived, a placeholder, or from an unattributed
 * figure. Tables show it next to the price with the date it was read.
 */
export const PriceConfidence = z.enum(["confirmed", "secondary", "estimate"]);
export type PriceConfidence = z.infer<typeof PriceConfidence>;

/** The domains a provider's own price pages, docs and APIs live on. */
export const PROVIDER_DOMAINS: Readonly<Record<string, readonly string[]>> = { hetzner: ["hetzner.com", "hetzner.cloud"], scaleway: ["scaleway.com"] };

/** Whether a URL is on one of the provider's own domains (or a subdomain). */
export function isProviderUrl(provider: string, url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (PROVIDER_DOMAINS[provider] ?? []).some((d) => host === d || host.endsWith(`.${d}`));
}

export const Offer = z
  .object({
    /** Catalog id, e.g. `scaleway-l40s-1-48g`, `hetzner-gex45`. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    provider: Provider,
    /** gpu-instance (Scaleway), dedicated (Hetzner Robot GEX) or cloud-cpu (Hetzner Cloud). */
    kind: z.enum(["gpu-instance", "dedicated", "cloud-cpu"]),
    /** Provider's own name: commercial type, server type or product name. */
    name: z.string(),
    /** Robot product id for Hetzner dedicated servers. */
    productId: z.string().optional(),
    /** GPU catalog id, or null for CPU-only offers. */
    gpu: z.string().nullable(),
    gpuCount: z.number().int().nonnegative(),
    vcpus: z.number().int().positive().nullable(),
    cpu: z.string().nullable(),
    ramGiB: z.number().positive().nullable(),
    /** Estimated power of everything but the GPUs (CPU, RAM, disks, fans, PSU loss) at load, watts. */
    nonGpuWatts: z.number().nonnegative(),
    /** Price per hour in EUR excl. VAT, null where only monthly pricing exists. */
    eurPerHour: z.number().nonnegative().nullable(),
    /** Price per month in EUR excl. VAT (730 h where derived from the hourly price). */
    eurPerMonth: z.number().nonnegative(),
    /** One-off setup fee in EUR excl. VAT. */
    setupEur: z.number().nonnegative(),
    billing: z.enum(["per-minute", "per-hour", "hourly-capped-monthly", "monthly"]),
    /** Zones or locations where the offer can be ordered (lower-case provider names). */
    locations: z.array(z.string()).min(1),
    /** listed: orderable when read; not-listed: no longer in the provider's matrix. */
    status: z.enum(["listed", "not-listed"]),
    /** Date the price was read at {@link priceSource} (YYYY-MM-DD): how old the price is. */
    priceRead: IsoDate,
    /** URL the price (per hour, per month, setup) was read from. */
    priceSource: z.url(),
    /** How sure the price is: see {@link PriceConfidence}. */
    priceConfidence: PriceConfidence,
    notes: z.string().optional(),
    sources: Sources,
  })
  .strict()
  .superRefine((o, ctx) => {
    // "confirmed" means read on the provider's own site, docs or API: a first-party URL.
    if (o.priceConfidence === "confirmed" && !isProviderUrl(o.provider, o.priceSource)) {
      ctx.addIssue({ code: "custom", path: ["priceSource"], message: `a confirmed price needs the provider's own URL (${PROVIDER_DOMAINS[o.provider]?.join(" or ") ?? "none known"}); got ${o.priceSource}` });
    }
  });
export type Offer = z.infer<typeof Offer>;

/** Where a provider location sits, for EU-only rules and grid intensity. */
export const Location = z
  .object({
    id: z.string(),
    provider: Provider,
    city: z.string(),
    /** ISO 3166-1 alpha-2. */
    country: z.string().length(2),
    eu: z.boolean(),
    sources: Sources,
  })
  .strict();
export type Location = z.infer<typeof Location>;

export const QuantizedVariant = z
  .object({
    /** Hugging Face repo id of the quantised checkpoint. */
    repo: z.string(),
    method: z.enum(["awq", "gptq", "fp8", "gguf", "mxfp4", "nvfp4", "bnb"]),
    /** For GGUF, the quant types offered, e.g. ["Q4_K_M", "Q8_0"]. */
    ggufTypes: z.array(z.string()).optional(),
  })
  .strict();
export type QuantizedVariant = z.infer<typeof QuantizedVariant>;

export const Model = z
  .object({
    /** Hugging Face repo id, e.g. `meta-llama/Llama-3.1-8B-Instruct`. */
    id: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
    /** Short names accepted on the command line, e.g. `llama-3.1-8b`. */
    aliases: z.array(z.string()).default([]),
    family: z.string(),
    /** Licence id or name, e.g. "llama3.1", "apache-2.0", "mit", "gemma". */
    licence: z.string(),
    /** Whether Hugging Face access is gated (licence acceptance needed before download). */
    gated: z.boolean(),
    /** Total parameters as published by the model authors (model card or paper). */
    publishedParameters: z.number().positive(),
    /** Activated parameters per token as published, for mixture-of-experts models. */
    publishedActiveParameters: z.number().positive().optional(),
    /** The fields of the model's `config.json` that sizing needs, copied verbatim. */
    config: z.record(z.string(), z.unknown()),
    quantizedVariants: z.array(QuantizedVariant).default([]),
    sources: Sources,
  })
  .strict();
export type Model = z.infer<typeof Model>;

/** Inference engines that run from a container image in the catalog. */
export const ImageEngine = z.enum(["vllm", "llamacpp", "ollama"]);
export type ImageEngine = z.infer<typeof ImageEngine>;

/** What an image computes on: a GPU vendor, or "none" for CPU-only hosts. */
export const ImageVendor = z.enum(["nvidia", "amd", "none"]);
export type ImageVendor = z.infer<typeof ImageVendor>;

/**
 * A container image an inference layer runs, pinned by digest. `digest` is null where no source
 * gave one: the renderer then refuses the image and asks for `image: repo@sha256:…` in the
 * deployment, so an entry documents the tag without pretending to pin it.
 */
export const ContainerImage = z
  .object({
    /** Catalog id, e.g. `vllm-cuda`. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    engine: ImageEngine,
    /** Vendors the image serves; "none" is CPU inference. */
    vendors: z.array(ImageVendor).min(1),
    /** Repository without tag or digest, e.g. `vllm/vllm-openai`, `ghcr.io/ggml-org/llama.cpp`. */
    repository: z.string().regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/),
    /** The tag the digest was read from (tags move; the digest does not). */
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
    /** `sha256:<64 hex>`, or null when no source gave one. */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "expected sha256:<64 hex digits>").nullable(),
    /** How far the digest can be trusted; "unconfirmed" exactly when `digest` is null. */
    confidence: z.enum(["primary", "secondary", "unconfirmed"]),
    /** Engine release inside the image, when the source says, e.g. "0.19.0". */
    engineVersion: z.string().nullable(),
    /** Platform of the pinned manifest, e.g. "linux/amd64"; null when the source does not say. */
    platform: z.string().nullable(),
    /** Arguments placed right after the image, before the engine's flags (e.g. ["vllm", "serve"] where the entrypoint is a shell). */
    command: z.array(z.string()).default([]),
    notes: z.string().optional(),
    sources: Sources,
  })
  .strict()
  .refine((i) => (i.digest === null) === (i.confidence === "unconfirmed"), {
    message: 'confidence must be "unconfirmed" exactly when digest is null',
    path: ["confidence"],
  });
export type ContainerImage = z.infer<typeof ContainerImage>;

/** A host CPU model: cores and memory system, for CPU inference speed (core/sizing/speed.ts). */
export const CpuModel = z
  .object({
    /** Catalog id, kebab-case, e.g. `amd-epyc-9334`. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    /** Marketing name, e.g. "AMD EPYC 9334". */
    model: z.string(),
    vendor: z.enum(["intel", "amd"]),
    /** Physical cores per socket. */
    cores: z.number().int().positive(),
    /** Hardware threads per socket. */
    threads: z.number().int().positive(),
    /** Memory channels per socket. */
    memoryChannels: z.number().int().positive(),
    /** "DDR4" or "DDR5". */
    memoryType: z.enum(["DDR4", "DDR5"]),
    /** Memory transfer rate assumed, MT/s. */
    memoryMTs: z.number().positive(),
    /** Peak memory bandwidth of one socket, GB/s: channels × MT/s × 8 bytes. */
    peakBandwidthGBs: z.number().positive(),
    notes: z.string().optional(),
    sources: Sources,
  })
  .strict()
  .refine((c) => Math.abs(c.peakBandwidthGBs - (c.memoryChannels * c.memoryMTs * 8) / 1000) < 0.5, {
    message: "peakBandwidthGBs must equal memoryChannels × memoryMTs × 8 / 1000",
    path: ["peakBandwidthGBs"],
  });
export type CpuModel = z.infer<typeof CpuModel>;

/** What one offer's CPU gives an inference engine: usable cores and memory bandwidth. */
export const OfferCpu = z
  .object({
    /** Offer id in offers.json. */
    offer: z.string(),
    /** CPU id in cpus.json. */
    cpu: z.string(),
    /** Physical cores the offer gets (vCPUs / 2 for cloud instances). */
    cores: z.number().positive(),
    /** Memory bandwidth the offer can use, GB/s (estimated for shares of a host). */
    memBandwidthGBs: z.number().positive(),
    /** How far the cores and bandwidth can be trusted. */
    confidence: z.enum(["primary", "secondary", "unconfirmed"]),
    note: z.string().optional(),
  })
  .strict();
export type OfferCpu = z.infer<typeof OfferCpu>;

/** The contents of `core/catalog/data/cpus.json`. */
export const CpuCatalog = z.object({ cpus: z.array(CpuModel), offers: z.array(OfferCpu) }).strict();
export type CpuCatalog = z.infer<typeof CpuCatalog>;

// Prices for owning a server and for serverless GPUs (data/hardware.json, data/serverless.json), read by core/ownership.ts.

/** Where a hardware or serverless price was read, when, and how sure it is. */
export const PriceSource = z.object({ url: z.url(), read: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), confidence: PriceConfidence, note: z.string().optional() }).strict();
export type PriceSource = z.infer<typeof PriceSource>;

export const HardwarePrices = z
  .object({
    note: z.string(),
    usdPerEur: z.object({ value: z.number().positive(), source: PriceSource }).strict(),
    baseServers: z.array(z.object({ maxGpus: z.number().int().positive(), eur: z.number().positive(), nonGpuWatts: z.number().positive(), ramGiB: z.number().positive(), label: z.string(), source: PriceSource }).strict()).min(1),
    cards: z.array(z.object({ gpu: z.string(), usd: z.number().positive(), source: PriceSource }).strict()),
    systems: z.array(z.object({ gpu: z.string(), gpuCount: z.number().int().positive(), usd: z.number().positive(), nonGpuWatts: z.number().nonnegative(), label: z.string(), source: PriceSource }).strict()),
  })
  .strict();
export type HardwarePrices = z.infer<typeof HardwarePrices>;

export const ServerlessPrices = z
  .object({
    note: z.string(),
    providers: z.array(
      z
        .object({
          provider: z.string(),
          name: z.string(),
          notes: z.string(),
          maxGpus: z.number().int().positive(),
          maxGpusSource: PriceSource,
          gpus: z.array(z.object({ gpu: z.string(), label: z.string(), usdPerSecond: z.number().positive(), source: PriceSource }).strict()),
        })
        .strict(),
    ),
  })
  .strict();
export type ServerlessPrices = z.infer<typeof ServerlessPrices>;
