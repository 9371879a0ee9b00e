/**
 * Stack configuration (`stacks/Pulumi.<env>.yaml`, namespace `gpu-hosting`), parsed once at the
 * boundary with zod. Defaults live here, so a stack file lists only what differs. Secrets (SSH
 * private keys, Robot and cloud credentials, Hugging Face tokens) never pass through this schema:
 * the program reads them with `config.requireSecret` and keeps them as secret Outputs.
 */
import { z } from "zod";
import { COOLING_TYPES } from "../footprint";
import { DTYPES, KV_CACHE_DTYPES } from "../sizing/dtypes";
import { ENGINES } from "../sizing/engines";
import { HostConfig, hostKindOf, PROVIDERS, secretKeysOf } from "../hosts";
import { ClusterConfig } from "../clusters";
import { Name, Tokens } from "./common";

export { Cidr, HostBase, Name, Tokens } from "./common";
export { HostConfig } from "../hosts";
export { HetznerCloudHostConfig } from "../hosts/hetznerCloud";
export { HetznerDedicatedHostConfig } from "../hosts/hetznerDedicated";
export { OnpremHostConfig } from "../hosts/onprem";
export { ScalewayHostConfig } from "../hosts/scaleway";

/** A site: where hosts draw power. Providers' own data centres are implicit sites. */
export const SiteConfig = z
  .object({
    name: Name,
    /** Power the site may draw for these hosts, watts (IT load × PUE). */
    powerBudgetWatts: z.number().positive().optional(),
    /** Cooling type, used for PUE and water when `pue` is not given. @default "air" */
    cooling: z.enum(COOLING_TYPES).default("air"),
    /** Power usage effectiveness; overrides the cooling type's default. */
    pue: z.number().min(1).max(3).optional(),
    /** Electricity price, EUR per kWh. @default 0.19 (EU non-household average) */
    electricityEurPerKwh: z.number().nonnegative().optional(),
    /** Grid carbon intensity, gCO2e per kWh. @default the country's, else the EU average */
    gridGramsPerKwh: z.number().nonnegative().optional(),
    /** ISO 3166-1 alpha-2 country code, for grid intensity and EU-only rules. */
    country: z.string().length(2).toUpperCase().optional(),
    /** Colocation rent for the whole site, EUR per month. */
    colocationEurPerMonth: z.number().nonnegative().optional(),
  })
  .strict();
export type SiteConfig = z.infer<typeof SiteConfig>;

export const DeploymentConfig = z
  .object({
    /** Name used in resource names and outputs. */
    name: Name,
    /** Hugging Face repo id or catalog alias. */
    model: z.string(),
    /** Hosts that each run one replica (and serve an equal share of `concurrency`). */
    hosts: z.array(Name).min(1).optional(),
    /** A cluster (clusters[].name) that runs the deployment, instead of hosts. */
    cluster: Name.optional(),
    /** Scale the cluster deployment on vLLM's queue (requests waiting per replica), between the bounds. @default none (fixed replicas) */
    autoscaling: z.object({ minReplicas: z.number().int().positive(), maxReplicas: z.number().int().positive(), targetWaitingRequests: z.number().positive().default(5) }).strict().optional(),
    /** Replicas on the cluster (each with the node type's GPUs). @default 1 */
    replicas: z.number().int().positive().max(1000).default(1),
    /** Public host name of the cluster deployment's Ingress (TLS from cert-manager). @default none (ClusterIP Service only) */
    ingressHost: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "expected a DNS name such as llm.example.com").optional(),
    /** Catalog GPU id, for sizing without hosts (planning only). */
    gpu: z.string().optional(),
    /** GPUs per replica (tensor parallel). @default all GPUs of the host, else 1 */
    gpuCount: z.number().int().positive().optional(),
    /** @default "vllm" */
    engine: z.enum(ENGINES).default("vllm"),
    /** @default "auto" (the checkpoint's own) */
    dtype: z.enum(DTYPES).default("auto"),
    /** @default "auto" */
    kvCacheDtype: z.enum(KV_CACHE_DTYPES).default("auto"),
    /** Context per request. @default 8192 */
    context: Tokens.default(8192),
    /**
     * Requests served at full context at once, in total: split over the replicas (hosts, or the
     * cluster's replicas; `autoscaling.minReplicas` when autoscaling), each sized and started for
     * ceil(concurrency / replicas) (core/config/replicas.ts). @default 1
     */
    concurrency: z.number().int().positive().default(1),
    /** @default 0.9 */
    gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9),
    /**
     * Container image, pinned by digest (`repo@sha256:<64 hex>`). @default the catalog's image for the
     * engine and the GPU vendor (core/catalog/data/images.json)
     */
    image: z.string().regex(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/, "expected an image pinned by digest, e.g. vllm/vllm-openai@sha256:<64 hex digits>").optional(),
    /** How long `pulumi up` waits for the endpoint to answer (weights download and load), seconds. @default 1800 */
    healthTimeoutSeconds: z.number().int().positive().max(86_400).default(1800),
    /** How the OpenAI-compatible endpoint is exposed. */
    endpoint: z
      .object({
        /** Serve only behind TLS. @default true */
        tls: z.boolean().default(true),
        /** Require an API key on /v1. @default true */
        apiKey: z.boolean().default(true),
        /** Open the engine's own port (8000) to the internet, bypassing TLS. @default false */
        publicEnginePort: z.boolean().default(false),
      })
      .strict()
      .default({ tls: true, apiKey: true, publicEnginePort: false }),
  })
  .strict();
export type DeploymentConfig = z.infer<typeof DeploymentConfig>;

export const BudgetsConfig = z
  .object({
    eurPerMonth: z.number().positive().optional(),
    kwhPerMonth: z.number().positive().optional(),
    co2eKgPerMonth: z.number().positive().optional(),
  })
  .strict();

export const AllowedConfig = z
  .object({
    /** @default all: hetzner, scaleway, onprem, colocation */
    providers: z.array(z.enum(PROVIDERS as [string, ...string[]])).optional(),
    /** Provider locations/zones allowed, e.g. ["fsn1", "fr-par-2"]. */
    regions: z.array(z.string()).optional(),
    /** Only EU locations. @default true */
    euOnly: z.boolean().default(true),
  })
  .strict();

export const StackConfig = z
  .object({
    /** production turns on `protect` and stricter network checks. @default "development" */
    environment: z.enum(["development", "staging", "production"]).default("development"),
    sites: z.array(SiteConfig).default([]),
    hosts: z.array(HostConfig).default([]),
    /** Kubernetes clusters deployments may run on instead of hosts. @default [] */
    clusters: z.array(ClusterConfig).default([]),
    deployments: z.array(DeploymentConfig).default([]),
    budgets: BudgetsConfig.default({}),
    allowed: AllowedConfig.default({ euOnly: true }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const unique = (kind: "sites" | "hosts" | "clusters" | "deployments", names: string[]): void => {
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (seen.has(n)) ctx.addIssue({ code: "custom", path: [kind, i, "name"], message: `"${n}" is used twice; names must be unique` });
        seen.add(n);
      });
    };
    unique("sites", c.sites.map((s) => s.name));
    unique("hosts", c.hosts.map((h) => h.name));
    unique("clusters", c.clusters.map((x) => x.name));
    const clusters = new Set(c.clusters.map((x) => x.name));
    unique("deployments", c.deployments.map((d) => d.name));
    const sites = new Set(c.sites.map((s) => s.name));
    const hosts = new Set(c.hosts.map((h) => h.name));
    // One proxy per host: the deployments it serves share its TLS and API-key settings.
    const endpointOf = new Map<string, { i: number; tls: boolean; apiKey: boolean }>();
    c.deployments.forEach((d, i) => {
      for (const h of d.hosts ?? []) {
        const first = endpointOf.get(h);
        if (!first) endpointOf.set(h, { i, tls: d.endpoint.tls, apiKey: d.endpoint.apiKey });
        else {
          for (const k of ["tls", "apiKey"] as const) {
            if (first[k] !== d.endpoint[k]) {
              ctx.addIssue({ code: "custom", path: ["deployments", i, "endpoint", k], message: `${d.endpoint[k]} differs from deployments[${first.i}].endpoint.${k} (${first[k]}), which host ${h} also serves; the deployments of one host share its proxy, so give them the same value` });
            }
          }
        }
      }
    });
    c.hosts.forEach((h, i) => {
      if (hostKindOf(h).needsSite && !h.site) {
        ctx.addIssue({ code: "custom", path: ["hosts", i, "site"], message: `required for ${h.kind} hosts; name one of sites[].name` });
      }
      if (h.site && !sites.has(h.site)) {
        ctx.addIssue({ code: "custom", path: ["hosts", i, "site"], message: `"${h.site}" is not a site; declared sites: ${[...sites].join(", ") || "none"}` });
      }
    });
    c.deployments.forEach((d, i) => {
      if (!d.hosts && !d.cluster && !d.gpu) ctx.addIssue({ code: "custom", path: ["deployments", i, "hosts"], message: "give the hosts that run this deployment, or its cluster (or gpu, for planning only)" });
      if (d.hosts && d.cluster) ctx.addIssue({ code: "custom", path: ["deployments", i, "cluster"], message: "give hosts or a cluster, not both" });
      if (d.cluster && !clusters.has(d.cluster)) ctx.addIssue({ code: "custom", path: ["deployments", i, "cluster"], message: `"${d.cluster}" is not a cluster; declared clusters: ${[...clusters].join(", ") || "none"}` });
      if (d.replicas > 1 && !d.cluster) ctx.addIssue({ code: "custom", path: ["deployments", i, "replicas"], message: "replicas apply to clusters; on hosts each host in hosts runs one replica" });
      d.hosts?.forEach((h, j) => {
        if (!hosts.has(h)) ctx.addIssue({ code: "custom", path: ["deployments", i, "hosts", j], message: `"${h}" is not a host; declared hosts: ${[...hosts].join(", ") || "none"}` });
      });
    });
  });
export type StackConfig = z.infer<typeof StackConfig>;

/** Formats a zod issue path as the user wrote it: `gpu-hosting:hosts[0].zone`. */
export function configPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "gpu-hosting";
  return `gpu-hosting:${path.map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`)).join("")}`;
}

/**
 * `gpu-hosting:` keys that hold secrets or keys for secrets rather than stack data; they are read
 * with `config.requireSecret` and never parsed here.
 */
export const SECRET_CONFIG_KEYS: readonly string[] = [...secretKeysOf([]), "hfToken", "apiKey", "kubeconfig"];

/**
 * Names that are JavaScript prototype properties. They are never config keys: as a plain object's
 * key `__proto__` would replace the object's prototype (a `gpu-hosting:__proto__` mapping could
 * supply `environment` and every other default). Stack files holding them are refused by path.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Picks the schema's input from a stack's config map (all namespaces; values may be JSON strings
 * as the Pulumi runtime hands them over): the `gpu-hosting:` keys without the namespace, less the
 * secret keys (SECRET_CONFIG_KEYS and any key that hosts[].privateKeySecret names). The result has
 * no prototype, so a key such as `gpu-hosting:__proto__` stays a key (the strict schema then
 * refuses it by path) instead of becoming the object's prototype.
 */
export function stackConfigInput(all: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(all)) {
    if (!k.startsWith("gpu-hosting:")) continue;
    let value = v;
    if (typeof v === "string" && /^[[{]/.test(v.trim())) {
      try {
        value = JSON.parse(v);
      } catch {
        value = v;
      }
    }
    out[k.slice("gpu-hosting:".length)] = value;
  }
  const hosts = Object.hasOwn(out, "hosts") && Array.isArray(out.hosts) ? out.hosts : [];
  for (const k of [...SECRET_CONFIG_KEYS, ...secretKeysOf(hosts)]) if (!RESERVED_KEYS.has(k)) delete out[k];
  return out;
}

/** Parses config; on failure lists every problem by its config path. */
export function parseStackConfig(raw: unknown): { ok: true; config: StackConfig } | { ok: false; problems: string[] } {
  const r = StackConfig.safeParse(raw ?? {});
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${configPath(i.path)}: ${i.message}`) };
}
