/**
 * The registry of host kinds. The stack config's host union, fleet resolution, allowed providers,
 * secret keys and the network-exposure readers are all derived from HOST_KINDS; adding a kind is a
 * module in this folder and one line here (plus its component: components/README.md).
 */
import { z } from "zod";
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { powerCapProblem } from "./common";
import { hetznerCloud } from "./hetznerCloud";
import { hetznerDedicated } from "./hetznerDedicated";
import { onprem } from "./onprem";
import { scaleway } from "./scaleway";
import type { Exposure, HostKind, HostProvider, ResolvedHost, ResourceFacts, SecretNeed } from "./types";

export * from "./types";
export { hetznerCloud, hetznerDedicated, onprem, scaleway };

/** Every host kind. The one registry line to extend when adding a kind. */
export const HOST_KINDS = [scaleway, hetznerDedicated, hetznerCloud, onprem] as const;

type SchemasOf<T extends readonly { schema: unknown }[]> = { -readonly [I in keyof T]: T[I]["schema"] };
type Schemas = SchemasOf<typeof HOST_KINDS>;

/** A host of any kind, as the stack config declares it. */
export const HostConfig = z.discriminatedUnion("kind", HOST_KINDS.map((k) => k.schema) as unknown as Schemas);
export type HostConfig = z.infer<typeof HostConfig>;

/** Every `kind` value, in registry order. */
export const HOST_KIND_NAMES: readonly HostConfig["kind"][] = HOST_KINDS.flatMap((k) => k.kinds) as HostConfig["kind"][];

/** Every provider a host can have, for allow-lists. */
export const PROVIDERS: readonly HostProvider[] = [...new Set(HOST_KINDS.flatMap((k) => k.providers))];

/** The module of a host's kind. */
export function hostKindOf(h: { kind: string }): HostKind<z.ZodObject, HostConfig> {
  const k = HOST_KINDS.find((m) => m.kinds.includes(h.kind));
  if (!k) throw new Error(`host kind "${h.kind}" is not registered; known: ${HOST_KIND_NAMES.join(", ")}`);
  return k as unknown as HostKind<z.ZodObject, HostConfig>;
}

/** A host's provider. */
export const providerOf = (h: HostConfig): HostProvider => hostKindOf(h).provider(h);

/**
 * Resolves and validates one host: the kind's resolver, its validators and the power-cap rule.
 * Returns what was resolved (null when the catalog cannot place it) and every problem, each
 * starting with `path`.
 */
export function resolveAndValidate(h: HostConfig, path: string, c: Catalog = defaultCatalog()): { resolved: ResolvedHost | null; problems: string[] } {
  const kind = hostKindOf(h);
  const ctx = { catalog: c };
  const r = kind.resolve(h, path, ctx);
  const problems = [...("problems" in r ? r.problems : [])];
  for (const p of kind.validate(h, path, ctx)) if (!problems.includes(p)) problems.push(p);
  const resolved = "problems" in r ? null : r;
  if (resolved) {
    const cap = powerCapProblem(path, h.gpuPowerCapWatts, resolved.gpu);
    if (cap) problems.push(cap);
  }
  return { resolved, problems };
}

/** Secrets each host needs, with the host's index. */
export function secretNeeds(hosts: readonly HostConfig[]): { host: number; need: SecretNeed }[] {
  return hosts.flatMap((h, i) => hostKindOf(h).secrets(h).map((need) => ({ host: i, need })));
}

/** Config keys (without namespace) that hold secrets the hosts need: never parsed as stack data. */
export function secretKeysOf(hosts: readonly unknown[]): string[] {
  const keys = new Set<string>();
  for (const kind of HOST_KINDS) for (const s of kind.secrets({ privateKeySecret: "sshPrivateKey" } as never)) keys.add(s.key);
  for (const h of hosts) {
    if (h && typeof h === "object" && typeof (h as { privateKeySecret?: unknown }).privateKeySecret === "string") keys.add((h as { privateKeySecret: string }).privateKeySecret);
  }
  return [...keys];
}

/** What every kind's provider resources expose, for network-exposure. */
export function exposuresOf(resources: readonly ResourceFacts[], privatePorts: readonly number[]): Exposure[] {
  // Resource by resource, so findings follow the order the program declared them in.
  return resources.flatMap((r) => HOST_KINDS.flatMap((k) => k.exposures([r], privatePorts)));
}
