/**
 * Reads a Hugging Face `config.json` into a normalised architecture description (parameters are
 * counted in parameters.ts). Pure: no I/O, no `@pulumi/*`.
 *
 * Supported families: dense decoder-only transformers (Llama, Mistral, Qwen2/Qwen3, Gemma 2/3,
 * Phi-3/4, Granite, OLMo 2, Cohere), plain-MLP and parallel-block families (GPT-2, GPT-BigCode,
 * GPT-J, GPT-NeoX/Pythia, Phi-1/2, Falcon, BLOOM, StarCoder2, OPT), mixture-of-experts (Mixtral,
 * Qwen2/3-MoE, gpt-oss, GraniteMoE, Jamba) with shared experts, DeepSeek V2/V3 with multi-head
 * latent attention (MLA), and hybrid attention/state-space models (Jamba, Granite 4, Nemotron-H,
 * Bamba, Qwen3-Next) whose Mamba or DeltaNet layers keep no KV cache. Family layouts live in
 * families.ts. Multimodal configs (`text_config` + `vision_config`) are read through their text
 * model; a SigLIP/ViT-style vision tower is counted separately.
 */

import { firstNum, FIX, isObject, ModelConfigError, num, optNum, VISION_RANGES, type Json } from "./configFields";
import { familyTraits, hybridLayout, layerSpecs, TIED_BY_DEFAULT, type FamilyTraits, type Mixer, type SsmSpec } from "./families";

export { ModelConfigError } from "./configFields";
export type { FamilyTraits, Mixer, SsmSpec } from "./families";
export { countParameters, type ParameterBreakdown } from "./parameters";

/** How a model's configuration looks after normalisation. All sizes are element counts. */
export interface ModelArchitecture {
  /** `model_type` of the text model, e.g. "llama", "qwen3_moe". */
  modelType: string;
  hiddenSize: number;
  numLayers: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  /** Longest context the model was trained for (`max_position_embeddings`). */
  maxPositionEmbeddings: number;
  attention: AttentionSpec;
  /** Per decoder layer: attention span and MLP kind. */
  layers: LayerSpec[];
  /** Dense MLP (also the dense layers of an MoE model). */
  denseIntermediateSize: number;
  /** MLP with a gate (SwiGLU/GeGLU: three matrices) or plain (two matrices). */
  gatedMlp: boolean;
  mlpBias: boolean;
  moe: MoeSpec | null;
  /** RMS/LayerNorm vectors per decoder layer (2 for Llama, 4 for Gemma 2/3, 1 for parallel blocks). */
  normsPerLayer: number;
  /** Block layout, biases, learned positions and stored buffers of the family (families.ts). */
  family: FamilyTraits;
  /** Mixer sizes of the state-space / linear-attention layers of a hybrid model, or null. */
  ssm: SsmSpec | null;
  /** Parameters of a vision tower and projector, 0 for text-only models. */
  visionParameters: number;
  /** `torch_dtype` / `dtype` of the checkpoint, e.g. "bfloat16". */
  checkpointDtype: string;
  /** Quantisation the checkpoint ships with (from `quantization_config`), or null. */
  checkpointQuantization: CheckpointQuantization | null;
}

export interface AttentionSpec {
  kind: "mha" | "gqa" | "mla";
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Biases on q/k/v projections (Qwen2, gpt-oss). */
  qkvBias: boolean;
  /** Bias on the output projection. */
  oBias: boolean;
  /** Per-head RMSNorm on q and k (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** q_proj also yields a sigmoid output gate per head (Qwen3-Next): twice the query width. */
  outputGate: boolean;
  /** Learned attention-sink logits per head (gpt-oss). */
  sinks: boolean;
  mla: MlaSpec | null;
}

export interface MlaSpec {
  qLoraRank: number | null;
  kvLoraRank: number;
  qkRopeHeadDim: number;
  qkNopeHeadDim: number;
  vHeadDim: number;
}

export interface MoeSpec {
  numExperts: number;
  expertsPerToken: number;
  expertIntermediateSize: number;
  /** Number of always-on shared experts (DeepSeek) of `expertIntermediateSize` each. */
  sharedExperts: number;
  /** Width of a single shared expert MLP (Qwen2-MoE), 0 when none. */
  sharedExpertIntermediateSize: number;
  /** Qwen2-MoE gates its shared expert with a 1-output linear layer. */
  sharedExpertGate: boolean;
  /** Experts with a gate (three matrices) or plain up/down (Nemotron-H: two). */
  expertGated: boolean;
  /** Router bias vector (gpt-oss; DeepSeek V3's e_score_correction_bias). */
  routerBias: boolean;
  /** Biases inside each expert (gpt-oss). */
  expertBias: boolean;
}

export interface LayerSpec {
  /**
   * Sliding-window layers keep at most `slidingWindow` tokens; "none" marks a layer without
   * attention (a Mamba or DeltaNet mixer, or Nemotron-H's MLP-only layers): no per-token KV cache.
   */
  attention: "full" | "sliding" | "none";
  slidingWindow: number | null;
  /** What mixes tokens in this layer. */
  mixer: Mixer;
  mlp: "dense" | "moe" | "none";
}

export interface CheckpointQuantization {
  method: string;
  bits: number | null;
  /** Whether the quantised weights are floating point (fp8/fp4) rather than integers; null when unknown. */
  floatWeights: boolean | null;
  groupSize: number | null;
  /** Module name fragments that stay unquantised. */
  excluded: string[];
}

/**
 * Defaults of `transformers` config classes for fields that real config.json files omit (they
 * store only what differs from the class defaults). Gemma 3's `text_config`, for one, has no
 * vocab_size, head_dim or max_position_embeddings. Source: transformers
 * `models/gemma3/configuration_gemma3.py` (Gemma3TextConfig) and `models/gemma2/configuration_gemma2.py`.
 */
const MODEL_TYPE_DEFAULTS: Readonly<Record<string, Json>> = {
  gemma3_text: {
    vocab_size: 262208,
    head_dim: 256,
    max_position_embeddings: 131072,
    sliding_window: 4096,
    sliding_window_pattern: 6,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    tie_word_embeddings: true,
  },
  gemma2: { vocab_size: 256000, head_dim: 256, max_position_embeddings: 8192, sliding_window: 4096, tie_word_embeddings: true },
};
const TYPE_DEFAULTS: ReadonlyMap<string, Json> = new Map([...Object.entries(MODEL_TYPE_DEFAULTS), ["gemma3", MODEL_TYPE_DEFAULTS.gemma3_text!]]);

/**
 * Parses a Hugging Face `config.json` object (already JSON-decoded) into a
 * {@link ModelArchitecture}. Throws {@link ModelConfigError} naming the missing or bad field.
 */
export function parseHfConfig(raw: unknown, where = "config"): ModelArchitecture {
  if (!isObject(raw)) throw new ModelConfigError(`${where}: expected a JSON object`);
  const outer = raw;
  const rawText = isObject(outer.text_config) ? outer.text_config : outer;
  const textWhere = rawText === outer ? where : `${where}.text_config`;
  let modelType = String(rawText.model_type ?? outer.model_type ?? "unknown");
  if (modelType === "gemma3" && rawText !== outer) modelType = "gemma3_text";
  // Own properties only: a model_type such as "constructor" or "__proto__" has no defaults.
  const text: Json = { ...(TYPE_DEFAULTS.get(modelType) ?? {}), ...rawText };
  const opt = (key: string): number | undefined => optNum(text, key, textWhere);
  const first = (keys: string[]): number | undefined => firstNum(text, keys, textWhere);

  const H = first(["hidden_size", "d_model", "n_embd", "n_embed"]) ?? num(text, "hidden_size", textWhere);
  const numLayers = first(["num_hidden_layers", "n_layer", "num_layers"]) ?? num(text, "num_hidden_layers", textWhere);
  const numHeads = first(["num_attention_heads", "n_head"]) ?? num(text, "num_attention_heads", textWhere);
  const vocabSize = opt("vocab_size") ?? optNum(outer, "vocab_size", where) ?? num(text, "vocab_size", textWhere);
  const numKvHeads = kvHeadsOf(text, modelType, numHeads, textWhere);
  if (numKvHeads > numHeads) {
    throw new ModelConfigError(`${textWhere}.num_key_value_heads: ${numKvHeads} is more than num_attention_heads (${numHeads}); the allowed range is 1–${numHeads}; ${FIX}`);
  }
  const givenHeadDim = first(["head_dim", "attention_head_dim"]);
  if (givenHeadDim === undefined && !Number.isInteger(H / numHeads)) {
    throw new ModelConfigError(`${textWhere}.num_attention_heads: ${numHeads} does not divide hidden_size (${H}) and there is no head_dim; give head_dim or check the file (${FIX})`);
  }
  const headDim = givenHeadDim ?? H / numHeads;
  const tieRaw = text.tie_word_embeddings ?? outer.tie_word_embeddings;
  const tieWordEmbeddings = typeof tieRaw === "boolean" ? tieRaw : TIED_BY_DEFAULT.has(modelType);
  const maxPositionEmbeddings = first(["max_position_embeddings", "max_sequence_length", "n_positions", "seq_length"]) ?? 4096;
  const family = familyTraits({ text, modelType, where: textWhere, hiddenSize: H, numLayers, numHeads, numKvHeads, headDim, maxPositions: maxPositionEmbeddings });

  // Multi-head latent attention (DeepSeek V2/V3).
  let mla: MlaSpec | null = null;
  const kvLoraRank = opt("kv_lora_rank");
  if (kvLoraRank !== undefined && kvLoraRank > 0) {
    mla = {
      qLoraRank: opt("q_lora_rank") ?? null,
      kvLoraRank,
      qkRopeHeadDim: num(text, "qk_rope_head_dim", textWhere),
      qkNopeHeadDim: num(text, "qk_nope_head_dim", textWhere),
      vHeadDim: num(text, "v_head_dim", textWhere),
    };
  }

  const attention: AttentionSpec = {
    kind: mla ? "mla" : numKvHeads === numHeads ? "mha" : "gqa",
    numHeads,
    numKvHeads: mla ? 1 : numKvHeads,
    headDim: mla ? mla.qkNopeHeadDim + mla.qkRopeHeadDim : headDim,
    qkvBias: family.qkvBias,
    oBias: family.oBias,
    qkNorm: family.qkNormElements > 0,
    outputGate: modelType === "qwen3_next" || text.attn_output_gate === true,
    sinks: modelType === "gpt_oss",
    mla,
  };

  // Mixture of experts.
  let moe: MoeSpec | null = null;
  const numExperts = first(["num_local_experts", "num_experts", "n_routed_experts"]);
  const sharedExpertIntermediateSize = first(["shared_expert_intermediate_size", "moe_shared_expert_intermediate_size", "shared_intermediate_size"]) ?? 0;
  if (numExperts !== undefined && numExperts > 1) {
    const expertsPerToken = first(["num_experts_per_tok", "experts_per_token", "num_experts_per_token"]) ?? num(text, "num_experts_per_tok", textWhere);
    if (expertsPerToken > numExperts) {
      throw new ModelConfigError(`${textWhere}.num_experts_per_tok: ${expertsPerToken} is more than the ${numExperts} experts; the allowed range is 1–${numExperts}; ${FIX}`);
    }
    const expertIntermediateSize = opt("moe_intermediate_size") ?? opt("intermediate_size") ?? num(text, "moe_intermediate_size", textWhere);
    moe = {
      numExperts,
      expertsPerToken,
      expertIntermediateSize,
      // Llama 4 runs one shared expert of the routed experts' width beside them.
      sharedExperts: opt("n_shared_experts") ?? (modelType.startsWith("llama4") ? 1 : 0),
      sharedExpertIntermediateSize,
      sharedExpertGate: (modelType === "qwen2_moe" || modelType === "qwen3_next" || modelType.startsWith("qwen3_5")) && sharedExpertIntermediateSize > 0,
      expertGated: modelType !== "nemotron_h",
      routerBias: modelType === "gpt_oss" || text.topk_method === "noaux_tc" || modelType === "nemotron_h",
      expertBias: modelType === "gpt_oss",
    };
    // Nemotron-H states n_shared_experts but sizes the one shared expert separately.
    if (modelType === "nemotron_h" && sharedExpertIntermediateSize > 0) moe.sharedExperts = 0;
  }
  // Granite MoE models without routed experts are dense through their "shared" MLP.
  const sharedOnly = modelType.startsWith("granitemoe") && moe === null ? opt("shared_intermediate_size") : undefined;
  // Plain MLPs default to 4 × hidden (GPT-2, BLOOM); an all-MoE model (Qwen3.5 MoE) may state no dense width.
  const plainDefault = family.gatedMlp ? (moe ? 0 : undefined) : 4 * H;
  const denseIntermediateSize =
    sharedOnly ?? first(["intermediate_size_mlp", "intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size"]) ?? plainDefault ?? num(text, "intermediate_size", textWhere);

  const hybrid = hybridLayout(text, modelType, H, numLayers, textWhere);
  const layers = layerSpecs(text, modelType, numLayers, moe !== null, textWhere, hybrid);
  const cfgDtype = text.torch_dtype ?? outer.torch_dtype ?? text.dtype ?? outer.dtype;

  return {
    modelType,
    hiddenSize: H,
    numLayers,
    vocabSize,
    tieWordEmbeddings,
    maxPositionEmbeddings,
    attention,
    layers,
    denseIntermediateSize,
    gatedMlp: family.gatedMlp,
    mlpBias: family.mlpBias,
    moe,
    normsPerLayer: family.normsPerLayer,
    family,
    ssm: hybrid?.ssm ?? null,
    visionParameters: isObject(outer.vision_config) ? visionTowerParameters(outer.vision_config, H, `${where}.vision_config`) : 0,
    checkpointDtype: typeof cfgDtype === "string" ? cfgDtype : "bfloat16",
    checkpointQuantization: readQuantizationConfig(outer.quantization_config ?? text.quantization_config),
  };
}

/** KV heads: GQA's num_key_value_heads, Falcon's num_kv_heads / multi_query, GPT-BigCode's multi_query. */
function kvHeadsOf(text: Json, modelType: string, numHeads: number, where: string): number {
  const given = firstNum(text, ["num_key_value_heads", "num_kv_heads"], where);
  if (modelType === "falcon" && text.new_decoder_architecture !== true) return text.multi_query === false ? numHeads : 1;
  if (modelType === "gpt_bigcode") return text.multi_query === false ? numHeads : 1;
  return given ?? numHeads;
}

function readQuantizationConfig(q: unknown): CheckpointQuantization | null {
  if (!isObject(q)) return null;
  const method = String(q.quant_method ?? q.quant_algo ?? "unknown").toLowerCase();
  // compressed-tensors describes its weights per config group: { weights: { num_bits, type } }.
  let groupBits: number | undefined;
  let groupFloat: boolean | null = null;
  if (isObject(q.config_groups)) {
    for (const g of Object.values(q.config_groups)) {
      const w = isObject(g) && isObject(g.weights) ? g.weights : undefined;
      if (w) {
        groupBits = optNum(w, "num_bits") ?? groupBits;
        if (typeof w.type === "string") groupFloat = w.type === "float";
      }
    }
  }
  const floatMethod = method === "fp8" || method === "fbgemm_fp8" || method === "mxfp4" || method === "modelopt_fp4";
  const bits = optNum(q, "bits") ?? optNum(q, "w_bit") ?? groupBits ?? (method.includes("fp8") ? 8 : method.includes("fp4") ? 4 : null);
  const groupSize = optNum(q, "group_size") ?? optNum(q, "q_group_size") ?? null;
  const excludedRaw = q.modules_to_not_convert ?? q.ignore ?? q.ignored_layers ?? [];
  const excluded = Array.isArray(excludedRaw) ? excludedRaw.map(String) : [];
  return { method, bits, floatWeights: floatMethod ? true : groupFloat, groupSize, excluded };
}

/** Parameters of a ViT/SigLIP vision tower plus a linear projector into the text model. */
function visionTowerParameters(v: Json, textHidden: number, where: string): number {
  const opt = (key: string): number | undefined => optNum(v, key, where, VISION_RANGES);
  const H = opt("hidden_size") ?? 0;
  const I = opt("intermediate_size") ?? 4 * H;
  const L = opt("num_hidden_layers") ?? 0;
  const patch = opt("patch_size") ?? 14;
  const image = opt("image_size") ?? 224;
  const channels = opt("num_channels") ?? 3;
  if (H === 0 || L === 0) return 0;
  const perLayer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * 2 * H;
  const patchEmbed = channels * patch * patch * H + H;
  const positions = Math.floor(image / patch) ** 2 * H;
  const postNorm = 2 * H;
  const projector = H + H * textHidden;
  return L * perLayer + patchEmbed + positions + postNorm + projector;
}
