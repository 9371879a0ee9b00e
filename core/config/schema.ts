/**
 * Stack configuration (`stacks/Pulumi.<env>.yaml`, namespace `gpu-hosting`), parsed once at the
 * boundary with zod. Defaults live here, so a stack file lists only what differs.
 *
 * This first version carries deployments sized against catalog GPUs; hosts, sites and budgets
 * follow with the host components.
 */
import { z } from "zod";
import { DTYPES, KV_CACHE_DTYPES } from "../sizing/dtypes";
import { ENGINES } from "../sizing/engines";

/** Context lengths as numbers or `32k`-style strings. */
const Tokens = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+[kK]?$/, "expected a token count such as 8192 or 32k")
    .transform((s) => (/[kK]$/.test(s) ? Number(s.slice(0, -1)) * 1024 : Number(s))),
]);

export const DeploymentConfig = z
  .object({
    /** Name used in resource names and outputs. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "use lower-case letters, digits and dashes"),
    /** Hugging Face repo id or catalog alias. */
    model: z.string(),
    /** Catalog GPU id. */
    gpu: z.string(),
    /** @default 1 */
    gpuCount: z.number().int().positive().default(1),
    /** @default "auto" */
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
  })
  .strict();
export type DeploymentConfig = z.infer<typeof DeploymentConfig>;

export const StackConfig = z
  .object({
    deployments: z.array(DeploymentConfig).default([]),
  })
  .strict();
export type StackConfig = z.infer<typeof StackConfig>;

/** Parses config; on failure lists every problem by its config path. */
export function parseStackConfig(raw: unknown): { ok: true; config: StackConfig } | { ok: false; problems: string[] } {
  const r = StackConfig.safeParse(raw ?? {});
  if (r.success) return { ok: true, config: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => `gpu-hosting:${i.path.map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? p : `.${String(p)}`)).join("")}: ${i.message}`),
  };
}
