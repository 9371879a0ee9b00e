import { findModel, findOffer } from "../core/catalog";
import { fitAll, fitOffer } from "../core/planner";
import { parseHfConfig } from "../core/sizing/architecture";

const arch = (id: string) => parseHfConfig(findModel(id)!.config);

describe("fit planner", () => {
  it("serves the Tesla P100 (compute capability 6.0) with llama.cpp and a GGUF type, not vLLM", () => {
    const f = fitOffer({ arch: arch("meta-llama/Llama-3.1-8B-Instruct"), context: 4096, dtype: "best" }, findOffer("scaleway-render-s")!);
    expect(f.engine).toBe("llamacpp");
    expect(f.dtype).toBe("q8_0");
    expect(f.fits).toBe(true);
  });

  it("refuses vLLM formats on the P100 with the reason", () => {
    const f = fitOffer({ arch: arch("meta-llama/Llama-3.1-8B-Instruct"), context: 4096, dtype: "awq" }, findOffer("scaleway-render-s")!);
    expect(f.fits).toBe(false);
    expect(f.reason).toMatch(/compute capability 6\.0\) is too old for vLLM; use a GGUF type with llama\.cpp/);
  });

  it("picks bf16 when it fits and falls back to fp8 on an fp8-capable GPU when it does not", () => {
    const small = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 8192, dtype: "best" }, findOffer("scaleway-l40s-1-48g")!);
    expect(small).toMatchObject({ fits: true, dtype: "bf16" });
    const big = fitOffer({ arch: arch("Qwen/Qwen3-32B"), context: 16384, concurrency: 4, dtype: "best" }, findOffer("scaleway-h100-1-80g")!);
    expect(big).toMatchObject({ fits: true, dtype: "fp8" });
  });

  it("refuses fp8 on a GPU without native fp8, naming the generation", () => {
    const gpuless = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 8192, dtype: "fp8" }, findOffer("scaleway-render-s")!);
    expect(gpuless.fits).toBe(false);
    expect(gpuless.reason).toMatch(/fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU/);
  });

  it("uses the largest tensor-parallel size that divides the heads", () => {
    // Qwen2.5-7B has 28 heads and 4 KV heads: 8 GPUs cannot split it, 4 can.
    const f = fitOffer({ arch: arch("Qwen/Qwen2.5-7B-Instruct"), context: 8192, dtype: "bf16" }, findOffer("scaleway-l4-8-24g")!);
    expect(f.gpusUsed).toBe(4);
    expect(f.reason).toMatch(/uses 4 of 8 GPUs/);
  });

  it("ranks fitting offers first, each group cheapest first, and filters EU-only", () => {
    const rows = fitAll({ arch: arch("meta-llama/Llama-3.1-70B-Instruct"), context: 32768, concurrency: 16, dtype: "best", euOnly: true });
    const firstMiss = rows.findIndex((r) => !r.fits);
    expect(rows.slice(firstMiss).every((r) => !r.fits)).toBe(true);
    for (const group of [rows.slice(0, firstMiss), rows.slice(firstMiss)]) {
      for (let i = 1; i < group.length; i++) expect(group[i]!.eurPerMonth).toBeGreaterThanOrEqual(group[i - 1]!.eurPerMonth);
    }
    expect(rows.flatMap((r) => r.locations).some((l) => ["ash", "hil", "sin"].includes(l))).toBe(false);
    expect(rows.every((r) => r.offer.status === "listed")).toBe(true);
  });
});
