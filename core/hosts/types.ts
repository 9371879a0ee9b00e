/**
 * The shape of a host-kind module. Each kind (core/hosts/<kind>.ts) owns its zod schema, its one
 * offer/inventory resolver, every pure validator its component uses, the secrets it needs, and a
 * reader of its cloud resources for network-exposure. The registry (core/hosts/index.ts) assembles
 * them; nothing else in core/ decides by `kind`.
 */
import type { z } from "zod";
import type { Catalog, Gpu, Offer } from "../catalog";

/** A provider as allow-lists and facts name it. */
export type HostProvider = "scaleway" | "hetzner" | "onprem" | "colocation";

/** A resource as the analyzer hands it over: type, name and input properties. */
export interface ResourceFacts {
  type: string;
  name: string;
  props: Record<string, unknown>;
}

/** Something a provider resource opens that network-exposure judges. */
export interface Exposure {
  /** e.g. `resource dev-gpu-sg`. */
  subject: string;
  message: string;
}

/** A secret a host needs, read with `config.requireSecret` (or `config.require` for public keys). */
export interface SecretNeed {
  /** `gpu-hosting:` config key without the namespace, e.g. "sshPrivateKey". */
  key: string;
  /** Public values (an SSH public key) are read plainly; everything else as a secret. */
  secret: boolean;
  /** How to set it, as a command line. */
  how: string;
}

/** What a kind's resolver finds in the catalog (or the declared inventory) for one host. */
export interface ResolvedHost {
  offer: Offer | null;
  gpu: Gpu | null;
  /** Zone or location (lower case), or the site name for owned hosts. */
  location: string;
  gpuCount: number;
  nonGpuWatts: number;
  ramGiB: number | null;
  /** Purchase price of owned hosts, EUR. */
  hardwareEur: number | null;
  amortisationMonths: number;
}

/** Everything a resolver or validator may read besides the host itself. */
export interface HostContext {
  catalog: Catalog;
}

/**
 * One host kind. `C` is the parsed config of a host of this kind. Every message a resolver or
 * validator returns starts with `path` (a config path such as `gpu-hosting:hosts[2]`, or a
 * component's name) followed by the field as the user wrote it.
 */
export interface HostKind<S extends z.ZodObject = z.ZodObject, C = z.infer<S>> {
  /** Values of `kind` this module handles. */
  kinds: readonly string[];
  /** The host's config schema (strict, defaults included). */
  schema: S;
  /** Providers this kind's hosts may have (for allow-lists). */
  providers: readonly HostProvider[];
  provider(h: C): HostProvider;
  /** Whether hosts of this kind must name a declared site (owned machines). */
  needsSite: boolean;
  /** The one offer or inventory resolver: catalog entries, location, GPUs, power, price. */
  resolve(h: C, path: string, ctx: HostContext): ResolvedHost | { problems: string[] };
  /** Every pure validator the kind's component runs, in config terms. Empty when fine. */
  validate(h: C, path: string, ctx: HostContext): string[];
  /** Secrets a host of this kind needs. */
  secrets(h: C): SecretNeed[];
  /** What this kind's provider resources expose to the internet, for network-exposure. */
  exposures(resources: readonly ResourceFacts[], privatePorts: readonly number[]): Exposure[];
}

/** Declares a host-kind module, keeping the exact schema type. */
export function defineHostKind<S extends z.ZodObject>(k: HostKind<S>): HostKind<S> {
  return k;
}
