/**
 * Models read from the Hugging Face Hub (cli/hub.ts), against a fake Hub on 127.0.0.1: a public
 * model, a gated one (with and without the token), a missing one, an unreachable endpoint, the
 * caches, malformed files and redirects. The CLI runs in-process through `main(argv)`, and once as
 * the built `dist/cli/main.js` (`npm run build` first).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { hubSettings, readCheckpointFacts, validateRepoId, validateRevision } from "../cli/hub";
import { UsageError } from "../cli/errors";
import { countParameters, parseHfConfig } from "../core/sizing/architecture";
import { runCliInProcess, type CliRun } from "./helpers/cliInProcess";

/** A token shaped like a Hugging Face one (hf_ + 34 characters), never a real one. */
const TOKEN = "hf_Zq8LmT3vKx9PwR2sYc7BnJ4hDf6GaE1uVo";

/** A small Llama-shaped model; the fake Hub serves it under several repo ids. */
const CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 131072,
  vocab_size: 128256,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
};
const PARAMS = countParameters(parseHfConfig(CONFIG)).total;
/** What the fake index says the shards hold, bytes (2.3 GiB). */
const TOTAL_SIZE = 2_471_000_000;
const INDEX = { metadata: { total_size: TOTAL_SIZE }, weight_map: { "model.embed_tokens.weight": "model-00001-of-00002.safetensors" } };
const API = { id: "acme/open-1b", safetensors: { parameters: { BF16: PARAMS }, total: PARAMS } };

interface Seen {
  url: string;
  authorization: string | undefined;
}

/** The fake Hub: routes by path; records every request with its Authorization header. */
function fakeHub(seen: Seen[], otherOrigin: () => string): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? "";
    seen.push({ url, authorization: req.headers.authorization });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    const refuse = (status: number, code?: string): void => json(status, { error: code ?? "nope" }, code ? { "x-error-code": code } : {});
    const authorised = req.headers.authorization === `Bearer ${TOKEN}`;
    const m = /^\/(?:api\/models\/)?([^/]+\/[^/]+)(?:\/resolve\/([^/]+)\/(.+))?$/.exec(url);
    const [repo, rev, file] = [m?.[1], m?.[2], m?.[3]];
    const isApi = url.startsWith("/api/models/");
    if (repo === "acme/slow") return; // never answers
    if (repo === "acme/open-1b" || repo === "acme/gated-1b" || repo === "acme/single") {
      if (repo === "acme/gated-1b" && !isApi && !authorised) return refuse(req.headers.authorization ? 403 : 401, "GatedRepo");
      if (rev !== undefined && rev !== "main" && rev !== "v1") return refuse(404, "RevisionNotFound");
      if (isApi) return json(200, repo === "acme/single" ? { id: repo, safetensors: { parameters: { BF16: PARAMS - 100, F32: 100 }, total: PARAMS } } : API);
      if (file === "config.json") return json(200, CONFIG);
      if (file === "model.safetensors.index.json") return repo === "acme/single" ? refuse(404, "EntryNotFound") : json(200, INDEX);
      return refuse(404, "EntryNotFound");
    }
    if (repo === "acme/broken" && file === "config.json") return json(200, { ...CONFIG, hidden_size: undefined, num_attention_heads: "many" });
    if (repo === "acme/not-json" && file === "config.json") return json(200, "{ this is not json");
    if (repo === "acme/gguf-only") return isApi ? json(200, { id: repo }) : refuse(404, "EntryNotFound");
    if (repo === "acme/private") return refuse(401, "RepoNotFound");
    if (repo === "acme/down") return refuse(503);
    if (repo === "acme/huge" && file === "config.json") {
      // No content-length: the reader has to stop on its own.
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      res.write(`{"pad": "${"x".repeat(1024 * 1024)}`);
      return res.end(`"}`);
    }
    if (repo === "acme/renamed" && file) {
      res.writeHead(307, { location: `/acme/open-1b/resolve/${rev}/${file}` });
      return res.end();
    }
    if (repo === "acme/elsewhere" && file) {
      res.writeHead(302, { location: `${otherOrigin()}/acme/open-1b/resolve/${rev}/${file}` });
      return res.end();
    }
    return refuse(404);
  });
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function stop(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

let tmp: string;
let hub: http.Server;
let other: http.Server;
let endpoint: string;
let otherEndpoint: string;
let closedEndpoint: string;
const seen: Seen[] = [];
const otherSeen: Seen[] = [];

const ENV_KEYS = ["HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_DOWNLOAD_TIMEOUT", "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME"];
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-hub-"));
  hub = fakeHub(seen, () => otherEndpoint);
  other = fakeHub(otherSeen, () => endpoint);
  endpoint = await listen(hub);
  otherEndpoint = await listen(other);
  const closed = http.createServer();
  closedEndpoint = await listen(closed);
  await stop(closed);
});

afterAll(async () => {
  await stop(hub);
  await stop(other);
  fs.rmSync(tmp, { recursive: true, force: true });
});

let caseNo = 0;
/** A clean environment per test: the fake Hub, no token, fresh empty caches. */
beforeEach(() => {
  for (const k of ENV_KEYS) delete process.env[k];
  const dir = path.join(tmp, `case-${++caseNo}`);
  process.env.HF_ENDPOINT = endpoint;
  process.env.XDG_CACHE_HOME = path.join(dir, "xdg");
  process.env.HF_HOME = path.join(dir, "hf-home");
  seen.length = 0;
  otherSeen.length = 0;
});

afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});


/** Runs the CLI in-process, capturing what it writes. */
const cli = (...args: string[]): Promise<CliRun> => runCliInProcess(args);

const estimateJson = async (...args: string[]): Promise<{ run: CliRun; json: Record<string, unknown> }> => {
  const run = await cli("estimate", "--gpu", "l4", "--json", ...args);
  return { run, json: run.code === 0 ? (JSON.parse(run.stdout) as Record<string, unknown>) : {} };
};

describe("a public model from the Hub", () => {
  it("reads config.json, the index's total_size and the Hub's parameter count", async () => {
    const { run, json } = await estimateJson("--model", "acme/open-1b");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(json.model).toBe("acme/open-1b");
    expect(json.parameters).toBe(PARAMS);
    expect(json.hub).toEqual({
      repo: "acme/open-1b",
      revision: "main",
      source: "hub",
      checkpointBytes: TOTAL_SIZE,
      parameters: PARAMS,
      parametersByDtype: { BF16: PARAMS },
      sizeFrom: "model.safetensors.index.json",
    });
    expect(seen.map((s) => s.url).sort()).toEqual(["/acme/open-1b/resolve/main/config.json", "/acme/open-1b/resolve/main/model.safetensors.index.json", "/api/models/acme/open-1b"]);
    expect(seen.every((s) => s.authorization === undefined)).toBe(true);
  });

  it('prints "checkpoint size (Hub)" beside the computed weights', async () => {
    const r = await cli("estimate", "--model", "acme/open-1b", "--gpu", "l4");
    expect(r.code).toBe(0);
    const line = r.stdout.split("\n").map((l) => l.trim()).find((l) => l.startsWith("checkpoint size (Hub)"));
    expect(line).toMatch(
      new RegExp(`^checkpoint size \\(Hub\\)\\s+2\\.3 GiB of safetensors \\(model\\.safetensors\\.index\\.json\\); ${(PARAMS / 1e9).toFixed(2)}B parameters counted by the Hub, computed ${(PARAMS / 1e9).toFixed(2)}B \\(\\+0\\.0 %\\); acme/open-1b@main, read from the Hub$`),
    );
    expect(r.stdout).toMatch(/^\s*weights per device\s+2\.3 GiB$/m);
  });

  it("sizes a single-file model from the Hub's per-dtype count when there is no index", async () => {
    const { run, json } = await estimateJson("--model", "acme/single");
    expect(run.code).toBe(0);
    expect(json.hub).toMatchObject({ checkpointBytes: (PARAMS - 100) * 2 + 100 * 4, parameters: PARAMS, sizeFrom: "api safetensors" });
  });

  it("reads a --revision, and fit works the same way", async () => {
    const { run, json } = await estimateJson("--model", "acme/open-1b", "--revision", "v1");
    expect(run.code).toBe(0);
    expect(json.hub).toMatchObject({ revision: "v1" });
    expect(seen.map((s) => s.url)).toContain("/api/models/acme/open-1b/revision/v1");
    const fit = await cli("fit", "acme/open-1b", "--context", "8k", "--json");
    expect(fit.stderr).toBe("");
    expect(fit.code).toBe(0);
    expect((JSON.parse(fit.stdout) as { model: string }).model).toBe("acme/open-1b");
  });

  it("names an unknown --revision", async () => {
    const r = await cli("estimate", "--model", "acme/open-1b", "--revision", "v9", "--gpu", "l4");
    expect(r).toEqual({ code: 2, stdout: "", stderr: `error: --revision: got "v9"; acme/open-1b on ${endpoint} has no such branch, tag or commit; check the revision (or leave it out for main)\n` });
  });

  it("follows a same-origin redirect (a renamed repo)", async () => {
    const { run, json } = await estimateJson("--model", "acme/renamed");
    expect(run.code).toBe(0);
    expect(json.parameters).toBe(PARAMS);
  });
});

describe("a gated model", () => {
  it("without HF_TOKEN: exit 2 saying to set it and accept the licence", async () => {
    const r = await cli("estimate", "--model", "acme/gated-1b", "--gpu", "l4");
    expect(r).toEqual({ code: 2, stdout: "", stderr: `error: --model: acme/gated-1b is a gated model: set HF_TOKEN (and accept the licence on the model page ${endpoint}/acme/gated-1b)\n` });
  });

  it("with HF_TOKEN: reads it, sending the token as a Bearer token and never printing it", async () => {
    process.env.HF_TOKEN = TOKEN;
    const text = await cli("estimate", "--model", "acme/gated-1b", "--gpu", "l4");
    const { run, json } = await estimateJson("--model", "acme/gated-1b", "--revision", "v1");
    expect(text.code).toBe(0);
    expect(run.code).toBe(0);
    expect(json.hub).toMatchObject({ repo: "acme/gated-1b", checkpointBytes: TOTAL_SIZE });
    expect(seen.filter((s) => s.url.includes("/resolve/")).every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    for (const out of [text.stdout, text.stderr, run.stdout, run.stderr]) expect(out).not.toContain(TOKEN.slice(3));
  });

  it("with a token that has no access: says so, without the token", async () => {
    const wrong = "hf_WrongWrongWrongWrongWrongWrong1234";
    process.env.HF_TOKEN = wrong;
    const r = await cli("estimate", "--model", "acme/gated-1b", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: --model: acme/gated-1b is a gated model and HF_TOKEN gives no access to it (HTTP 403): accept the licence on the model page (${endpoint}/acme/gated-1b) with the account that owns the token, or use a token with read access\n`,
    );
    expect(r.stderr + r.stdout).not.toContain(wrong.slice(3));
  });

  it("sends the token to the endpoint only, not to another origin a redirect points at", async () => {
    process.env.HF_TOKEN = TOKEN;
    const { run, json } = await estimateJson("--model", "acme/elsewhere");
    expect(run.code).toBe(0);
    expect(json.parameters).toBe(PARAMS);
    expect(seen.filter((s) => s.url.startsWith("/acme/elsewhere/")).every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(otherSeen.length).toBeGreaterThan(0);
    expect(otherSeen.every((s) => s.authorization === undefined)).toBe(true);
  });
});

describe("models the Hub does not have, and an unreachable Hub", () => {
  it("404: no such model on the endpoint, with the closest catalog ids", async () => {
    const r = await cli("estimate", "--model", "acme/nothing-here", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error: --model: no such model on ${endpoint.replace(/\./g, "\\.")}: check the repo id "acme/nothing-here" \\(a private repo also needs HF_TOKEN\\); closest in the catalog: .+\\n$`));
  });

  it("401 RepoNotFound (the Hub's answer for a private or missing repo) reads as not found, not gated", async () => {
    const r = await cli("fit", "acme/private");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: <model>: no such model on http:\/\/127\.0\.0\.1:\d+: check the repo id "acme\/private"/);
  });

  it("a repo without config.json: says so and points at --config", async () => {
    const r = await cli("estimate", "--model", "acme/gguf-only", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: --model: acme/gguf-only on ${endpoint} has no config.json at main (a GGUF-only or non-transformers repo?); download its config.json`);
    expect(r.stderr).toContain("pass --config <path to config.json> instead");
  });

  it("a Hub error (503): says so, with the --config advice", async () => {
    const r = await cli("estimate", "--model", "acme/down", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --model: ${endpoint} answered HTTP 503 for acme/down config.json; try again later, or download its config.json (${endpoint}/acme/down/resolve/main/config.json) and pass --config <path to config.json> instead\n`);
  });

  it("stops reading a config.json over 1 MiB", async () => {
    const r = await cli("estimate", "--model", "acme/huge", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: --model: acme/huge config.json has more than the 1,048,576 bytes this command reads; pass the right file with --config <path>\n");
  });

  it("offline (connection refused): exit 2 with the --config advice", async () => {
    process.env.HF_ENDPOINT = closedEndpoint;
    const r = await cli("estimate", "--model", "acme/open-1b", "--gpu", "l4");
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `error: --model: cannot reach ${closedEndpoint} to read acme/open-1b (ECONNREFUSED); offline? Download its config.json (${closedEndpoint}/acme/open-1b/resolve/main/config.json) and pass --config <path to config.json> instead, or set HF_ENDPOINT to a mirror you can reach\n`,
    });
  });

  it("a Hub that never answers: gives up after HF_HUB_DOWNLOAD_TIMEOUT with the same advice", async () => {
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = "0.3";
    const started = Date.now();
    const r = await cli("estimate", "--model", "acme/slow", "--gpu", "l4");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --model: cannot reach http:\/\/127\.0\.0\.1:\d+ to read acme\/slow \(no answer within 0\.3 s\); offline\? Download its config\.json .* --config <path to config\.json> instead/);
  });

  it("HF_HUB_OFFLINE with nothing cached: no request, and the --config advice", async () => {
    process.env.HF_HUB_OFFLINE = "1";
    const r = await cli("estimate", "--model", "acme/open-1b", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --model: acme\/open-1b is not in the model catalog nor in the cache, and HF_HUB_OFFLINE is set; unset it to read the Hub, or download its config\.json .* --config <path to config\.json> instead\n$/);
    expect(seen).toEqual([]);
  });
});

describe("caches", () => {
  it("a second run reads the cache, with the Hub gone", async () => {
    const first = await estimateJson("--model", "acme/open-1b");
    expect(first.run.code).toBe(0);
    const entry = path.join(process.env.XDG_CACHE_HOME!, "gpu-hosting", "hub", "acme", "open-1b", "main");
    expect(JSON.parse(fs.readFileSync(path.join(entry, "config.json"), "utf8"))).toEqual(CONFIG);
    process.env.HF_ENDPOINT = closedEndpoint;
    const second = await estimateJson("--model", "acme/open-1b");
    expect(second.run.stderr).toBe("");
    expect(second.run.code).toBe(0);
    expect(second.json.hub).toEqual({ ...(first.json.hub as object), source: "cache" });
    expect(second.json.weightsGiB).toBe(first.json.weightsGiB);
  });

  it("fetches again when the cached config.json is damaged, and reads a damaged checkpoint.json as unknown", async () => {
    const entry = path.join(process.env.XDG_CACHE_HOME!, "gpu-hosting", "hub", "acme", "open-1b", "main");
    fs.mkdirSync(entry, { recursive: true });
    fs.writeFileSync(path.join(entry, "config.json"), "{ truncated");
    const refetched = await estimateJson("--model", "acme/open-1b");
    expect(refetched.json.hub).toMatchObject({ source: "hub", checkpointBytes: TOTAL_SIZE });
    fs.writeFileSync(path.join(entry, "checkpoint.json"), JSON.stringify({ checkpointBytes: "lots", parameters: -1, parametersByDtype: [1], sizeFrom: "x" }));
    const damaged = await estimateJson("--model", "acme/open-1b");
    expect(damaged.json.hub).toEqual({ repo: "acme/open-1b", revision: "main", source: "cache", checkpointBytes: null, parameters: null, parametersByDtype: null, sizeFrom: null });
  });

  it("reads a model huggingface_hub downloaded (HF_HUB_CACHE), without the network", async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const repoDir = path.join(tmp, "hf-cache", "models--acme--downloaded");
    fs.mkdirSync(path.join(repoDir, "refs"), { recursive: true });
    fs.mkdirSync(path.join(repoDir, "snapshots", sha), { recursive: true });
    fs.writeFileSync(path.join(repoDir, "refs", "main"), sha);
    fs.writeFileSync(path.join(repoDir, "snapshots", sha, "config.json"), JSON.stringify(CONFIG));
    fs.writeFileSync(path.join(repoDir, "snapshots", sha, "model.safetensors.index.json"), JSON.stringify(INDEX));
    process.env.HF_HUB_CACHE = path.join(tmp, "hf-cache");
    process.env.HF_ENDPOINT = closedEndpoint;
    const { run, json } = await estimateJson("--model", "acme/downloaded");
    expect(run.stderr).toBe("");
    expect(json.hub).toMatchObject({ source: "hf-cache", checkpointBytes: TOTAL_SIZE, sizeFrom: "model.safetensors.index.json", parameters: null });
  });

  it("keeps catalog ids, aliases and --config off the network", async () => {
    process.env.HF_ENDPOINT = closedEndpoint;
    const file = path.join(tmp, "local-config.json");
    fs.writeFileSync(file, JSON.stringify(CONFIG));
    for (const args of [["--model", "meta-llama/Llama-3.1-8B-Instruct"], ["--model", "llama-3.1-8b"], ["--config", file]]) {
      const r = await cli("estimate", "--gpu", "l4", "--json", ...args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).not.toHaveProperty("hub");
    }
    expect((await cli("fit", "qwen3-8b", "--json")).code).toBe(0);
  });
});

describe("bad input is refused before any request", () => {
  it("a malformed config.json names the field", async () => {
    const r = await cli("estimate", "--model", "acme/broken", "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --model: acme\/broken config\.json\.(hidden_size|num_attention_heads): /);
    const j = await cli("estimate", "--model", "acme/not-json", "--gpu", "l4");
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/^error: --model: the config\.json of acme\/not-json@main is not valid JSON \(.+\); pass a fixed copy with --config <path>\n$/);
    // A broken config.json is not cached: the next run asks the Hub again.
    expect(fs.existsSync(path.join(process.env.XDG_CACHE_HOME!, "gpu-hosting", "hub", "acme", "not-json"))).toBe(false);
  });

  it.each([
    ["acme/../etc", "--model"],
    ["acme/a--b", "--model"],
    ["acme/name with space", "--model"],
    ["a/b/c", "--model"],
    ["-acme/x", "--model"],
  ])("refuses the repo id %j naming the flag", async (id, flag) => {
    const r = await cli("estimate", "--model", id, "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${flag}: got ${JSON.stringify(id)}; not in the model catalog and not a Hugging Face repo id`);
    expect(seen).toEqual([]);
  });

  it("refuses a token pasted as the repo id, without sending or printing it", async () => {
    const r = await cli("estimate", "--model", `${TOKEN}/model`, "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --model: got a value that looks like a Hugging Face token, not a repo id; it was not sent anywhere/);
    expect(r.stderr).not.toContain(TOKEN.slice(3));
    expect(seen).toEqual([]);
  });

  it("refuses a bad --revision, --revision with --config, and a bad HF_ENDPOINT", async () => {
    expect((await cli("estimate", "--model", "acme/open-1b", "--revision", "../x", "--gpu", "l4")).stderr).toMatch(/^error: --revision: got "\.\.\/x"; expected a branch, tag or commit/);
    expect((await cli("estimate", "--config", "x.json", "--revision", "main", "--gpu", "l4")).stderr).toMatch(/^error: --revision and --config: /);
    process.env.HF_ENDPOINT = "ftp://mirror.example";
    const r = await cli("estimate", "--model", "acme/open-1b", "--gpu", "l4");
    expect(r).toEqual({ code: 2, stdout: "", stderr: 'error: HF_ENDPOINT: got "ftp://mirror.example"; expected the http(s) URL of the Hub or a mirror, e.g. https://huggingface.co. Fix or unset HF_ENDPOINT\n' });
    process.env.HF_ENDPOINT = "https://user:s3cretpass@mirror.example";
    const creds = await cli("estimate", "--model", "acme/open-1b", "--gpu", "l4");
    expect(creds.stderr).toBe("error: HF_ENDPOINT: the URL for https://mirror.example carries a user name or password; put the token in HF_TOKEN instead\n");
    expect(seen).toEqual([]);
  });
});

describe("pure helpers", () => {
  it("validateRepoId accepts real repo ids and throws UsageError for others", () => {
    for (const id of ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-30B-A3B", "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "openai/gpt-oss-20b", "unsloth/Llama_3.2_1B"]) {
      expect(validateRepoId("--model", id)).toBe(id);
    }
    expect(() => validateRepoId("--model", "name-only")).toThrow(UsageError);
    expect(() => validateRepoId("--model", `acme/${"x".repeat(97)}`)).toThrow(UsageError);
    expect(validateRevision("--revision", "refs/pr/1")).toBe("refs/pr/1");
  });

  it("readCheckpointFacts prefers the index, falls back to the per-dtype count, and refuses unknown dtypes", () => {
    expect(readCheckpointFacts(JSON.stringify({ metadata: { total_size: "1000" } }), JSON.stringify({ safetensors: { total: 400, parameters: { BF16: 400 } } }))).toEqual({
      checkpointBytes: 1000,
      parameters: 400,
      parametersByDtype: { BF16: 400 },
      sizeFrom: "model.safetensors.index.json",
    });
    expect(readCheckpointFacts(null, JSON.stringify({ safetensors: { total: 30, parameters: { F8_E4M3: 10, BF16: 10, F32: 10 } } })).checkpointBytes).toBe(70);
    expect(readCheckpointFacts("not json", JSON.stringify({ safetensors: { parameters: { Q4_WEIRD: 10 } } }))).toEqual({ checkpointBytes: null, parameters: null, parametersByDtype: { Q4_WEIRD: 10 }, sizeFrom: null });
    expect(readCheckpointFacts(JSON.stringify({ metadata: { total_size: -5 } }), null).checkpointBytes).toBeNull();
  });

  it("hubSettings reads the environment as huggingface_hub does", () => {
    const s = hubSettings({ HF_ENDPOINT: "https://hf-mirror.example/sub/", HF_TOKEN: ` ${TOKEN} `, HF_HUB_OFFLINE: "true", HF_HUB_DOWNLOAD_TIMEOUT: "2.5", XDG_CACHE_HOME: "/c", HF_HOME: "/h" });
    expect(s).toEqual({ endpoint: "https://hf-mirror.example/sub", token: TOKEN, offline: true, timeoutMs: 2500, cacheDir: "/c/gpu-hosting/hub", hfCacheDir: "/h/hub" });
    expect(hubSettings({ XDG_CACHE_HOME: "/c" })).toMatchObject({ endpoint: "https://huggingface.co", token: undefined, offline: false, timeoutMs: 10000, hfCacheDir: "/c/huggingface/hub" });
    expect(() => hubSettings({ HF_HUB_DOWNLOAD_TIMEOUT: "0" })).toThrow('HF_HUB_DOWNLOAD_TIMEOUT: got "0"; expected seconds per request');
  });
});

describe("the built CLI", () => {
  const MAIN = path.join(__dirname, "..", "dist", "cli", "main.js");
  it("reads a Hub model and exits 0; exits 2 when the Hub is unreachable", async () => {
    if (!fs.existsSync(path.join(__dirname, "..", "dist", "cli", "hub.js"))) throw new Error("dist/cli/hub.js is missing: run `npm run build` first");
    // spawnSync would block the event loop that serves the fake Hub: run the child asynchronously.
    const run = (env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (status: number | null) => resolve({ status, stdout, stderr }));
      });
    const ok = await run({}, "estimate", "--model", "acme/open-1b", "--gpu", "l4", "--json");
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect((JSON.parse(ok.stdout) as { hub: { checkpointBytes: number } }).hub.checkpointBytes).toBe(TOTAL_SIZE);
    const offline = await run({ HF_ENDPOINT: closedEndpoint }, "fit", "acme/other-model");
    expect(offline.status).toBe(2);
    expect(offline.stderr).toMatch(/^error: <model>: cannot reach .* \(ECONNREFUSED\); offline\? Download its config\.json/);
  });
});
