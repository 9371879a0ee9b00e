/**
 * `gpu-hosting estimate` speed output and its flags (--prompt-tokens, --mem-bandwidth-gbs,
 * --tflops), run as a real child process on the built CLI (dist/cli/main.js; `npm run build` first).
 */
import { runCli, type CliRun } from "./helpers/cliChild";

const LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct";

type Run = CliRun;

const cli = (...args: string[]): Run => runCli(args);

interface ThroughputJson {
  decodeTokensPerSecond: number;
  prefillTokensPerSecond: number;
  timeToFirstTokenMs: number;
  aggregateDecodeTokensPerSecond: number;
  perRequestDecodeTokensPerSecond: number;
  concurrency: number;
  promptTokens: number;
  bound: string;
}

interface EstimateSpeedJson {
  throughput: ThroughputJson | null;
  throughputNote: string;
}

function estimateJson(...extra: string[]): EstimateSpeedJson {
  const r = cli("estimate", "--model", LLAMA_8B, "--max-model-len", "8192", "--json", ...extra);
  if (r.status !== 0) throw new Error(`estimate exited ${r.status}: ${r.stderr}`);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as EstimateSpeedJson;
}

describe("estimate: speed", () => {
  it("prints a throughput object with the stable fields", () => {
    const t = estimateJson("--gpu", "h100-sxm-80gb", "--concurrency", "8").throughput!;
    expect(Object.keys(t).sort()).toEqual(
      ["aggregateDecodeTokensPerSecond", "bound", "concurrency", "decodeTokensPerSecond", "perRequestDecodeTokensPerSecond", "prefillTokensPerSecond", "promptTokens", "timeToFirstTokenMs"].sort(),
    );
    expect(t.concurrency).toBe(8);
    expect(t.promptTokens).toBe(512);
    expect(t.bound).toMatch(/^(memory-bandwidth|compute)$/);
    // One H100 SXM, Llama 3.1 8B bf16: bandwidth-bound at about 150 tokens/s (docs/sizing.md, "Speed").
    expect(t.decodeTokensPerSecond).toBeGreaterThan(100);
    expect(t.decodeTokensPerSecond).toBeLessThan(250);
    expect(t.aggregateDecodeTokensPerSecond).toBeGreaterThan(t.decodeTokensPerSecond);
    expect(t.perRequestDecodeTokensPerSecond).toBeCloseTo(t.aggregateDecodeTokensPerSecond / 8, 2);
  });

  it("shows the same figures as text", () => {
    const r = cli("estimate", "--model", LLAMA_8B, "--gpu", "h100-sxm-80gb", "--max-model-len", "8192");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/decode, 1 request\s+[\d.,]+ tokens\/s/);
    expect(r.stdout).toMatch(/prefill\s+[\d,]+ tokens\/s; first token after [\d,]+ ms for 512 prompt tokens/);
    expect(r.stdout).toMatch(/decode, all requests\s+[\d.,]+ tokens\/s over 1 request \([\d.,]+ each\), bound by memory bandwidth/);
  });

  it("takes a longer prompt from --prompt-tokens: a later first token", () => {
    const short = estimateJson("--gpu", "l40s").throughput!;
    const long = estimateJson("--gpu", "l40s", "--prompt-tokens", "4k").throughput!;
    expect(long.promptTokens).toBe(4096);
    expect(long.timeToFirstTokenMs).toBeGreaterThan(4 * short.timeToFirstTokenMs);
  });

  it("caps the default 512-token prompt at a shorter --max-model-len instead of failing", () => {
    const r = cli("estimate", "--model", LLAMA_8B, "--gpu", "l4", "--max-model-len", "256", "--json");
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as EstimateSpeedJson).throughput!.promptTokens).toBe(256);
  });

  it("lets --mem-bandwidth-gbs override a catalog GPU's bandwidth", () => {
    const own = estimateJson("--gpu", "l40s").throughput!;
    const doubled = estimateJson("--gpu", "l40s", "--mem-bandwidth-gbs", "1728").throughput!;
    expect(doubled.decodeTokensPerSecond).toBeGreaterThan(1.5 * own.decodeTokensPerSecond);
  });

  it("has no speed for a --vram-gib GPU without bandwidth and TFLOPS, and says which flags give it", () => {
    const r = estimateJson("--vram-gib", "24");
    expect(r.throughput).toBeNull();
    expect(r.throughputNote).toBe("speed unknown for a GPU given by --vram-gib: give --mem-bandwidth-gbs and --tflops");
    const t = estimateJson("--vram-gib", "24", "--mem-bandwidth-gbs", "1000", "--tflops", "150").throughput!;
    expect(t.decodeTokensPerSecond).toBeGreaterThan(30);
  });

  it("estimates CPU inference from --mem-bandwidth-gbs and --tflops", () => {
    const t = estimateJson("--engine", "cpu", "--ram-gib", "64", "--dtype", "q4_k_m", "--mem-bandwidth-gbs", "460.8", "--tflops", "3").throughput!;
    expect(t.decodeTokensPerSecond).toBeGreaterThan(20);
    expect(t.decodeTokensPerSecond).toBeLessThan(200);
  });

  it.each([
    [["--gpu", "l4", "--mem-bandwidth-gbs", "0"], '--mem-bandwidth-gbs: got "0"; expected a number greater than 0'],
    [["--gpu", "l4", "--tflops", "lots"], '--tflops: got "lots"; expected a number greater than 0'],
    [["--gpu", "l4", "--prompt-tokens", "many"], '--prompt-tokens: got "many"; expected a token count such as 8192, 32k or 128k'],
    [["--gpu", "l4", "--prompt-tokens", "9000"], "--prompt-tokens: got 9000; at most the context length 8192 (--max-model-len)"],
    [["--vram-gib", "24", "--tflops", "100"], "--mem-bandwidth-gbs: required with --tflops for a GPU given by --vram-gib"],
    [["--engine", "cpu", "--ram-gib", "64", "--mem-bandwidth-gbs", "100"], "--tflops: required with --mem-bandwidth-gbs for the host CPU (--engine cpu)"],
  ])("rejects %j with exit 2", (extra, message) => {
    const r = cli("estimate", "--model", LLAMA_8B, "--max-model-len", "8192", ...extra);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });

  it("documents the speed flags in --help", () => {
    const out = cli("estimate", "--help").stdout;
    for (const flag of ["--prompt-tokens", "--mem-bandwidth-gbs", "--tflops"]) expect(out).toContain(flag);
  });
});
