/**
 * Schema pieces shared by the stack config and the host-kind modules (core/hosts/*): names, CIDRs,
 * token counts, and the fields every host has. Pure; imports only zod.
 */
import { z } from "zod";

/** Context lengths as numbers or `32k`-style strings. */
export const Tokens = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+[kK]?$/, "expected a token count such as 8192 or 32k")
    .transform((s) => (/[kK]$/.test(s) ? Number(s.slice(0, -1)) * 1024 : Number(s))),
]);

/** Names of sites, hosts and deployments: they end up in resource names. */
export const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "use lower-case letters, digits and dashes (at most 63)");

/** An IPv4 or IPv6 CIDR (syntax only; host kinds check what their firewalls can express). */
export const Cidr = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/, "expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32");

/** Fields every host kind has. */
export const HostBase = {
  name: Name,
  /** Site name for on-prem hosts; providers' hosts belong to `<provider>-<location>` implicitly. */
  site: Name.optional(),
  /**
   * GPU power cap, watts per GPU, applied at install (`nvidia-smi -pl`). Must lie inside the GPU's
   * settable range (catalog `powerLimitWatts`).
   */
  gpuPowerCapWatts: z.number().positive().optional(),
  /**
   * Public DNS name of this host's endpoint: Caddy obtains a certificate for it (ACME; ports 80 and
   * 443 open). @default none (Caddy's internal CA; clients need its root certificate)
   */
  domain: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, "expected a DNS name such as llm.example.com").optional(),
  /** CIDRs allowed to reach SSH (port 22). @default [] (no SSH from anywhere) */
  sshAllowedCidrs: z.array(Cidr).default([]),
};
