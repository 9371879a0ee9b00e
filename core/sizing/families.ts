/**
 * Family-specific parts of reading a config.json: how a family lays out its blocks (parallel
 * attention and MLP, LayerNorm with biases, learned positions, fused projections with biases) and
 * the mixers of hybrid attention/state-space models (Mamba, Mamba-2, Gated DeltaNet). Split from
 * architecture.ts, which assembles the architecture from these pieces. Pure.
 *
 * Sources for the parameter layouts: the `transformers` modelling files of each family
 * (`models/<family>/modeling_<family>.py`), read for their `nn.Linear`, `nn.LayerNorm`,
 * `nn.Conv1d` and `nn.Parameter` shapes.
 */

import type { LayerSpec } from "./architecture";
import { FIX, ModelConfigError, optNum, shown, type Json } from "./configFields";

/** What a family does differently from a Llama-style block (pre-norm, separate attention and gated MLP). */
export interface FamilyTraits {
  /** Attention and MLP read the same normalised input and are added together (GPT-J, Falcon, GPT-NeoX, Cohere, Phi-1/2). */
  parallelBlock: boolean;
  /** Norm vectors per decoder layer. */
  normsPerLayer: number;
  /** LayerNorm with a bias vector (two vectors per norm) rather than RMSNorm (one). */
  normBias: boolean;
  /** Gated MLP (SwiGLU/GeGLU: three matrices) or plain (two). */
  gatedMlp: boolean;
  mlpBias: boolean;
  qkvBias: boolean;
  oBias: boolean;
  /** Rows of a learned position-embedding table (GPT-2, OPT, StarCoder), 0 with rotary or ALiBi. */
  learnedPositions: number;
  lmHeadBias: boolean;
  /** Norm vectors outside the layers besides the final norm (BLOOM's embedding LayerNorm). */
  extraNorms: number;
  /** Elements of q/k norms per layer: per head (Qwen3: 2 × head_dim) or over all heads (OLMo 2). */
  qkNormElements: number;
  /** Share of each head's dimensions that is rotated (phi-2: 0.4, GPT-J: rotary_dim / head_dim); 0 without RoPE. */
  rotaryFraction: number;
  /**
   * Non-parameter tensors the checkpoint stores (GPT-2's causal-mask buffers `attn.bias`, one
   * positions × positions matrix per layer): part of the safetensors total, not of the model.
   */
  storedBuffers: number;
}

/**
 * Model types whose `transformers` config class ties input and output embeddings by default, for
 * configs that omit `tie_word_embeddings`; every other type defaults to untied.
 */
export const TIED_BY_DEFAULT = new Set(["gemma", "gemma2", "gemma3", "gemma3_text", "opt", "gpt2", "gpt_bigcode", "bloom", "falcon", "starcoder2", "cohere", "cohere2"]);

export interface FamilyInputs {
  text: Json;
  modelType: string;
  where: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
}

const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);

/** Reads the traits of `modelType` from its config; unknown families get a Llama-style block. */
export function familyTraits(f: FamilyInputs): FamilyTraits {
  const { text, modelType, where, numLayers } = f;
  const opt = (key: string): number | undefined => optNum(text, key, where);
  const attentionBias = bool(text.attention_bias);
  const t: FamilyTraits = {
    parallelBlock: false,
    normsPerLayer: 2,
    normBias: false,
    gatedMlp: true,
    mlpBias: text.mlp_bias === true,
    qkvBias: attentionBias === true || modelType === "qwen2" || modelType === "qwen2_moe" || modelType === "gpt_oss",
    oBias: (attentionBias === true && modelType !== "qwen2" && modelType !== "qwen2_moe") || modelType === "gpt_oss",
    learnedPositions: 0,
    lmHeadBias: false,
    extraNorms: 0,
    qkNormElements: modelType.startsWith("qwen3") || modelType.startsWith("gemma3") ? 2 * f.headDim : 0,
    rotaryFraction: opt("partial_rotary_factor") ?? 1,
    storedBuffers: 0,
  };
  const plain = (bias: boolean): void => {
    t.normBias = true;
    t.gatedMlp = false;
    t.mlpBias = bias;
    t.qkvBias = bias;
    t.oBias = bias;
  };
  switch (modelType) {
    case "gemma2":
    case "gemma3":
    case "gemma3_text":
      t.normsPerLayer = 4;
      break;
    case "opt":
      plain(text.enable_bias !== false);
      t.learnedPositions = f.maxPositions + 2;
      t.rotaryFraction = 0;
      break;
    case "gpt2":
    case "gpt_bigcode":
      plain(true);
      t.learnedPositions = f.maxPositions;
      t.rotaryFraction = 0;
      // GPT-2's checkpoints keep each layer's causal-mask buffer; GPT-BigCode's do not.
      if (modelType === "gpt2") t.storedBuffers = numLayers * f.maxPositions * f.maxPositions;
      break;
    case "bloom":
      plain(true);
      t.extraNorms = 1;
      t.rotaryFraction = 0;
      break;
    case "gpt_neox":
      plain(true);
      t.parallelBlock = text.use_parallel_residual !== false;
      t.rotaryFraction = opt("rotary_pct") ?? 0.25;
      break;
    case "gptj":
      plain(false);
      t.mlpBias = true;
      t.parallelBlock = true;
      t.normsPerLayer = 1;
      t.lmHeadBias = true;
      t.rotaryFraction = (opt("rotary_dim") ?? f.headDim) / f.headDim;
      break;
    case "phi":
      plain(true);
      t.parallelBlock = true;
      t.normsPerLayer = 1;
      t.lmHeadBias = true;
      t.rotaryFraction = opt("partial_rotary_factor") ?? 0.5;
      break;
    case "starcoder2":
      plain(text.use_bias !== false);
      break;
    case "falcon": {
      t.normBias = true;
      t.gatedMlp = false;
      t.qkvBias = text.bias === true;
      t.oBias = text.bias === true;
      t.mlpBias = text.bias === true;
      t.parallelBlock = text.parallel_attn !== false;
      // New decoder architecture (40B, 180B): one norm for attention and one for the MLP.
      const twoNorms = text.new_decoder_architecture === true ? (opt("num_ln_in_parallel_attn") ?? 2) === 2 : !t.parallelBlock;
      t.normsPerLayer = twoNorms ? 2 : 1;
      t.rotaryFraction = text.alibi === true ? 0 : 1;
      break;
    }
    case "cohere":
    case "cohere2":
      // One LayerNorm (weight only, no bias) feeds attention and MLP in parallel; q/k norms per head.
      t.parallelBlock = true;
      t.normsPerLayer = 1;
      t.qkNormElements = text.use_qk_norm === true ? (f.numHeads + f.numKvHeads) * f.headDim : 0;
      break;
    case "olmo2":
    case "olmo3":
      t.qkNormElements = (f.numHeads + f.numKvHeads) * f.headDim;
      break;
    case "nemotron_h":
      t.normsPerLayer = 1;
      t.gatedMlp = false;
      break;
    default:
      break;
  }
  return t;
}

/** The mixer of a layer: attention (with a KV cache), a state-space or linear-attention mixer (a fixed-size state), or none. */
export type Mixer = "attention" | "mamba" | "mamba2" | "gated-deltanet" | "none";

/** Sizes of a state-space or linear-attention mixer, as its checkpoint stores them. */
export interface SsmSpec {
  kind: "mamba" | "mamba2" | "gated-deltanet";
  /** Inner width (Mamba: expand × hidden; Mamba-2: heads × head dim; DeltaNet: value heads × value head dim). */
  innerSize: number;
  stateSize: number;
  convKernel: number;
  numHeads: number;
  numGroups: number;
  /** Mamba-1 only: rank of the Δ projection. */
  dtRank: number;
  /** Gated DeltaNet only: key heads and key head dim. */
  keyHeads: number;
  keyHeadDim: number;
  convBias: boolean;
  projBias: boolean;
  /** Jamba's extra RMSNorms on Δ, B and C. */
  innerNorms: boolean;
}

/** Per-layer mixers and MLPs of a hybrid model, or null for a pure transformer. */
export interface HybridLayout {
  mixers: Mixer[];
  /** Per layer: "keep" follows the usual MoE/dense choice, "none" means the layer has no MLP (Nemotron-H). */
  mlp: ("keep" | "dense" | "moe" | "none")[];
  ssm: SsmSpec;
}

function intField(text: Json, key: string, where: string, min: number, max: number): number | undefined {
  const v = Object.hasOwn(text, key) ? text[key] : undefined;
  // "auto" (Bamba's mamba_d_head, Jamba's mamba_dt_rank) means: derive it.
  if (v === undefined || v === null || v === "auto") return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ModelConfigError(`${where}.${key}: ${shown(v)} is outside the allowed range ${min}–${max} (a whole number); ${FIX}`);
  }
  return v;
}

function stringList(text: Json, key: string, where: string, numLayers: number, allowed: ReadonlySet<string>): string[] | null {
  const raw = text[key];
  if (raw === undefined || raw === null) return null;
  const list = typeof raw === "string" ? [...raw] : raw;
  if (!Array.isArray(list) || list.length !== numLayers || !list.every((x) => typeof x === "string" && allowed.has(x))) {
    throw new ModelConfigError(
      `${where}.${key}: ${shown(raw)} must list one of ${[...allowed].map((s) => JSON.stringify(s)).join(", ")} for each of the ${numLayers} layers; ${FIX}`,
    );
  }
  return list as string[];
}

const SSM_MAX = 1 << 20;

/**
 * Reads the layer layout of a hybrid attention/state-space model: Jamba (Mamba, attention every
 * `attn_layer_period`), Granite 4 (`granitemoehybrid`, Mamba-2, `layer_types`), Nemotron-H
 * (`hybrid_override_pattern`: M Mamba-2, * attention, - MLP, E MoE, each its own layer), Bamba
 * (`attn_layer_indices`), and Qwen3-Next / Qwen3.5 (Gated DeltaNet, full attention every
 * `full_attention_interval`). Returns null for other models (Falcon-H1 and Zamba2, whose layers run
 * attention and Mamba side by side or share blocks, are not modelled).
 */
export function hybridLayout(text: Json, modelType: string, H: number, numLayers: number, where: string): HybridLayout | null {
  const n = (key: string, min = 0, max = SSM_MAX): number | undefined => intField(text, key, where, min, max);
  if (modelType === "jamba") {
    const period = n("attn_layer_period", 1) ?? 8;
    const offset = n("attn_layer_offset") ?? 4;
    const expand = n("mamba_expand", 1) ?? 2;
    const dState = n("mamba_d_state", 1) ?? 16;
    const dtRank = n("mamba_dt_rank", 1) ?? Math.ceil(H / 16);
    const mixers = Array.from({ length: numLayers }, (_, i): Mixer => (i % period === offset ? "attention" : "mamba"));
    const ePeriod = n("expert_layer_period", 1) ?? 2;
    const eOffset = n("expert_layer_offset") ?? 1;
    const mlp = Array.from({ length: numLayers }, (_, i) => (i % ePeriod === eOffset ? ("moe" as const) : ("dense" as const)));
    return {
      mixers,
      mlp,
      ssm: {
        kind: "mamba", innerSize: expand * H, stateSize: dState, convKernel: n("mamba_d_conv", 1) ?? 4, numHeads: 0, numGroups: 0,
        dtRank, keyHeads: 0, keyHeadDim: 0, convBias: text.mamba_conv_bias !== false, projBias: text.mamba_proj_bias === true, innerNorms: true,
      },
    };
  }
  if (modelType === "nemotron_h") {
    const pattern = stringList(text, "hybrid_override_pattern", where, numLayers, new Set(["M", "*", "-", "E"]));
    if (!pattern) throw new ModelConfigError(`${where}.hybrid_override_pattern: missing; a nemotron_h config lists each layer as M, *, - or E; ${FIX}`);
    const heads = n("mamba_num_heads", 1) ?? 128;
    const headDim = n("mamba_head_dim", 1) ?? 64;
    return {
      mixers: pattern.map((c): Mixer => (c === "M" ? "mamba2" : c === "*" ? "attention" : "none")),
      mlp: pattern.map((c) => (c === "-" ? "dense" : c === "E" ? "moe" : "none")),
      ssm: mamba2(heads, headDim, n("ssm_state_size", 1) ?? 128, n("n_groups", 1) ?? 8, n("conv_kernel", 1) ?? 4, text.use_conv_bias !== false, text.use_bias === true),
    };
  }
  if (modelType === "granitemoehybrid" || modelType === "bamba") {
    const types = stringList(text, "layer_types", where, numLayers, new Set(["mamba", "attention"]));
    const attnIdx = Array.isArray(text.attn_layer_indices) ? new Set((text.attn_layer_indices as unknown[]).map(Number)) : null;
    const mixers = Array.from({ length: numLayers }, (_, i): Mixer =>
      (types ? types[i] === "attention" : attnIdx?.has(i) ?? false) ? "attention" : "mamba2",
    );
    const heads = n("mamba_n_heads", 1) ?? 128;
    const expand = n("mamba_expand", 1) ?? 2;
    const headDim = n("mamba_d_head", 1) ?? Math.floor((expand * H) / heads);
    return {
      mixers,
      mlp: mixers.map(() => "keep"),
      ssm: mamba2(heads, headDim, n("mamba_d_state", 1) ?? 128, n("mamba_n_groups", 1) ?? 1, n("mamba_d_conv", 1) ?? 4, text.mamba_conv_bias !== false, text.mamba_proj_bias === true),
    };
  }
  if (modelType === "qwen3_next" || modelType.startsWith("qwen3_5")) {
    const interval = n("full_attention_interval", 1) ?? 4;
    const types = stringList(text, "layer_types", where, numLayers, new Set(["linear_attention", "full_attention"]));
    const mixers = Array.from({ length: numLayers }, (_, i): Mixer =>
      (types ? types[i] === "full_attention" : (i + 1) % interval === 0) ? "attention" : "gated-deltanet",
    );
    const vHeads = n("linear_num_value_heads", 1) ?? 32;
    const vDim = n("linear_value_head_dim", 1) ?? 128;
    return {
      mixers,
      mlp: mixers.map(() => "keep"),
      ssm: {
        kind: "gated-deltanet", innerSize: vHeads * vDim, stateSize: n("linear_key_head_dim", 1) ?? 128, convKernel: n("linear_conv_kernel_dim", 1) ?? 4,
        numHeads: vHeads, numGroups: 0, dtRank: 0, keyHeads: n("linear_num_key_heads", 1) ?? 16, keyHeadDim: n("linear_key_head_dim", 1) ?? 128,
        convBias: false, projBias: false, innerNorms: false,
      },
    };
  }
  return null;
}

function mamba2(heads: number, headDim: number, dState: number, groups: number, conv: number, convBias: boolean, projBias: boolean): SsmSpec {
  return {
    kind: "mamba2", innerSize: heads * headDim, stateSize: dState, convKernel: conv, numHeads: heads, numGroups: groups,
    dtRank: 0, keyHeads: 0, keyHeadDim: 0, convBias, projBias, innerNorms: false,
  };
}

/** Parameters of one state-space / linear-attention mixer layer of width `H`. */
export function ssmLayerParameters(s: SsmSpec, H: number): number {
  const D = s.innerSize;
  const bias = (n: number): number => (s.projBias ? n : 0);
  if (s.kind === "mamba") {
    // in_proj (x and z), depthwise conv1d, x_proj (Δ, B, C), dt_proj, A_log, D, out_proj.
    const inProj = H * 2 * D + bias(2 * D);
    const conv = D * s.convKernel + (s.convBias ? D : 0);
    const xProj = D * (s.dtRank + 2 * s.stateSize);
    const dtProj = s.dtRank * D + D;
    const norms = s.innerNorms ? s.dtRank + 2 * s.stateSize : 0;
    return inProj + conv + xProj + dtProj + D * s.stateSize + D + D * H + bias(H) + norms;
  }
  if (s.kind === "mamba2") {
    // in_proj (z, x, B, C, dt), conv1d over x, B and C, dt_bias, A_log, D, gated norm, out_proj.
    const convDim = D + 2 * s.numGroups * s.stateSize;
    const inOut = D + convDim + s.numHeads;
    const conv = convDim * s.convKernel + (s.convBias ? convDim : 0);
    return H * inOut + bias(inOut) + conv + 3 * s.numHeads + D + D * H + bias(H);
  }
  // Gated DeltaNet (Qwen3-Next): in_proj_qkvz, in_proj_ba, conv1d over q, k and v, dt_bias, A_log,
  // a per-head-dim gated norm, out_proj.
  const keyDim = s.keyHeads * s.keyHeadDim;
  const convDim = 2 * keyDim + D;
  return H * (2 * keyDim + 2 * D) + H * 2 * s.numHeads + convDim * s.convKernel + 2 * s.numHeads + D / s.numHeads + D * H;
}

/**
 * Per-layer attention span, mixer and MLP kind: sliding windows (Gemma 2/3, Mistral, Qwen2
 * `max_window_layers`, `layer_types`), Llama 4 chunked attention, MoE placement (DeepSeek
 * `first_k_dense_replace`/`moe_layer_freq`, Qwen `decoder_sparse_step`/`mlp_only_layers`, Llama 4
 * `interleave_moe_layer_step`) and the mixers of hybrid models.
 */
export function layerSpecs(text: Json, modelType: string, numLayers: number, hasMoe: boolean, where: string, hybrid: HybridLayout | null): LayerSpec[] {
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
  // Llama 4: MoE every `interleave_moe_layer_step` layers (or the listed `moe_layers`); its RoPE
  // layers (`no_rope_layers[i] === 1`) attend within chunks of `attention_chunk_size` tokens.
  const llama4 = modelType.startsWith("llama4");
  const interleave = opt("interleave_moe_layer_step") ?? 1;
  const moeLayers = Array.isArray(text.moe_layers) ? new Set((text.moe_layers as unknown[]).map(Number)) : null;
  const chunk = llama4 ? (opt("attention_chunk_size") ?? null) : null;
  const ropeLayers = Array.isArray(text.no_rope_layers) ? (text.no_rope_layers as unknown[]) : null;

  const out: LayerSpec[] = [];
  for (let i = 0; i < numLayers; i++) {
    const mixer: Mixer = hybrid ? hybrid.mixers[i]! : "attention";
    let sliding = false;
    let span = window;
    if (chunk !== null && ropeLayers?.[i] === 1) {
      sliding = true;
      span = chunk;
    } else if (window !== null && !hybrid) {
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
    let mlp: LayerSpec["mlp"] = "dense";
    const fixed = hybrid?.mlp[i] ?? "keep";
    if (fixed !== "keep") {
      mlp = fixed === "moe" && !hasMoe ? "dense" : fixed;
    } else if (hasMoe && llama4) {
      mlp = (moeLayers ? moeLayers.has(i) : (i + 1) % interleave === 0) ? "moe" : "dense";
    } else if (hasMoe) {
      const deepseekDense = i < firstDense || i % moeFreq !== 0;
      const qwenDense = mlpOnly.has(i) || (i + 1) % sparseStep !== 0;
      mlp = deepseekDense || qwenDense ? "dense" : "moe";
    }
    const attention = mixer !== "attention" ? "none" : sliding ? "sliding" : "full";
    out.push({ attention, slidingWindow: sliding && mixer === "attention" ? span : null, mixer, mlp });
  }
  return out;
}
