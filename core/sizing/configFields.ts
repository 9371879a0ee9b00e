/**
 * Reading a config.json's fields: the error every reader throws, and each numeric field's allowed
 * range (a field outside it is refused by name, value and range, before any size is computed).
 * Split from architecture.ts, which builds the architecture from these readers. Pure.
 */

/** Error raised for a config.json that cannot be read; the message names the field. */
export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelConfigError";
  }
}

/** @internal A JSON object as config.json holds it. */
export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value for a message: JSON, cut to 40 characters (a config.json can hold anything). */
export function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}… (${text.length} characters)` : text;
}

export const FIX = "check that the file is a Hugging Face config.json of a decoder-only language model";

/** Smallest and largest value a field may have, and whether it is a count (whole numbers only). */
export interface Range {
  min: number;
  max: number;
  whole: boolean;
}

const count = (min: number, max: number): Range => ({ min, max, whole: true });
const K = 1024;
const M = 1024 * 1024;

/**
 * What each numeric field of a config.json may be. Wide enough for every published model (the
 * largest today: hidden 16,384 and 126 layers in Llama 3.1 405B, 384 experts in Kimi K2, a 10M
 * context in Llama 4 Scout, a 262k vocabulary in Gemma 3), narrow enough that a hostile file
 * cannot make the sizing core allocate one object per layer for 1e9 layers or divide by zero.
 */
export const RANGES: ReadonlyMap<string, Range> = new Map<string, Range>([
  ...["hidden_size", "d_model", "n_embd", "n_embed"].map((k): [string, Range] => [k, count(1, 256 * K)]),
  ...["num_hidden_layers", "n_layer", "num_layers"].map((k): [string, Range] => [k, count(1, 2 * K)]),
  ...["num_attention_heads", "n_head", "num_key_value_heads", "num_kv_heads", "head_dim", "attention_head_dim"].map((k): [string, Range] => [k, count(1, 8 * K)]),
  ["vocab_size", count(1, 4 * M)],
  ...["max_position_embeddings", "max_sequence_length", "n_positions", "seq_length"].map((k): [string, Range] => [k, count(1, 1024 * M)]),
  ["sliding_window", count(0, 1024 * M)],
  ...["intermediate_size", "intermediate_size_mlp", "ffn_dim", "moe_intermediate_size", "n_inner", "ffn_hidden_size"].map((k): [string, Range] => [k, count(1, 1 * M)]),
  ...["shared_expert_intermediate_size", "moe_shared_expert_intermediate_size", "shared_intermediate_size"].map((k): [string, Range] => [k, count(0, 1 * M)]),
  // Rotary share of each head (phi-2 0.4, GPT-NeoX rotary_pct 0.25) and GPT-J's rotary_dim.
  ...["partial_rotary_factor", "rotary_pct"].map((k): [string, Range] => [k, { min: 0, max: 1, whole: false }]),
  ["rotary_dim", count(0, 8 * K)],
  ["num_ln_in_parallel_attn", count(1, 2)],
  ...["num_local_experts", "num_experts", "n_routed_experts"].map((k): [string, Range] => [k, count(0, 64 * K)]),
  ...["num_experts_per_tok", "experts_per_token", "num_experts_per_token"].map((k): [string, Range] => [k, count(1, 64 * K)]),
  ["n_shared_experts", count(0, 1 * K)],
  ...["kv_lora_rank", "q_lora_rank"].map((k): [string, Range] => [k, count(0, 64 * K)]),
  ...["qk_rope_head_dim", "v_head_dim"].map((k): [string, Range] => [k, count(1, 8 * K)]),
  ["qk_nope_head_dim", count(0, 8 * K)],
  ["sliding_window_pattern", count(1, 2 * K)],
  ["max_window_layers", count(0, 1 * M)],
  ["first_k_dense_replace", count(0, 1 * M)],
  ["attention_chunk_size", count(1, 1024 * M)],
  ...["moe_layer_freq", "decoder_sparse_step", "interleave_moe_layer_step"].map((k): [string, Range] => [k, count(1, 2 * K)]),
]);

/** Ranges of a vision tower's fields (`vision_config`). */
export const VISION_RANGES: ReadonlyMap<string, Range> = new Map<string, Range>([
  ["hidden_size", count(0, 64 * K)],
  ["intermediate_size", count(0, 1 * M)],
  ["num_hidden_layers", count(0, 1 * K)],
  ["patch_size", count(1, 4 * K)],
  ["image_size", count(1, 64 * K)],
  ["num_channels", count(1, 64)],
]);

/** Refuses a number outside its field's range, naming the field, the value and the range. */
export function inRange(v: number, key: string, where: string, ranges: ReadonlyMap<string, Range> = RANGES): number {
  const r = ranges.get(key);
  if (r && (v < r.min || v > r.max || (r.whole && !Number.isInteger(v)))) {
    const fmt = (n: number): string => n.toLocaleString("en-US");
    throw new ModelConfigError(`${where}.${key}: ${shown(v)} is outside the allowed range ${fmt(r.min)}–${fmt(r.max)}${r.whole ? " (a whole number)" : ""}; ${FIX}`);
  }
  return v;
}

export function num(cfg: Json, key: string, where: string): number {
  const v = Object.hasOwn(cfg, key) ? cfg[key] : undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new ModelConfigError(`${where}.${key}: expected a non-negative number, got ${shown(v)}; ${FIX}`);
  }
  return inRange(v, key, where);
}

/** A field's number, or undefined when absent or not a number; out-of-range numbers are refused. */
export function optNum(cfg: Json, key: string, where = "config", ranges: ReadonlyMap<string, Range> = RANGES): number | undefined {
  const v = Object.hasOwn(cfg, key) ? cfg[key] : undefined;
  return typeof v === "number" && Number.isFinite(v) ? inRange(v, key, where, ranges) : undefined;
}

export function firstNum(cfg: Json, keys: string[], where = "config"): number | undefined {
  for (const k of keys) {
    const v = optNum(cfg, k, where);
    if (v !== undefined) return v;
  }
  return undefined;
}
