/**
 * `gpu-hosting discover user@host[:port]`: probes an existing machine over SSH (read-only) and
 * prints the `gpu-hosting:hosts` entry for the stack file, with the host key pinned and the
 * inventory filled in, plus a comment block with what was found. The host key must be pinned
 * (--host-key, or a known_hosts entry); an unknown key is refused with its fingerprint, and trust on
 * first use happens only with --trust-on-first-use. Signs with the ssh-agent when SSH_AUTH_SOCK is
 * set and no -i is given.
 */
import { createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  describeGpus,
  fingerprint,
  formatPublicKey,
  parseHostKeyPin,
  parsePublicKey,
  probeHost,
  ProbeError,
  type HostKeyPin,
  type ProbeResult,
  type PublicKey,
} from "../core/probe/ssh";
import { MAX_QUOTED_PATH_CHARS, quoted } from "../core/checks/redact";
import { badValue, UsageError } from "./errors";
import { fmt, printJson } from "./format";

/** A parsed `user@host[:port]`. */
export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

const TARGET_HELP = "expected user@host[:port], e.g. ubuntu@10.0.0.5, root@gpu1.example.com:2222 or admin@[2001:db8::5]:22";

/** Parses `user@host[:port]` (IPv6 in brackets). @throws UsageError naming the value. */
export function parseTarget(value: string): SshTarget {
  const m = /^([a-z_][a-z0-9_.-]*\$?)@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d+))?$/i.exec(value.trim());
  if (!m || m[1] === undefined || m[2] === undefined) throw badValue("discover: target", value, TARGET_HELP);
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (port < 1 || port > 65535) throw badValue("discover: target", value, `port ${port} is not a TCP port (1–65535); ${TARGET_HELP}`);
  return { user: m[1], host: m[2].replace(/^\[|\]$/g, ""), port };
}

/** The name known_hosts uses for a host: `host`, or `[host]:port` off port 22. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

/** Keys `known_hosts` text lists for a host (plain, wildcard and hashed `|1|` entries; `@revoked` and `@cert-authority` lines skipped). */
export function knownHostKeys(text: string, host: string, port: number): PublicKey[] {
  const name = knownHostsName(host, port);
  const matches = (pattern: string): boolean => {
    const h = /^\|1\|([^|]+)\|(.+)$/.exec(pattern);
    if (h && h[1] !== undefined) return createHmac("sha1", Buffer.from(h[1], "base64")).update(name).digest("base64") === h[2];
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
    return re.test(name);
  };
  const keys: PublicKey[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@")) continue;
    const [hosts, ...rest] = line.split(/\s+/);
    const patterns = (hosts ?? "").split(",");
    if (patterns.some((p) => p.startsWith("!") && matches(p.slice(1))) || !patterns.some((p) => !p.startsWith("!") && matches(p))) continue;
    try {
      keys.push(parsePublicKey(rest.join(" ")));
    } catch {
      // A key type this tool cannot pin (e.g. sk-ssh-ed25519@openssh.com): ignore it, as for other hosts.
    }
  }
  return keys;
}

/** Options of {@link discover}. */
export interface DiscoverOptions {
  target: string;
  /** Private key file. @default the ssh-agent at {@link agentSocket} when set, else ~/.ssh/id_ed25519 */
  identity?: string;
  /** ssh-agent socket, used when no {@link identity} is given. @default process.env.SSH_AUTH_SOCK */
  agentSocket?: string;
  /** Pinned key "ssh-ed25519 AAAA…" or its fingerprint "SHA256:…". */
  hostKey?: string;
  /** Read for a pinned key when {@link hostKey} is not given. @default ~/.ssh/known_hosts */
  knownHosts?: string;
  /** Without a pinned key, accept the key the host presents (and print its fingerprint). @default false: refuse it, printing its fingerprint */
  trustOnFirstUse?: boolean;
  /** Host name in the stack. @default the machine's hostname, made a valid name */
  name?: string;
  /** @default "onprem" */
  site?: string;
  /** ISO 3166-1 alpha-2 country of the site: the snippet then declares the site, so it passes allowed-locations. */
  country?: string;
  /** @default 20 */
  timeoutSeconds?: number;
}

/** Everything decided before connecting: checked synchronously, so bad input fails fast. */
export interface DiscoverPlan {
  target: SshTarget;
  /** The private key file; absent when the ssh-agent signs. */
  identity?: string;
  privateKey?: string;
  /** The ssh-agent socket, when it signs (SSH_AUTH_SOCK set and no -i). */
  agentSocket?: string;
  /** Key (or fingerprint) to pin for the connection, if any (from --host-key or known_hosts). */
  pinned?: HostKeyPin;
  /** Where the pinned key came from. */
  pinnedFrom?: string;
  /** The known_hosts file that was searched (for messages). */
  knownHostsFile: string;
  /** Accept an unpinned key (--trust-on-first-use). */
  trustOnFirstUse: boolean;
  name?: string;
  site: string;
  /** Upper-case country code of the site, when given. */
  country?: string;
  timeoutMs: number;
}

/** Validates the options and reads the key files. @throws UsageError naming the value and the fix. */
export function planDiscover(o: DiscoverOptions): DiscoverPlan {
  const target = parseTarget(o.target);
  const socket = o.agentSocket ?? process.env.SSH_AUTH_SOCK;
  const agentSocket = o.identity === undefined && socket !== undefined && socket !== "" ? socket : undefined;
  let identity: string | undefined;
  let privateKey: string | undefined;
  if (agentSocket !== undefined) {
    let isSocket = false;
    try {
      isSocket = fs.statSync(agentSocket).isSocket();
    } catch {
      // reported below
    }
    if (!isSocket) {
      throw new UsageError(
        `SSH_AUTH_SOCK: got ${quoted(agentSocket, MAX_QUOTED_PATH_CHARS)}; is not a socket (is ssh-agent running?). Start the agent (eval "$(ssh-agent)"; ssh-add), unset SSH_AUTH_SOCK, or give the private key with -i`,
      );
    }
  } else {
    identity = o.identity ?? path.join(os.homedir(), ".ssh", "id_ed25519");
    try {
      privateKey = fs.readFileSync(identity, "utf8");
    } catch (e) {
      throw badValue("-i", identity, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "Give the private key whose public half is in the host's authorized_keys, e.g. -i ~/.ssh/id_ed25519");
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
      throw badValue("-i", identity, "is not a private key file (no \"-----BEGIN … PRIVATE KEY-----\" line)", "Give the private key, not the .pub file");
    }
  }
  const name = o.name;
  if (name !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw badValue("--name", name, "use lower-case letters, digits and dashes (at most 63)");
  const site = o.site ?? "onprem";
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(site)) throw badValue("--site", site, "use lower-case letters, digits and dashes (at most 63)");
  const country = o.country?.toUpperCase();
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw badValue("--country", o.country!, "use the site's ISO 3166-1 alpha-2 country code, e.g. DE or FR");
  const timeout = o.timeoutSeconds ?? 20;
  if (!Number.isFinite(timeout) || timeout <= 0) throw badValue("--timeout", timeout, "expected seconds greater than 0");

  const trustOnFirstUse = o.trustOnFirstUse === true;
  const knownHostsFile = o.knownHosts ?? path.join(os.homedir(), ".ssh", "known_hosts");
  let pinned: HostKeyPin | undefined;
  let pinnedFrom: string | undefined;
  if (o.hostKey !== undefined) {
    if (trustOnFirstUse) throw new UsageError(`--trust-on-first-use with --host-key: the key is pinned, nothing is trusted on first use; drop one of them`);
    try {
      pinned = parseHostKeyPin(o.hostKey);
    } catch (e) {
      throw new UsageError(`--host-key: ${(e as Error).message}`);
    }
    pinnedFrom = "--host-key";
  } else {
    let text = "";
    try {
      text = fs.readFileSync(knownHostsFile, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A missing default file is normal (nothing known yet); a file the user named must be readable.
      if (o.knownHosts !== undefined && code !== "ENOENT") throw badValue("--known-hosts", knownHostsFile, `cannot be read (${code ?? (e as Error).message})`);
      if (o.knownHosts !== undefined && code === "ENOENT") throw badValue("--known-hosts", knownHostsFile, "does not exist", "Give an existing known_hosts file, or pin the key with --host-key");
    }
    const keys = knownHostKeys(text, target.host, target.port);
    const key = keys.find((k) => k.type === "ssh-ed25519") ?? keys[0];
    if (key) {
      pinned = { key };
      pinnedFrom = knownHostsFile;
    }
  }
  return {
    target,
    ...(identity !== undefined ? { identity, privateKey } : { agentSocket }),
    pinned,
    pinnedFrom,
    knownHostsFile,
    trustOnFirstUse,
    name,
    site,
    ...(country ? { country } : {}),
    timeoutMs: timeout * 1000,
  };
}

/** Maps a probe failure to a {@link UsageError} that names the value and the fix; other errors pass through. */
export function explainProbeError(e: unknown, plan: DiscoverPlan): Error {
  if (!(e instanceof ProbeError)) return e as Error;
  const { user, host, port } = plan.target;
  switch (e.code) {
    case "connect":
      return new UsageError(`discover: target "${user}@${knownHostsName(host, port)}": ${e.message}`);
    case "timeout":
      return new UsageError(`discover: target "${user}@${knownHostsName(host, port)}": ${e.message}; check that the address is reachable from here (VPN, firewall), or raise --timeout`);
    case "auth":
      return plan.identity !== undefined
        ? new UsageError(`-i ${plan.identity}: ${e.message}, or give the right key with -i`)
        : new UsageError(`ssh-agent (SSH_AUTH_SOCK ${plan.agentSocket ?? ""}): ${e.message}; load the right key with ssh-add, or give it with -i`);
    case "private-key":
      return new UsageError(plan.identity !== undefined ? `-i ${plan.identity}: ${e.message}` : `ssh-agent: ${e.message}`);
    case "host-key":
      return new UsageError(`${e.message} (pinned key from ${plan.pinnedFrom ?? "the command line"})`);
    case "host-key-unknown": {
      const fp = e.presented ? fingerprint(e.presented) : "SHA256:…";
      return new UsageError(
        `discover: host key not pinned: ${e.message}. Nothing in --host-key or ${plan.knownHostsFile} pins a key for "${knownHostsName(host, port)}". ` +
          `Compare ${fp} with the host's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run again with --host-key ${fp} ` +
          `(or --host-key "$(cat ssh_host_ed25519_key.pub)", or --known-hosts <file>); to accept the key unchecked, run again with --trust-on-first-use`,
      );
    }
    default:
      return e;
  }
}

/** A stack name from a hostname: lower case, dashes, at most 63 characters. */
export function stackName(hostname: string): string {
  const n = hostname.split(".")[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
  return /^[a-z0-9]/.test(n) ? n : "host-1";
}

/** The `gpu-hosting:hosts` entry for a probed host (matches `OnpremHostConfig`). */
export function hostEntry(plan: Pick<DiscoverPlan, "target" | "name" | "site">, probe: ProbeResult): Record<string, unknown> {
  const first = probe.gpus[0];
  return {
    name: plan.name ?? stackName(probe.hostname),
    kind: "onprem",
    site: plan.site,
    address: plan.target.host,
    port: plan.target.port,
    user: plan.target.user,
    hostKey: formatPublicKey(probe.hostKey),
    inventory: {
      gpu: first ? (first.catalogId ?? first.name) : null,
      gpuCount: probe.gpus.length,
      ramGiB: Math.round(probe.memTotalGiB),
    },
  };
}

/** The stack-file snippet: a comment block with what the probe found, then `gpu-hosting:hosts:` with one entry. */
export function renderSnippet(plan: Pick<DiscoverPlan, "target" | "name" | "site" | "pinnedFrom"> & Partial<Pick<DiscoverPlan, "identity" | "country">>, probe: ProbeResult): string {
  const { user, host, port } = plan.target;
  const c = probe.cpu;
  const topology = c.sockets !== null && c.coresPerSocket !== null ? ` (sockets ${c.sockets}, cores per socket ${c.coresPerSocket}, threads per core ${c.threadsPerCore ?? 1})` : "";
  const shown = `${user}@${host.includes(":") ? `[${host}]` : host}${port === 22 ? "" : `:${port}`}`;
  const models = new Set(probe.gpus.map((g) => g.catalogId));
  const lines = [
    `gpu-hosting discover ${shown}: paste under "config:" in stacks/Pulumi.<env>.yaml`,
    `(append the list item to gpu-hosting:hosts if the stack already has hosts).`,
    `host key  ${probe.hostKey.type} ${probe.hostKeyFingerprint} ${plan.pinnedFrom ? `(matched the key pinned in ${plan.pinnedFrom})` : "(trusted on first use, --trust-on-first-use: compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console)"}`,
    `GPUs      ${describeGpus(probe.gpus)}`,
    `driver    ${probe.driverVersion ?? "none"}; CUDA ${probe.cudaVersion ?? "none"}`,
    `CPU       ${c.modelName ?? "unknown model"}, ${c.cpus} CPUs${topology}, ${c.architecture}`,
    `RAM       ${fmt.gib(probe.memTotalGiB)} GiB (MemTotal)`,
    `OS        ${probe.os.prettyName}`,
    ...probe.warnings.map((w) => `warning   ${w}`),
    ...(probe.gpus.some((g) => g.catalogId === null) ? [`warning   a GPU is not in the catalog: inventory.gpu holds its driver name; add it to the catalog or pick the closest id (gpu-hosting catalog gpus)`] : []),
    ...(models.size > 1 ? [`warning   mixed GPU models: an inventory has one model; split the GPUs between deployments by hand`] : []),
    plan.country
      ? `site "${plan.site}" is declared below with its country; add powerBudgetWatts if the circuit has a limit. Store the private key with`
      : `site "${plan.site}" must be declared under gpu-hosting:sites with its country (--country DE writes it here) and powerBudgetWatts; store the private key with`,
    `  pulumi config set --secret sshPrivateKey < ${plan.identity ?? "<the private key file of the agent's key>"}`,
  ];
  // Loaded here, not at startup, like ssh2: only discover writes YAML. Block style, no folding.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { dump } = require("js-yaml") as typeof import("js-yaml");
  const doc = plan.country ? { "gpu-hosting:sites": [{ name: plan.site, country: plan.country }], "gpu-hosting:hosts": [hostEntry(plan, probe)] } : { "gpu-hosting:hosts": [hostEntry(plan, probe)] };
  const yaml = dump(doc, { lineWidth: -1, noRefs: true });
  return `${lines.map((l) => `# ${l}`).join("\n")}\n${yaml}`;
}

/** Result of {@link discover}. */
export interface DiscoverResult {
  plan: DiscoverPlan;
  probe: ProbeResult;
  host: Record<string, unknown>;
  snippet: string;
}

/** Probes the target and builds the snippet. @throws UsageError for bad input, refused connections and keys. */
export async function discover(o: DiscoverOptions): Promise<DiscoverResult> {
  const plan = planDiscover(o);
  return discoverPlanned(plan);
}

async function discoverPlanned(plan: DiscoverPlan): Promise<DiscoverResult> {
  let probe: ProbeResult;
  try {
    probe = await probeHost({
      host: plan.target.host,
      port: plan.target.port,
      username: plan.target.user,
      ...(plan.privateKey !== undefined ? { privateKey: plan.privateKey } : { agent: plan.agentSocket }),
      hostKey: plan.pinned ? ("key" in plan.pinned ? formatPublicKey(plan.pinned.key) : plan.pinned.fingerprint) : undefined,
      trustOnFirstUse: plan.trustOnFirstUse,
      timeoutMs: plan.timeoutMs,
    });
  } catch (e) {
    throw explainProbeError(e, plan);
  }
  return { plan, probe, host: hostEntry(plan, probe), snippet: renderSnippet(plan, probe) };
}

export interface DiscoverFlags {
  identity?: string;
  trustOnFirstUse?: boolean;
  hostKey?: string;
  knownHosts?: string;
  name?: string;
  site?: string;
  country?: string;
  timeout?: string;
  json?: boolean;
}

/**
 * The `discover` command's action. Input is checked before anything connects, so bad input fails
 * through main() with exit 2 at once; the network part sets the exit code itself.
 */
export async function runDiscoverCommand(target: string, f: DiscoverFlags): Promise<void> {
  const timeoutSeconds = /^\d+(\.\d+)?$/.test(f.timeout ?? "20") ? Number(f.timeout ?? "20") : NaN;
  const plan = planDiscover({
    target,
    identity: f.identity,
    hostKey: f.hostKey,
    knownHosts: f.knownHosts,
    trustOnFirstUse: f.trustOnFirstUse,
    name: f.name,
    site: f.site,
    country: f.country,
    timeoutSeconds,
  });
  try {
    const r = await discoverPlanned(plan);
    if (!plan.pinned) {
      process.stderr.write(
        `discover: trusted on first use (--trust-on-first-use): ${r.probe.hostKey.type} ${r.probe.hostKeyFingerprint}; compare it with the host's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). The snippet pins it as hostKey.\n`,
      );
    }
    if (f.json) printJson({ host: r.host, probe: r.probe, snippet: r.snippet });
    else process.stdout.write(r.snippet);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = e instanceof UsageError ? e.exitCode : 1;
  }
}
