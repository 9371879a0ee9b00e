/**
 * One verdict for one setup (issue #12): `estimate` and `check` refuse vLLM on a GPU older than
 * Volta with the same words, because both call vllmSupportProblem (core/sizing/estimate.ts).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findGpu, gpuMemoryGiB, matchModel } from "../core/catalog";
import { checkStackConfig, readStackYaml } from "../core/checks/stackFile";
import { parseHfConfig } from "../core/sizing/architecture";
import { estimate, MIN_VLLM_COMPUTE_CAPABILITY, vllmSupportProblem } from "../core/sizing/estimate";
import { runCliInProcess, type CliRun } from "./helpers/cliInProcess";

const ROOT = path.join(__dirname, "..");
const DEV = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8");
const AWQ_8B = "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-verdict-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The dev stack on Scaleway's RENDER-S (one Tesla P100) serving the AWQ 8B with vLLM (the default engine). */
const P100_STACK = DEV.replace("type: L4-1-24G", "type: RENDER-S").replace("zone: fr-par-2", "zone: fr-par-1").replace("model: meta-llama/Llama-3.1-8B-Instruct", `model: ${AWQ_8B}`);

/** Runs the CLI in-process, capturing what it writes. */
const cli = (...args: string[]): Promise<CliRun> => runCliInProcess(args);

describe("vLLM on a Tesla P100: one verdict, one reason", () => {
  const p100 = findGpu("tesla-p100-16gb")!;
  const expected = `vLLM needs compute capability 7.0 or newer; ${p100.name} has 6.0: use engine llamacpp with a GGUF type`;

  it("the stack's check refuses it with gpu-capability", () => {
    expect(p100.computeCapability).toBe("6.0");
    const { report } = checkStackConfig(readStackYaml(P100_STACK, "p100.yaml"), "p100.yaml");
    expect(report.violations.filter((v) => v.policy === "gpu-capability").map((v) => v.message)).toEqual([expected]);
  });

  it("the sizing core's estimate() says fits: false with the same words, although the weights would fit", () => {
    const arch = parseHfConfig(matchModel(AWQ_8B)!.model.config);
    const base = { arch, dtype: "awq" as const, maxModelLen: 4096, concurrency: 1 };
    const gpu = { memoryGiB: gpuMemoryGiB(p100), dataTypes: p100.dataTypes, computeCapability: p100.computeCapability, name: p100.name, vendor: p100.vendor };
    const r = estimate({ ...base, engine: "vllm", gpu });
    expect(r).toMatchObject({ fits: false, reason: expected });
    // Memory is not the problem: the same GPU without vendor facts (a bare --vram-gib) fits.
    expect(estimate({ ...base, engine: "vllm", gpu: { memoryGiB: gpu.memoryGiB } }).fits).toBe(true);
    // And llama.cpp, the engine the message names, is not refused.
    expect(estimate({ ...base, engine: "llamacpp", dtype: "q4_k_m", gpu }).reason).not.toBe(expected);
  });

  it("`estimate --json` prints fits: false and the reason `check` prints", async () => {
    const est = await cli("estimate", "--model", AWQ_8B, "--gpu", "tesla-p100-16gb", "--json");
    expect(est.stderr).toBe("");
    expect(JSON.parse(est.stdout)).toMatchObject({ fits: false, reason: expected });

    const file = path.join(tmp, "p100.yaml");
    fs.writeFileSync(file, P100_STACK);
    const chk = await cli("check", file, "--json");
    expect(chk.code).toBe(1);
    const violations = (JSON.parse(chk.stdout) as { violations: { policy: string; message: string }[] }).violations;
    expect(violations).toContainEqual(expect.objectContaining({ policy: "gpu-capability", message: expected }));
  });

  it.each([
    ["7.0 (Volta)", { vendor: "nvidia" as const, computeCapability: "7.0" }, null],
    ["6.1 (Pascal)", { vendor: "nvidia" as const, computeCapability: "6.1", name: "GTX 1080" }, "vLLM needs compute capability 7.0 or newer; GTX 1080 has 6.1: use engine llamacpp with a GGUF type"],
    ["unknown on NVIDIA (fail closed)", { vendor: "nvidia" as const, computeCapability: null, name: "X" }, "vLLM needs compute capability 7.0 or newer; X has unknown: use engine llamacpp with a GGUF type"],
    ["AMD", { vendor: "amd" as const, computeCapability: null }, null],
  ])("vllmSupportProblem with compute capability %s", (_label, gpu, problem) => {
    expect(vllmSupportProblem({ memoryGiB: 16, ...gpu })).toBe(problem);
  });

  it("follows the policy's configured minimum", () => {
    expect(MIN_VLLM_COMPUTE_CAPABILITY).toBe(7);
    expect(vllmSupportProblem({ memoryGiB: 80, vendor: "nvidia", computeCapability: "7.5", name: "T4" }, 8)).toBe("vLLM needs compute capability 8.0 or newer; T4 has 7.5: use engine llamacpp with a GGUF type");
  });
});

describe("one meaning per --json field across engines: kvCacheTokens is a capacity", () => {
  const l40s = findGpu("l40s")!;
  const arch = parseHfConfig(matchModel("llama-3.1-8b")!.model.config);
  const gpu = (memoryGiB: number) => ({ memoryGiB, dataTypes: l40s.dataTypes, computeCapability: l40s.computeCapability, name: l40s.name, vendor: l40s.vendor });
  const base = { arch, maxModelLen: 8192, concurrency: 2 };

  it("llama.cpp reports what its memory could hold, not the asked context × concurrency", () => {
    const big = estimate({ ...base, engine: "llamacpp", dtype: "q8_0", gpu: gpu(gpuMemoryGiB(l40s)) });
    const vllm = estimate({ ...base, engine: "vllm", dtype: "bf16", gpu: gpu(gpuMemoryGiB(l40s)) });
    for (const r of [big, vllm]) {
      expect(r.fits).toBe(true);
      // Far more than the 16,384 tokens asked: 40+ GiB are free on an L40S for an 8B model.
      expect(r.kvCacheTokens).toBeGreaterThan(10 * 16_384);
      expect(r.maxConcurrency).toBeCloseTo(r.kvCacheTokens / 8192, 6);
    }
    // Less memory, less capacity; at the edge of fitting the capacity is the requirement.
    const small = estimate({ ...base, engine: "llamacpp", dtype: "q8_0", gpu: gpu(12) });
    expect(small.kvCacheTokens).toBeLessThan(big.kvCacheTokens);
    expect(small.fits).toBe(small.kvCacheTokens >= 16_384);
    const tooSmall = estimate({ ...base, engine: "llamacpp", dtype: "q8_0", gpu: gpu(9) });
    expect(tooSmall.fits).toBe(false);
    expect(tooSmall.kvCacheTokens).toBeLessThan(16_384);
  });
});
