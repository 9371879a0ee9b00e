import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { countParameters, ModelConfigError, parseHfConfig, type ParameterBreakdown } from "../core/sizing/architecture";
import { ssmLayerParameters } from "../core/sizing/families";
import { kvLayout, weightMemory } from "../core/sizing/memory";

/**
 * Parameter counts from config.json against published totals. Each fixture in
 * test/fixtures/param-totals/ holds a model's config.json fields (copied from the source named in
 * `configSource`) and a published figure with its source URL and the date it was read:
 * - "total": the safetensors parameter total (index.json metadata, the Hub's model size, a card);
 * - "total-with-buffers": a safetensors header count that also includes stored non-parameter
 *   tensors (GPT-2's causal masks), compared with parameters + `storedBuffers`;
 * - "total-with-tied-copy": a safetensors total of a checkpoint that stores lm_head although its
 *   config ties it to the embedding (Falcon-180B), compared with parameters + vocab × hidden;
 * - "non-embedding": a report's non-embedding count of the language model (Gemma, Pythia),
 *   compared with the total less the token embedding, lm_head and any vision tower.
 */

interface Source {
  url: string;
  read: string;
  via?: string;
  secondary: boolean;
}

interface Fixture {
  model: string;
  modelType: string;
  config: Record<string, unknown>;
  configSource: Source;
  published: Source & { kind: "total" | "total-with-buffers" | "total-with-tied-copy" | "non-embedding"; value: number; quote: string; derivation?: string };
  tolerancePercent: number;
  toleranceReason?: string;
  notes?: string;
}

const DIR = join(__dirname, "fixtures", "param-totals");
const fixtures: [string, Fixture][] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(join(DIR, f), "utf8")) as Fixture]);

function compared(f: Fixture): number {
  const a = parseHfConfig(f.config, f.model);
  const p: ParameterBreakdown = countParameters(a);
  switch (f.published.kind) {
    case "total-with-buffers":
      return p.total + p.storedBuffers;
    case "total-with-tied-copy":
      return p.total + (a.tieWordEmbeddings ? a.vocabSize * a.hiddenSize : 0);
    case "non-embedding":
      return p.total - p.embedding - p.lmHead - p.vision;
    default:
      return p.total;
  }
}

/** Counted minus published, in percent of published. */
function errorPercent(f: Fixture): number {
  return ((compared(f) - f.published.value) / f.published.value) * 100;
}

describe("published parameter totals", () => {
  it("covers at least 60 models over at least 20 model_types", () => {
    const types = new Set(fixtures.map(([, f]) => parseHfConfig(f.config, f.model).modelType));
    expect(fixtures.length).toBeGreaterThanOrEqual(60);
    expect(types.size).toBeGreaterThanOrEqual(20);
  });

  it.each(fixtures)("%s names its sources with a URL and the date read", (_, f) => {
    for (const s of [f.configSource, f.published]) {
      expect(s.url).toMatch(/^https:\/\//);
      expect(s.read).toMatch(/^20\d\d-\d\d-\d\d$/);
      expect(typeof s.secondary).toBe("boolean");
    }
    expect(f.published.value).toBeGreaterThan(0);
    expect(f.published.quote.length).toBeGreaterThan(0);
    // A tolerance above 1 % must say why.
    expect(f.tolerancePercent <= 1 || (f.toleranceReason ?? "").length > 10).toBe(true);
  });

  it.each(fixtures)("%s: counted parameters within the stated tolerance of the published figure", (_, f) => {
    expect(Math.abs(errorPercent(f))).toBeLessThanOrEqual(f.tolerancePercent);
  });
});

const fixture = (slug: string): Fixture => fixtures.find(([s]) => s === slug)![1];
const bf16Kv = (config: Record<string, unknown>): number => kvLayout(parseHfConfig(config), "auto", "bf16").bytesPerTokenPerGpu;

/**
 * Nemotron-H-8B-Base-8K's config.json as copied in TensorRT-LLM's unit test
 * (tests/unittest/_torch/modeling/test_modeling_nemotron_h.py, code-search file id 6259304594).
 */
const NEMOTRON_H_8B = {
  architectures: ["NemotronHForCausalLM"],
  attention_bias: false,
  attention_head_dim: 128,
  chunk_size: 256,
  conv_kernel: 4,
  expand: 2,
  hidden_size: 4096,
  hybrid_override_pattern: "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-",
  intermediate_size: 21504,
  mamba_head_dim: 64,
  mamba_num_heads: 128,
  mamba_proj_bias: false,
  max_position_embeddings: 8192,
  mlp_bias: false,
  mlp_hidden_act: "relu2",
  model_type: "nemotron_h",
  n_groups: 8,
  num_attention_heads: 32,
  num_hidden_layers: 52,
  num_key_value_heads: 8,
  ssm_state_size: 128,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  use_bias: false,
  use_conv_bias: true,
  vocab_size: 131072,
};

describe("hybrid attention/state-space models", () => {
  it("charges Jamba 1.5 Mini's KV cache for its 4 attention layers only (layers 4, 12, 20, 28 of 32)", () => {
    const a = parseHfConfig(fixture("jamba-1.5-mini").config);
    expect(a.layers.flatMap((l, i) => (l.attention === "none" ? [] : [i]))).toEqual([4, 12, 20, 28]);
    expect(a.layers.filter((l) => l.mixer === "mamba")).toHaveLength(28);
    expect(a.layers.filter((l) => l.mlp === "moe")).toHaveLength(16);
    // 4 layers × (K and V) × 8 KV heads × 128 head dim × 2 bytes
    expect(bf16Kv(fixture("jamba-1.5-mini").config)).toBe(4 * 2 * 8 * 128 * 2);
    const kv = kvLayout(a, "auto", "bf16");
    expect(kv).toMatchObject({ fullLayers: 4, slidingLayers: 0, chargedLayers: 4 });
  });

  it("counts a Jamba Mamba layer as in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj and the Δ/B/C norms", () => {
    const a = parseHfConfig(fixture("jamba-1.5-mini").config);
    const H = 4096;
    const D = 2 * H; // mamba_expand 2
    const handCount =
      H * 2 * D + // in_proj, no bias (mamba_proj_bias false)
      (D * 4 + D) + // depthwise conv1d, kernel 4, with bias
      D * (256 + 2 * 16) + // x_proj to Δ rank 256, B and C of state 16
      (256 * D + D) + // dt_proj with bias
      D * 16 + // A_log
      D + // D
      D * H + // out_proj
      (256 + 16 + 16); // dt/b/c layernorms
    expect(ssmLayerParameters(a.ssm!, H)).toBe(handCount);
    expect(countParameters(a).ssm).toBe(28 * handCount);
  });

  it("charges Qwen3.5's KV cache for its 10 gated full-attention layers out of 40", () => {
    const f = fixture("qwen3.5-18b-reap-a3b");
    const a = parseHfConfig(f.config);
    expect(a.layers.filter((l) => l.mixer === "gated-deltanet")).toHaveLength(30);
    expect(a.attention.outputGate).toBe(true);
    // 10 layers × 2 × 2 KV heads × 256 head dim × 2 bytes
    expect(bf16Kv(f.config)).toBe(10 * 2 * 2 * 256 * 2);
  });

  it("reads Nemotron-H's pattern as 24 Mamba-2, 4 attention and 24 MLP-only layers, KV only for the 4", () => {
    const a = parseHfConfig(NEMOTRON_H_8B);
    const count = (pred: (l: (typeof a.layers)[number]) => boolean): number => a.layers.filter(pred).length;
    expect([count((l) => l.mixer === "mamba2"), count((l) => l.mixer === "attention"), count((l) => l.mlp === "dense")]).toEqual([24, 4, 24]);
    expect(count((l) => l.mixer === "none" && l.mlp === "none")).toBe(0);
    expect(bf16Kv(NEMOTRON_H_8B)).toBe(4 * 2 * 8 * 128 * 2);
  });

  it("counts a Mamba-2 layer of Nemotron-H-8B by hand: in_proj, conv1d, dt_bias/A_log/D, gated norm, out_proj", () => {
    const a = parseHfConfig(NEMOTRON_H_8B);
    const H = 4096;
    const D = 128 * 64; // heads × head dim
    const convDim = D + 2 * 8 * 128; // x, B and C over 8 groups of state 128
    const handCount = H * (D + convDim + 128) + (convDim * 4 + convDim) + 3 * 128 + D + D * H;
    expect(ssmLayerParameters(a.ssm!, H)).toBe(handCount);
    const p = countParameters(a);
    expect(p.ssm).toBe(24 * handCount);
    // Plain relu² MLPs (up and down only) in the 24 MLP layers, one norm per layer.
    expect(p.denseMlp).toBe(24 * 2 * H * 21504);
    expect(p.norms).toBe(52 * H + H);
  });

  // Granite-4.0-H-Tiny's config.json fields as copied in a GitHub test suite ("verbatim from the
  // published config.json, minus the fields the importer does not read"; code-search file id 65865534003).
  const graniteTiny = {
    model_type: "granitemoehybrid",
    hidden_size: 1536,
    num_hidden_layers: 40,
    num_attention_heads: 12,
    num_key_value_heads: 4,
    intermediate_size: 512,
    shared_intermediate_size: 1024,
    num_local_experts: 64,
    num_experts_per_tok: 6,
    vocab_size: 100352,
    tie_word_embeddings: true,
    mamba_d_state: 128,
    mamba_n_groups: 1,
    mamba_n_heads: 48,
    mamba_d_head: 64,
    mamba_expand: 2,
    mamba_d_conv: 4,
    mamba_chunk_size: 256,
    max_position_embeddings: 131072,
    layer_types: [
      ...Array<string>(5).fill("mamba"), "attention", ...Array<string>(9).fill("mamba"), "attention",
      ...Array<string>(9).fill("mamba"), "attention", ...Array<string>(9).fill("mamba"), "attention", ...Array<string>(4).fill("mamba"),
    ],
  };

  it("charges Granite-4.0-H-Tiny's KV cache for its 4 attention layers of 40, with 64 experts and a shared MLP in every layer", () => {
    const a = parseHfConfig(graniteTiny);
    expect(a.layers.flatMap((l, i) => (l.attention === "full" ? [i] : []))).toEqual([5, 15, 25, 35]);
    expect(a.layers.every((l) => l.mlp === "moe")).toBe(true);
    // 4 layers × 2 × 4 KV heads × 128 head dim × 2 bytes
    expect(bf16Kv(graniteTiny)).toBe(4 * 2 * 4 * 128 * 2);
    const p = countParameters(a);
    expect(p.sharedExperts).toBe(40 * 3 * 1536 * 1024);
    expect(p.experts).toBe(40 * 64 * 3 * 1536 * 512);
    // Mamba-2: 48 heads × 64 = 3072 inner, one group of state 128, conv with bias (the default).
    const convDim = 3072 + 2 * 128;
    expect(p.ssm).toBe(36 * (1536 * (3072 + convDim + 48) + convDim * 5 + 3 * 48 + 3072 + 3072 * 1536));
  });

  it("reads the dense Granite-4.0-H-1B (no routed experts) through its shared MLP", () => {
    const a = parseHfConfig({ ...graniteTiny, intermediate_size: 4096, shared_intermediate_size: 4096, num_local_experts: 0, num_experts_per_tok: 0 });
    expect(a.moe).toBeNull();
    expect(a.denseIntermediateSize).toBe(4096);
    expect(countParameters(a).denseMlp).toBe(40 * 3 * 1536 * 4096);
  });
});

describe("plain-MLP, parallel-block and learned-position families", () => {
  it("counts GPT-2's learned positions in the embedding and its stored causal masks apart from the parameters", () => {
    const a = parseHfConfig(fixture("gpt2").config);
    const p = countParameters(a);
    expect(p.embedding).toBe(50257 * 768 + 1024 * 768);
    expect(p.lmHead).toBe(0);
    expect(p.storedBuffers).toBe(12 * 1024 * 1024);
    expect(p.total).toBe(124439808); // arXiv 2502.00706 Table 4
  });

  it("gives Falcon's old parallel block one LayerNorm and the new decoder architecture two", () => {
    const base = { model_type: "falcon", hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 100, parallel_attn: true };
    const old = countParameters(parseHfConfig({ ...base, multi_query: true }));
    const newArch = countParameters(parseHfConfig({ ...base, new_decoder_architecture: true, num_kv_heads: 2 }));
    // LayerNorm weight + bias per norm; final norm too.
    expect(old.norms).toBe(2 * 1 * 128 + 128);
    expect(newArch.norms).toBe(2 * 2 * 128 + 128);
    // Multi-query: one KV head of 16 dims.
    expect(old.attention).toBe(2 * (64 * (64 + 2 * 16) + 64 * 64));
  });

  it("keeps partial rotary out of the parameter count but shrinks phi-2's rope cache to 32 of 80 dims", () => {
    const cfg = fixture("phi-2").config;
    const partial = parseHfConfig(cfg);
    const full = parseHfConfig({ ...cfg, partial_rotary_factor: 1 });
    expect(countParameters(partial).total).toBe(countParameters(full).total);
    const diff = weightMemory(full, "bf16").bytesPerGpu - weightMemory(partial, "bf16").bytesPerGpu;
    expect(diff).toBe(2048 * (80 - 32) * 2);
  });
});

describe("mixed-precision checkpoints", () => {
  it("counts Mamba layers an AWQ checkpoint leaves unquantised (modules_to_not_convert) at 16 bits", () => {
    const cfg = fixture("jamba-1.5-mini").config;
    const q = { quant_method: "awq", bits: 4, group_size: 128 };
    const all = parseHfConfig({ ...cfg, quantization_config: q });
    const kept = parseHfConfig({ ...cfg, quantization_config: { ...q, modules_to_not_convert: ["mamba"] } });
    const ssm = countParameters(all).ssm;
    const extra = weightMemory(kept, "awq").bytesPerGpu - weightMemory(all, "awq").bytesPerGpu;
    // Every Mamba parameter moves from 4-bit AWQ (0.5195 bytes) to 2 bytes.
    expect(extra).toBeCloseTo(ssm * (2 - (0.5 + 2 / 128 + 0.5 / 128)), -3);
  });
});

describe("bounds on the new fields", () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ["a pattern shorter than the layers", { hybrid_override_pattern: "M*M" }, /hybrid_override_pattern: "M\*M" must list one of "M", "\*", "-", "E" for each of the 52 layers/],
    ["an unknown layer kind", { hybrid_override_pattern: NEMOTRON_H_8B.hybrid_override_pattern.replace("*", "X") }, /hybrid_override_pattern/],
    ["a negative state size", { ssm_state_size: -1 }, /ssm_state_size: -1 is outside the allowed range 1–1048576/],
    ["a fractional head count", { mamba_num_heads: 1.5 }, /mamba_num_heads: 1\.5 is outside the allowed range/],
    ["a rotary share above 1", { partial_rotary_factor: 2 }, /partial_rotary_factor: 2 is outside the allowed range 0–1/],
  ])("refuses %s, naming the field", (_, change, message) => {
    expect(() => parseHfConfig({ ...NEMOTRON_H_8B, ...change }, "nemotron.json")).toThrow(ModelConfigError);
    expect(() => parseHfConfig({ ...NEMOTRON_H_8B, ...change }, "nemotron.json")).toThrow(message);
  });

  it("refuses a Nemotron-H config without its layer pattern", () => {
    const { hybrid_override_pattern: _, ...rest } = NEMOTRON_H_8B;
    expect(() => parseHfConfig(rest, "n.json")).toThrow(/n\.json\.hybrid_override_pattern: missing/);
  });
});

describe("Llama 4 style MoE with a shared expert and chunked attention", () => {
  // Field values of Llama-4-Scout's text config as quoted in a vLLM issue (a text-only fine-tune's
  // config.json, code-search file id 56810493199) and a vLLM test's copy (file id 67089035748).
  const scoutText = {
    model_type: "llama4_text",
    hidden_size: 5120,
    head_dim: 128,
    intermediate_size: 8192,
    intermediate_size_mlp: 16384,
    interleave_moe_layer_step: 1,
    num_hidden_layers: 48,
    num_attention_heads: 40,
    num_key_value_heads: 8,
    num_local_experts: 16,
    num_experts_per_tok: 1,
    attention_chunk_size: 8192,
    no_rope_layers: Array.from({ length: 12 }, () => [1, 1, 1, 0]).flat(),
    max_position_embeddings: 262144,
    vocab_size: 202048,
    tie_word_embeddings: false,
  };

  it("counts 16 routed experts plus one shared expert of the experts' width in each of the 48 MoE layers", () => {
    const p = countParameters(parseHfConfig(scoutText));
    const expert = 3 * 5120 * 8192;
    expect(p.experts).toBe(48 * 16 * expert);
    expect(p.sharedExperts).toBe(48 * expert);
    expect(p.router).toBe(48 * 5120 * 16);
    expect(p.denseMlp).toBe(0);
    // One expert of 16 routed per token, the shared one always.
    expect(p.total - p.active).toBe(48 * 15 * expert);
  });

  it("keeps 8,192-token chunks in the 36 RoPE layers and the full context in the 12 NoPE layers", () => {
    const a = parseHfConfig(scoutText);
    expect(a.layers.filter((l) => l.attention === "sliding" && l.slidingWindow === 8192)).toHaveLength(36);
    expect(a.layers.filter((l) => l.attention === "full")).toHaveLength(12);
    const kv = kvLayout(a, "auto", "bf16");
    expect(kv.bytesPerLayerToken).toBe(2 * 8 * 128 * 2);
    expect(kv).toMatchObject({ fullLayers: 12, slidingLayers: 36 });
  });

  it("reads the dense layers of an interleaved model at intermediate_size_mlp", () => {
    const a = parseHfConfig({ ...scoutText, interleave_moe_layer_step: 2 });
    expect(a.layers.filter((l) => l.mlp === "moe")).toHaveLength(24);
    expect(countParameters(a).denseMlp).toBe(24 * 3 * 5120 * 16384);
  });
});
