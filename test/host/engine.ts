/**
 * A real CPU engine for the test host: llama.cpp, through `node-llama-cpp` 3.22.1 and its prebuilt
 * `@node-llama-cpp/linux-x64` binary, running the tiny GGUF the test writes (tinyGguf.ts). What is
 * ours, and so not llama.cpp's `llama-server` that the rendered unit runs in production: the small
 * OpenAI-compatible HTTP server around it ({@link ENGINE_SERVER}: `/health`, `/v1/models`,
 * `/v1/chat/completions`, the API key), and the prompt format (the messages as `role: content` lines).
 * The tokens it returns are llama.cpp's greedy decoding of that model on this CPU.
 *
 * Installed once into a cache folder (`/var/tmp/gpu-hosting-test-engine-<version>`, beside the
 * image), never as a devDependency: `npm install --omit=optional --ignore-scripts` with the x64 CPU
 * binary named by exact version, so none of the CUDA/Vulkan packages and no postinstall (which may
 * try to download and build llama.cpp) run. About 85 MB and 30 s the first time. The host has no
 * Node.js 20 (Debian 12 ships 18), so this machine's `node` and the folder are bind-mounted into it
 * read-only ({@link engineBinds}); the stand-in `docker` execs the server for llama.cpp images.
 */
import fs from "node:fs";
import path from "node:path";
import { tinyLlamaGguf } from "./tinyGguf";
import { run } from "./testHost";

export const NODE_LLAMA_CPP_VERSION = "3.22.1";
/** Where the engine folder and this machine's node appear inside the host. */
export const ENGINE_DIR_IN_HOST = "/usr/local/lib/gpu-hosting-test-engine";
/** The model file inside the engine folder. */
export const TINY_MODEL_FILE = "tiny-llama.gguf";

/**
 * The OpenAI-compatible server (ESM: node-llama-cpp is ESM only). Arguments as the stand-in docker
 * passes them: bind address, port, then the engine's flags from the rendered unit (`--alias`, `-c`).
 */
export const ENGINE_SERVER = `// gpu-hosting test host: an OpenAI-compatible HTTP server around node-llama-cpp (llama.cpp on CPU),
// written for the test suite (test/host/engine.ts). NOT llama.cpp's llama-server.
import http from "node:http";
import { getLlama, LlamaCompletion } from "node-llama-cpp";
const [addr, port, ...args] = process.argv.slice(2);
const flag = (...names) => { for (const n of names) { const i = args.indexOf(n); if (i >= 0 && i + 1 < args.length) return args[i + 1]; } return null; };
const alias = flag("--alias", "--served-model-name") ?? "model";
const ctx = Number(flag("-c", "--ctx-size", "--max-model-len") ?? 0) || undefined;
const key = process.env.LLAMA_API_KEY || process.env.VLLM_API_KEY || "";
const llama = await getLlama({ gpu: false, build: "never", logLevel: "warn" });
const model = await llama.loadModel({ modelPath: process.env.ENGINE_MODEL });
const context = await model.createContext({ contextSize: ctx, sequences: 1 });
const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
const engine = "llama.cpp via node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (CPU)";
let queue = Promise.resolve();
const send = (res, code, obj) => { const b = JSON.stringify(obj); res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b) }); res.end(b); };
const authorized = (req, res) => {
  if (!key || req.headers.authorization === "Bearer " + key) return true;
  send(res, 401, { error: { message: "invalid api key", type: "authentication_error", code: 401 } });
  return false;
};
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", async () => {
    try {
      if (req.method === "GET" && req.url === "/health") return send(res, 200, { status: "ok" });
      if (!authorized(req, res)) return;
      if (req.method === "GET" && req.url === "/v1/models") {
        return send(res, 200, { object: "list", data: [{ id: alias, object: "model", owned_by: "gpu-hosting-test-engine", max_model_len: context.contextSize, meta: { engine, n_ctx_train: model.trainContextSize } }] });
      }
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") return send(res, 404, { error: { message: "not found: " + req.url } });
      const r = JSON.parse(body || "{}");
      if (r.model !== alias) return send(res, 404, { error: { message: "model " + JSON.stringify(r.model) + " not served (this serves " + JSON.stringify(alias) + ")" } });
      const prompt = (r.messages ?? []).map((m) => m.role + ": " + m.content + "\\n").join("") + "assistant:";
      const maxTokens = Math.min(Number(r.max_tokens ?? 16), 64);
      let produced = 0;
      const job = queue.then(() => completion.generateCompletionWithMeta(prompt, { maxTokens, temperature: 0, onToken: (t) => (produced += t.length) }));
      queue = job.catch(() => undefined);
      const { response, metadata } = await job;
      const promptTokens = model.tokenize(prompt).length;
      send(res, 200, { id: "chatcmpl-" + Date.now(), object: "chat.completion", created: Math.floor(Date.now() / 1000), model: alias, system_fingerprint: engine,
        choices: [{ index: 0, message: { role: "assistant", content: response }, finish_reason: metadata.stopReason === "maxTokens" ? "length" : "stop" }],
        usage: { prompt_tokens: promptTokens, completion_tokens: produced, total_tokens: promptTokens + produced } });
    } catch (e) {
      send(res, 500, { error: { message: String(e && e.message || e) } });
    }
  });
}).listen(Number(port), addr, () => console.error("test engine: " + engine + ", " + alias + " (context " + context.contextSize + ") on " + addr + ":" + port + ", key " + (key ? "required" : "none")));
`;

/** The cache folder for this version. */
export const engineDir = (): string => path.join(process.env.GPU_HOSTING_TEST_HOST_CACHE ?? "/var/tmp", `gpu-hosting-test-engine-${NODE_LLAMA_CPP_VERSION}`);

/**
 * Installs node-llama-cpp (CPU binary only) into the cache folder once, and (re)writes the server and
 * the tiny model there. Returns the folder and whether it was installed now.
 */
export async function installCpuEngine(log: (l: string) => void = (l) => console.log(`[test-host] ${l}`)): Promise<{ dir: string; installedMs: number | null }> {
  const dir = engineDir();
  const marker = path.join(dir, "installed.json");
  let installedMs: number | null = null;
  if (!fs.existsSync(marker)) {
    const t0 = Date.now();
    const partial = `${dir}.partial-${process.pid}`;
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    const deps = { "node-llama-cpp": NODE_LLAMA_CPP_VERSION, "@node-llama-cpp/linux-x64": NODE_LLAMA_CPP_VERSION };
    fs.writeFileSync(path.join(partial, "package.json"), `${JSON.stringify({ name: "gpu-hosting-test-engine", private: true, type: "module", dependencies: deps }, null, 2)}\n`);
    log(`installing node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (CPU binary only) into ${dir}`);
    try {
      await run("npm", ["install", "--no-audit", "--no-fund", "--omit=optional", "--ignore-scripts", "--prefix", partial], { timeoutMs: 10 * 60_000, env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" } });
    } catch (e) {
      fs.rmSync(partial, { recursive: true, force: true });
      throw new Error(`cannot install node-llama-cpp ${NODE_LLAMA_CPP_VERSION} from the npm registry for the test host's CPU engine: ${(e as Error).message}`);
    }
    if (!fs.existsSync(path.join(partial, "node_modules/@node-llama-cpp/linux-x64"))) throw new Error(`npm did not install @node-llama-cpp/linux-x64 into ${partial}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
    installedMs = Date.now() - t0;
    fs.writeFileSync(marker, `${JSON.stringify({ version: NODE_LLAMA_CPP_VERSION, installedMs, at: new Date().toISOString() })}\n`);
  }
  fs.writeFileSync(path.join(dir, "server.mjs"), ENGINE_SERVER);
  fs.writeFileSync(path.join(dir, TINY_MODEL_FILE), tinyLlamaGguf());
  return { dir, installedMs };
}

/** The read-only binds that bring the engine into the host: the folder, and this machine's node (the host's Debian has no Node 20). */
export const engineBinds = (dir: string): Array<{ source: string; target: string }> => [
  { source: dir, target: `${ENGINE_DIR_IN_HOST}/app` },
  { source: process.execPath, target: `${ENGINE_DIR_IN_HOST}/node` },
];
