/**
 * The serving layers (inference, endpoint, health) and the container image catalog: engine flags
 * derived from the sizing, secrets only as references, and every rendered artefact checked by the
 * real tool: `shellcheck` and `bash -n` for scripts, `systemd-analyze verify` for units (in a
 * --root holding this machine's system units plus stubs for docker, see verifyUnit), and
 * `caddy validate` for every Caddyfile. Without a tool its block fails under CI=true and is skipped
 * with a warning elsewhere.
 */
import { describeWithTools } from "./helpers/tools";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findImage as catalogImage, images } from "../core/catalog";
import { validateImages } from "../core/catalog/validate";
import { DeploymentConfig } from "../core/config/schema";
import { renderCaddyDropIn, renderCaddyfile, renderEndpointLayer, type EndpointInput } from "../core/layers/endpoint";
import { renderHealthLayer } from "../core/layers/health";
import { engineArgs, findImage, parseImage, renderInferenceLayer, renderInferenceUnit, type InferenceInput } from "../core/layers/inference";
import type { LayerScript } from "../core/layers/types";
import { sizeOnGpu, type DeploymentSizing } from "../core/sizing/deployment";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-serving-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const VLLM = "vllm/vllm-openai@sha256:7a0f0fdd2771464b6976625c2b2d5dd46f566aa00fbc53eceab86ef50883da90";
const LLAMA_CPU = "ghcr.io/ggml-org/llama.cpp@sha256:8fdfad183be053cdb72d4b6a5930c3a2475730f932855ee9260193422c2564ed";
const LLAMA_CUDA = "ghcr.io/ggml-org/llama.cpp@sha256:5268283a8d6510d167364f19aee93e98180d8eb0cac4b7edb20af7e3edf40c17";
const ROCM_VLLM = "rocm/vllm@sha256:e7f02dd2ce3824959658bc0391296f6158638e3ebce164f6c019c4eca8150ec7";
const OWN_IMAGE = `ghcr.io/example/llama.cpp:server-rocm@sha256:${"ab".repeat(32)}`;

function sized(d: Record<string, unknown>, gpu: string | null, count: number, ramGiB: number | null = null): DeploymentSizing {
  return sizeOnGpu(DeploymentConfig.parse({ hosts: ["h1"], ...d }), "deployments[0]", gpu, count, ramGiB, ["h1"]);
}

function input(sizing: DeploymentSizing, over: Partial<InferenceInput> = {}): InferenceInput {
  return { deployment: sizing.name, sizing, context: 8192, concurrency: 1, gpuMemoryUtilization: 0.9, kvCacheDtype: "auto", gpuVendor: "nvidia", port: 8001, bindAddress: "127.0.0.1", ...over };
}

const awq70b = sized({ name: "chat", model: "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", context: 16384, concurrency: 4 }, "l40s", 2);
const llama8b = sized({ name: "small", model: "meta-llama/Llama-3.1-8B-Instruct" }, "l4", 1);
const cpu3b = sized({ name: "cpu", model: "meta-llama/Llama-3.2-3B-Instruct", context: 4096, concurrency: 2 }, null, 0, 64);

describe("container image catalog", () => {
  it("validates the bundled images.json, every pin a sha256 digest with its tag and a source", () => {
    const list = validateImages(JSON.parse(fs.readFileSync(path.join(__dirname, "..", "core", "catalog", "data", "images.json"), "utf8")));
    expect(list.map((i) => [i.id, i.digest === null ? null : i.digest.length])).toEqual([
      ["vllm-cuda", 71],
      ["vllm-rocm", 71],
      ["llamacpp-cpu", 71],
      ["llamacpp-cuda", 71],
      ["llamacpp-rocm", null],
      ["ollama", 71],
      ["ollama-rocm", 71],
    ]);
    for (const i of list) expect(i.sources.every((s) => s.url.startsWith("https://github.com/"))).toBe(true);
  });

  it("rejects a digest-less entry that does not say it is unconfirmed", () => {
    const bad = [{ ...images()[4]!, confidence: "secondary" }];
    expect(() => validateImages(bad)).toThrow('catalog is invalid:\n  images.json[0].confidence: confidence must be "unconfirmed" exactly when digest is null');
  });

  it.each([
    ["vllm", "nvidia", "vllm-cuda"],
    ["vllm", "amd", "vllm-rocm"],
    ["cpu", "nvidia", "llamacpp-cpu"],
    ["llamacpp", "none", "llamacpp-cpu"],
    ["llamacpp", "nvidia", "llamacpp-cuda"],
    ["llamacpp", "amd", "llamacpp-rocm"],
    ["ollama", "none", "ollama"],
    ["ollama", "amd", "ollama-rocm"],
  ] as const)("findImage(%s, %s) is %s", (engine, vendor, id) => {
    expect(catalogImage(engine, vendor)?.id).toBe(id);
  });

  it("has no vLLM image for CPU hosts", () => {
    expect(catalogImage("vllm", "none")).toBeUndefined();
  });

  it("refuses an image without a pinned digest and says how to pin one", () => {
    expect(findImage("vllm", "nvidia")).toBe(VLLM);
    expect(() => findImage("llamacpp", "amd")).toThrow(
      "image ghcr.io/ggml-org/llama.cpp:server-rocm has no pinned digest in the catalog; pass image: ghcr.io/ggml-org/llama.cpp@sha256:… in the deployment",
    );
  });

  it("parses repo[:tag]@sha256 and rejects tags without a digest", () => {
    expect(parseImage("localhost:5000/team/vllm:v1@sha256:" + "0".repeat(64))).toEqual({ repository: "localhost:5000/team/vllm", tag: "v1", digest: "sha256:" + "0".repeat(64) });
    expect(() => parseImage("vllm/vllm-openai:v0.19.0")).toThrow('image: "vllm/vllm-openai:v0.19.0" is not pinned by digest; use repo@sha256:<64 hex digits> (tags move, digests do not)');
  });
});

describe("engine flags from the sizing", () => {
  it("serves a 70B AWQ checkpoint on 2 × L40S with tensor parallelism 2 and the deployment's context", () => {
    expect(awq70b.dtype).toBe("awq");
    const cmd = engineArgs(input(awq70b, { context: 16384, concurrency: 4 }));
    expect(cmd.args).toEqual([
      "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
      "--served-model-name",
      "chat",
      "--tensor-parallel-size",
      "2",
      "--max-model-len",
      "16384",
      "--gpu-memory-utilization",
      "0.9",
      "--max-num-seqs",
      "4",
    ]);
    expect(cmd.secretVariables).toEqual(["VLLM_API_KEY", "HF_TOKEN"]);
    expect(cmd.env).toEqual({ HF_HOME: "/models/huggingface", VLLM_NO_USAGE_STATS: "1", DO_NOT_TRACK: "1" });
  });

  it.each([
    ["bf16", { name: "a", model: "meta-llama/Llama-3.1-8B-Instruct" }, "l4", "meta-llama/Llama-3.1-8B-Instruct", ["--dtype", "bfloat16"]],
    ["fp16", { name: "a", model: "meta-llama/Llama-3.1-8B-Instruct", dtype: "fp16" }, "l4", "meta-llama/Llama-3.1-8B-Instruct", ["--dtype", "float16"]],
    ["fp8 (dynamic)", { name: "a", model: "meta-llama/Llama-3.1-8B-Instruct", dtype: "fp8" }, "h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", ["--quantization", "fp8"]],
    ["gptq (catalog checkpoint)", { name: "a", model: "meta-llama/Llama-3.1-8B-Instruct", dtype: "gptq" }, "l4", "hugging-quants/Meta-Llama-3.1-8B-Instruct-GPTQ-INT4", []],
    ["fp8 checkpoint", { name: "a", model: "neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8" }, "h100-sxm-80gb", "neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", []],
  ])("maps dtype %s to vLLM's flags", (_label, d, gpu, repo, flags) => {
    const s = sized(d, gpu, 1);
    const cmd = engineArgs(input(s, { modelRepo: (d as { model: string }).model }));
    expect(cmd.args[0]).toBe(repo);
    expect(cmd.args.slice(11)).toEqual(flags);
  });

  it("passes an fp8 KV cache to vLLM and refuses a GGUF one", () => {
    expect(engineArgs(input(llama8b, { kvCacheDtype: "fp8" })).args.slice(11)).toEqual(["--kv-cache-dtype", "fp8", "--dtype", "bfloat16"]);
    expect(() => engineArgs(input(llama8b, { kvCacheDtype: "q8_0" }))).toThrow('deployments.small.kvCacheDtype: "q8_0" is not supported by vllm; allowed: auto, fp16, bf16, fp8, fp8_e4m3, fp8_e5m2');
  });

  it("asks for a checkpoint when vLLM would need one the catalog lacks", () => {
    const s = sized({ name: "a", model: "meta-llama/Llama-3.1-8B-Instruct", dtype: "int8" }, "l4", 1);
    expect(() => engineArgs(input(s))).toThrow(
      "deployments.a.dtype: vLLM needs a INT8 (W8A8, per-channel scales) checkpoint and the catalog lists none for meta-llama/Llama-3.1-8B-Instruct; set model to such a repo, or use dtype fp8 or bf16",
    );
  });

  it("runs a CPU deployment on llama.cpp's CPU image with context × concurrency and no GPU layers", () => {
    expect(cpu3b.engine).toBe("cpu");
    const o = input(cpu3b, { gpuVendor: "none", context: 4096, concurrency: 2 });
    const cmd = engineArgs(o);
    expect(cmd.engine).toBe("llamacpp");
    expect(cmd.args).toEqual(["--hf-repo", "bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M", "--alias", "cpu", "--host", "0.0.0.0", "--port", "8000", "-c", "8192", "-np", "2"]);
    expect(cmd.secretVariables).toEqual(["LLAMA_API_KEY", "HF_TOKEN"]);
    const unit = renderInferenceUnit(o);
    expect(unit).toContain(` ${LLAMA_CPU} --hf-repo`);
    expect(unit).not.toContain("--gpus");
  });

  it("offloads every layer when llama.cpp has GPUs, and quantises the KV cache with flash attention", () => {
    const s = sized({ name: "g", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "llamacpp" }, "l4", 1);
    const o = input(s, { kvCacheDtype: "q8_0" });
    expect(engineArgs(o).args.slice(8)).toEqual(["-c", "8192", "-np", "1", "-ngl", "999", "-ctk", "q8_0", "-ctv", "q8_0", "-fa", "on"]);
    expect(renderInferenceUnit(o)).toContain(`--gpus all -p 127.0.0.1:8001:8000 -v /var/lib/gpu-hosting/models:/models -e LLAMA_CACHE=/models/llama.cpp -e HF_HOME=/models/huggingface ${LLAMA_CUDA}`);
  });

  it("configures Ollama through its environment and pulls the GGUF under the deployment's name", () => {
    const s = sized({ name: "ol", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "ollama", context: 16384, concurrency: 3 }, "l4", 1);
    const cmd = engineArgs(input(s, { context: 16384, concurrency: 3, kvCacheDtype: "q8_0" }));
    expect(cmd).toMatchObject({ args: [], secretVariables: [], servedModelName: "ol", pull: "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M" });
    expect(cmd.env).toEqual({
      OLLAMA_HOST: "0.0.0.0:8000",
      OLLAMA_MODELS: "/models/ollama",
      OLLAMA_CONTEXT_LENGTH: "16384",
      OLLAMA_NUM_PARALLEL: "3",
      OLLAMA_MAX_LOADED_MODELS: "1",
      OLLAMA_KEEP_ALIVE: "-1",
      OLLAMA_FLASH_ATTENTION: "1",
      OLLAMA_KV_CACHE_TYPE: "q8_0",
    });
  });

  it("runs vLLM on AMD from rocm/vllm with `vllm serve`, the ROCm devices and the host's group ids", () => {
    const s = sized({ name: "mi", model: "meta-llama/Llama-3.1-8B-Instruct" }, "mi300x", 1);
    const o = input(s, { gpuVendor: "amd" });
    expect(engineArgs(o).args.slice(0, 3)).toEqual(["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]);
    const unit = renderInferenceUnit(o);
    expect(unit).toContain("EnvironmentFile=/etc/gpu-hosting/mi.gids\n");
    expect(unit).toContain("--device /dev/kfd --device /dev/dri --group-add ${GH_VIDEO_GID} --group-add ${GH_RENDER_GID} --ipc=host");
    expect(unit).toContain(`${ROCM_VLLM} vllm serve meta-llama/Llama-3.1-8B-Instruct`);
  });

  it("refuses llama.cpp on AMD until the deployment names its image, then runs that image", () => {
    const s = sized({ name: "la", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "llamacpp" }, "mi300x", 1);
    expect(() => renderInferenceLayer(input(s, { gpuVendor: "amd" }))).toThrow("image ghcr.io/ggml-org/llama.cpp:server-rocm has no pinned digest in the catalog");
    expect(renderInferenceUnit(input(s, { gpuVendor: "amd", image: OWN_IMAGE }))).toContain(` ghcr.io/example/llama.cpp@sha256:${"ab".repeat(32)} --hf-repo`);
  });

  it("gives a deployment only its own GPUs when they are listed", () => {
    expect(renderInferenceUnit(input(awq70b, { gpuDevices: [2, 3] }))).toContain(`--gpus '"device=2,3"' --ipc=host`);
    expect(renderInferenceUnit(input(llama8b, { gpuDevices: [1] }))).toContain("--gpus device=1 --ipc=host");
  });

  it.each([
    [{ bindAddress: "localhost" }, 'deployments.chat: bindAddress "localhost" is not an IP address; use 127.0.0.1 or the host\'s private IP'],
    [{ gpuMemoryUtilization: 1.2 }, "deployments.chat.gpuMemoryUtilization: 1.2 must be above 0 and at most 1"],
    [{ context: 0 }, "deployments.chat.context: 0 must be a whole number from 1 to 2147483648"],
    [{ gpuVendor: "none" as const }, "deployments.chat: sized for 2 × l40s but the host has no GPU vendor; check the host's GPUs"],
    [{ deployment: "Chat" }, 'deployment: "Chat" must be lower-case letters, digits and dashes (at most 63)'],
  ])("rejects %j", (over, message) => {
    expect(() => engineArgs(input(awq70b, over))).toThrow(message);
  });
});

describe("secrets", () => {
  const layer = renderInferenceLayer(input(awq70b, { context: 16384, concurrency: 4 }));

  it("names the env file as a reference and passes it with --env-file, never a value", () => {
    expect(layer.secrets).toEqual([{ path: "/etc/gpu-hosting/chat.env", variables: ["VLLM_API_KEY", "HF_TOKEN"], description: "chat: VLLM_API_KEY, HF_TOKEN for the engine (docker --env-file; root only)" }]);
    const unit = layer.files[0]!.content;
    expect(unit).toContain("--env-file /etc/gpu-hosting/chat.env");
    for (const text of [unit, engineArgs(input(awq70b)).args.join(" ")]) {
      expect(text).not.toMatch(/API_KEY|HF_TOKEN|--api-key/);
    }
  });

  it("refuses to start the engine without its key, and the proxy and health check only reference theirs", () => {
    expect(layer.script).toContain(`grep -Eq '^VLLM_API_KEY=.+' "$env_file" || fail "/etc/gpu-hosting/chat.env has no VLLM_API_KEY: the engine would serve without an API key"`);
    const endpoint = renderEndpointLayer({ routes: [{ deployment: "chat", port: 8001 }], domain: null, apiKey: true });
    expect(endpoint.secrets).toEqual([{ path: "/etc/gpu-hosting/caddy.env", variables: ["GPU_HOSTING_API_KEY"], description: expect.any(String) }]);
    expect(endpoint.files.map((f) => f.content).join("\n")).not.toMatch(/GPU_HOSTING_API_KEY=/);
    expect(renderHealthLayer({ url: "https://127.0.0.1/", models: ["chat"], timeoutSeconds: 60 }).secrets.map((s) => s.path)).toEqual(["/etc/gpu-hosting/caddy.env"]);
  });
});

describe("endpoint (Caddy)", () => {
  const two: EndpointInput = { routes: [{ deployment: "chat", port: 8000 }, { deployment: "code", port: 8001 }], domain: null, apiKey: true };

  it("routes each deployment by path prefix, the first one also at /", () => {
    const c = renderCaddyfile(two);
    expect(c).toContain("\t\t@route_chat path /chat /chat/*\n\t\thandle @route_chat {\n\t\t\turi strip_prefix /chat\n\t\t\treverse_proxy 127.0.0.1:8000\n\t\t}");
    expect(c).toContain("\t\t@route_code path /code /code/*\n\t\thandle @route_code {\n\t\t\turi strip_prefix /code\n\t\t\treverse_proxy 127.0.0.1:8001\n\t\t}");
    expect(c).toContain("\t\thandle {\n\t\t\treverse_proxy 127.0.0.1:8000\n\t\t}");
  });

  it("checks the bearer key from the runtime environment and fails closed without one", () => {
    const c = renderCaddyfile(two);
    expect(c).toContain('@unauthorized not header Authorization "Bearer {env.GPU_HOSTING_API_KEY}"');
    expect(c).toContain('@nokey expression `{env.GPU_HOSTING_API_KEY} == ""`');
    expect(c.indexOf("respond @unauthorized")).toBeLessThan(c.indexOf("reverse_proxy"));
    expect(renderCaddyfile({ ...two, apiKey: false })).not.toContain("Authorization");
  });

  it("uses Caddy's internal CA for IP addresses without a domain, and ACME with one", () => {
    expect(renderCaddyfile(two)).toContain(":443 {\n\ttls internal {\n\t\ton_demand\n\t}");
    const acme = renderCaddyfile({ ...two, domain: "llm.example.com" });
    expect(acme).toContain("llm.example.com {\n\tencode");
    expect(acme).not.toMatch(/tls internal|on_demand|https_port/);
    expect(renderCaddyfile({ ...two, domain: "llm.example.com", listenPort: 8443 })).toContain("\thttps_port 8443\n");
  });

  it("starts caddy without --environ (which would log the key) and with the key's env file", () => {
    expect(renderCaddyDropIn({ apiKey: true })).toBe(
      "# Rendered by gpu-hosting (endpoint layer); do not edit on the host.\n[Service]\nEnvironmentFile=/etc/gpu-hosting/caddy.env\nExecStart=\nExecStart=/usr/bin/caddy run --config /etc/caddy/Caddyfile\n",
    );
  });

  it.each([
    [{ ...two, domain: "LLM.example.com" }, 'domain: "LLM.example.com" is not a lower-case DNS name such as llm.example.com'],
    [{ ...two, routes: [{ deployment: "chat", port: 2019 }] }, "endpoint.routes[chat].port: 2019 must be a port from 1 to 65535 other than Caddy's 2019 and 2020"],
    [{ ...two, routes: [{ deployment: "a", port: 1, pathPrefix: "/x" }, { deployment: "b", port: 2, pathPrefix: "/x" }] }, 'endpoint.routes: path prefix "/x" is used twice'],
    [{ ...two, routes: [{ deployment: "a", port: 1, pathPrefix: "/v1" }] }, 'endpoint.routes[a].pathPrefix: "/v1" would hide the engine\'s own /v1; choose another'],
  ])("rejects %j", (o, message) => {
    expect(() => renderCaddyfile(o)).toThrow(message);
  });
});

describe("health", () => {
  it.each([
    [{ url: "ftp://x/" }, 'health.url: "ftp://x/" must be a plain http(s) URL without query, fragment or credentials'],
    [{ models: [] }, "health.models: empty; give the served model ids to wait for"],
    [{ timeoutSeconds: 0 }, "health.timeoutSeconds: 0 must be a whole number of seconds, at least 1"],
    [{ models: ["a b"] }, 'health: "a b" is not a model id or unit name (letters, digits, . _ : -)'],
  ])("rejects %j", (over, message) => {
    expect(() => renderHealthLayer({ url: "https://127.0.0.1/", models: ["chat"], timeoutSeconds: 60, ...over })).toThrow(message);
  });

  it("sends the key through curl's stdin, never on its command line", () => {
    const s = renderHealthLayer({ url: "https://llm.example.com", models: ["chat"], timeoutSeconds: 60 }).script;
    expect(s).toContain(`printf 'header = "Authorization: Bearer %s"\\n' "$key" | curl "\${curl_args[@]}" -K - "$url$1"`);
    expect(s).toContain("url='https://llm.example.com/'");
  });
});

/* ---------------------------------------------------------------- the real tools */

const amdVllm = input(sized({ name: "mi", model: "meta-llama/Llama-3.1-8B-Instruct" }, "mi300x", 1), { gpuVendor: "amd" });
const ollamaAmd = input(sized({ name: "ol", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "ollama" }, "mi300x", 1), { gpuVendor: "amd", kvCacheDtype: "q8_0" });
const inferenceInputs: [string, InferenceInput][] = [
  ["vLLM 70B AWQ on 2 × L40S", input(awq70b, { context: 16384, concurrency: 4, gpuDevices: [0, 1] })],
  ["vLLM on one L4, fp8 KV cache", input(llama8b, { kvCacheDtype: "fp8", bindAddress: "10.0.0.2" })],
  ["llama.cpp on CPU", input(cpu3b, { gpuVendor: "none" })],
  ["vLLM on AMD", amdVllm],
  ["Ollama on AMD", ollamaAmd],
];
const endpointInputs: [string, EndpointInput][] = [
  ["internal CA, two routes, API key", { routes: [{ deployment: "chat", port: 8000 }, { deployment: "code", port: 8001, pathPrefix: "/coder" }], domain: null, apiKey: true }],
  ["ACME domain, API key", { routes: [{ deployment: "chat", port: 8000 }], domain: "llm.example.com", apiKey: true }],
  ["ACME domain on 8443, no key", { routes: [{ deployment: "chat", port: 8000 }], domain: "llm.example.com", apiKey: false, listenPort: 8443 }],
  ["internal CA on 8443", { routes: [{ deployment: "chat", port: 8000 }], domain: null, apiKey: true, listenPort: 8443 }],
];
const scripts: [string, LayerScript][] = [
  ...inferenceInputs.map(([n, o]): [string, LayerScript] => [`inference: ${n}`, renderInferenceLayer(o)]),
  ...endpointInputs.map(([n, o]): [string, LayerScript] => [`endpoint: ${n}`, renderEndpointLayer(o)]),
  ["health: https with key", renderHealthLayer({ url: "https://llm.example.com/", models: ["chat", "code"], timeoutSeconds: 900, paths: { code: "/coder" } })],
  ["health: http without key", renderHealthLayer({ url: "http://10.0.0.2:8000", models: ["chat"], timeoutSeconds: 5, apiKey: false, caFile: "/etc/ssl/private-ca.pem" })],
];

describeWithTools("rendered scripts pass shellcheck and bash -n", ["shellcheck", "bash"], () => {
  it.each(scripts)("%s", (name, layer) => {
    const file = path.join(tmp, `${layer.name}-${name.replace(/\W+/g, "-")}.sh`);
    fs.writeFileSync(file, layer.script);
    const sc = spawnSync("shellcheck", ["--shell=bash", "--severity=style", file], { encoding: "utf8" });
    expect(sc.stdout + sc.stderr).toBe("");
    expect(sc.status).toBe(0);
    const n = spawnSync("bash", ["-n", file], { encoding: "utf8" });
    expect(n.stderr).toBe("");
    expect(n.status).toBe(0);
  });
});

/**
 * `systemd-analyze verify` checks that ExecStart binaries exist and are executable on this machine
 * (here docker is /usr/local/bin/docker, so /usr/bin/docker "is not executable") and that units in
 * Requires= exist (docker.service is not installed here). So each unit is verified in a --root that
 * holds a copy of this machine's system units plus a stub docker.service, caddy.service and stub
 * /usr/bin/docker, /usr/bin/caddy and /bin/sh: everything else is systemd's real parser.
 */
function verifyRoot(): string {
  const root = fs.mkdtempSync(path.join(tmp, "systemd-root-"));
  const units = path.join(root, "usr", "lib", "systemd", "system");
  fs.mkdirSync(path.dirname(units), { recursive: true });
  fs.cpSync(fs.realpathSync("/lib/systemd/system"), units, { recursive: true, dereference: false });
  fs.writeFileSync(path.join(units, "docker.service"), "[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/dockerd\n");
  fs.writeFileSync(path.join(units, "caddy.service"), "[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/caddy run\n");
  fs.mkdirSync(path.join(root, "usr", "bin"), { recursive: true });
  fs.symlinkSync("usr/bin", path.join(root, "bin"));
  for (const b of ["docker", "dockerd", "caddy", "sh"]) fs.writeFileSync(path.join(root, "usr", "bin", b), "#!/bin/sh\n", { mode: 0o755 });
  fs.mkdirSync(path.join(root, "etc", "systemd", "system"), { recursive: true });
  return root;
}

function verifyUnit(root: string, rel: string, content: string, unit: string): { status: number | null; output: string } {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, unit], { encoding: "utf8" });
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

describeWithTools("rendered units pass systemd-analyze verify", ["systemd-analyze"], () => {
  let root = "";
  beforeAll(() => {
    root = verifyRoot();
  });

  it.each(inferenceInputs)("inference unit: %s", (_name, o) => {
    const layer = renderInferenceLayer(o);
    const f = layer.files[0]!;
    expect(verifyUnit(root, f.path, f.content, f.path)).toEqual({ status: 0, output: "" });
  });

  it("the caddy.service drop-in", () => {
    const f = renderEndpointLayer(endpointInputs[0]![1]).files[1]!;
    expect(verifyUnit(root, f.path, f.content, "/usr/lib/systemd/system/caddy.service")).toEqual({ status: 0, output: "" });
  });

  it("and it does report a broken unit (the check is real)", () => {
    const broken = renderInferenceUnit(inferenceInputs[0]![1]).replace("Restart=on-failure", "Restart=sometimes").replace("ExecStop=/usr/bin/docker", "ExecStop=/usr/bin/dockr");
    const r = verifyUnit(root, "etc/systemd/system/gpu-hosting-broken.service", broken, "/etc/systemd/system/gpu-hosting-broken.service");
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("Failed to parse service restart specifier, ignoring: sometimes");
    expect(r.output).toContain("Command /usr/bin/dockr is not executable");
  });
});

describeWithTools("rendered Caddyfiles pass caddy validate", ["caddy"], () => {
  it.each(endpointInputs)("%s", (name, o) => {
    const home = fs.mkdtempSync(path.join(tmp, "caddy-home-"));
    const file = path.join(home, "Caddyfile");
    fs.writeFileSync(file, renderCaddyfile(o));
    const env = { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home };
    const r = spawnSync("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { encoding: "utf8", env, timeout: 30000 });
    expect({ name, status: r.status, valid: /Valid configuration/.test(r.stdout + r.stderr) }).toEqual({ name, status: 0, valid: true });
    const fmt = spawnSync("caddy", ["fmt", file], { encoding: "utf8", env });
    expect(fmt.stdout).toBe(fs.readFileSync(file, "utf8"));
  });

  it("and caddy validate does reject a broken Caddyfile (the check is real)", () => {
    const home = fs.mkdtempSync(path.join(tmp, "caddy-home-"));
    const file = path.join(home, "Caddyfile");
    fs.writeFileSync(file, renderCaddyfile(endpointInputs[0]![1]).replace("uri strip_prefix", "uri strip_prefx"));
    const r = spawnSync("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { encoding: "utf8", env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("strip_prefx");
  });
});
