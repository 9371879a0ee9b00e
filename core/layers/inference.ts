/**
 * The inference layer: one systemd unit per deployment that runs the engine's pinned image with
 * docker, with every engine flag derived from the deployment's sizing (never typed by hand).
 * Secrets (the engine API key, the Hugging Face token) live only in a root-only env file that the
 * component writes; the unit hands it to docker with `--env-file`, so no key is ever in the unit
 * or on a command line. Pure.
 */
import { isIP } from "node:net";
import { findImage as catalogImage, findModel, images, imageRef, matchModel, type ContainerImage, type Model } from "../catalog";
import { parseHfConfig } from "../sizing/architecture";
import type { DeploymentSizing } from "../sizing/deployment";
import { WEIGHT_FORMATS, type ConcreteDtype } from "../sizing/dtypes";
import { servingDtypeOf } from "../sizing/estimate";
import { layerScript, shq } from "./script";
import type { LayerScript, SecretFileRef } from "./types";

/** Where model weights are cached on the host (mounted at /models in the container). */
export const DEFAULT_MODEL_CACHE_DIR = "/var/lib/gpu-hosting/models";
/** The port every engine listens on inside its container. */
export const ENGINE_CONTAINER_PORT = 8000;
/** Seconds the script waits for the unit to become active (image pull fallback included). */
export const UNIT_ACTIVE_TIMEOUT_SECONDS = 120;

export interface InferenceInput {
  /** Deployment name (lower-case letters, digits, dashes); names the unit, container and env file. */
  deployment: string;
  sizing: DeploymentSizing;
  /** Context per request, tokens (`--max-model-len`). */
  context: number;
  /** Requests served at full context at once (`--max-num-seqs`, llama.cpp slots). */
  concurrency: number;
  /** Fraction of each GPU vLLM may use. */
  gpuMemoryUtilization: number;
  /** KV-cache data type as configured ("auto", "fp8", "q8_0", …). */
  kvCacheDtype: string;
  gpuVendor: "nvidia" | "amd" | "none";
  /** Engine port on the host (127.0.0.1 or the private IP). */
  port: number;
  /** Address the engine port binds on the host. */
  bindAddress: string;
  /** `repo@sha256:…` (a tag before the digest is allowed). @default the catalog's pinned image for the engine and vendor */
  image?: string;
  /** Weight cache on the host. @default "/var/lib/gpu-hosting/models" */
  modelCacheDir?: string;
  /** Repository as configured, when it names a quantised checkpoint. @default the catalog checkpoint for the sizing's dtype */
  modelRepo?: string;
  /** Require the engine API key in the env file (fail closed without it). @default true */
  apiKey?: boolean;
  /** Host GPU indices this deployment uses. @default all GPUs of the host */
  gpuDevices?: number[];
}

/** The engine family an image runs. */
export type ServingEngine = "vllm" | "llamacpp" | "ollama";

/** What the container runs, derived from the sizing. */
export interface EngineCommand {
  engine: ServingEngine;
  /** Arguments after the image: the image's command prefix, then the engine's flags. */
  args: string[];
  /** Non-secret environment, passed with `-e` (cache paths, Ollama's settings). */
  env: Record<string, string>;
  /** Variable names the secret env file holds (values never reach the renderer). */
  secretVariables: string[];
  /** The model id clients send (`model`), listed by `/v1/models`. */
  servedModelName: string;
  /** What the engine loads: a Hugging Face repo, or `repo:QUANT` for GGUF. */
  checkpoint: string;
  /** Ollama only: the model to pull once the server runs (then copied to the served name). */
  pull: string | null;
}

const SAFE_WORD = /^[A-Za-z0-9._:/@=,+-]+$/;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const IMAGE = /^([a-z0-9][a-z0-9._:/-]*)@(sha256:[0-9a-f]{64})$/;

/** The engine family of a sizing: vLLM, llama.cpp (also "cpu"), or Ollama. */
export const servingEngine = (s: DeploymentSizing): ServingEngine => (s.engine === "vllm" ? "vllm" : s.engine === "ollama" ? "ollama" : "llamacpp");

/** Unit name of a deployment, without `.service`. */
export const inferenceUnit = (deployment: string): string => `gpu-hosting-${deployment}`;
/** The secret env file of a deployment. */
export const inferenceEnvFile = (deployment: string): string => `/etc/gpu-hosting/${deployment}.env`;

/**
 * The pinned image (`repo@sha256:…`) for an engine on a vendor's GPUs. Throws when the catalog has
 * none, or has the tag without a digest: the deployment must then name its image.
 */
export function findImage(engine: DeploymentSizing["engine"], vendor: InferenceInput["gpuVendor"]): string {
  const img = catalogImage(engine, vendor);
  if (!img) throw new Error(`no ${engine} image for ${vendor === "none" ? "CPU hosts" : `${vendor} GPUs`} in the catalog; pass image: repo@sha256:… in the deployment`);
  const ref = imageRef(img);
  if (!ref) throw new Error(`image ${img.repository}:${img.tag} has no pinned digest in the catalog; pass image: ${img.repository}@sha256:… in the deployment`);
  return ref;
}

/** Splits `repo[:tag]@sha256:…`; throws for anything not pinned by digest. */
export function parseImage(image: string): { repository: string; tag: string | null; digest: string } {
  const m = IMAGE.exec(image);
  if (!m) throw new Error(`image: "${image}" is not pinned by digest; use repo@sha256:<64 hex digits> (tags move, digests do not)`);
  const ref = m[1]!;
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  return colon < 0 ? { repository: ref, tag: null, digest: m[2]! } : { repository: ref.slice(0, colon), tag: ref.slice(colon + 1), digest: m[2]! };
}

const imageOf = (o: InferenceInput): string => {
  if (o.image !== undefined) return `${parseImage(o.image).repository}@${parseImage(o.image).digest}`;
  return findImage(o.sizing.engine, o.gpuVendor);
};

/** The catalog entry for an image's repository and engine, for its command prefix. */
const catalogEntryFor = (image: string, engine: ServingEngine): ContainerImage | undefined =>
  images().find((i) => i.engine === engine && i.repository === parseImage(image).repository);

const VLLM_DTYPE: Partial<Record<ConcreteDtype, string>> = { bf16: "bfloat16", fp16: "float16", fp32: "float32" };
const VARIANT_DTYPE: Record<string, ConcreteDtype[]> = { awq: ["awq", "int4"], gptq: ["gptq", "int4"], fp8: ["fp8"], mxfp4: ["mxfp4"], nvfp4: ["nvfp4"], bnb: ["int4"] };

function catalogModel(o: InferenceInput): Model {
  const m = findModel(o.sizing.model);
  if (!m) throw new Error(`deployments.${o.deployment}.model: "${o.sizing.model}" is not in the model catalog; run \`gpu-hosting catalog models\``);
  return m;
}

/** vLLM: the repo to load and the flags that make it serve the sizing's dtype. */
function vllmCheckpoint(o: InferenceInput): { repo: string; flags: string[] } {
  const model = catalogModel(o);
  const d = o.sizing.dtype;
  const at = `deployments.${o.deployment}`;
  const given = o.modelRepo ? matchModel(o.modelRepo) : undefined;
  if (given?.via === "variant") {
    const method = given.variantMethod!;
    if (method === "gguf") throw new Error(`${at}.model: "${o.modelRepo}" is a GGUF repo; vLLM serves Hugging Face checkpoints, use engine llamacpp or the unquantised repo`);
    if (method !== "bnb" && !(VARIANT_DTYPE[method] ?? []).includes(d)) throw new Error(`${at}.dtype: "${d}" does not match the ${method} checkpoint "${o.modelRepo}"; use dtype auto, or the base model`);
    return { repo: o.modelRepo!, flags: [] }; // vLLM reads the quantisation from the checkpoint's config
  }
  const repo = o.modelRepo && given?.via !== "alias" ? o.modelRepo : model.id;
  if (WEIGHT_FORMATS[d].family === "gguf") throw new Error(`${at}.dtype: "${d}" is a GGUF type; vLLM serves Hugging Face checkpoints, use engine llamacpp or dtype auto`);
  const vllmDtype = VLLM_DTYPE[d];
  if (vllmDtype) return { repo, flags: ["--dtype", vllmDtype] };
  if (d === servingDtypeOf(parseHfConfig(model.config))) return { repo, flags: [] }; // the checkpoint's own format (gpt-oss mxfp4, DeepSeek fp8)
  if (d === "fp8") return { repo, flags: ["--quantization", "fp8"] }; // dynamic fp8 of a 16-bit checkpoint
  const variant = model.quantizedVariants.find((v) => (VARIANT_DTYPE[v.method] ?? []).includes(d) && v.method !== "bnb");
  if (!variant) {
    throw new Error(`${at}.dtype: vLLM needs a ${WEIGHT_FORMATS[d].label} checkpoint and the catalog lists none for ${model.id}; set model to such a repo, or use dtype fp8 or bf16`);
  }
  return { repo: variant.repo, flags: [] };
}

/** llama.cpp and Ollama: the GGUF repo and quant type for the sizing's dtype. */
function ggufCheckpoint(o: InferenceInput): { repo: string; quant: string } {
  const model = catalogModel(o);
  const d = o.sizing.dtype;
  const at = `deployments.${o.deployment}`;
  if (WEIGHT_FORMATS[d].family !== "gguf") throw new Error(`${at}.dtype: "${d}" is not a GGUF type; ${o.sizing.engine} serves GGUF files, use q4_k_m, q5_k_m, q6_k, q8_0 or q4_0 (or dtype auto)`);
  const quant = d.toUpperCase();
  const ggufs = model.quantizedVariants.filter((v) => v.method === "gguf");
  const pick = o.modelRepo ? ggufs.filter((v) => v.repo.toLowerCase() === o.modelRepo!.toLowerCase()) : ggufs;
  if (o.modelRepo && pick.length === 0) return { repo: o.modelRepo, quant };
  const v = pick.find((x) => x.ggufTypes?.includes(quant));
  if (!v) {
    const offered = [...new Set(ggufs.flatMap((x) => x.ggufTypes ?? []))].join(", ") || "none";
    throw new Error(`${at}.dtype: no GGUF repo in the catalog offers ${quant} for ${model.id} (offered: ${offered}); choose one of those, or set model to a GGUF repo`);
  }
  return { repo: v.repo, quant };
}

const KV_VLLM: Record<string, string | null> = { auto: null, fp16: null, bf16: null, fp8: "fp8", fp8_e4m3: "fp8_e4m3", fp8_e5m2: "fp8_e5m2" };
const KV_GGML: Record<string, string | null> = { auto: null, fp16: null, bf16: "bf16", fp32: "f32", q8_0: "q8_0", q4_0: "q4_0" };

function kvCache(o: InferenceInput, engine: ServingEngine): string | null {
  const table = engine === "vllm" ? KV_VLLM : engine === "ollama" ? { auto: null, fp16: null, q8_0: "q8_0", q4_0: "q4_0" } : KV_GGML;
  if (!(o.kvCacheDtype in table)) {
    throw new Error(`deployments.${o.deployment}.kvCacheDtype: "${o.kvCacheDtype}" is not supported by ${engine}; allowed: ${Object.keys(table).join(", ")}`);
  }
  return (table as Record<string, string | null>)[o.kvCacheDtype] ?? null;
}

/** The engine's arguments and environment for a deployment, from its sizing. Pure. */
export function engineArgs(o: InferenceInput): EngineCommand {
  validate(o);
  const engine = servingEngine(o.sizing);
  const image = imageOf(o);
  const prefix = catalogEntryFor(image, engine)?.command ?? [];
  const name = o.deployment;
  const kv = kvCache(o, engine);
  const gpus = o.sizing.gpuCount > 0 && o.sizing.engine !== "cpu";
  const keyVar = o.apiKey === false ? [] : engine === "vllm" ? ["VLLM_API_KEY"] : engine === "llamacpp" ? ["LLAMA_API_KEY"] : [];
  if (engine === "vllm") {
    const { repo, flags } = vllmCheckpoint(o);
    const args = [...prefix, repo, "--served-model-name", name, "--tensor-parallel-size", String(o.sizing.gpuCount), "--max-model-len", String(o.context)];
    args.push("--gpu-memory-utilization", String(o.gpuMemoryUtilization), "--max-num-seqs", String(o.concurrency));
    if (kv) args.push("--kv-cache-dtype", kv);
    args.push(...flags);
    const env = { HF_HOME: "/models/huggingface", VLLM_NO_USAGE_STATS: "1", DO_NOT_TRACK: "1" };
    return { engine, args, env, secretVariables: [...keyVar, "HF_TOKEN"], servedModelName: name, checkpoint: repo, pull: null };
  }
  const { repo, quant } = ggufCheckpoint(o);
  const checkpoint = `${repo}:${quant}`;
  if (engine === "llamacpp") {
    const args = [...prefix, "--hf-repo", checkpoint, "--alias", name, "--host", "0.0.0.0", "--port", String(ENGINE_CONTAINER_PORT)];
    args.push("-c", String(o.context * o.concurrency), "-np", String(o.concurrency));
    if (gpus) args.push("-ngl", "999");
    if (kv) args.push("-ctk", kv, "-ctv", kv, ...(kv.startsWith("q") ? ["-fa", "on"] : []));
    const env = { LLAMA_CACHE: "/models/llama.cpp", HF_HOME: "/models/huggingface" };
    return { engine, args, env, secretVariables: [...keyVar, "HF_TOKEN"], servedModelName: name, checkpoint, pull: null };
  }
  // Ollama has no API key: the proxy enforces it. Context and slots are server settings.
  const env: Record<string, string> = {
    OLLAMA_HOST: `0.0.0.0:${ENGINE_CONTAINER_PORT}`,
    OLLAMA_MODELS: "/models/ollama",
    OLLAMA_CONTEXT_LENGTH: String(o.context),
    OLLAMA_NUM_PARALLEL: String(o.concurrency),
    OLLAMA_MAX_LOADED_MODELS: "1",
    OLLAMA_KEEP_ALIVE: "-1",
  };
  if (kv) Object.assign(env, { OLLAMA_FLASH_ATTENTION: "1", OLLAMA_KV_CACHE_TYPE: kv });
  return { engine, args: [...prefix], env, secretVariables: [], servedModelName: name, checkpoint, pull: `hf.co/${checkpoint}` };
}

function validate(o: InferenceInput): void {
  const at = `deployments.${o.deployment}`;
  if (!NAME.test(o.deployment)) throw new Error(`deployment: "${o.deployment}" must be lower-case letters, digits and dashes (at most 63)`);
  const ints: [string, number, number, number][] = [["context", o.context, 1, 2 ** 31], ["concurrency", o.concurrency, 1, 65536], ["port", o.port, 1, 65535]];
  for (const [k, v, min, max] of ints) {
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${at}.${k}: ${v} must be a whole number from ${min} to ${max}`);
  }
  if (!(o.gpuMemoryUtilization > 0 && o.gpuMemoryUtilization <= 1)) throw new Error(`${at}.gpuMemoryUtilization: ${o.gpuMemoryUtilization} must be above 0 and at most 1`);
  if (isIP(o.bindAddress) === 0) throw new Error(`${at}: bindAddress "${o.bindAddress}" is not an IP address; use 127.0.0.1 or the host's private IP`);
  if (o.sizing.gpuCount > 0 && o.sizing.engine !== "cpu" && o.gpuVendor === "none") {
    throw new Error(`${at}: sized for ${o.sizing.gpuCount} × ${o.sizing.gpu} but the host has no GPU vendor; check the host's GPUs`);
  }
  if (o.modelCacheDir !== undefined && !/^\/[A-Za-z0-9._/-]+$/.test(o.modelCacheDir)) throw new Error(`${at}: modelCacheDir "${o.modelCacheDir}" must be an absolute path`);
  for (const g of o.gpuDevices ?? []) if (!Number.isInteger(g) || g < 0) throw new Error(`${at}.gpuDevices: ${g} is not a GPU index`);
}

/** The docker flags that give the container its GPUs. */
function gpuFlags(o: InferenceInput): string[] {
  if (o.sizing.engine === "cpu" || o.gpuVendor === "none") return [];
  const devices = o.gpuDevices?.join(",");
  if (o.gpuVendor === "nvidia") return ["--gpus", devices ? (devices.includes(",") ? `'"device=${devices}"'` : `device=${devices}`) : "all"];
  // AMD: the images need not define video/render groups, so pass the host's ids (resolved by the script).
  const flags = ["--device", "/dev/kfd", "--device", "/dev/dri", "--group-add", "${GH_VIDEO_GID}", "--group-add", "${GH_RENDER_GID}"];
  if (devices) flags.push("-e", `ROCR_VISIBLE_DEVICES=${devices}`);
  return flags;
}

/** The systemd unit that runs the deployment's container. */
export function renderInferenceUnit(o: InferenceInput): string {
  const cmd = engineArgs(o);
  const image = imageOf(o);
  const unit = inferenceUnit(o.deployment);
  const cache = o.modelCacheDir ?? DEFAULT_MODEL_CACHE_DIR;
  const bind = isIP(o.bindAddress) === 6 ? `[${o.bindAddress}]` : o.bindAddress;
  const amd = o.gpuVendor === "amd" && o.sizing.engine !== "cpu";
  const run = ["/usr/bin/docker", "run", "--rm", "--name", unit, "--env-file", inferenceEnvFile(o.deployment), ...gpuFlags(o)];
  if (cmd.engine === "vllm") run.push("--ipc=host"); // vLLM's docs: shared memory for tensor-parallel workers
  run.push("-p", `${bind}:${o.port}:${ENGINE_CONTAINER_PORT}`, "-v", `${cache}:/models`);
  for (const [k, v] of Object.entries(cmd.env)) run.push("-e", `${k}=${v}`);
  run.push(image, ...cmd.args);
  for (const w of run) {
    if (!SAFE_WORD.test(w) && !/^\$\{GH_[A-Z_]+\}$/.test(w) && !/^'"device=[0-9,]+"'$/.test(w)) {
      throw new Error(`deployments.${o.deployment}: "${w}" cannot be passed to the engine safely (letters, digits and ._:/@=,+- only)`);
    }
  }
  const engineName = { vllm: "vLLM", llamacpp: "llama.cpp server", ollama: "Ollama" }[cmd.engine];
  return [
    "# Rendered by gpu-hosting (inference layer); do not edit on the host.",
    "[Unit]",
    `Description=gpu-hosting ${engineName} for deployment ${o.deployment} (${cmd.checkpoint})`,
    "After=docker.service network-online.target",
    "Wants=network-online.target",
    "Requires=docker.service",
    "",
    "[Service]",
    "Type=simple",
    ...(amd ? [`EnvironmentFile=/etc/gpu-hosting/${o.deployment}.gids`] : []),
    "Restart=on-failure",
    "RestartSec=10s",
    "TimeoutStartSec=30min",
    "TimeoutStopSec=2min",
    `ExecStartPre=-/usr/bin/docker rm --force ${unit}`,
    `ExecStartPre=/bin/sh -c 'docker image inspect ${image} >/dev/null 2>&1 || exec docker pull ${image}'`,
    `ExecStart=${run.join(" ")}`,
    `ExecStop=/usr/bin/docker stop --time 60 ${unit}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The inference layer of one deployment: unit, enable, restart on change, wait until active. */
export function renderInferenceLayer(o: InferenceInput): LayerScript {
  const cmd = engineArgs(o);
  const image = imageOf(o);
  const unit = inferenceUnit(o.deployment);
  const envFile = inferenceEnvFile(o.deployment);
  const cache = o.modelCacheDir ?? DEFAULT_MODEL_CACHE_DIR;
  const unitPath = `/etc/systemd/system/${unit}.service`;
  const files = [{ layer: "inference" as const, name: `${unit}.service`, path: unitPath, mode: "0644", content: renderInferenceUnit(o) }];
  const secrets: SecretFileRef[] = [
    {
      path: envFile,
      variables: cmd.secretVariables,
      description: cmd.secretVariables.length
        ? `${o.deployment}: ${cmd.secretVariables.join(", ")} for the engine (docker --env-file; root only)`
        : `${o.deployment}: Ollama reads no secret (the proxy enforces the API key); the file may be empty`,
    },
  ];
  const requiredKey = cmd.secretVariables.find((v) => v.endsWith("_API_KEY"));
  const amd = o.gpuVendor === "amd" && o.sizing.engine !== "cpu";
  const body = `
unit=${shq(unit)}
image=${shq(image)}
env_file="$GH_ROOT"${shq(envFile)}
command -v docker >/dev/null 2>&1 || fail "docker is not installed: the gpu layer installs the container runtime"
[ -f "$env_file" ] || fail "${envFile} is missing: the component writes it (${cmd.secretVariables.join(", ") || "empty for Ollama"}) before this layer runs"
case "$(stat -c %a "$env_file")" in
  600|400) ;;
  *) fail "${envFile} must be readable by root only (mode 0600), not $(stat -c %a "$env_file")" ;;
esac
${requiredKey ? `grep -Eq '^${requiredKey}=.+' "$env_file" || fail "${envFile} has no ${requiredKey}: the engine would serve without an API key"\n` : ""}mkdir -p "$GH_ROOT"${shq(cache)}
${amd ? amdGids(o.deployment) : ""}
if [ "$GH_CHANGED" = 1 ]; then
  systemctl daemon-reload
fi
systemctl enable --quiet "$unit"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  log "pulling $image"
  docker pull "$image" >&2 || fail "docker pull $image failed"
fi
if [ "$GH_CHANGED" = 1 ] || ! systemctl is-active --quiet "$unit"; then
  log "restarting $unit"
  systemctl restart "$unit"
  GH_CHANGED=1
  deadline=$((SECONDS + ${UNIT_ACTIVE_TIMEOUT_SECONDS}))
  until systemctl is-active --quiet "$unit"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$unit did not become active within ${UNIT_ACTIVE_TIMEOUT_SECONDS} s" "$unit"
    sleep 2
  done
  sleep 3
  systemctl is-active --quiet "$unit" || fail "$unit stopped right after starting" "$unit"
fi
${cmd.pull ? ollamaPull(o.deployment, cmd.pull) : ""}log "$unit active: ${cmd.servedModelName} on ${o.bindAddress}:${o.port}"
`;
  return layerScript("inference", `40-inference-${o.deployment}.sh`, files, body, secrets);
}

/** AMD: writes the host's video/render group ids for the unit's --group-add (restart when they change). */
function amdGids(deployment: string): string {
  return `video_gid="$(getent group video | cut -d: -f3)"
[ -n "$video_gid" ] || fail "the host has no video group: the gpu layer installs ROCm"
render_gid="$(getent group render | cut -d: -f3)"
gids="$(printf 'GH_VIDEO_GID=%s\\nGH_RENDER_GID=%s\\n' "$video_gid" "\${render_gid:-$video_gid}")"
gids_file="$GH_ROOT"${shq(`/etc/gpu-hosting/${deployment}.gids`)}
if [ "$(cat "$gids_file" 2>/dev/null || true)" != "$gids" ]; then
  mkdir -p "$(dirname "$gids_file")"
  printf '%s\\n' "$gids" > "$gids_file"
  GH_CHANGED=1
fi
`;
}

/** Ollama: pulls the GGUF once the server answers and names it after the deployment. */
function ollamaPull(deployment: string, model: string): string {
  return `state="$GH_ROOT"${shq(`/var/lib/gpu-hosting/${deployment}.ollama-model`)}
if [ "$(cat "$state" 2>/dev/null || true)" != ${shq(model)} ]; then
  deadline=$((SECONDS + 60))
  until docker exec "$unit" ollama list >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Ollama in $unit did not answer within 60 s" "$unit"
    sleep 2
  done
  log "pulling ${model}"
  docker exec "$unit" ollama pull ${shq(model)} >&2 || fail "ollama pull ${model} failed" "$unit"
  docker exec "$unit" ollama cp ${shq(model)} ${shq(deployment)} >&2 || fail "ollama cp ${model} ${deployment} failed" "$unit"
  mkdir -p "$(dirname "$state")"
  printf '%s\\n' ${shq(model)} > "$state"
  GH_CHANGED=1
fi
`;
}
