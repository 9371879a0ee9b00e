/**
 * Host kinds `onprem` and `colocation`: machines that already exist, reached over SSH with a pinned
 * host key (component `onprem.Host`). Their schema, the inventory resolver (declared GPUs against
 * the catalog), every validator the component runs (host key, port, user, inventory), the probe
 * comparison, and the secret each host names. They have no provider resources, so nothing for
 * network-exposure to read: SSH exposure of owned machines is their own firewall's business.
 */
import { z } from "zod";
import { closest, findGpu, type Catalog, type Gpu } from "../catalog";
import { quotedId, shownId } from "../checks/redact";
import { HostBase } from "../config/common";
import { compareInventory, parseProbeOutput, parsePublicKey, type ProbeResult } from "../probe/ssh";
import { defineHostKind } from "./types";

/** Default SSH port. */
export const DEFAULT_SSH_PORT = 22;
/** Default login user. */
export const DEFAULT_ONPREM_USER = "root";
/** Default config key of the secret holding the host's private key. */
export const DEFAULT_PRIVATE_KEY_SECRET = "sshPrivateKey";
/** Default watts for everything but the GPUs. */
export const DEFAULT_NON_GPU_WATTS = 250;

export const OnpremHostConfig = z
  .object({
    ...HostBase,
    kind: z.enum(["onprem", "colocation"]),
    /** Address SSH connects to. */
    address: z.string().min(1),
    /** @default 22 */
    port: z.number().default(DEFAULT_SSH_PORT),
    /** @default "root" */
    user: z.string().default(DEFAULT_ONPREM_USER),
    /** Pinned host key, as in known_hosts: "ssh-ed25519 AAAA…". */
    hostKey: z.string(),
    /** Config key of the secret holding this host's private key. @default "sshPrivateKey" */
    privateKeySecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, "use a config key name such as sshPrivateKey or rack1Key").default(DEFAULT_PRIVATE_KEY_SECRET),
    /** What the host is declared to have; the probe checks it. */
    inventory: z
      .object({
        /** Catalog GPU id, or null for CPU-only hosts. */
        gpu: z.string().nullable(),
        /** Number of GPUs; 0 for CPU-only hosts. */
        gpuCount: z.number(),
        /** Everything but the GPUs at load, watts. @default 250 */
        nonGpuWatts: z.number().nonnegative().default(DEFAULT_NON_GPU_WATTS),
        ramGiB: z.number().positive().optional(),
      })
      .strict(),
    /** Purchase price, EUR, for amortisation. */
    hardwareEur: z.number().nonnegative().optional(),
    /** @default 36 */
    amortisationMonths: z.number().int().positive().default(36),
  })
  .strict();
export type OnpremHostConfig = z.infer<typeof OnpremHostConfig>;

/** What the validators read; the component's arguments carry the same fields. */
export interface OwnedHostSettings {
  hostKey: string;
  port: number;
  user: string;
  inventory: { gpu: string | null; gpuCount: number };
}

/** The declared GPU from the catalog, or the problem. */
function inventoryGpu(path: string, gpu: string | null, c: Catalog): Gpu | null | { problem: string } {
  if (gpu === null) return null;
  const g = findGpu(gpu, c);
  if (g) return g;
  const hint = shownId(gpu) === gpu ? `; closest: ${closest(gpu, c.gpus.map((x) => x.id)).join(", ")}` : "";
  return { problem: `${path}.inventory.gpu: ${quotedId(gpu)} is not in the GPU catalog${hint} (\`gpu-hosting catalog gpus\` lists them)` };
}

/** Every problem with an owned host's settings, each starting with `path`. Pure. */
export function ownedHostProblems(path: string, s: OwnedHostSettings, c: Catalog): string[] {
  const problems: string[] = [];
  const gpu = inventoryGpu(path, s.inventory.gpu, c);
  if (gpu !== null && "problem" in gpu) problems.push(gpu.problem);
  const n = s.inventory.gpuCount;
  if (!Number.isInteger(n) || n < 0) problems.push(`${path}.inventory.gpuCount: ${n} is not a GPU count; use a whole number, 0 for a CPU-only host`);
  else if (s.inventory.gpu === null && n !== 0) problems.push(`${path}.inventory.gpuCount: ${n} GPUs declared with inventory.gpu null (CPU-only); name the GPU (a catalog id, e.g. "rtx-4090") or set gpuCount: 0`);
  else if (s.inventory.gpu !== null && n === 0) problems.push(`${path}.inventory.gpuCount: 0 with inventory.gpu ${quotedId(s.inventory.gpu)}; give the number of GPUs, or set gpu: null for a CPU-only host`);
  try {
    parsePublicKey(s.hostKey);
  } catch (e) {
    problems.push(`${path}.hostKey: ${(e as Error).message}; \`gpu-hosting discover user@host\` prints it`);
  }
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) problems.push(`${path}.port: ${s.port} is not a TCP port; use 1–65535 (sshd's Port, usually 22)`);
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(s.user)) problems.push(`${path}.user: ${JSON.stringify(s.user)} is not a login name; use the account's name, e.g. "ubuntu"`);
  return problems;
}

/**
 * Parses the probe's stdout and checks it against the declared facts.
 * @throws Error listing every disagreement with both values, and the fix.
 */
export function checkProbe(prefix: string, stdout: string, hostKey: string, facts: { gpu: string | null; gpuCount: number; ramGiB: number | null }): ProbeResult {
  const result = parseProbeOutput(stdout, hostKey);
  const mismatches = compareInventory({ gpu: facts.gpu, gpuCount: facts.gpuCount, ramGiB: facts.ramGiB }, result);
  if (mismatches.length > 0) {
    throw new Error(
      `${prefix}: the probe disagrees with the declared inventory:\n${mismatches.map((m) => `  ${m.message}`).join("\n")}\n` +
        `Correct the host's inventory in the stack file (\`gpu-hosting discover\` prints what the host has), or fix the machine, then run pulumi up again`,
    );
  }
  return result;
}

export const onprem = defineHostKind({
  kinds: ["onprem", "colocation"],
  schema: OnpremHostConfig,
  providers: ["onprem", "colocation"],
  provider: (h) => h.kind,
  needsSite: true,
  resolve(h, path, ctx) {
    const gpu = inventoryGpu(path, h.inventory.gpu, ctx.catalog);
    if (gpu !== null && "problem" in gpu) return { problems: [gpu.problem] };
    return {
      offer: null,
      gpu,
      location: h.site ?? "",
      gpuCount: h.inventory.gpuCount,
      nonGpuWatts: h.inventory.nonGpuWatts,
      ramGiB: h.inventory.ramGiB ?? null,
      hardwareEur: h.hardwareEur ?? null,
      amortisationMonths: h.amortisationMonths,
    };
  },
  validate: (h, path, ctx) => ownedHostProblems(path, h, ctx.catalog),
  secrets: (h) => [{ key: h.privateKeySecret, secret: true, how: `pulumi config set --secret ${h.privateKeySecret} < ~/.ssh/id_ed25519` }],
  exposures: () => [],
});
