/**
 * Reads a Hugging Face `config.json` into a normalised architecture description and counts its
 * parameters. Pure: no I/O, no `@pulumi/*`.
 *
 * Supported families: dense decoder-only transformers (Llama, Mistral, Qwen2/Qwen3, Gemma 2/3,
 * Phi-3/4, OPT-style MHA), mixture-of-experts (Mixtral, Qwen2-MoE, Qwen3-MoE, gpt-oss) and
 * DeepSeek V2/V3 with multi-head latent attention (MLA). Multimodal configs (`text_config` +
 * `vision_config`) are read through their text model; a SigLIP/ViT-style vision tower is counted
 * separately.
 */

import { firstNum, FIX, isObject, ModelConfigError, num, optNum, VISION_RANGES, type Json } from "./configFields";

export { ModelConfigError } from "./configFields";

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
  /** RMS/LayerNorm vectors per decoder layer (2 for Llama, 4 for Gemma 2/3). */
  normsPerLayer: number;
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
  /** Router bias vector (gpt-oss; DeepSeek V3's e_score_correction_bias). */
  routerBias: boolean;
  /** Biases inside each expert (gpt-oss). */
  expertBias: boolean;
}

export interface LayerSpec {
  /** Sliding-window layers keep at most `slidingWindow` tokens. */
  attention: "full" | "sliding";
  slidingWindow: number | null;
  mlp: "dense" | "moe";
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

/** Parameter counts by part; `total` and `active` are sums over the parts. */
export interface ParameterBreakdown {
  embedding: number;
  lmHead: number;
  /** Attention projections (weights and biases), all layers. */
  attention: number;
  /** Dense MLPs, all dense layers. */
  denseMlp: number;
  /** Routed experts, all MoE layers. */
  experts: number;
  /** Shared experts and their gates. */
  sharedExperts: number;
  router: number;
  /** Norm vectors and attention sinks. */
  norms: number;
  vision: number;
  total: number;
  /** Parameters used per token: routed experts scaled by experts-per-token / experts. */
  active: number;
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

/** Model types whose config default is tied input/output embeddings. */
const TIED_BY_DEFAULT = new Set(["gemma", "gemma2", "gemma3", "gemma3_text", "opt"]);

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

  const H = first(["hidden_size", "d_model", "n_embd"]) ?? num(text, "hidden_size", textWhere);
  const numLayers = first(["num_hidden_layers", "n_layer", "num_layers"]) ?? num(text, "num_hidden_layers", textWhere);
  const numHeads = first(["num_attention_heads", "n_head"]) ?? num(text, "num_attention_heads", textWhere);
  const vocabSize = opt("vocab_size") ?? optNum(outer, "vocab_size", where) ?? num(text, "vocab_size", textWhere);
  const numKvHeads = opt("num_key_value_heads") ?? numHeads;
  if (numKvHeads > numHeads) {
    throw new ModelConfigError(`${textWhere}.num_key_value_heads: ${numKvHeads} is more than num_attention_heads (${numHeads}); the allowed range is 1–${numHeads}; ${FIX}`);
  }
  const givenHeadDim = opt("head_dim");
  if (givenHeadDim === undefined && !Number.isInteger(H / numHeads)) {
    throw new ModelConfigError(`${textWhere}.num_attention_heads: ${numHeads} does not divide hidden_size (${H}) and there is no head_dim; give head_dim or check the file (${FIX})`);
  }
  const headDim = givenHeadDim ?? H / numHeads;
  const tieRaw = text.tie_word_embeddings ?? outer.tie_word_embeddings;
  const tieWordEmbeddings = typeof tieRaw === "boolean" ? tieRaw : TIED_BY_DEFAULT.has(modelType);
  const maxPositionEmbeddings = first(["max_position_embeddings", "max_sequence_length", "n_positions", "seq_length"]) ?? 4096;

  const isQwen2 = modelType === "qwen2" || modelType === "qwen2_moe";
  const isGptOss = modelType === "gpt_oss";
  const isGemma = modelType.startsWith("gemma");
  const isGemma3 = modelType.startsWith("gemma3");
  const isOpt = modelType === "opt";
  const attentionBias = text.attention_bias === true || isQwen2 || isGptOss || isOpt;

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
    qkvBias: attentionBias,
    oBias: (text.attention_bias === true && !isQwen2) || isGptOss || isOpt,
    qkNorm: modelType.startsWith("qwen3") || isGemma3,
    sinks: isGptOss,
    mla,
  };

  // Mixture of experts.
  let moe: MoeSpec | null = null;
  const numExperts = first(["num_local_experts", "num_experts", "n_routed_experts"]);
  if (numExperts !== undefined && numExperts > 1) {
    const expertsPerToken = first(["num_experts_per_tok", "experts_per_token", "num_experts_per_token"]) ?? num(text, "num_experts_per_tok", textWhere);
    if (expertsPerToken > numExperts) {
      throw new ModelConfigError(`${textWhere}.num_experts_per_tok: ${expertsPerToken} is more than the ${numExperts} experts; the allowed range is 1–${numExperts}; ${FIX}`);
    }
    const expertIntermediateSize = opt("moe_intermediate_size") ?? opt("intermediate_size") ?? num(text, "moe_intermediate_size", textWhere);
    const sharedExpertIntermediateSize = opt("shared_expert_intermediate_size") ?? 0;
    moe = {
      numExperts,
      expertsPerToken,
      expertIntermediateSize,
      sharedExperts: opt("n_shared_experts") ?? 0,
      sharedExpertIntermediateSize,
      sharedExpertGate: modelType === "qwen2_moe" && sharedExpertIntermediateSize > 0,
      routerBias: isGptOss || text.topk_method === "noaux_tc",
      expertBias: isGptOss,
    };
  }
  const denseIntermediateSize = opt("intermediate_size") ?? opt("ffn_dim") ?? (isOpt ? 4 * H : num(text, "intermediate_size", textWhere));

  const layers = layerSpecs(text, modelType, numLayers, moe !== null, textWhere);
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
    gatedMlp: !isOpt,
    mlpBias: text.mlp_bias === true || isOpt,
    moe,
    normsPerLayer: isGemma && modelType !== "gemma" ? 4 : 2,
    visionParameters: isObject(outer.vision_config) ? visionTowerParameters(outer.vision_config, H, `${where}.vision_config`) : 0,
    checkpointDtype: typeof cfgDtype === "string" ? cfgDtype : "bfloat16",
    checkpointQuantization: readQuantizationConfig(outer.quantization_config ?? text.quantization_config),
  };
}

function layerSpecs(text: Json, modelType: string, numLayers: number, hasMoe: boolean, where: string): LayerSpec[] {
  const opt = (key: string): number | undefined => optNum(text, key, where);
  const window = opt("sliding_window") ?? null;
  const layerTypes = Array.isArray(text.layer_types) ? (text.layer_types as unknown[]) : null;
  const pattern = opt("sliding_window_pattern");
  const useSliding = text.use_sliding_window;
  const maxWindowLayers = opt("max_window_layers");
  const firstDense = opt("first_k_dense_replace") ?? 0;
  const moeFreq = opt("moe_layer_freq") ?? 1;
  const sparseStep = opt("decoder_sparse_step") ?? 1;
  const mlpOnly = new Set(Array.isArray(text.mlp_only_layers) ? (text.mlp_only_layers as unknown[]).map(Number) : []);

  const out: LayerSpec[] = [];
  for (let i = 0; i < numLayers; i++) {
    let sliding = false;
    if (window !== null) {
      if (layerTypes && typeof layerTypes[i] === "string") {
        sliding = (layerTypes[i] as string).includes("sliding");
      } else if (modelType === "gemma2") {
        sliding = i % 2 === 0;
      } else if (modelType.startsWith("gemma3")) {
        sliding = (i + 1) % (pattern ?? 6) !== 0;
      } else if (modelType === "mistral" || modelType === "mixtral") {
        sliding = true;
      } else if (useSliding === true) {
        // Qwen2-style: layers from max_window_layers on use the window.
        sliding = maxWindowLayers === undefined || i >= maxWindowLayers;
      }
    }
    let mlp: "dense" | "moe" = "dense";
    if (hasMoe) {
      const deepseekDense = i < firstDense || i % moeFreq !== 0;
      const qwenDense = mlpOnly.has(i) || (i + 1) % sparseStep !== 0;
      mlp = deepseekDense || qwenDense ? "dense" : "moe";
    }
    out.push({ attention: sliding ? "sliding" : "full", slidingWindow: sliding ? window : null, mlp });
  }
  return out;
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

/** Counts parameters per part, as the checkpoint stores them (before any quantisation). */
export function countParameters(a: ModelArchitecture): ParameterBreakdown {
  const H = a.hiddenSize;
  const att = a.attention;
  let attentionPerLayer: number;
  if (att.mla) {
    const m = att.mla;
    const qHead = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const q = m.qLoraRank !== null ? H * m.qLoraRank + m.qLoraRank + m.qLoraRank * att.numHeads * qHead : H * att.numHeads * qHead;
    const kv = H * (m.kvLoraRank + m.qkRopeHeadDim) + m.kvLoraRank + m.kvLoraRank * att.numHeads * (m.qkNopeHeadDim + m.vHeadDim);
    attentionPerLayer = q + kv + att.numHeads * m.vHeadDim * H;
  } else {
    const qOut = att.numHeads * att.headDim;
    const kvOut = att.numKvHeads * att.headDim;
    attentionPerLayer = H * qOut + 2 * H * kvOut + qOut * H;
    if (att.qkvBias) attentionPerLayer += qOut + 2 * kvOut;
    if (att.oBias) attentionPerLayer += H;
  }
  const qkNorm = att.qkNorm ? 2 * att.headDim : 0;
  const sinks = att.sinks ? att.numHeads : 0;

  const mlpParams = (inter: number, bias: boolean): number =>
    (a.gatedMlp ? 3 : 2) * H * inter + (bias ? (a.gatedMlp ? 2 : 1) * inter + H : 0);

  let denseMlp = 0;
  let experts = 0;
  let sharedExperts = 0;
  let router = 0;
  let moeLayers = 0;
  for (const layer of a.layers) {
    if (layer.mlp === "moe" && a.moe) {
      const m = a.moe;
      moeLayers++;
      experts += m.numExperts * mlpParams(m.expertIntermediateSize, m.expertBias);
      sharedExperts += m.sharedExperts * mlpParams(m.expertIntermediateSize, false);
      if (m.sharedExpertIntermediateSize > 0) sharedExperts += mlpParams(m.sharedExpertIntermediateSize, false);
      if (m.sharedExpertGate) sharedExperts += H;
      router += H * m.numExperts + (m.routerBias ? m.numExperts : 0);
    } else {
      denseMlp += mlpParams(a.denseIntermediateSize, a.mlpBias);
    }
  }
  const normWidth = a.modelType === "opt" ? 2 * H : H;
  const norms = a.numLayers * (a.normsPerLayer * normWidth + qkNorm + sinks) + normWidth;
  const attention = a.numLayers * attentionPerLayer;
  const embedding = a.vocabSize * H + (a.modelType === "opt" ? 2050 * H : 0);
  const lmHead = a.tieWordEmbeddings ? 0 : a.vocabSize * H;
  const total = embedding + lmHead + attention + denseMlp + experts + sharedExperts + router + norms + a.visionParameters;
  const activeExperts = a.moe && moeLayers > 0 ? (experts * a.moe.expertsPerToken) / a.moe.numExperts : experts;
  return {
    embedding,
    lmHead,
    attention,
    denseMlp,
    experts,
    sharedExperts,
    router,
    norms,
    vision: a.visionParameters,
    total,
    active: total - experts + activeExperts,
  };
}
