/**
 * A model that is not in the catalog, read from the Hugging Face Hub: its `config.json` and the
 * real size of its safetensors checkpoint (`model.safetensors.index.json` `metadata.total_size`,
 * else the Hub's own count in `GET /api/models/<repo>` `safetensors`). The CLI's only network
 * access; the sizing core stays pure and gets the parsed config.json like any other.
 *
 * Environment, as huggingface_hub reads it: `HF_ENDPOINT` (default https://huggingface.co),
 * `HF_TOKEN` (sent as a Bearer token to that endpoint only, for gated models; never printed),
 * `HF_HUB_OFFLINE=1` (caches only), `HF_HUB_DOWNLOAD_TIMEOUT` (seconds per request, default 10).
 * Caches: our own under `$XDG_CACHE_HOME/gpu-hosting/hub/<owner>/<name>/<revision>/`
 * (default `~/.cache/...`), written after each fetch and read first; then, read-only, the
 * huggingface_hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`),
 * so a model already downloaded for vLLM needs no network either.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { badValue, UsageError } from "./errors";

/** @default https://huggingface.co */
export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";
/** Per request, milliseconds (huggingface_hub's `HF_HUB_DOWNLOAD_TIMEOUT` default is 10 s). */
export const DEFAULT_HUB_TIMEOUT_MS = 10_000;
/** Largest config.json read from the Hub, bytes (real ones are 1–10 KB). */
export const MAX_HUB_CONFIG_BYTES = 1024 * 1024;
/** Largest model.safetensors.index.json read, bytes (DeepSeek V3's is about 9 MB). */
export const MAX_HUB_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_API_BYTES = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/** Where and how the Hub is read; {@link hubSettings} builds it from the environment. */
export interface HubSettings {
  /** Base URL of the Hub or a mirror, without a trailing slash. */
  endpoint: string;
  /** Bearer token for gated and private repos; sent only to `endpoint`'s origin. */
  token?: string;
  /** `HF_HUB_OFFLINE`: read the caches only. */
  offline: boolean;
  /** Per request, milliseconds. */
  timeoutMs: number;
  /** Our cache (read and written), or null when there is no home directory. */
  cacheDir: string | null;
  /** huggingface_hub's cache (read only), or null. */
  hfCacheDir: string | null;
}

/** The checkpoint as the Hub describes it. */
export interface HubCheckpoint {
  repo: string;
  revision: string;
  /** Where config.json came from: the Hub (`endpoint`), our cache, or huggingface_hub's cache. */
  source: "hub" | "cache" | "hf-cache";
  /** Bytes of the safetensors weights, or null when the repo gives no way to know. */
  checkpointBytes: number | null;
  /** Parameters in the safetensors files as the Hub counts them (`safetensors.total`), or null. */
  parameters: number | null;
  /** Parameters per stored type (`safetensors.parameters`, e.g. `{ "BF16": 8030261248 }`), or null. */
  parametersByDtype: Record<string, number> | null;
  /** What `checkpointBytes` was read from. */
  sizeFrom: "model.safetensors.index.json" | "api safetensors" | "model.safetensors" | null;
}

const truthy = (v: string | undefined): boolean => /^(1|true|yes|on)$/i.test((v ?? "").trim());

/** Reads the Hub settings from the environment; a bad `HF_ENDPOINT` or timeout is a {@link UsageError}. */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const raw = (env.HF_ENDPOINT ?? "").trim() || DEFAULT_HF_ENDPOINT;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
    throw badValue("HF_ENDPOINT", raw, "expected the http(s) URL of the Hub or a mirror, e.g. https://huggingface.co", "Fix or unset HF_ENDPOINT");
  }
  if (url.username || url.password) {
    throw new UsageError(`HF_ENDPOINT: the URL for ${url.origin} carries a user name or password; put the token in HF_TOKEN instead`);
  }
  let timeoutMs = DEFAULT_HUB_TIMEOUT_MS;
  const t = (env.HF_HUB_DOWNLOAD_TIMEOUT ?? "").trim();
  if (t) {
    const s = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
    if (!(s > 0 && s <= 3600)) throw badValue("HF_HUB_DOWNLOAD_TIMEOUT", t, "expected seconds per request, more than 0 and at most 3600");
    timeoutMs = s * 1000;
  }
  const home = os.homedir();
  const xdg = env.XDG_CACHE_HOME?.trim() || (home ? path.join(home, ".cache") : "");
  const hfHome = env.HF_HOME?.trim() || (xdg ? path.join(xdg, "huggingface") : "");
  const token = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? "").trim();
  return {
    endpoint: `${url.origin}${url.pathname.replace(/\/+$/, "")}`,
    token: token || undefined,
    offline: truthy(env.HF_HUB_OFFLINE),
    timeoutMs,
    cacheDir: xdg ? path.join(xdg, "gpu-hosting", "hub") : null,
    hfCacheDir: env.HF_HUB_CACHE?.trim() || (hfHome ? path.join(hfHome, "hub") : null),
  };
}

/** One part of a repo id: letters, digits, `-`, `_`, `.`; starts and ends with a letter, digit or `_`. */
const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;
/** A Hugging Face token, pasted where a repo id belongs: never sent anywhere. */
const HF_TOKEN_SHAPE = /^hf_[A-Za-z0-9]{30,}$/;

/** Whether a model argument is meant as a Hub repo id (`owner/name`) rather than an alias. */
export function looksLikeRepoId(id: string): boolean {
  return id.includes("/");
}

/**
 * Checks a repo id's shape before any request (the Hub's rules: `owner/name`, at most 96
 * characters each, no `--` or `..`); throws a {@link UsageError} naming the flag.
 */
export function validateRepoId(flag: string, id: string): string {
  const parts = id.split("/");
  if (parts.some((p) => HF_TOKEN_SHAPE.test(p))) {
    throw new UsageError(`${flag}: got a value that looks like a Hugging Face token, not a repo id; it was not sent anywhere. Put the token in HF_TOKEN and give the repo id, e.g. meta-llama/Llama-3.1-8B-Instruct`);
  }
  if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p)) || id.includes("--") || id.includes("..") || id.endsWith(".git")) {
    throw badValue(
      flag,
      id,
      "not in the model catalog and not a Hugging Face repo id (owner/name: letters, digits, '-', '_' and '.', at most 96 characters each, no '--' or '..')",
      "Run `gpu-hosting catalog models`, or pass the model's config.json with --config",
    );
  }
  return id;
}

/** Checks a `--revision` (branch, tag or commit); throws a {@link UsageError}. */
export function validateRevision(flag: string, rev: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$/.test(rev) || rev.includes("..")) {
    throw badValue(flag, rev, "expected a branch, tag or commit of the repo, e.g. main or a 40-character commit hash");
  }
  return rev;
}

/** How a request ended when the Hub did not answer 200. */
interface HubRefusal {
  status: number;
  /** `X-Error-Code`: RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound. */
  code: string | null;
}

/** A request that never got an answer: connection refused, DNS, TLS, timeout. */
class Unreachable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** GETs a URL, following redirects by hand so that the token goes to the endpoint's origin only. */
async function get(s: HubSettings, start: string, cap: number, what: string): Promise<Buffer | HubRefusal> {
  let url = new URL(start);
  const origin = new URL(s.endpoint).origin;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "user-agent": "gpu-hosting", accept: "application/json" };
    if (s.token && url.origin === origin) headers.authorization = `Bearer ${s.token}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: "manual", signal: AbortSignal.timeout(s.timeoutMs) });
    } catch (e) {
      throw new Unreachable(networkReason(e, s.timeoutMs));
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return { status: res.status, code: res.headers.get("x-error-code") };
    }
    try {
      return await readCapped(res, cap, what);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new Unreachable(networkReason(e, s.timeoutMs));
    }
  }
  throw new Unreachable(`more than ${MAX_REDIRECTS} redirects`);
}

function networkReason(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (err.name === "TimeoutError" || err.cause?.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? err.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

async function readCapped(res: Response, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > cap) {
    await res.body?.cancel();
    throw new UsageError(`${what} has ${declared.toLocaleString("en-US")} bytes, more than the ${cap.toLocaleString("en-US")} this command reads; pass the right file with --config <path>`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel();
      throw new UsageError(`${what} has more than the ${cap.toLocaleString("en-US")} bytes this command reads; pass the right file with --config <path>`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** Bytes per element of each safetensors dtype (the keys of the Hub's `safetensors.parameters`). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, BF16: 2, F16: 2, I16: 2, U16: 2,
  F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, I8: 1, U8: 1, BOOL: 1,
};

/** The weight size and parameter counts in an index file's text and an `/api/models` answer. */
export function readCheckpointFacts(indexText: string | null, apiText: string | null): Pick<HubCheckpoint, "checkpointBytes" | "parameters" | "parametersByDtype" | "sizeFrom"> {
  let checkpointBytes: number | null = null;
  let sizeFrom: HubCheckpoint["sizeFrom"] = null;
  const index = parseJsonOrNull(indexText) as { metadata?: { total_size?: unknown } } | null;
  const total = index?.metadata?.total_size;
  const totalNum = typeof total === "string" && /^\d+$/.test(total) ? Number(total) : total;
  if (typeof totalNum === "number" && Number.isSafeInteger(totalNum) && totalNum > 0) {
    checkpointBytes = totalNum;
    sizeFrom = "model.safetensors.index.json";
  }
  const api = parseJsonOrNull(apiText) as { safetensors?: { total?: unknown; parameters?: unknown } } | null;
  const st = api?.safetensors;
  const parameters = typeof st?.total === "number" && Number.isSafeInteger(st.total) && st.total > 0 ? st.total : null;
  let parametersByDtype: Record<string, number> | null = null;
  if (st?.parameters && typeof st.parameters === "object" && !Array.isArray(st.parameters)) {
    const entries = Object.entries(st.parameters as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isSafeInteger(e[1]) && e[1] >= 0);
    if (entries.length > 0) parametersByDtype = Object.fromEntries(entries);
  }
  if (checkpointBytes === null && parametersByDtype) {
    const widths = Object.entries(parametersByDtype).map(([k, n]) => (Object.hasOwn(DTYPE_BYTES, k) ? n * DTYPE_BYTES[k]! : NaN));
    const bytes = widths.reduce((a, b) => a + b, 0);
    if (Number.isFinite(bytes) && bytes > 0) {
      checkpointBytes = bytes;
      sizeFrom = "api safetensors";
    }
  }
  return { checkpointBytes, parameters, parametersByDtype, sizeFrom };
}

function parseJsonOrNull(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Where our cache keeps a repo's revision; every part was validated, the revision is encoded. */
function cachePath(s: HubSettings, repo: string, revision: string): string | null {
  return s.cacheDir ? path.join(s.cacheDir, ...repo.split("/"), encodeURIComponent(revision)) : null;
}

/** A cached config.json (text) and checkpoint facts, from our cache or huggingface_hub's; null when none. */
function readCaches(s: HubSettings, repo: string, revision: string): { configText: string; facts: ReturnType<typeof readCheckpointFacts>; source: HubCheckpoint["source"] } | null {
  const ours = cachePath(s, repo, revision);
  const oursText = ours ? readOrNull(path.join(ours, "config.json")) : null;
  // An entry that does not parse (a disk error, a hand edit) is fetched again.
  if (ours && oursText !== null && parseJsonOrNull(oursText) !== null) {
    return { configText: oursText, facts: cachedFacts(parseJsonOrNull(readOrNull(path.join(ours, "checkpoint.json")))), source: "cache" };
  }
  if (!s.hfCacheDir) return null;
  const dir = path.join(s.hfCacheDir, `models--${repo.replace("/", "--")}`);
  const sha = /^[0-9a-f]{40}$/.test(revision) ? revision : readOrNull(path.join(dir, "refs", revision))?.trim();
  if (!sha || !/^[0-9a-f]{40}$/.test(sha)) return null;
  const snap = path.join(dir, "snapshots", sha);
  const configText = readOrNull(path.join(snap, "config.json"));
  if (configText === null) return null;
  const facts = readCheckpointFacts(readOrNull(path.join(snap, "model.safetensors.index.json")), null);
  if (facts.checkpointBytes === null) {
    try {
      facts.checkpointBytes = fs.statSync(path.join(snap, "model.safetensors")).size;
      facts.sizeFrom = "model.safetensors";
    } catch {
      // No single weights file either: the size stays unknown.
    }
  }
  return { configText, facts, source: "hf-cache" };
}

/** checkpoint.json as {@link writeCache} wrote it; a field of the wrong type reads as unknown. */
function cachedFacts(raw: unknown): ReturnType<typeof readCheckpointFacts> {
  const f = (raw ?? {}) as Record<string, unknown>;
  const count = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : null);
  const byDtype = f.parametersByDtype;
  const validByDtype = typeof byDtype === "object" && byDtype !== null && !Array.isArray(byDtype) && Object.values(byDtype).every((n) => typeof n === "number");
  const sizeFrom = ["model.safetensors.index.json", "api safetensors", "model.safetensors"].includes(f.sizeFrom as string) ? (f.sizeFrom as HubCheckpoint["sizeFrom"]) : null;
  const checkpointBytes = count(f.checkpointBytes);
  return { checkpointBytes, parameters: count(f.parameters), parametersByDtype: validByDtype ? (byDtype as Record<string, number>) : null, sizeFrom: checkpointBytes === null ? null : sizeFrom };
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/** Writes the cache entry; config.json last, so that its presence means the entry is whole. Best effort. */
function writeCache(s: HubSettings, repo: string, revision: string, configText: string, facts: ReturnType<typeof readCheckpointFacts>): void {
  const dir = cachePath(s, repo, revision);
  if (!dir) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of [["checkpoint.json", `${JSON.stringify(facts, null, 2)}\n`], ["config.json", configText]] as const) {
      const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, path.join(dir, name));
    }
  } catch {
    // A read-only or full disk only costs the next run a fetch.
  }
}

/**
 * The config.json text and checkpoint facts of a Hub repo: caches first, then the network.
 * `notFoundHint` ends the message for a repo the Hub does not have (e.g. the closest catalog ids).
 */
export async function fetchHubModel(flag: string, repo: string, revision: string, s: HubSettings, notFoundHint = ""): Promise<{ configText: string; checkpoint: HubCheckpoint }> {
  const cached = readCaches(s, repo, revision);
  if (cached) return { configText: cached.configText, checkpoint: { repo, revision, source: cached.source, ...cached.facts } };
  const advice = `download its config.json (${s.endpoint}/${repo}/resolve/${revision}/config.json) and pass --config <path to config.json> instead`;
  if (s.offline) throw new UsageError(`${flag}: ${repo} is not in the model catalog nor in the cache, and HF_HUB_OFFLINE is set; unset it to read the Hub, or ${advice}`);
  const rev = encodeURIComponent(revision);
  const file = (name: string): string => `${s.endpoint}/${repo}/resolve/${rev}/${name}`;
  const api = `${s.endpoint}/api/models/${repo}${revision === "main" ? "" : `/revision/${rev}`}`;
  const [config, index, info] = await Promise.allSettled([
    get(s, file("config.json"), MAX_HUB_CONFIG_BYTES, `${flag}: ${repo} config.json`),
    get(s, file("model.safetensors.index.json"), MAX_HUB_INDEX_BYTES, `${repo} model.safetensors.index.json`),
    get(s, api, MAX_API_BYTES, `${s.endpoint}/api/models/${repo}`),
  ]);
  if (config.status === "rejected") {
    const e: unknown = config.reason;
    if (e instanceof Unreachable) throw new UsageError(`${flag}: cannot reach ${s.endpoint} to read ${repo} (${e.reason}); offline? ${advice[0]!.toUpperCase()}${advice.slice(1)}, or set HF_ENDPOINT to a mirror you can reach`);
    throw e;
  }
  if (!Buffer.isBuffer(config.value)) throw refusal(flag, repo, revision, config.value, s, advice, notFoundHint);
  const text = (r: PromiseSettledResult<Buffer | HubRefusal>): string | null => (r.status === "fulfilled" && Buffer.isBuffer(r.value) ? r.value.toString("utf8") : null);
  const facts = readCheckpointFacts(text(index), text(info));
  const configText = config.value.toString("utf8");
  // Only a config.json that parses is worth keeping; the caller checks its fields.
  if (parseJsonOrNull(configText) !== null) writeCache(s, repo, revision, configText, facts);
  return { configText, checkpoint: { repo, revision, source: "hub", ...facts } };
}

/** The error for a refused config.json request, by status and the Hub's `X-Error-Code`. */
function refusal(flag: string, repo: string, revision: string, r: HubRefusal, s: HubSettings, advice: string, notFoundHint: string): UsageError {
  const page = `${s.endpoint}/${repo}`;
  if (r.code === "RevisionNotFound") return new UsageError(`--revision: got "${revision}"; ${repo} on ${s.endpoint} has no such branch, tag or commit; check the revision (or leave it out for main)`);
  if (r.code === "EntryNotFound") return new UsageError(`${flag}: ${repo} on ${s.endpoint} has no config.json at ${revision} (a GGUF-only or non-transformers repo?); ${advice}`);
  if (r.code === "GatedRepo" || r.status === 403 || (r.status === 401 && r.code !== "RepoNotFound")) {
    return new UsageError(
      s.token
        ? `${flag}: ${repo} is a gated model and HF_TOKEN gives no access to it (HTTP ${r.status}): accept the licence on the model page (${page}) with the account that owns the token, or use a token with read access`
        : `${flag}: ${repo} is a gated model: set HF_TOKEN (and accept the licence on the model page ${page})`,
    );
  }
  if (r.status === 404 || r.code === "RepoNotFound") {
    return new UsageError(`${flag}: no such model on ${s.endpoint}: check the repo id "${repo}"${s.token ? "" : " (a private repo also needs HF_TOKEN)"}${notFoundHint}`);
  }
  return new UsageError(`${flag}: ${s.endpoint} answered HTTP ${r.status} for ${repo} config.json; try again later, or ${advice}`);
}

/** One line for people: the checkpoint's size and parameter count from the Hub, beside the computed count. */
export function describeCheckpoint(c: HubCheckpoint, computedParameters: number): string {
  const parts: string[] = [];
  if (c.checkpointBytes !== null) parts.push(`${(c.checkpointBytes / 1024 ** 3).toFixed(1)} GiB of safetensors (${c.sizeFrom})`);
  else parts.push("size unknown (no model.safetensors.index.json and no safetensors count)");
  if (c.parameters !== null) {
    const diff = ((computedParameters - c.parameters) / c.parameters) * 100;
    parts.push(`${(c.parameters / 1e9).toFixed(2)}B parameters counted by the Hub, computed ${(computedParameters / 1e9).toFixed(2)}B (${diff >= 0 ? "+" : ""}${diff.toFixed(1)} %)`);
  }
  const from = c.source === "hub" ? "read from the Hub" : c.source === "cache" ? "from the local cache" : "from the huggingface_hub cache";
  return `${parts.join("; ")}; ${c.repo}@${c.revision}, ${from}`;
}
