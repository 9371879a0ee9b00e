/**
 * Host probe: one read-only shell script that prints every fact between marker lines, a pure parser
 * for its output, a pure inventory comparison, and {@link probeHost}, which runs the script over SSH
 * with `ssh2` (strict host key checking: a pinned key, or trust on first use only when asked for). The script and its parser are shared
 * by `gpu-hosting discover` and the `onprem.Host` component (which runs it with `@pulumi/command`).
 */
import { createHash } from "node:crypto";
import type { ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import { findGpu } from "../catalog";
import {
  ROCM_SMI_COMMAND,
  parseLscpu,
  parseMeminfo,
  parseNvidiaSmiCsv,
  parseNvidiaSmiCudaVersion,
  parseOsRelease,
  parseRocmSmi,
  type LscpuInfo,
  type OsRelease,
} from "./parse";
import { blobType, fingerprint, parseHostKeyPin, parsePublicKey, pinFingerprint, type PublicKey } from "./hostKey";
import { sectionScriptPrologue } from "./sections";

export { HOST_KEY_TYPES, fingerprint, formatPublicKey, parseHostKeyPin, parsePublicKey, pinFingerprint, type HostKeyPin, type PublicKey } from "./hostKey";

// ---------------------------------------------------------------------------------------------
// The probe script
// ---------------------------------------------------------------------------------------------

/** Prefix of the marker lines around each section. */
export const PROBE_MARKER = "@@gpu-hosting-probe";

/** Sections the script prints, in order. */
export const PROBE_SECTIONS = ["hostname", "nvidia-query", "nvidia-banner", "rocm", "lscpu", "meminfo", "os-release"] as const;
export type ProbeSection = (typeof PROBE_SECTIONS)[number];

/**
 * Renders the probe: a POSIX sh script, read-only (it changes nothing on the host), that prints each
 * section as `@@gpu-hosting-probe begin <name>`, the command's output (stderr merged), then
 * `@@gpu-hosting-probe end <name> rc=<exit status>` or `… end <name> absent` when the command is
 * not installed. nvidia-smi is asked for `compute_cap` first and again without it when the driver
 * refuses the field. Always exits 0: the parser decides what the output means.
 */
export function renderProbeScript(): string {
  return `${sectionScriptPrologue("gpu-hosting host probe: read-only; prints each section between marker lines.", PROBE_MARKER)}
section hostname uname uname -n
section nvidia-query nvidia-smi nvidia_query
section nvidia-banner nvidia-smi nvidia-smi
section rocm rocm-smi ${ROCM_SMI_COMMAND}
section lscpu lscpu lscpu
section meminfo cat cat /proc/meminfo
section os-release cat cat /etc/os-release
exit 0
`;
}

/** The remote command line: the script handed to `sh -c`, so it runs the same whatever the login shell. */
export function probeCommand(script: string = renderProbeScript()): string {
  return `sh -c '${script.replace(/'/g, `'\\''`)}'`;
}

/** Content hash of the script (hex SHA-256), for `triggers`: a new script re-runs the probe. */
export const probeScriptHash = (script: string = renderProbeScript()): string => createHash("sha256").update(script).digest("hex");

// ---------------------------------------------------------------------------------------------
// Parsing its output
// ---------------------------------------------------------------------------------------------

/** One GPU the probe found, NVIDIA or AMD. */
export interface ProbeGpu {
  vendor: "nvidia" | "amd";
  index: number;
  /** As the driver names it, e.g. "NVIDIA GeForce RTX 4090". */
  name: string;
  memoryMiB: number;
  /** Catalog id, e.g. "rtx-4090"; null when the catalog does not know the name. */
  catalogId: string | null;
  /** NVIDIA only: power limit, watts; null when not reported. */
  powerLimitWatts: number | null;
  /** NVIDIA only: PCI bus id. */
  busId: string | null;
  /** NVIDIA only: compute capability "9.0"; null when not reported. */
  computeCapability: string | null;
}

/** What a probe found on a host. */
export interface ProbeResult {
  /** `uname -n`. */
  hostname: string;
  gpus: ProbeGpu[];
  /** NVIDIA driver version; null without NVIDIA GPUs. */
  driverVersion: string | null;
  /** CUDA version the driver supports; null without NVIDIA GPUs or when not reported. */
  cudaVersion: string | null;
  cpu: LscpuInfo;
  /** MemTotal, GiB (unrounded; a little under the installed RAM). */
  memTotalGiB: number;
  os: OsRelease;
  /** The host key the connection verified (pinned) or accepted on first use (trustOnFirstUse). */
  hostKey: PublicKey;
  /** OpenSSH-style "SHA256:…" fingerprint of {@link hostKey}. */
  hostKeyFingerprint: string;
  /** Things the probe could not read but did not need, e.g. "rocm-smi printed no JSON". */
  warnings: string[];
}

interface Section {
  text: string;
  /** Exit status, or null when the program is not installed. */
  rc: number | null;
}

/** Splits the script's output into its sections. @throws Error naming a missing or unterminated section. */
export function splitProbeOutput(stdout: string): Record<ProbeSection, Section> {
  const lines = stdout.split(/\r?\n/);
  const out: Partial<Record<ProbeSection, Section>> = {};
  for (const name of PROBE_SECTIONS) {
    const begin = lines.indexOf(`${PROBE_MARKER} begin ${name}`);
    if (begin < 0) {
      throw new Error(`probe output: no "${PROBE_MARKER} begin ${name}" line; expected the output of the gpu-hosting probe script (was it truncated, or did the login shell print something else?)`);
    }
    const endAt = lines.findIndex((l, i) => i > begin && l.startsWith(`${PROBE_MARKER} end ${name} `));
    const end = /^\S+ end \S+ (?:rc=(\d+)|(absent))$/.exec(lines[endAt] ?? "");
    if (endAt < 0 || !end) throw new Error(`probe output: section "${name}" has no "${PROBE_MARKER} end ${name} rc=N" line (output truncated?)`);
    out[name] = { text: lines.slice(begin + 1, endAt).join("\n").trim(), rc: end[2] ? null : Number(end[1]) };
  }
  return out as Record<ProbeSection, Section>;
}

/**
 * Parses the probe script's stdout with the `./parse` parsers.
 * @param hostKey the key the SSH connection verified ("ssh-ed25519 AAAA…").
 * @throws Error naming the section and what was wrong (driver not loaded, lscpu missing, …).
 */
export function parseProbeOutput(stdout: string, hostKey: string | PublicKey): ProbeResult {
  const s = splitProbeOutput(stdout);
  const key = typeof hostKey === "string" ? parsePublicKey(hostKey) : hostKey;
  const warnings: string[] = [];
  const required = (name: ProbeSection, what: string): string => {
    const sec = s[name];
    if (sec.rc === null) throw new Error(`probe section ${name}: ${what} is not installed on the host; install it (util-linux / coreutils) and probe again`);
    if (sec.rc !== 0) throw new Error(`probe section ${name}: ${what} exited ${sec.rc}: ${sec.text.split("\n")[0] ?? ""}`);
    return sec.text;
  };

  const nvidia = s["nvidia-query"].rc === null ? [] : parseNvidiaSmiCsv(s["nvidia-query"].text);
  let cudaVersion: string | null = null;
  if (nvidia.length > 0 && s["nvidia-banner"].rc !== null) {
    try {
      cudaVersion = parseNvidiaSmiCudaVersion(s["nvidia-banner"].text);
    } catch (e) {
      warnings.push(`CUDA version unknown: ${(e as Error).message}`);
    }
  }
  let amd: ReturnType<typeof parseRocmSmi> = [];
  const rocm = s.rocm;
  if (rocm.rc !== null) {
    const json = rocm.text.slice(Math.max(0, rocm.text.indexOf("{")));
    if (rocm.rc === 0 || json.startsWith("{")) amd = parseRocmSmi(json);
    else warnings.push(`rocm-smi exited ${rocm.rc} without JSON (no AMD GPUs counted): ${rocm.text.split("\n")[0] ?? ""}`);
  }
  let os: OsRelease = { id: "linux", versionId: null, prettyName: "Linux", idLike: [] };
  if (s["os-release"].rc === 0) os = parseOsRelease(s["os-release"].text);
  else warnings.push(`/etc/os-release unreadable: ${s["os-release"].text.split("\n")[0] ?? ""}`);

  return {
    hostname: s.hostname.text,
    gpus: [
      ...nvidia.map((g): ProbeGpu => ({ vendor: "nvidia", index: g.index, name: g.name, memoryMiB: g.memoryMiB, catalogId: g.catalogId, powerLimitWatts: g.powerLimitWatts, busId: g.busId, computeCapability: g.computeCapability })),
      ...amd.map((g): ProbeGpu => ({ vendor: "amd", index: g.index, name: g.name, memoryMiB: g.memoryMiB, catalogId: g.catalogId, powerLimitWatts: null, busId: null, computeCapability: null })),
    ],
    driverVersion: nvidia[0]?.driverVersion ?? null,
    cudaVersion,
    cpu: parseLscpu(required("lscpu", "lscpu")),
    memTotalGiB: parseMeminfo(required("meminfo", "/proc/meminfo")).memTotalGiB,
    os,
    hostKey: key,
    hostKeyFingerprint: fingerprint(key),
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Declared inventory against the probe
// ---------------------------------------------------------------------------------------------

/** One disagreement between the declared inventory and the probe, with both values. */
export interface InventoryMismatch {
  /** The inventory field, as in the stack file: "inventory.gpu", "inventory.gpuCount", "inventory.ramGiB". */
  path: "inventory.gpu" | "inventory.gpuCount" | "inventory.ramGiB";
  declared: string;
  found: string;
  /** `<path>: declared <declared>, probe found <found>` */
  message: string;
}

/** "2 × NVIDIA L4 (l4) + 1 × Foo (not in the catalog)", or "no GPUs". */
export function describeGpus(gpus: readonly ProbeGpu[]): string {
  if (gpus.length === 0) return "no GPUs";
  const groups = new Map<string, { n: number; g: ProbeGpu }>();
  for (const g of gpus) {
    const k = `${g.name}|${g.catalogId}`;
    groups.set(k, { n: (groups.get(k)?.n ?? 0) + 1, g });
  }
  return [...groups.values()].map(({ n, g }) => `${n} × ${g.name} (${g.catalogId ?? "not in the catalog"})`).join(" + ");
}

/**
 * Compares a declared inventory with what the probe found: GPU model (by catalog id), GPU count,
 * and RAM when declared (MemTotal sits a little under the installed RAM, so only a difference of
 * more than 10 % or 4 GiB counts). Pure.
 * @returns one entry per disagreement; empty when they agree.
 */
export function compareInventory(
  declared: { gpu: string | null; gpuCount: number; ramGiB?: number | null },
  probe: Pick<ProbeResult, "gpus"> & Partial<Pick<ProbeResult, "memTotalGiB">>,
): InventoryMismatch[] {
  const out: InventoryMismatch[] = [];
  const add = (path: InventoryMismatch["path"], d: string, f: string): void => {
    out.push({ path, declared: d, found: f, message: `${path}: declared ${d}, probe found ${f}` });
  };
  const id = declared.gpu === null ? null : (findGpu(declared.gpu)?.id ?? declared.gpu);
  const d = id === null || declared.gpuCount === 0 ? "no GPUs (gpu: null)" : `${declared.gpuCount} × ${id}`;
  const found = describeGpus(probe.gpus);
  const sameModel = probe.gpus.every((g) => g.catalogId === id);
  if (probe.gpus.length > 0 && (id === null || !sameModel)) add("inventory.gpu", d, found);
  else if (probe.gpus.length !== (id === null ? 0 : declared.gpuCount)) add(probe.gpus.length === 0 ? "inventory.gpu" : "inventory.gpuCount", d, found);
  if (declared.ramGiB !== undefined && declared.ramGiB !== null && probe.memTotalGiB !== undefined) {
    const diff = Math.abs(declared.ramGiB - probe.memTotalGiB);
    if (diff > Math.max(4, 0.1 * probe.memTotalGiB)) add("inventory.ramGiB", `${declared.ramGiB} GiB`, `${probe.memTotalGiB.toFixed(1)} GiB (MemTotal)`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running it over SSH
// ---------------------------------------------------------------------------------------------

/** Why a probe failed; `code` lets callers (the CLI) map it to a fix. */
export class ProbeError extends Error {
  constructor(
    /** "host-key": the server's key differs from the pinned one; "host-key-unknown": nothing was pinned and trust on first use was not asked for. */
    readonly code: "connect" | "timeout" | "auth" | "host-key" | "host-key-unknown" | "private-key" | "command" | "output",
    message: string,
    /** The host key the server presented, when the failure is about it. */
    readonly presented?: PublicKey,
  ) {
    super(message);
    this.name = "ProbeError";
  }
}

export interface ProbeHostOptions {
  host: string;
  /** @default 22 */
  port?: number;
  username: string;
  /** Private key text (OpenSSH or PEM format, unencrypted). Give this or {@link agent}. */
  privateKey?: string | Buffer;
  /** ssh-agent socket path (the value of SSH_AUTH_SOCK): the agent's keys sign instead of {@link privateKey}. */
  agent?: string;
  /**
   * Pinned host key, "ssh-ed25519 AAAA…" or its fingerprint "SHA256:…": the connection is refused
   * unless the server presents exactly this key.
   */
  hostKey?: string;
  /**
   * Without {@link hostKey}: accept whatever key the server presents (and report it). When false
   * (the default) and nothing is pinned, the probe stops right after the key exchange, before
   * authenticating, with a "host-key-unknown" ProbeError that carries the presented key.
   * @default false
   */
  trustOnFirstUse?: boolean;
  /** Whole probe (connect, handshake, run), milliseconds. @default 30000 */
  timeoutMs?: number;
}

const ALGORITHMS_FOR: Record<string, ServerHostKeyAlgorithm[]> = {
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Connects with `ssh2`, runs the probe script and parses its output.
 * @throws ProbeError: "host-key" (both fingerprints), "auth", "connect", "timeout", "private-key", "command", "output".
 */
export async function probeHost(o: ProbeHostOptions): Promise<ProbeResult> {
  const port = o.port ?? 22;
  const where = `${o.username}@${o.host}:${port}`;
  const pin = o.hostKey === undefined ? undefined : parseHostKeyPin(o.hostKey);
  const pinnedKey = pin && "key" in pin ? pin.key : undefined;
  if (o.privateKey === undefined && o.agent === undefined) throw new ProbeError("private-key", "no private key and no ssh-agent socket given: pass privateKey or agent");
  // ssh2 is loaded on first use: every other CLI command starts faster without it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client, utils } = require("ssh2") as typeof import("ssh2");
  if (o.privateKey !== undefined) {
    const parsedKey = utils.parseKey(o.privateKey);
    if (parsedKey instanceof Error) throw new ProbeError("private-key", `the private key cannot be used: ${parsedKey.message} (an encrypted key needs decrypting first: ssh-keygen -p -N "" -f <copy>, or load it into ssh-agent)`);
  }

  let seen: PublicKey | undefined;
  let refused: ProbeError | undefined;
  const config: ConnectConfig = {
    host: o.host,
    port,
    username: o.username,
    ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : { agent: o.agent }),
    readyTimeout: o.timeoutMs ?? 30000,
    hostVerifier: (blob: Buffer): boolean => {
      seen = { type: blobType(blob) ?? "unknown", base64: blob.toString("base64") };
      if (pin && fingerprint(blob) !== pinFingerprint(pin)) {
        const pinnedText = pinnedKey ? `${pinnedKey.type} ${fingerprint(pinnedKey)}` : pinFingerprint(pin);
        refused = new ProbeError(
          "host-key",
          `host key mismatch for ${o.host}:${port}: pinned ${pinnedText}, server presented ${seen.type} ${fingerprint(blob)}. ` +
            `If the host was reinstalled, check the new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update hostKey; otherwise do not connect`,
          seen,
        );
        return false;
      }
      if (!pin && !o.trustOnFirstUse) {
        refused = new ProbeError("host-key-unknown", `${o.host}:${port} presented the host key ${seen.type} ${fingerprint(blob)}, which nothing pins; the connection was closed before authenticating`, seen);
        return false;
      }
      return true;
    },
  };
  // A whole key fixes the algorithm; with a fingerprint or nothing pinned, ssh2's default order
  // (ssh-ed25519 first) makes the server present the key `ssh-keygen -lf` is usually run on.
  if (pinnedKey) config.algorithms = { serverHostKey: ALGORITHMS_FOR[pinnedKey.type] ?? [pinnedKey.type as ServerHostKeyAlgorithm] };

  const stdout = await new Promise<string>((resolve, reject) => {
    const conn = new Client();
    let settled = false;
    const finish = (err: Error | null, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.end();
      if (err) reject(err);
      else resolve(value ?? "");
    };
    const timer = setTimeout(() => finish(new ProbeError("timeout", `no answer from ${where} within ${o.timeoutMs ?? 30000} ms`)), (o.timeoutMs ?? 30000) + 1000);
    conn.on("error", (e: Error & { level?: string; code?: string }) => {
      if (refused) return finish(refused);
      if (e.level === "client-authentication") {
        const what = o.privateKey !== undefined ? "the key" : "every key the ssh-agent offered";
        return finish(new ProbeError("auth", `${where} refused ${what} (${e.message}); add its public key to ~${o.username}/.ssh/authorized_keys on the host`));
      }
      if (e.level === "client-timeout") return finish(new ProbeError("timeout", `${where}: ${e.message}`));
      if (pinnedKey && /host key|no matching/i.test(e.message)) {
        return finish(new ProbeError("host-key", `${where} offers no ${pinnedKey.type} host key, the type of the pinned key (${fingerprint(pinnedKey)}): ${e.message}`));
      }
      finish(new ProbeError("connect", `cannot connect to ${o.host}:${port} (${e.code ?? e.message}); check the address, the port and that sshd runs and is reachable`));
    });
    conn.on("ready", () => {
      conn.exec(probeCommand(), (err, stream) => {
        if (err) return finish(new ProbeError("command", `${where}: cannot run the probe: ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        stream.on("data", (b: Buffer) => out.push(b));
        stream.stderr.on("data", (b: Buffer) => errOut.push(b));
        stream.on("close", (code: number | null) => {
          if (code !== 0) return finish(new ProbeError("command", `${where}: the probe script exited ${code}: ${Buffer.concat(errOut).toString("utf8").trim()}`));
          finish(null, Buffer.concat(out).toString("utf8"));
        });
      });
    });
    conn.connect(config);
  });
  if (!seen) throw new ProbeError("host-key", `${where}: the server presented no host key`);
  try {
    return parseProbeOutput(stdout, seen);
  } catch (e) {
    throw new ProbeError("output", `${where}: ${(e as Error).message}`);
  }
}
