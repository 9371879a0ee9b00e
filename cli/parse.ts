/** Flag value parsers shared by the commands. Each throws a {@link UsageError} naming the flag. */
import fs from "node:fs";
import { catalog, closest, findGpu, matchModel, type Gpu, type Model, type ModelMatch } from "../core/catalog";
import { ModelConfigError, parseHfConfig, type ModelArchitecture } from "../core/sizing/architecture";
import { DTYPES, normalizeDtype, type Dtype, KV_CACHE_DTYPES, type KvCacheDtype } from "../core/sizing/dtypes";
import { ENGINES, type Engine } from "../core/sizing/engines";
import { badValue, UsageError } from "./errors";
import { fetchHubModel, hubSettings, looksLikeRepoId, validateRepoId, validateRevision, type HubCheckpoint } from "./hub";

/** Parses token counts such as `32k`, `32K`, `128k`, `8192`, `1m` (k = 1024). */
export function parseTokens(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(value);
  if (!m) throw badValue(flag, value, "expected a token count such as 8192, 32k or 128k");
  const unit = m[2]?.toLowerCase() === "k" ? 1024 : m[2]?.toLowerCase() === "m" ? 1024 * 1024 : 1;
  const n = Math.round(Number(m[1]) * unit);
  if (n < 1) throw badValue(flag, value, "expected a positive token count");
  return n;
}

export function parsePositiveInt(flag: string, value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) throw badValue(flag, value, "expected a whole number of 1 or more");
  return n;
}

const DECIMAL = /^\s*\d+(\.\d+)?\s*$|^\s*\.\d+\s*$/;

export function parsePositiveNumber(flag: string, value: string): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw badValue(flag, value, "expected a number greater than 0");
  return n;
}

export function parseFraction(flag: string, value: string): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw badValue(flag, value, "expected a fraction greater than 0 and at most 1, e.g. 0.9");
  return n;
}

export function parseDtype(flag: string, value: string, extra: string[] = []): Dtype | "best" {
  if (extra.includes(value.toLowerCase())) return value.toLowerCase() as "best";
  const d = normalizeDtype(value);
  if (!d) throw badValue(flag, value, `allowed: ${[...extra, ...DTYPES].join(", ")}`);
  return d;
}

export function parseKvDtype(flag: string, value: string): KvCacheDtype {
  const v = value.toLowerCase();
  if (!(KV_CACHE_DTYPES as readonly string[]).includes(v)) throw badValue(flag, value, `allowed: ${KV_CACHE_DTYPES.join(", ")}`);
  return v as KvCacheDtype;
}

/** Engine names as users spell them, less dots, dashes and underscores (`llama.cpp`, `llama-cpp`). */
const ENGINE_SPELLINGS: ReadonlyMap<string, Engine> = new Map(ENGINES.map((e) => [e, e]));

export function parseEngine(flag: string, value: string): Engine {
  const e = ENGINE_SPELLINGS.get(value.toLowerCase().replace(/[.\-_]/g, ""));
  if (!e) throw badValue(flag, value, `allowed: ${ENGINES.join(", ")}`);
  return e;
}

export function resolveGpu(flag: string, value: string): Gpu {
  const g = findGpu(value);
  if (!g) {
    const names = catalog().gpus.flatMap((x) => [x.id, ...x.aliases]);
    throw badValue(flag, value, `not a GPU in the catalog; closest: ${closest(value, names).join(", ")}`, "Run `gpu-hosting catalog gpus` for the list, or give --vram-gib");
  }
  return g;
}

/** Largest config.json `--config` reads, bytes (real ones are 1–10 KB). */
export const MAX_CONFIG_JSON_BYTES = 1024 * 1024;

export interface ResolvedModel {
  /** Catalog entry, or undefined for a local config.json. */
  model?: Model;
  /** How the id was matched (variant and sibling matches say so in the output). */
  match?: ModelMatch;
  /** Display name. */
  name: string;
  arch: ModelArchitecture;
  /** For a model read from the Hugging Face Hub: the checkpoint's real size and parameter count. */
  hub?: HubCheckpoint;
}

export function resolveModel(id: string | undefined, configPath: string | undefined, flag = "--model"): ResolvedModel {
  if (id && configPath) throw new UsageError("--model and --config: give one of them, not both");
  if (configPath) {
    let text: string;
    try {
      const size = fs.statSync(configPath).size;
      if (size > MAX_CONFIG_JSON_BYTES) {
        throw new UsageError(`--config: ${configPath} has ${size.toLocaleString("en-US")} bytes, more than the ${MAX_CONFIG_JSON_BYTES.toLocaleString("en-US")} a config.json may have; give the model's config.json, not its weights or tokenizer`);
      }
      text = fs.readFileSync(configPath, "utf8");
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw badValue("--config", configPath, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "Give the path of a Hugging Face config.json");
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw badValue("--config", configPath, `is not valid JSON (${(e as Error).message})`);
    }
    try {
      return { name: configPath, arch: parseHfConfig(json, configPath) };
    } catch (e) {
      if (e instanceof ModelConfigError) throw new UsageError(`--config: ${e.message}`);
      throw e;
    }
  }
  if (!id) throw new UsageError(`${flag}: a model is required; give a Hugging Face repo id (e.g. meta-llama/Llama-3.1-8B-Instruct), an alias (e.g. llama-3.1-8b), or --config <config.json>`);
  const match = matchModel(id);
  const m = match?.model;
  if (!m) {
    const names = catalog().models.flatMap((x) => [x.id, ...x.aliases]);
    throw badValue(flag, id, `not in the model catalog; closest: ${closest(id, names).join(", ")}`, "Run `gpu-hosting catalog models`, or pass the model's config.json with --config");
  }
  return { model: m, match, name: m.id, arch: parseHfConfig(m.config, `models.json ${m.id}`) };
}

/**
 * {@link resolveModel}, and for a repo id that is not in the catalog (or any id with
 * `--revision`), the model's config.json from the Hugging Face Hub (see cli/hub.ts). Catalog ids,
 * aliases and `--config` never touch the network.
 */
export async function resolveModelAsync(id: string | undefined, configPath: string | undefined, flag = "--model", revision?: string): Promise<ResolvedModel> {
  if (revision !== undefined && configPath) throw new UsageError("--revision and --config: --revision picks a Hub revision; a local config.json has none, leave --revision out");
  if (!id || configPath) return resolveModel(id, configPath, flag);
  const match = matchModel(id);
  if (match && revision === undefined) return resolveModel(id, undefined, flag);
  if (!match && !looksLikeRepoId(id)) return resolveModel(id, undefined, flag);
  // An id or alias with --revision reads that revision of the catalog's repo; anything else is the id as given.
  const repo = validateRepoId(flag, match && (match.via === "id" || match.via === "alias") ? match.model.id : id);
  const rev = revision === undefined ? "main" : validateRevision("--revision", revision);
  const names = catalog().models.flatMap((x) => [x.id, ...x.aliases]);
  const hint = `; closest in the catalog: ${closest(id, names).join(", ")} (\`gpu-hosting catalog models\` lists them)`;
  const { configText, checkpoint } = await fetchHubModel(flag, repo, rev, hubSettings(), hint);
  let json: unknown;
  try {
    json = JSON.parse(configText);
  } catch (e) {
    throw new UsageError(`${flag}: the config.json of ${repo}@${rev} is not valid JSON (${(e as Error).message}); pass a fixed copy with --config <path>`);
  }
  try {
    return { name: repo, arch: parseHfConfig(json, `${repo} config.json`), hub: checkpoint };
  } catch (e) {
    if (e instanceof ModelConfigError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

/** `latest`, `0.19`, `0.6.4`, `v0.10.1.1`. */
export function parseVllmVersion(flag: string, value: string): string {
  if (value === "latest") return value;
  if (!/^v?0\.\d+(\.\d+)*([.+-].*)?$/.test(value)) throw badValue(flag, value, "expected a vLLM release such as 0.19, 0.10.1 or latest");
  return value.replace(/^v/, "");
}
