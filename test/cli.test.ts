/**
 * Behaviour of the `gpu-hosting` command, run as a real child process on the built CLI
 * (dist/cli/main.js), so exit codes, stdout and stderr are what a user sees.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli, type CliRun } from "./helpers/cliChild";

const MAIN = path.join(__dirname, "..", "dist", "cli", "main.js");
const GiB = 1024 ** 3;

type Run = CliRun;

const cli = (...args: string[]): Run => runCli(args);

/** Runs a command that must succeed and print one JSON document. */
function cliJson<T>(...args: string[]): T {
  const r = cli(...args);
  if (r.status !== 0) throw new Error(`gpu-hosting ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as T;
}

interface EstimateJson {
  model: string;
  dtype: string;
  kvCacheDtype: string;
  gpuCount: number;
  maxModelLen: number;
  parameters: number;
  weightsGiB: number;
  kvCacheGiB: number;
  kvCacheTokens: number;
  maxConcurrency: number;
  fits: boolean;
  reason: string | null;
  kvBytesPerToken: number;
  alternatives: { largestContext: number | null; smallestGpuCount: number | null; dtype: string | null } | null;
}

interface FitOfferJson {
  offer: string;
  meets: boolean;
  provider: string;
  name: string;
  locations: string[];
  fits: boolean;
  reason: string | null;
  eurPerMonth: number;
  peakWatts: number;
  kwhPerMonth: number;
}

interface FitJson {
  model: string;
  context: number;
  concurrency: number;
  offers: FitOfferJson[];
}

interface Source {
  url: string;
  read: string;
}

interface CatalogEntry {
  id: string;
  sources: Source[];
}

interface CatalogModel extends CatalogEntry {
  aliases: string[];
  config: Record<string, unknown>;
}

const expectClose = (actual: number, expected: number, relTolerance: number): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * relTolerance);
};

const LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct";
const LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct";
const H100 = "h100-sxm-80gb";
const estimate8b = (...extra: string[]): EstimateJson =>
  cliJson<EstimateJson>("estimate", "--model", LLAMA_8B, "--gpu", H100, "--max-model-len", "8192", "--json", ...extra);
const FIT_70B = ["fit", LLAMA_70B, "--context", "32k", "--concurrency", "16", "--json"];

let tmp: string;

beforeAll(() => {
  if (!fs.existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run npm run build first (these tests run the built CLI as a child process)`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-cli-"));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function writeFile(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("help and version", () => {
  it.each([
    ["the program", [] as string[], ["estimate", "fit", "catalog", "--version", "--help"]],
    ["estimate", ["estimate"], ["--model", "--config", "--dtype", "--kv-cache-dtype", "--gpu", "--vram-gib", "--gpu-count", "--max-model-len", "--concurrency", "--gpu-memory-utilization", "--engine", "--json"]],
    ["fit", ["fit"], ["[model]", "--context", "--concurrency", "--dtype", "--kv-cache-dtype", "--provider", "--eu-only", "--max-eur-month", "--include-unlisted", "--json"]],
    ["catalog", ["catalog"], ["gpus", "offers", "models"]],
  ])("prints help for %s on stdout and exits 0", (_name, cmd, mentions) => {
    const r = cli(...cmd, "--help");
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^Usage: gpu-hosting${cmd.length ? ` ${cmd.join(" ")}` : ""} `));
    for (const m of mentions) expect(r.stdout).toContain(m);
  });

  it("documents the data types estimate accepts, including GGUF ones", () => {
    const out = cli("estimate", "--help").stdout;
    for (const d of ["bf16", "fp8", "awq", "gptq", "q4_k_m"]) expect(out).toContain(d);
  });

  it("prints the package version for --version", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { version: string };
    const r = cli("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("rejects an unknown option with exit code 2 and names it", () => {
    const r = cli("estimate", "--bogus");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(r.stdout).toBe("");
  });

  it("rejects an unknown command with exit code 2", () => {
    const r = cli("deploy");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'deploy'");
  });
});

describe("estimate", () => {
  let base: EstimateJson;
  beforeAll(() => {
    base = estimate8b();
  });

  it("sizes Llama 3.1 8B bf16 on one H100 SXM at 8k context", () => {
    expect(base.model).toBe(LLAMA_8B);
    expect(base.dtype).toBe("bf16");
    expect(base.maxModelLen).toBe(8192);
    expectClose(base.parameters, 8.03e9, 0.01);
    expectClose(base.weightsGiB, 14.99, 0.02);
    // bf16: two bytes per parameter (plus small runtime buffers).
    expectClose(base.weightsGiB, (base.parameters * 2) / GiB, 0.005);
    // 32 layers × 8 KV heads × 128 head dim × (K and V) × 2 bytes.
    expect(base.kvBytesPerToken).toBe(32 * 8 * 128 * 2 * 2);
    expect(base.kvCacheGiB).toBeGreaterThan(40);
    expect(base.kvCacheGiB).toBeLessThan(80 - base.weightsGiB);
    expect(Number.isInteger(base.kvCacheTokens)).toBe(true);
    expectClose(base.kvCacheTokens, (base.kvCacheGiB * GiB) / base.kvBytesPerToken, 0.001);
    expect(base.maxConcurrency).toBeCloseTo(base.kvCacheTokens / 8192, 3);
    expect(base.fits).toBe(true);
    expect(base.reason).toBeNull();
    expect(base.alternatives).toBeNull();
  });

  it("prints exactly one JSON object with --json", () => {
    const r = cli("estimate", "--model", LLAMA_8B, "--gpu", H100, "--max-model-len", "8192", "--json");
    expect(r.stdout.trim().startsWith("{")).toBe(true);
    expect(r.stdout.trim().endsWith("}")).toBe(true);
    expect(typeof JSON.parse(r.stdout)).toBe("object");
  });

  it.each([["META-LLAMA/llama-3.1-8b-instruct"], ["llama-3.1-8b"], ["LLaMA3.1-8B"]])("resolves %s to the same model and numbers", (id) => {
    const r = cliJson<EstimateJson>("estimate", "--model", id, "--gpu", H100, "--max-model-len", "8192", "--json");
    expect(r.model).toBe(LLAMA_8B);
    expect(r.parameters).toBe(base.parameters);
    expect(r.weightsGiB).toBe(base.weightsGiB);
    expect(r.kvCacheTokens).toBe(base.kvCacheTokens);
  });

  it("accepts the GPU's nvidia-smi name instead of its id", () => {
    const r = cliJson<EstimateJson>("estimate", "--model", LLAMA_8B, "--gpu", "NVIDIA H100 80GB HBM3", "--max-model-len", "8192", "--json");
    expect(r.kvCacheTokens).toBe(base.kvCacheTokens);
  });

  it("accepts 8k for --max-model-len as 8192 tokens", () => {
    const r = cliJson<EstimateJson>("estimate", "--model", LLAMA_8B, "--gpu", H100, "--max-model-len", "8k", "--json");
    expect(r.maxModelLen).toBe(8192);
    expect(r.kvCacheTokens).toBe(base.kvCacheTokens);
  });

  it("doubles the KV cache tokens with --kv-cache-dtype fp8", () => {
    const fp8 = estimate8b("--kv-cache-dtype", "fp8");
    expect(fp8.kvCacheDtype).toBe("fp8");
    expect(fp8.weightsGiB).toBe(base.weightsGiB);
    expect(fp8.kvBytesPerToken).toBe(base.kvBytesPerToken / 2);
    expect(Math.abs(fp8.kvCacheTokens - 2 * base.kvCacheTokens)).toBeLessThanOrEqual(16 * 2);
  });

  it("halves weights per GPU and grows the KV cache with --gpu-count 2", () => {
    const tp2 = estimate8b("--gpu-count", "2");
    expect(tp2.gpuCount).toBe(2);
    expect(tp2.parameters).toBe(base.parameters);
    expect(tp2.weightsGiB / base.weightsGiB).toBeGreaterThan(0.48);
    expect(tp2.weightsGiB / base.weightsGiB).toBeLessThan(0.53);
    expect(tp2.kvCacheTokens).toBeGreaterThan(base.kvCacheTokens);
    expect(tp2.fits).toBe(true);
  });

  it("refuses a tensor-parallel size that does not divide the attention heads", () => {
    const tp3 = estimate8b("--gpu-count", "3");
    expect(tp3.fits).toBe(false);
    expect(tp3.reason).toContain("tensor-parallel size 3");
    expect(tp3.reason).toContain("32 attention heads");
  });

  it("reports the concurrency shortfall when requests outnumber the KV cache", () => {
    const r = estimate8b("--concurrency", "100");
    expect(r.fits).toBe(false);
    expect(r.reason).toContain(`KV cache holds ${r.kvCacheTokens} tokens`);
    expect(r.reason).toContain(`need ${100 * 8192}`);
  });

  it("leaves less KV cache with a lower --gpu-memory-utilization", () => {
    const r = estimate8b("--gpu-memory-utilization", "0.5");
    expect(r.weightsGiB).toBe(base.weightsGiB);
    expect(r.kvCacheTokens).toBeLessThan(base.kvCacheTokens);
    expect(r.kvCacheGiB).toBeLessThan(base.kvCacheGiB - 0.35 * 80);
  });

  describe("with --vram-gib instead of --gpu", () => {
    const at24 = (...extra: string[]): EstimateJson =>
      cliJson<EstimateJson>("estimate", "--model", "llama-3.1-8b", "--vram-gib", "24", "--max-model-len", "8192", "--json", ...extra);

    it("sizes the model on a 24 GiB GPU", () => {
      const r = at24();
      expect(r.parameters).toBe(base.parameters);
      expect(r.weightsGiB).toBe(base.weightsGiB);
      expect(r.kvCacheTokens).toBeGreaterThan(8192);
      expect(r.kvCacheTokens).toBeLessThan(base.kvCacheTokens);
      // Budget 24 × 0.9 = 21.6 GiB holds weights plus KV cache.
      expect(r.weightsGiB + r.kvCacheGiB).toBeLessThan(21.6);
      expect(r.fits).toBe(true);
    });

    it("lowers weights to about a quarter, embeddings kept 16-bit, with --dtype awq", () => {
      const bf16 = at24();
      const awq = at24("--dtype", "awq");
      expect(awq.dtype).toBe("awq");
      // Llama 3.1 8B: untied embedding and LM head, 128256 × 4096 each, stay in 16 bits.
      const embedding = 2 * 128256 * 4096;
      const expected = ((bf16.parameters - embedding) * 0.5 + embedding * 2) / GiB;
      expectClose(awq.weightsGiB, expected, 0.05);
      expect(awq.weightsGiB).toBeGreaterThan(bf16.weightsGiB / 4);
      expect(awq.weightsGiB).toBeLessThan(bf16.weightsGiB * 0.4);
      expect(awq.kvCacheTokens).toBeGreaterThan(bf16.kvCacheTokens);
    });
  });

  it("rejects 1 × L4 for a 70B bf16 model, naming the weights and what would fit", () => {
    const r = cliJson<EstimateJson>("estimate", "--model", LLAMA_70B, "--gpu", "l4", "--max-model-len", "8192", "--json");
    expect(r.dtype).toBe("bf16");
    expectClose(r.parameters, 70.55e9, 0.01);
    expectClose(r.weightsGiB, (r.parameters * 2) / GiB, 0.005);
    expect(r.fits).toBe(false);
    expect(r.kvCacheTokens).toBe(0);
    expect(r.reason).toMatch(/^weights \d+(\.\d+)? GiB/);
    expect(r.reason).toContain("no memory left for the KV cache");
    // 131 GiB of bf16 weights need 8 L4s (16.4 GiB each); 4 would hold 32.9 GiB each.
    expect(r.alternatives).toEqual({ largestContext: null, smallestGpuCount: 8, dtype: null });
  });

  it("prints a readable summary without --json", () => {
    const r = cli("estimate", "--model", LLAMA_70B, "--gpu", "l4", "--max-model-len", "8192");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("meta-llama/Llama-3.1-70B-Instruct (70.55B parameters)");
    expect(r.stdout).toContain("1 × NVIDIA L4");
    expect(r.stdout).toMatch(/fits\s+NO: weights/);
    expect(r.stdout).toMatch(/would fit\s+8 GPUs/);
  });

  describe("with --config", () => {
    it("sizes a small Llama-like config.json, counting parameters from its shapes", () => {
      const config = {
        architectures: ["LlamaForCausalLM"],
        model_type: "llama",
        hidden_size: 2048,
        intermediate_size: 8192,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        num_hidden_layers: 16,
        vocab_size: 32000,
        max_position_embeddings: 4096,
        tie_word_embeddings: true,
        torch_dtype: "bfloat16",
      };
      const file = writeFile("tiny-llama.json", JSON.stringify(config));
      const r = cliJson<EstimateJson>("estimate", "--config", file, "--vram-gib", "24", "--json");
      const [H, I, L, V, heads, kvHeads] = [2048, 8192, 16, 32000, 32, 8];
      const headDim = H / heads;
      const perLayer = 2 * H * heads * headDim + 2 * H * kvHeads * headDim + 3 * H * I + 2 * H;
      expect(r.model).toBe(file);
      expect(r.parameters).toBe(V * H + L * perLayer + H);
      expect(r.maxModelLen).toBe(4096);
      expect(r.kvBytesPerToken).toBe(L * kvHeads * headDim * 2 * 2);
      expect(r.fits).toBe(true);
    });

    it.each([[LLAMA_8B], [LLAMA_70B], ["Qwen/Qwen3-30B-A3B"], ["mistralai/Mixtral-8x7B-Instruct-v0.1"]])(
      "gives the same numbers for %s's own config.json as for the catalog entry",
      (id) => {
        const models = cliJson<{ models: CatalogModel[] }>("catalog", "models", "--json").models;
        const entry = models.find((m) => m.id === id);
        expect(entry).toBeDefined();
        const file = writeFile(`${id.replace("/", "__")}.json`, JSON.stringify(entry!.config));
        const args = ["--vram-gib", "200", "--max-model-len", "8192", "--json"];
        const fromCatalog = cliJson<EstimateJson>("estimate", "--model", id, ...args);
        const fromConfig = cliJson<EstimateJson>("estimate", "--config", file, ...args);
        expect(fromConfig.parameters).toBe(fromCatalog.parameters);
        expect(fromConfig.weightsGiB).toBe(fromCatalog.weightsGiB);
        expect(fromConfig.kvCacheTokens).toBe(fromCatalog.kvCacheTokens);
        expect(fromConfig.dtype).toBe(fromCatalog.dtype);
      },
    );
  });
});

describe("bad input", () => {
  const E = ["estimate", "--model", "llama-3.1-8b", "--gpu", H100];

  it.each<[string, () => string[], string[]]>([
    ["an unknown model", () => ["estimate", "--model", "llama-3.1-8bb", "--gpu", H100], ["--model", '"llama-3.1-8bb"', "not in the model catalog", "llama-3.1-8b", "--config"]],
    ["an unknown GPU", () => ["estimate", "--model", "llama-3.1-8b", "--gpu", "h200x"], ["--gpu", '"h200x"', "not a GPU in the catalog", "H200", "catalog gpus", "--vram-gib"]],
    ["--dtype fp7", () => [...E, "--dtype", "fp7"], ["--dtype", '"fp7"', "allowed:", "bf16", "fp8", "awq", "q4_k_m"]],
    ["--kv-cache-dtype int3", () => [...E, "--kv-cache-dtype", "int3"], ["--kv-cache-dtype", '"int3"', "allowed:", "auto", "fp8"]],
    ["a GGUF --dtype with vLLM", () => [...E, "--dtype", "q4_k_m"], ["--dtype", '"q4_k_m"', "GGUF", "--engine llamacpp"]],
    ["--gpu-memory-utilization 1.5", () => [...E, "--gpu-memory-utilization", "1.5"], ["--gpu-memory-utilization", '"1.5"', "at most 1"]],
    ["--max-model-len 12abc", () => [...E, "--max-model-len", "12abc"], ["--max-model-len", '"12abc"', "8192, 32k"]],
    ["--gpu-count 0", () => [...E, "--gpu-count", "0"], ["--gpu-count", '"0"', "whole number of 1 or more"]],
    ["--gpu-count 1.5", () => [...E, "--gpu-count", "1.5"], ["--gpu-count", '"1.5"', "whole number of 1 or more"]],
    ["--concurrency -1", () => [...E, "--concurrency", "-1"], ["--concurrency", '"-1"', "whole number of 1 or more"]],
    ["--vram-gib abc", () => ["estimate", "--model", "llama-3.1-8b", "--vram-gib", "abc"], ["--vram-gib", '"abc"', "greater than 0"]],
    ["--engine tgi", () => [...E, "--engine", "tgi"], ["--engine", '"tgi"', "vllm", "llamacpp"]],
    ["both --gpu and --vram-gib", () => [...E, "--vram-gib", "24"], ["--gpu and --vram-gib", "not both"]],
    ["neither --gpu nor --vram-gib", () => ["estimate", "--model", "llama-3.1-8b"], ["--gpu or --vram-gib", "required"]],
    ["no model at all", () => ["estimate", "--gpu", H100], ["--model", "required", "--config"]],
    ["both --model and --config", () => [...E, "--config", path.join(tmp, "x.json")], ["--model and --config", "not both"]],
    ["a missing --config file", () => ["estimate", "--config", "/nonexistent.json", "--gpu", H100], ["--config", '"/nonexistent.json"', "cannot be read", "ENOENT"]],
    ["a --config file that is not JSON", () => ["estimate", "--config", writeFile("broken.json", "not json {"), "--gpu", H100], ["--config", "broken.json", "is not valid JSON"]],
    [
      "a --config without hidden_size",
      () => ["estimate", "--config", writeFile("no-hidden.json", JSON.stringify({ model_type: "llama", num_hidden_layers: 2, vocab_size: 100 })), "--gpu", H100],
      ["--config", "hidden_size", "config.json"],
    ],
    ["fit --provider aws", () => [...FIT_70B, "--provider", "aws"], ["--provider", '"aws"', "allowed", "hetzner", "scaleway"]],
    ["fit --context 0", () => ["fit", LLAMA_70B, "--context", "0"], ["--context", '"0"', "positive token count"]],
    ["fit --max-eur-month free", () => ["fit", LLAMA_70B, "--max-eur-month", "free"], ["--max-eur-month", '"free"', "greater than 0"]],
    ["fit without a model", () => ["fit"], ["<model>", "required", "--config"]],
  ])("exits 2 on %s, naming the flag, the value and what is allowed", (_name, args, mentions) => {
    const r = cli(...args());
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: /);
    for (const m of mentions) expect(r.stderr).toContain(m);
    // One message, no stack trace.
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("suggests the right model for a typo", () => {
    const r = cli("estimate", "--model", "llama-3.1-8bb", "--gpu", H100);
    const suggestions = /closest: (.+?)\. Run /.exec(r.stderr)?.[1]?.split(", ") ?? [];
    expect(suggestions.some((s) => s === "llama-3.1-8b" || s === LLAMA_8B)).toBe(true);
  });
});

describe("fit", () => {
  let all: FitJson;
  beforeAll(() => {
    all = cliJson<FitJson>(...FIT_70B);
  });

  it("ranks every listed offer: setups that fit and reach the default speed first, cheapest first", () => {
    expect(all.model).toBe(LLAMA_70B);
    expect(all.context).toBe(32768);
    expect(all.concurrency).toBe(16);
    expect(all.offers.length).toBeGreaterThan(5);
    const firstMiss = all.offers.findIndex((o) => !o.meets);
    const meeting = firstMiss === -1 ? all.offers : all.offers.slice(0, firstMiss);
    const rest = firstMiss === -1 ? [] : all.offers.slice(firstMiss);
    expect(meeting.length).toBeGreaterThan(0);
    expect(rest.length).toBeGreaterThan(0);
    expect(meeting.every((o) => o.fits)).toBe(true);
    expect(rest.every((o) => !o.meets)).toBe(true);
    const prices = meeting.map((o) => o.eurPerMonth);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
  });

  it("gives every non-fitting offer a reason and every offer price, watts and kWh", () => {
    for (const o of all.offers) {
      if (!o.fits) {
        expect(typeof o.reason).toBe("string");
        expect(o.reason!.length).toBeGreaterThan(0);
      }
      for (const v of [o.eurPerMonth, o.peakWatts, o.kwhPerMonth]) {
        expect(typeof v).toBe("number");
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      expect(o.locations.length).toBeGreaterThan(0);
    }
  });

  it("keeps only hetzner offers with --provider hetzner", () => {
    const r = cliJson<FitJson>(...FIT_70B, "--provider", "hetzner");
    expect(r.offers.length).toBeGreaterThan(0);
    expect(r.offers.every((o) => o.provider === "hetzner")).toBe(true);
    expect(r.offers.map((o) => o.offer).sort()).toEqual(all.offers.filter((o) => o.provider === "hetzner").map((o) => o.offer).sort());
  });

  it("accepts several providers, case-insensitively", () => {
    const r = cliJson<FitJson>(...FIT_70B, "--provider", "HETZNER", "scaleway");
    expect(r.offers.map((o) => o.offer)).toEqual(all.offers.map((o) => o.offer));
  });

  it("keeps only EU locations with --eu-only", () => {
    expect(all.offers.some((o) => o.locations.some((l) => ["ash", "hil"].includes(l)))).toBe(true);
    const r = cliJson<FitJson>(...FIT_70B, "--eu-only");
    expect(r.offers.length).toBeGreaterThan(0);
    for (const o of r.offers) {
      expect(o.locations.length).toBeGreaterThan(0);
      for (const l of ["ash", "hil", "sin"]) expect(o.locations).not.toContain(l);
    }
  });

  it("keeps only offers at or below --max-eur-month", () => {
    const r = cliJson<FitJson>(...FIT_70B, "--max-eur-month", "1000");
    expect(r.offers.length).toBeGreaterThan(0);
    expect(r.offers.every((o) => o.eurPerMonth <= 1000)).toBe(true);
    expect(r.offers.length).toBe(all.offers.filter((o) => o.eurPerMonth <= 1000).length);
  });

  it("adds offers the providers no longer list with --include-unlisted", () => {
    const r = cliJson<FitJson>(...FIT_70B, "--include-unlisted");
    expect(r.offers.length).toBeGreaterThan(all.offers.length);
  });

  it("prints a table with €/month and an 'N of M offers fit.' line that match the JSON", () => {
    const r = cli(...FIT_70B.filter((a) => a !== "--json"));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const header = r.stdout.split("\n").find((l) => l.includes("offer") && l.includes("fits"));
    expect(header).toBeDefined();
    for (const col of ["€/month", "peak W", "kWh/month", "KV tokens", "locations"]) expect(header).toContain(col);
    const n = all.offers.filter((o) => o.fits).length;
    expect(r.stdout).toContain(`\n${n} of ${all.offers.length} offers fit.`);
    expect(r.stdout).toContain(`${all.offers[0]!.provider} ${all.offers[0]!.name}`);
    expect(r.stdout).toContain("32,768 tokens × 16 concurrent");
  });

  it("says when no offer passes the filters", () => {
    const r = cli("fit", LLAMA_70B, "--max-eur-month", "1");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("0 of 0 offers fit. No offer passes the filters.");
  });

  it("ranks offers for a local --config", () => {
    const models = cliJson<{ models: CatalogModel[] }>("catalog", "models", "--json").models;
    const file = writeFile("fit-8b.json", JSON.stringify(models.find((m) => m.id === LLAMA_8B)!.config));
    const fromConfig = cliJson<FitJson>("fit", "--config", file, "--context", "8k", "--json");
    const fromCatalog = cliJson<FitJson>("fit", "llama-3.1-8b", "--context", "8k", "--json");
    expect(fromConfig.model).toBe(file);
    expect(fromConfig.offers.map((o) => [o.offer, o.fits])).toEqual(fromCatalog.offers.map((o) => [o.offer, o.fits]));
    expect(fromCatalog.offers.filter((o) => o.fits).length).toBeGreaterThan(0);
  });
});

describe("catalog", () => {
  it.each([
    ["gpus", ["h100-sxm-80gb", "l4", "NVIDIA H100 SXM 80GB"], ["usable GiB", "fp8"]],
    ["offers", ["hetzner-gex45", "scaleway-l4-1-24g"], ["€/month", "locations"]],
    ["models", ["Qwen/Qwen3-30B-A3B", LLAMA_8B], ["published", "counted", "licence"]],
  ])("lists %s as a table", (kind, ids, columns) => {
    const r = cli("catalog", kind);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    for (const id of ids) expect(r.stdout).toContain(id);
    const header = r.stdout.split("\n")[0]!;
    expect(header).toMatch(/^\s*id\s/);
    for (const c of columns) expect(header).toContain(c);
  });

  it("shows counted and active parameters for a mixture-of-experts model", () => {
    const row = cli("catalog", "models").stdout.split("\n").find((l) => l.includes("Qwen/Qwen3-30B-A3B "));
    expect(row).toBeDefined();
    expect(row).toMatch(/30\.5\dB\s+30\.5\dB\s+3\.\d\dB/);
  });

  it.each([
    ["gpus", "h100-sxm-80gb"],
    ["offers", "hetzner-gex45"],
    ["models", "Qwen/Qwen3-30B-A3B"],
  ])("prints %s as JSON, every entry with sources (URL and read date)", (kind, knownId) => {
    const out = cliJson<Record<string, unknown>>("catalog", kind, "--json");
    // One object, as every command prints: its version, then the entries under the kind's name.
    expect(Object.keys(out)).toEqual(["schemaVersion", kind]);
    expect(out.schemaVersion).toBe(1);
    const entries = out[kind] as CatalogEntry[];
    expect(entries.length).toBeGreaterThan(5);
    expect(entries.map((e) => e.id)).toContain(knownId);
    for (const e of entries) {
      expect(Array.isArray(e.sources)).toBe(true);
      expect(e.sources.length).toBeGreaterThan(0);
      for (const s of e.sources) {
        expect(s.url).toMatch(/^https?:\/\/\S+$/);
        expect(s.read).toMatch(/^20\d\d-\d\d-\d\d$/);
      }
    }
  });

  it("includes each model's config.json in the JSON", () => {
    const models = cliJson<{ models: CatalogModel[] }>("catalog", "models", "--json").models;
    const m = models.find((x) => x.id === LLAMA_8B)!;
    expect(m.aliases).toContain("llama-3.1-8b");
    expect(m.config).toMatchObject({ hidden_size: 4096, num_hidden_layers: 32, num_key_value_heads: 8, vocab_size: 128256 });
  });
});

describe("regressions", () => {
  it("serves a float32 checkpoint in 16 bits for --dtype auto, as vLLM does", () => {
    const r = cliJson<EstimateJson & { dtype: string }>("estimate", "--model", "google/gemma-2-9b-it", "--gpu", "l4", "--max-model-len", "4096", "--json");
    expect(r.dtype).toBe("bf16");
    expect(r.fits).toBe(true);
  });

  it("refuses a context longer than the model's max_position_embeddings", () => {
    const r = cliJson<EstimateJson>("estimate", "-m", "llama-3.1-8b", "--vram-gib", "1000", "--max-model-len", "1m", "--json");
    expect(r.fits).toBe(false);
    expect(r.reason).toMatch(/max_model_len 1048576 exceeds the model's max_position_embeddings 131072/);
  });

  it.each(["0x10", "1e1", "2.5"])("rejects --gpu-count %s", (v) => {
    const r = cli("estimate", "-m", "llama-3.1-8b", "--gpu", H100, "--gpu-count", v);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--gpu-count: got "${v}"`);
  });

  it("exits 2 when no command is given", () => {
    expect(cli().status).toBe(2);
    expect(cli("catalog").status).toBe(2);
  });
});

describe("model ids as users write them", () => {
  it("sizes a quantised variant repo in its own format", () => {
    const r = cliJson<EstimateJson & { dtype: string; matchedVia: string; model: string }>("estimate", "--model", "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", "--gpu", "l4", "--max-model-len", "8192", "--json");
    expect({ model: r.model, via: r.matchedVia, dtype: r.dtype }).toEqual({ model: LLAMA_8B, via: "variant", dtype: "awq" });
    expect(r.weightsGiB).toBeLessThan(6);
  });

  it("sizes a base checkpoint with its instruct sibling's architecture", () => {
    const r = cliJson<EstimateJson & { matchedVia: string; model: string }>("estimate", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "l4", "--max-model-len", "8192", "--json");
    expect({ model: r.model, via: r.matchedVia }).toEqual({ model: LLAMA_8B, via: "sibling" });
  });
});

describe("fit: replicas, speed, filters and ownership", () => {
  interface SetupJson {
    offer: string;
    provider: string;
    gpu: string | null;
    replicas: number;
    concurrencyPerReplica: number;
    meets: boolean;
    fits: boolean;
    dtype: string;
    engine: string;
    tokensPerSecondPerUser: number | null;
    eurPerMonth: number;
    peakWatts: number;
    alternatives: { smallestGpuCount: number | null; dtype: string | null } | null;
  }
  interface FitSetupsJson {
    model: string;
    checkpointDtype: string | null;
    offers: SetupJson[];
    ownership: {
      kind: string;
      label: string;
      gpu: string;
      eurPerMonth: number;
      breakEvenUtilisation: number | null;
      confidence: string;
      rackEurPerKwMonth: number | null;
      breakEvenRackEurPerKwMonth: number | null;
      itWatts: number | null;
      againstEurPerMonth: number | null;
    }[];
  }

  it("lists multi-replica setups for Llama 3.3 70B at 32k × 20 with at least 15 tokens/s per user", () => {
    const r = cli("fit", "llama-3.3-70b", "--context", "32k", "--concurrency", "20", "--min-tokens-per-second", "15", "--eu-only", "--top", "5");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s+1\s+5 × hetzner GEX63\s/m);
    expect(r.stdout).toContain("tok/s/user");
    expect(r.stdout).toContain("Own / co-locate (break-even against 5 × hetzner-gex63)");
    const j = cliJson<FitSetupsJson>("fit", "llama-3.3-70b", "--context", "32k", "--concurrency", "20", "--min-tokens-per-second", "15", "--eu-only", "--top", "5", "--json");
    expect(j.offers).toHaveLength(5);
    expect(j.offers.every((o) => o.meets && o.tokensPerSecondPerUser! >= 15)).toBe(true);
    expect(j.offers.some((o) => o.replicas > 1)).toBe(true);
    for (const o of j.offers) expect(o.concurrencyPerReplica).toBe(Math.ceil(20 / o.replicas));
    for (let i = 1; i < j.offers.length; i++) expect(j.offers[i]!.eurPerMonth).toBeGreaterThanOrEqual(j.offers[i - 1]!.eurPerMonth);
    expect(j.ownership.map((o) => o.kind)).toEqual(expect.arrayContaining(["own", "colo"]));
    expect(j.ownership.map((o) => o.kind)).not.toContain("serverless"); // only with --include-serverless
  });

  describe("the issue's buy / rent / co-locate / serverless command", () => {
    const args = ["fit", "qwen3-32b", "--context", "16k", "--concurrency", "8", "--owned", "rtx-pro-6000-blackwell", "--eur-per-kwh", "0.30", "--years", "3", "--include-serverless"];

    it("shows owned, co-located, serverless and rented rows side by side", () => {
      const r = cli(...args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^\s+1\s+1 × hetzner GEX63\s/m); // rented
      expect(r.stdout).toContain("Own / co-locate / serverless (serverless busy 8 h/day; break-even against 1 × hetzner-gex63)");
      for (const label of ["own 1 × 1× rtx-pro-6000-blackwell-max-q server", "co-locate 1 × 1× rtx-pro-6000-blackwell-max-q server", "Modal "]) expect(r.stdout).toContain(label);
      const j = cliJson<FitSetupsJson>(...args, "--json");
      expect(new Set(j.ownership.map((o) => o.kind))).toEqual(new Set(["own", "colo", "serverless"]));
      // --owned names a family: both RTX PRO 6000 Blackwell editions, and no other GPU is owned.
      const owned = j.ownership.filter((o) => o.kind !== "serverless");
      expect(new Set(owned.map((o) => o.gpu))).toEqual(new Set(["rtx-pro-6000-blackwell-max-q", "rtx-pro-6000-blackwell-server"]));
    });

    it("without a rack price, co-location rows give the rent at which they cost what the rental costs", () => {
      const j = cliJson<FitSetupsJson>(...args, "--json");
      const colo = j.ownership.find((o) => o.kind === "colo" && o.gpu === "rtx-pro-6000-blackwell-max-q")!;
      expect(colo.rackEurPerKwMonth).toBeNull();
      expect(colo.breakEvenUtilisation).toBeNull();
      expect(colo.breakEvenRackEurPerKwMonth!).toBeCloseTo((colo.againstEurPerMonth! - colo.eurPerMonth) / (colo.itWatts! / 1000), 1); // --json rounds to cents
      // At exactly that rent, co-locating costs what the rental costs.
      const atRent = cliJson<FitSetupsJson>(...args, "--colo-eur-per-kw-month", String(colo.breakEvenRackEurPerKwMonth), "--json");
      const priced = atRent.ownership.find((o) => o.kind === "colo" && o.gpu === "rtx-pro-6000-blackwell-max-q")!;
      expect(priced.rackEurPerKwMonth).toBeCloseTo(colo.breakEvenRackEurPerKwMonth!, 9);
      expect(priced.eurPerMonth).toBeCloseTo(colo.againstEurPerMonth!, 1);
    });

    it("owns the --owned GPUs even when --gpu filters the rentals to others", () => {
      const j = cliJson<FitSetupsJson>("fit", "qwen3-32b", "--context", "16k", "--gpu", "l40s", "--owned", "rtx-pro-6000-blackwell-server", "--json");
      expect(j.offers.every((o) => o.gpu === "l40s")).toBe(true);
      const owned = j.ownership.filter((o) => o.kind !== "serverless");
      expect(owned.length).toBeGreaterThan(0);
      expect(owned.every((o) => o.gpu === "rtx-pro-6000-blackwell-server")).toBe(true);
    });

    it("refuses an --owned GPU without a hardware price, naming the flag and the GPUs that have one", () => {
      const r = cli("fit", "qwen3-32b", "--owned", "mi300x");
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--owned: got "mi300x"; mi300x has no hardware price; GPUs with a hardware price: .*rtx-pro-6000-blackwell-max-q/);
      expect(cli("fit", "qwen3-32b", "--owned", "no-such-gpu").stderr).toMatch(/--owned: got "no-such-gpu"; GPUs with a hardware price: /);
    });
  });

  it("sizes Qwen/Qwen3-32B-AWQ as the AWQ checkpoint", () => {
    const j = cliJson<FitSetupsJson>("fit", "Qwen/Qwen3-32B-AWQ", "--context", "8k", "--json", "--no-compare");
    expect(j.checkpointDtype).toBe("awq");
    const vllm = j.offers.filter((o) => o.engine === "vllm");
    expect(vllm.length).toBeGreaterThan(5);
    expect(vllm.every((o) => o.dtype === "awq")).toBe(true);
    expect(j.ownership).toEqual([]);
  });

  it("filters by --gpu, --provider and --min-vram-gib, sorts by --sort and keeps --fits-only", () => {
    const l40s = cliJson<FitSetupsJson>("fit", "qwen3-8b", "--gpu", "L40S", "--json", "--no-compare");
    expect(l40s.offers.length).toBeGreaterThan(0);
    expect(l40s.offers.every((o) => o.gpu === "l40s")).toBe(true);
    const fast = cliJson<FitSetupsJson>("fit", "qwen3-8b", "--provider", "scaleway", "--min-vram-gib", "80", "--sort", "speed", "--fits-only", "--json", "--no-compare");
    expect(fast.offers.every((o) => o.provider === "scaleway" && o.meets)).toBe(true);
    for (let i = 1; i < fast.offers.length; i++) expect(fast.offers[i]!.tokensPerSecondPerUser!).toBeLessThanOrEqual(fast.offers[i - 1]!.tokensPerSecondPerUser!);
  });

  it("never offers a single-GPU product \"2 GPUs\" in its notes", () => {
    const j = cliJson<FitSetupsJson>("fit", "llama-3.1-70b", "--context", "128k", "--concurrency", "8", "--max-replicas", "1", "--provider", "hetzner", "--json", "--no-compare");
    const gex131 = j.offers.find((o) => o.offer === "hetzner-gex131")!;
    expect(gex131.fits).toBe(false);
    expect(gex131.alternatives?.smallestGpuCount ?? null).toBeNull();
  });

  it.each([
    [["--sort", "fast"], /--sort: got "fast"; allowed: price, speed, watts, co2e/],
    [["--gpu", "h9000"], /--gpu: got "h9000"; not a GPU in the catalog/],
    [["--top", "0"], /--top: got "0"; expected a whole number of 1 or more/],
    [["--min-tokens-per-second", "fast"], /--min-tokens-per-second: got "fast"/],
    [["--busy-hours-per-day", "25"], /--busy-hours-per-day: got "25"; expected hours in a day/],
    [["--cooling", "ice"], /--cooling: got "ice"; allowed: air, /],
    [["--min-vram-gib", "-1"], /--min-vram-gib/],
  ])("refuses fit %j with exit 2", (flags, message) => {
    const r = cli("fit", "qwen3-8b", ...flags);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("filters and sorts catalog offers, and refuses --fits-only without a model", () => {
    const rows = cliJson<{ offers: { id: string; gpu: string | null; peakWatts: number }[] }>("catalog", "offers", "--gpu", "l40s", "--sort", "watts", "--json").offers;
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.every((o) => o.gpu === "l40s")).toBe(true);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.peakWatts).toBeGreaterThanOrEqual(rows[i - 1]!.peakWatts);
    expect(cliJson<{ offers: unknown[] }>("catalog", "offers", "--top", "2", "--json").offers).toHaveLength(2);
    const r = cli("catalog", "offers", "--fits-only");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--fits-only: whether an offer fits depends on a model/);
  });
});

describe("the bin runs the bundle", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { bin: Record<string, string> };
  const BIN = path.join(__dirname, "..", pkg.bin["gpu-hosting"]!);
  const run = (file: string, args: string[]) => spawnSync(process.execPath, [file, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", COLUMNS: "120" } });

  it.each([
    [["fit", "llama-3.1-8b", "--context", "16k", "--concurrency", "4", "--top", "5", "--json"]],
    [["estimate", "--model", "llama-3.1-70b", "--gpu", "l40s", "--gpu-count", "2", "--dtype", "awq"]],
    [["check", "stacks/Pulumi.dev.yaml", "--format", "markdown"]],
    [["catalog", "offers", "--provider", "scaleway"]],
    [["estimate", "--model", "no-such-model"]],
  ])("prints what the module tree prints, with the same exit code: %j", (args) => {
    expect(BIN).toMatch(/dist\/cli\/bin\.js$/);
    const tree = run(MAIN, args);
    const bundle = run(BIN, args);
    expect(bundle.status).toBe(tree.status);
    expect(bundle.stdout).toBe(tree.stdout);
    expect(bundle.stderr).toBe(tree.stderr);
    expect(tree.stdout.length + tree.stderr.length).toBeGreaterThan(20);
  });
});

describe("fit's default speed floor", () => {
  type Row = { offer: string; engine: string; fits: boolean; meets: boolean; shortfall: string | null; tokensPerSecondPerUser: number | null };
  const rows = (...extra: string[]) => cliJson<{ minTokensPerSecond: number | null; offers: Row[] }>("fit", "mistral-small-24b", "--context", "16k", "--concurrency", "4", "--provider", "hetzner", "--no-compare", "--json", ...extra);

  it("ranks setups under 5 tokens/s per user (a few vCPUs for several users) after those that reach it, as slow", () => {
    const out = rows();
    expect(out.minTokensPerSecond).toBe(5);
    const first = out.offers[0]!;
    expect(first.meets).toBe(true);
    expect(first.tokensPerSecondPerUser!).toBeGreaterThanOrEqual(5);
    const slowCpu = out.offers.find((o) => o.engine === "cpu" && o.fits)!;
    expect(slowCpu.shortfall).toBe("speed");
    const lastMeeting = out.offers.map((o) => o.meets).lastIndexOf(true);
    expect(out.offers.indexOf(slowCpu)).toBeGreaterThan(lastMeeting);
  });

  it("turns the floor off with 0, and refuses a negative speed naming the flag", () => {
    const off = rows("--min-tokens-per-second", "0");
    expect(off.minTokensPerSecond).toBeNull();
    expect(off.offers[0]!.engine).toBe("cpu"); // cheapest that fits memory, as before the floor
    const bad = cli("fit", "llama-3.1-8b", "--min-tokens-per-second", "-1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--min-tokens-per-second: got "-1"; expected tokens\/s per user, a number of 0 or more \(0: no minimum\)/);
  });
});
