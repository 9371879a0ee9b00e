import fc from "fast-check";
import { findModel } from "../core/catalog";
import { countParameters, ModelConfigError, parseHfConfig, type ModelArchitecture } from "../core/sizing/architecture";
import { DTYPES, normalizeDtype, WEIGHT_FORMATS, type ConcreteDtype } from "../core/sizing/dtypes";
import { estimateLlamaCpp, estimateVllm, vllmProfile } from "../core/sizing/engines";
import { alternatives, dtypeSupportProblem, estimate, servingDtypeOf, validTensorParallel } from "../core/sizing/estimate";
import { GiB, kvLayout, weightMemory } from "../core/sizing/memory";

const arch = (id: string): ModelArchitecture => parseHfConfig(findModel(id)!.config);
const llama8b = arch("meta-llama/Llama-3.1-8B-Instruct");
const llama70b = arch("meta-llama/Llama-3.1-70B-Instruct");

describe("parseHfConfig", () => {
  it("reads Llama 3.1 8B as GQA with 8 KV heads and 128k context", () => {
    expect(llama8b.attention).toMatchObject({ kind: "gqa", numHeads: 32, numKvHeads: 8, headDim: 128 });
    expect(llama8b.maxPositionEmbeddings).toBe(131072);
    expect(llama8b.tieWordEmbeddings).toBe(false);
  });

  it("reads DeepSeek-V3 as MLA with 58 MoE layers after 3 dense ones", () => {
    const ds = arch("deepseek-ai/DeepSeek-V3");
    expect(ds.attention.kind).toBe("mla");
    expect(ds.layers.filter((l) => l.mlp === "moe")).toHaveLength(58);
    expect(ds.layers.slice(0, 3).every((l) => l.mlp === "dense")).toBe(true);
    expect(ds.checkpointQuantization?.method).toBe("fp8");
  });

  it("reads Gemma 3 27B through text_config with one full-attention layer in six", () => {
    const g = arch("google/gemma-3-27b-it");
    expect(g.modelType).toBe("gemma3_text");
    expect(g.layers.filter((l) => l.attention === "full")).toHaveLength(10);
    expect(g.visionParameters).toBeGreaterThan(4e8);
  });

  it("reads gpt-oss as alternating sliding/full attention with sinks and MXFP4 experts", () => {
    const g = arch("openai/gpt-oss-120b");
    expect(g.attention.sinks).toBe(true);
    expect(g.layers.filter((l) => l.attention === "sliding")).toHaveLength(18);
    expect(g.checkpointQuantization?.method).toBe("mxfp4");
  });

  it("counts tied embeddings once", () => {
    const tied = parseHfConfig({ ...findModel("meta-llama/Llama-3.2-1B-Instruct")!.config, tie_word_embeddings: true });
    const untied = parseHfConfig({ ...findModel("meta-llama/Llama-3.2-1B-Instruct")!.config, tie_word_embeddings: false });
    expect(countParameters(untied).total - countParameters(tied).total).toBe(128256 * 2048);
  });

  it("names the missing field for a config that is not a language model", () => {
    expect(() => parseHfConfig({ model_type: "llama", num_hidden_layers: 2 }, "cfg.json")).toThrow(ModelConfigError);
    expect(() => parseHfConfig({ model_type: "llama", num_hidden_layers: 2 }, "cfg.json")).toThrow(/cfg\.json\.hidden_size: expected a non-negative number, got undefined/);
    expect(() => parseHfConfig([1, 2])).toThrow(/expected a JSON object/);
  });
});

describe("weight memory", () => {
  it.each<[string, ConcreteDtype, number, number]>([
    // [model, dtype, tp, GiB per GPU as vLLM logs it]; sources in test/fixtures/vllm-calibration.json
    ["meta-llama/Llama-3.1-8B-Instruct", "bf16", 1, 14.99],
    ["meta-llama/Llama-3.1-8B-Instruct", "fp32", 1, 29.98],
    ["meta-llama/Llama-3.1-8B-Instruct", "fp8", 1, 8.49],
    ["meta-llama/Llama-3.1-8B-Instruct", "bf16", 2, 7.51],
    ["meta-llama/Llama-3.1-8B-Instruct", "bf16", 4, 3.77],
    ["Qwen/Qwen2.5-7B-Instruct", "bf16", 1, 14.25],
    ["Qwen/Qwen3-32B", "bf16", 1, 61.03],
    ["meta-llama/Llama-3.3-70B-Instruct", "fp8", 2, 33.88],
    ["openai/gpt-oss-20b", "mxfp4", 1, 13.47],
    ["openai/gpt-oss-120b", "mxfp4", 1, 64.38],
  ])("%s in %s at TP %i takes %f GiB per GPU (within 2 %)", (id, dtype, tp, observed) => {
    const w = weightMemory(arch(id), dtype, tp).bytesPerGpu / GiB;
    expect(Math.abs(w / observed - 1)).toBeLessThan(0.02);
  });

  it("keeps embeddings and lm_head in 16 bits for AWQ (more than a quarter of bf16)", () => {
    const bf16 = weightMemory(llama8b, "bf16").bytesPerGpu;
    const awq = weightMemory(llama8b, "awq").bytesPerGpu;
    const embeddings = 2 * 128256 * 4096 * 2;
    expect(awq).toBeGreaterThan(bf16 / 4 + embeddings * 0.7);
    expect(awq / GiB).toBeCloseTo(5.3, 0);
  });

  it("orders formats by size: fp32 > bf16 > fp8 > q8_0 > q4_k_m > awq-ish int4", () => {
    const g = (d: ConcreteDtype): number => weightMemory(llama70b, d).bytesPerGpu;
    expect(g("fp32")).toBeGreaterThan(g("bf16"));
    expect(g("bf16")).toBeGreaterThan(g("q8_0"));
    expect(g("q8_0")).toBeGreaterThan(g("fp8"));
    expect(g("fp8")).toBeGreaterThan(g("q4_k_m"));
    expect(g("q4_k_m")).toBeGreaterThan(g("q4_0"));
  });

  it.each<[ConcreteDtype, number]>([
    ["q8_0", 8.54],
    ["q6_k", 6.6],
    ["q4_k_m", 4.92],
  ])("sizes Llama 3.1 8B GGUF %s near its published file size (%f GB)", (dtype, gb) => {
    const bytes = weightMemory(llama8b, dtype).bytesPerGpu;
    expect(Math.abs(bytes / 1e9 / gb - 1)).toBeLessThan(0.03);
  });

  it("replicates KV projections when there are more ranks than KV heads", () => {
    const at8 = weightMemory(llama8b, "bf16", 8).bytesPerGpu;
    const at16 = weightMemory(llama8b, "bf16", 16).bytesPerGpu;
    // At TP 8 each rank holds one of the 8 KV heads; at TP 16 still one, not half of one.
    const kvOneHead = 32 * 2 * 4096 * 128 * 2;
    expect(at16 - at8 / 2).toBeGreaterThan(kvOneHead * 0.45);
    // plus half of what every rank replicates anyway (rope cache 32 MiB, norms)
    expect(at16 - at8 / 2).toBeLessThan(kvOneHead * 0.5 + 20e6);
  });
});

describe("quantised checkpoints", () => {
  const base = findModel("meta-llama/Llama-3.1-405B-Instruct")!.config;
  const attnAndEnds = [...Array.from({ length: 126 }, (_, i) => `model.layers.${i}.self_attn.q_proj`), "model.layers.0.mlp.up_proj", "model.layers.125.mlp.up_proj", "lm_head"];

  it("counts the layers a checkpoint leaves unquantised (Meta's FP8 405B keeps attention in bf16)", () => {
    const fp8 = parseHfConfig({ ...base, quantization_config: { quant_method: "fbgemm_fp8", modules_to_not_convert: attnAndEnds } });
    expect(fp8.checkpointQuantization?.excluded).toHaveLength(129);
    const plain = weightMemory(parseHfConfig(base), "fp8", 8).bytesPerGpu / GiB;
    const kept = weightMemory(fp8, "fp8", 8).bytesPerGpu / GiB;
    // vLLM logged 57.75 GiB per GPU (vllm#6746); all-fp8 would be about 48.
    expect(plain).toBeLessThan(50);
    expect(Math.abs(kept / 57.75 - 1)).toBeLessThan(0.03);
  });

  it("reads compressed-tensors config groups: float 8-bit is fp8, int 8-bit is int8, int 4-bit is int4", () => {
    const cfg = (type: string, bits: number) => parseHfConfig({ ...base, quantization_config: { quant_method: "compressed-tensors", config_groups: { g: { weights: { num_bits: bits, type } } }, ignore: ["lm_head"] } });
    expect(servingDtypeOf(cfg("float", 8))).toBe("fp8");
    expect(servingDtypeOf(cfg("int", 8))).toBe("int8");
    expect(servingDtypeOf(cfg("int", 4))).toBe("int4");
  });

  it("serves an fp32 checkpoint in 16 bits under auto", () => {
    expect(servingDtypeOf(parseHfConfig({ ...base, torch_dtype: "float32" }))).toBe("bf16");
  });
});

describe("KV cache per token", () => {
  it("is 2 × layers × KV heads × head dim × bytes for GQA (128 KiB for Llama 3.1 8B)", () => {
    expect(kvLayout(llama8b, "auto", "bf16").bytesPerTokenPerGpu).toBe(2 * 32 * 8 * 128 * 2);
    expect(kvLayout(llama8b, "fp8", "bf16").bytesPerTokenPerGpu).toBe(2 * 32 * 8 * 128);
  });

  it("splits KV heads over tensor-parallel ranks", () => {
    expect(kvLayout(llama70b, "auto", "bf16", 4).bytesPerTokenPerGpu).toBe(2 * 80 * 2 * 128 * 2);
  });

  it("stores the MLA latent (kv_lora_rank + rope dim) per layer for DeepSeek-V3", () => {
    const ds = arch("deepseek-ai/DeepSeek-V3");
    expect(kvLayout(ds, "auto", "fp8").bytesPerTokenPerGpu).toBe(61 * (512 + 64) * 2);
  });

  it("charges Gemma 3 27B's 62 layers as 70 slots, as vLLM's hybrid allocator pads groups", () => {
    const g = kvLayout(arch("google/gemma-3-27b-it"), "auto", "bf16");
    expect(g.fullLayers).toBe(10);
    expect(g.slidingLayers).toBe(52);
    expect(g.chargedLayers).toBe(70);
  });
});

describe("vLLM engine model", () => {
  const h100 = 79.19;

  it("reproduces a vLLM 0.19 log: Llama 3.1 8B on H100 at 0.95 leaves 58.1 GiB, 476k tokens", () => {
    const e = estimateVllm(llama8b, "bf16", h100, { gpuMemoryUtilization: 0.95, maxModelLen: 16384, vllmVersion: "0.19" });
    expect(e.perGpu.kvCacheGiB).toBeCloseTo(58.11, 0);
    expect(Math.abs(e.kvCacheTokens / 476016 - 1)).toBeLessThan(0.01);
    expect(e.fits).toBe(true);
    expect(e.maxConcurrency).toBeCloseTo(e.kvCacheTokens / 16384, 6);
  });

  it("reproduces a V0 log: Llama 3.1 8B on an RTX 3090 at 20k context holds ~31k tokens", () => {
    const e = estimateVllm(llama8b, "bf16", 23.58, { maxModelLen: 20000, vllmVersion: "0.6.4" });
    expect(Math.abs(e.kvCacheTokens / 31232 - 1)).toBeLessThan(0.05);
  });

  it("refuses a 70B bf16 model on one L4 and says why", () => {
    const e = estimateVllm(llama70b, "bf16", 22.49, { maxModelLen: 8192 });
    expect(e.fits).toBe(false);
    expect(e.kvCacheTokens).toBe(0);
    expect(e.reason).toMatch(/^weights 131\.\d+ GiB .* exceed 20\.24 GiB \(22\.49 GiB × 0\.9\) per GPU: no memory left for the KV cache$/);
  });

  it("refuses when the KV cache cannot hold one request of max_model_len", () => {
    const e = estimateVllm(llama8b, "bf16", 23.58, { maxModelLen: 131072 });
    expect(e.fits).toBe(false);
    expect(e.reason).toMatch(/fewer than max_model_len 131072: vLLM refuses to start/);
  });

  it("knows the memory profile of each vLLM generation", () => {
    expect(vllmProfile("0.6.4").engineV0).toBe(true);
    expect(vllmProfile("0.8.5").samplerCopies).toBe(9.6);
    expect(vllmProfile("0.10.1.1").samplerCopies).toBe(3.86);
    expect(vllmProfile("latest").version).toBe("0.19");
    expect(() => vllmProfile("x")).toThrow(/not of the form 0\.x/);
  });
});

describe("estimate and alternatives", () => {
  const l4 = { memoryGiB: 22.49, dataTypes: { bf16: true, fp8: true, fp4: false } };
  const base = { arch: llama70b, dtype: "bf16" as ConcreteDtype, engine: "vllm" as const, gpu: l4, maxModelLen: 8192 };

  it("applies concurrency: 16 × 32k tokens must fit", () => {
    const one = estimate({ ...base, arch: llama8b, gpu: { memoryGiB: 79.65 }, maxModelLen: 32768 });
    const many = estimate({ ...base, arch: llama8b, gpu: { memoryGiB: 79.65 }, maxModelLen: 32768, concurrency: 64 });
    expect(one.fits).toBe(true);
    expect(many.fits).toBe(false);
    expect(many.reason).toMatch(/64 concurrent requests × 32768 tokens need 2097152/);
  });

  it("suggests 8 × L4 for Llama 3.1 70B on one L4, fp8 on 4 × L4 and int4 on 4 × A100 40GB", () => {
    const a = alternatives(base);
    expect(a.smallestGpuCount).toBe(8);
    expect(a.largestContext).toBeNull();
    expect(a.dtype).toBeNull();
    expect(alternatives({ ...base, gpuCount: 4 }).dtype).toBe("fp8");
    const a100 = { memoryGiB: 40, dataTypes: { bf16: true, fp8: false, fp4: false } };
    expect(alternatives({ ...base, gpu: a100, gpuCount: 2, maxModelLen: 32768 }).dtype).toBe("awq");
  });

  it("rejects tensor-parallel sizes that do not divide the heads", () => {
    expect(validTensorParallel(llama8b, 3)).toBe(false);
    expect(validTensorParallel(llama8b, 8)).toBe(true);
    const e = estimate({ ...base, arch: llama8b, gpuCount: 3, gpu: { memoryGiB: 80 } });
    expect(e.fits).toBe(false);
    expect(e.reason).toMatch(/tensor-parallel size 3 must divide the 32 attention heads/);
  });

  it("names the GPU generation a data type needs", () => {
    const a100 = { memoryGiB: 80, dataTypes: { bf16: true, fp8: false, fp4: false } };
    const p100 = { memoryGiB: 16, dataTypes: { bf16: false, fp8: false, fp4: false } };
    expect(dtypeSupportProblem("fp8", a100)).toMatch(/fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU/);
    expect(dtypeSupportProblem("bf16", p100)).toMatch(/bf16 needs an Ampere/);
    expect(dtypeSupportProblem("nvfp4", a100)).toMatch(/fp4 needs a Blackwell GPU/);
    expect(dtypeSupportProblem("awq", p100)).toBeNull();
  });

  it("sizes CPU inference against host RAM with llama.cpp buffers", () => {
    const e = estimateLlamaCpp(llama8b, "q4_k_m", 16, { engine: "cpu", contextTokens: 8192 });
    expect(e.fits).toBe(true);
    expect(e.perGpu.kvCacheGiB).toBeCloseTo(1, 1);
    const small = estimateLlamaCpp(llama8b, "q8_0", 8, { engine: "cpu", contextTokens: 8192 });
    expect(small.fits).toBe(false);
    expect(small.reason).toMatch(/exceed 8 GiB of host RAM/);
  });
});

describe("properties", () => {
  const models = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-30B-A3B", "google/gemma-3-27b-it", "mistralai/Mixtral-8x7B-Instruct-v0.1", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-20b"].map(arch);
  const hfDtypes: ConcreteDtype[] = ["bf16", "fp16", "fp8", "int8", "awq", "gptq"];

  it("more VRAM never turns a fit into a non-fit", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...models),
        fc.constantFrom(...hfDtypes),
        fc.integer({ min: 8, max: 300 }),
        fc.integer({ min: 1, max: 200 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 512, max: 65536 }),
        fc.integer({ min: 1, max: 32 }),
        (a, dtype, gib, extra, tp, ctx, conc) => {
          const small = estimate({ arch: a, dtype, engine: "vllm", gpu: { memoryGiB: gib }, gpuCount: tp, maxModelLen: ctx, concurrency: conc });
          const big = estimate({ arch: a, dtype, engine: "vllm", gpu: { memoryGiB: gib + extra }, gpuCount: tp, maxModelLen: ctx, concurrency: conc });
          return !small.fits || big.fits;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("KV tokens grow linearly with the memory left for the KV cache", () => {
    fc.assert(
      fc.property(fc.constantFrom(...models), fc.integer({ min: 100, max: 400 }), fc.integer({ min: 2, max: 5 }), (a, gib, k) => {
        const e1 = estimateVllm(a, "fp8", gib, { maxModelLen: 1024 });
        const kv1 = e1.perGpu.kvCacheGiB;
        if (kv1 <= 0) return true;
        // Raising the total by (k-1) × kv1 / util multiplies the KV memory by k.
        const e2 = estimateVllm(a, "fp8", gib + ((k - 1) * kv1) / 0.9, { maxModelLen: 1024, maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
        const e1b = estimateVllm(a, "fp8", gib, { maxModelLen: 1024, maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
        const ratio = e2.kvCacheTokens / e1b.kvCacheTokens;
        const expected = e2.perGpu.kvCacheGiB / e1b.perGpu.kvCacheGiB;
        return Math.abs(ratio - expected) <= (16 * 2) / Math.max(e1b.kvCacheTokens, 1) * expected + 1e-9;
      }),
      { numRuns: 200 },
    );
  });

  it("more GPUs never reduce the KV tokens of a model that fits", () => {
    fc.assert(
      fc.property(fc.constantFrom(...models), fc.constantFrom(...hfDtypes), fc.integer({ min: 40, max: 200 }), (a, dtype, gib) => {
        let last = -1;
        for (const tp of [1, 2, 4, 8]) {
          if (!validTensorParallel(a, tp)) continue;
          const e = estimateVllm(a, dtype, gib, { tensorParallelSize: tp, maxModelLen: 1024, maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
          if (e.kvCacheTokens < last) return false;
          last = e.kvCacheTokens;
        }
        return true;
      }),
      { numRuns: 100 },
    );
  });

  it("normalizes every dtype spelling it lists", () => {
    for (const d of DTYPES) expect(normalizeDtype(d.toUpperCase())).toBe(d);
    expect(normalizeDtype("bfloat16")).toBe("bf16");
    expect(normalizeDtype("awq_marlin")).toBe("awq");
    expect(Object.keys(WEIGHT_FORMATS)).toHaveLength(DTYPES.length - 1);
  });
});
