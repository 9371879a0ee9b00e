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

/** Context lengths as numbers or `32k`-style strings. */
export const Tokens = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+[kK]?$/, "expected a token count such as 8192 or 32k")
    .transform((s) => (/[kK]$/.test(s) ? Number(s.slice(0, -1)) * 1024 : Number(s))),
]);

const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "use lower-case letters, digits and dashes (at most 63)");
const Cidr = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/, "expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32");

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

const HostBase = {
  name: Name,
  /** Site name for on-prem hosts; providers' hosts belong to `<provider>-<location>` implicitly. */
  site: Name.optional(),
  /** GPU power cap applied at install (`nvidia-smi -pl`), watts per GPU. */
  gpuPowerCapWatts: z.number().positive().optional(),
  /** CIDRs allowed to reach SSH (port 22). @default [] (no SSH from anywhere) */
  sshAllowedCidrs: z.array(Cidr).default([]),
};

export const ScalewayHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("scaleway"),
    /** Commercial type, e.g. "L40S-1-48G". */
    type: z.string(),
    /** Zone, e.g. "fr-par-2". */
    zone: z.string(),
    /** Image label or UUID. @default "ubuntu_noble_gpu_os_12" (driver, Docker and container toolkit preinstalled) */
    image: z.string().default("ubuntu_noble_gpu_os_12"),
    /** Root volume size, GB. @default 200 */
    rootVolumeGb: z.number().int().min(20).default(200),
  })
  .strict();

export const HetznerDedicatedHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("hetzner-dedicated"),
    /** Product name, e.g. "GEX45". */
    product: z.string(),
    /** Location, e.g. "fsn1". */
    location: z.string(),
    /** Adopt an existing server by its number instead of ordering one. */
    serverNumber: z.number().int().positive().optional(),
    /** Place a real order. Without it an order runs in the webservice's test mode. @default false */
    confirmOrder: z.boolean().default(false),
    /** Fingerprints of SSH keys uploaded to Robot, installed on an ordered server. @default [] */
    authorizedKeys: z.array(z.string().regex(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/, "expected an MD5 fingerprint as Robot lists it, e.g. 56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10")).default([]),
    /** Join a vSwitch coupled to an hcloud network (eu-central only). */
    privateNetwork: z
      .object({
        vlan: z.number().int().min(4000).max(4091),
        networkIpRange: z.string().default("10.100.0.0/16"),
        vswitchSubnet: z.string().default("10.100.1.0/24"),
      })
      .strict()
      .optional(),
    /** Put an hcloud load balancer with a managed TLS certificate in front (needs privateNetwork). */
    loadBalancer: z.object({ domain: z.string() }).strict().optional(),
  })
  .strict();

export const HetznerCloudHostConfig = z
  .object({
    ...HostBase,
    kind: z.literal("hetzner-cloud"),
    /** Dedicated-vCPU server type for CPU inference, e.g. "ccx33". */
    serverType: z.string(),
    location: z.string(),
    /** @default "ubuntu-24.04" */
    image: z.string().default("ubuntu-24.04"),
  })
  .strict();

export const OnpremHostConfig = z
  .object({
    ...HostBase,
    kind: z.enum(["onprem", "colocation"]),
    /** Address SSH connects to. */
    address: z.string().min(1),
    /** @default 22 */
    port: z.number().int().min(1).max(65535).default(22),
    /** @default "root" */
    user: z.string().default("root"),
    /** Pinned host key, as in known_hosts: "ssh-ed25519 AAAA…". */
    hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+/, "expected a public host key such as ssh-ed25519 AAAA…"),
    /** Config key of the secret holding this host's private key. @default "sshPrivateKey" */
    privateKeySecret: z.string().default("sshPrivateKey"),
    /** What the host is declared to have; the probe checks it. */
    inventory: z
      .object({
        /** Catalog GPU id, or null for CPU-only hosts. */
        gpu: z.string().nullable(),
        gpuCount: z.number().int().nonnegative(),
        /** Everything but the GPUs at load, watts. @default 250 */
        nonGpuWatts: z.number().nonnegative().default(250),
        ramGiB: z.number().positive().optional(),
      })
      .strict(),
    /** Purchase price, EUR, for amortisation. */
    hardwareEur: z.number().nonnegative().optional(),
    /** @default 36 */
    amortisationMonths: z.number().int().positive().default(36),
  })
  .strict();

export const HostConfig = z.discriminatedUnion("kind", [ScalewayHostConfig, HetznerDedicatedHostConfig, HetznerCloudHostConfig, OnpremHostConfig]);
export type HostConfig = z.infer<typeof HostConfig>;
export type ScalewayHostConfig = z.infer<typeof ScalewayHostConfig>;
export type HetznerDedicatedHostConfig = z.infer<typeof HetznerDedicatedHostConfig>;
export type HetznerCloudHostConfig = z.infer<typeof HetznerCloudHostConfig>;
export type OnpremHostConfig = z.infer<typeof OnpremHostConfig>;

export const DeploymentConfig = z
  .object({
    /** Name used in resource names and outputs. */
    name: Name,
    /** Hugging Face repo id or catalog alias. */
    model: z.string(),
    /** Hosts that each run one replica. */
    hosts: z.array(Name).min(1).optional(),
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
    /** Requests served at full context at once. @default 1 */
    concurrency: z.number().int().positive().default(1),
    /** @default 0.9 */
    gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9),
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
    providers: z.array(z.enum(["hetzner", "scaleway", "onprem", "colocation"])).optional(),
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
    deployments: z.array(DeploymentConfig).default([]),
    budgets: BudgetsConfig.default({}),
    allowed: AllowedConfig.default({ euOnly: true }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const unique = (kind: "sites" | "hosts" | "deployments", names: string[]): void => {
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (seen.has(n)) ctx.addIssue({ code: "custom", path: [kind, i, "name"], message: `"${n}" is used twice; names must be unique` });
        seen.add(n);
      });
    };
    unique("sites", c.sites.map((s) => s.name));
    unique("hosts", c.hosts.map((h) => h.name));
    unique("deployments", c.deployments.map((d) => d.name));
    const sites = new Set(c.sites.map((s) => s.name));
    const hosts = new Set(c.hosts.map((h) => h.name));
    c.hosts.forEach((h, i) => {
      if ((h.kind === "onprem" || h.kind === "colocation") && !h.site) {
        ctx.addIssue({ code: "custom", path: ["hosts", i, "site"], message: `required for ${h.kind} hosts; name one of sites[].name` });
      }
      if (h.site && !sites.has(h.site)) {
        ctx.addIssue({ code: "custom", path: ["hosts", i, "site"], message: `"${h.site}" is not a site; declared sites: ${[...sites].join(", ") || "none"}` });
      }
      if (h.kind === "hetzner-dedicated" && h.loadBalancer && !h.privateNetwork) {
        ctx.addIssue({ code: "custom", path: ["hosts", i, "loadBalancer"], message: "needs privateNetwork: the load balancer reaches the server through the vSwitch" });
      }
    });
    c.deployments.forEach((d, i) => {
      if (!d.hosts && !d.gpu) ctx.addIssue({ code: "custom", path: ["deployments", i, "hosts"], message: "give the hosts that run this deployment (or gpu, for planning only)" });
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
export const SECRET_CONFIG_KEYS = ["sshPrivateKey", "sshPublicKey", "robotUser", "robotPassword", "hfToken", "apiKey"] as const;

/**
 * Picks the schema's input from a stack's config map (all namespaces; values may be JSON strings
 * as the Pulumi runtime hands them over): the `gpu-hosting:` keys without the namespace, less the
 * secret keys (SECRET_CONFIG_KEYS and any key that hosts[].privateKeySecret names).
 */
export function stackConfigInput(all: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
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
  const hosts = Array.isArray(out.hosts) ? (out.hosts as Record<string, unknown>[]) : [];
  const named = hosts.map((h) => (h && typeof h === "object" ? h.privateKeySecret : undefined)).filter((x): x is string => typeof x === "string");
  for (const k of [...SECRET_CONFIG_KEYS, ...named]) delete out[k];
  return out;
}

/** Parses config; on failure lists every problem by its config path. */
export function parseStackConfig(raw: unknown): { ok: true; config: StackConfig } | { ok: false; problems: string[] } {
  const r = StackConfig.safeParse(raw ?? {});
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${configPath(i.path)}: ${i.message}`) };
}
