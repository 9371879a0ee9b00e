/**
 * Weight formats: how many bytes each kind of parameter takes in memory for a data type or
 * quantisation. Pure data and functions.
 *
 * Sources for the byte counts are listed in docs/sizing.md. In short: AWQ/GPTQ int4 store 4-bit
 * weights plus an fp16 scale and a 4-bit zero point per group of 128 input channels (GPTQ also a
 * 32-bit `g_idx` per input channel); embeddings, `lm_head`, norms and MoE routers stay in 16 bits.
 * FP8 (runtime `--quantization fp8` or fp8 checkpoints) stores linear weights in one byte with
 * per-tensor or per-block scales. GGUF block sizes come from ggml's block definitions.
 */

/** Data types and quantisations accepted by the sizing core and the CLI's `--dtype`. */
export const DTYPES = [
  "auto",
  "fp32",
  "bf16",
  "fp16",
  "fp8",
  "int8",
  "int4",
  "awq",
  "gptq",
  "mxfp4",
  "nvfp4",
  "q8_0",
  "q6_k",
  "q5_k_m",
  "q4_k_m",
  "q4_0",
] as const;
export type Dtype = (typeof DTYPES)[number];
/** `auto` resolved against the checkpoint. */
export type ConcreteDtype = Exclude<Dtype, "auto">;

/** Which parameter groups a format quantises. */
export type QuantizedParts = "none" | "linear" | "experts";

export interface WeightFormat {
  dtype: ConcreteDtype;
  /** Human label, e.g. "AWQ int4 (group 128)". */
  label: string;
  /** Bytes per parameter for quantised linear weights, scales and zero points included. */
  quantizedBytes: number;
  /** Which parameters are quantised. */
  quantizedParts: QuantizedParts;
  /** Bytes per parameter of what stays unquantised (biases, routers, vision tower). */
  baseBytes: number;
  /** Bytes per parameter of the input embedding. */
  embeddingBytes: number;
  /** Bytes per parameter of the output projection (lm_head). */
  lmHeadBytes: number;
  /** Bytes per parameter of norm vectors. */
  normBytes: number;
  /** GGUF formats run on llama.cpp / Ollama only; the rest on vLLM. */
  family: "hf" | "gguf";
  /** GPU data type the kernels need natively, or null. */
  requires: "bf16" | "fp8" | "fp4" | null;
  /** Bits per weight as usually quoted, for tables. */
  nominalBits: number;
}

const GROUP = 128;
const INT4_AWQ = 0.5 + 2 / GROUP + 0.5 / GROUP;
const GGML = { q8_0: 8.5 / 8, q6_k: 6.5625 / 8, q5_k: 5.5 / 8, q4_k: 4.5 / 8, q4_0: 4.5 / 8 };

const hf = (
  dtype: ConcreteDtype,
  label: string,
  quantizedBytes: number,
  quantizedParts: QuantizedParts,
  requires: WeightFormat["requires"],
  nominalBits: number,
  base = 2,
): WeightFormat => ({
  dtype,
  label,
  quantizedBytes,
  quantizedParts,
  baseBytes: base,
  embeddingBytes: base,
  lmHeadBytes: base,
  normBytes: base,
  family: "hf",
  requires,
  nominalBits,
});

const gguf = (dtype: ConcreteDtype, label: string, linear: number, embedding: number, lmHead: number, bits: number): WeightFormat => ({
  dtype,
  label,
  quantizedBytes: linear,
  quantizedParts: "linear",
  baseBytes: 4,
  embeddingBytes: embedding,
  lmHeadBytes: lmHead,
  normBytes: 4,
  family: "gguf",
  requires: null,
  nominalBits: bits,
});

/** Every concrete format, keyed by dtype. */
export const WEIGHT_FORMATS: { readonly [K in ConcreteDtype]: WeightFormat } = {
  fp32: hf("fp32", "FP32", 4, "none", null, 32, 4),
  bf16: hf("bf16", "BF16", 2, "none", "bf16", 16),
  fp16: hf("fp16", "FP16", 2, "none", null, 16),
  fp8: hf("fp8", "FP8 (W8, 16-bit embeddings and lm_head)", 1, "linear", "fp8", 8),
  int8: hf("int8", "INT8 (W8A8, per-channel scales)", 1 + 4 / 4096, "linear", null, 8),
  int4: hf("int4", "INT4 (AWQ-style, group 128)", INT4_AWQ, "linear", null, 4),
  awq: hf("awq", "AWQ int4 (group 128)", INT4_AWQ, "linear", null, 4),
  gptq: hf("gptq", "GPTQ int4 (group 128, g_idx)", INT4_AWQ + 4 / 4096, "linear", null, 4),
  mxfp4: hf("mxfp4", "MXFP4 experts (block 32, e8m0 scales)", 4.25 / 8, "experts", null, 4),
  nvfp4: hf("nvfp4", "NVFP4 (block 16, fp8 scales)", 4.5 / 8, "linear", "fp4", 4),
  // GGUF k-quant mixes: *_K_M keep attn_v / ffn_down partly at Q6_K, output at Q6_K. The linear
  // averages (4.80 and 5.66 bits) are derived from published file sizes; see docs/sizing.md.
  q8_0: gguf("q8_0", "GGUF Q8_0", GGML.q8_0, GGML.q8_0, GGML.q8_0, 8.5),
  q6_k: gguf("q6_k", "GGUF Q6_K", GGML.q6_k, GGML.q6_k, GGML.q6_k, 6.56),
  q5_k_m: gguf("q5_k_m", "GGUF Q5_K_M", 5.66 / 8, GGML.q5_k, GGML.q6_k, 5.66),
  q4_k_m: gguf("q4_k_m", "GGUF Q4_K_M", 4.8 / 8, GGML.q4_k, GGML.q6_k, 4.8),
  q4_0: gguf("q4_0", "GGUF Q4_0", GGML.q4_0, GGML.q4_0, GGML.q6_k, 4.5),
};

/** KV-cache data types. `auto` follows the model's activation dtype (2 bytes). */
export const KV_CACHE_DTYPES = ["auto", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "q8_0", "q4_0", "fp32"] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];

/** Bytes per KV element. */
export function kvBytesPerElement(kv: KvCacheDtype, weights: ConcreteDtype): number {
  switch (kv) {
    case "fp8":
    case "fp8_e4m3":
    case "fp8_e5m2":
      return 1;
    case "q8_0":
      return 8.5 / 8;
    case "q4_0":
      return 4.5 / 8;
    case "fp32":
      return 4;
    case "auto":
      return weights === "fp32" ? 4 : 2;
    default:
      return 2;
  }
}

/** Other spellings of data types (torch, vLLM and llm-compressor names), lower case. */
const DTYPE_SPELLINGS: ReadonlyMap<string, Dtype> = new Map<string, Dtype>([
  ["bfloat16", "bf16"],
  ["float16", "fp16"],
  ["half", "fp16"],
  ["float32", "fp32"],
  ["float", "fp32"],
  ["float8", "fp8"],
  ["fp8_e4m3", "fp8"],
  ["awq_marlin", "awq"],
  ["gptq_marlin", "gptq"],
  ["w8a8", "int8"],
  ["w4a16", "int4"],
]);

/**
 * Normalises user spellings (`BF16`, `bfloat16`, `Q4_K_M`, `awq_marlin`) to a {@link Dtype}, or
 * undefined. Looks up a Map and the DTYPES list only, so names such as `constructor` or
 * `__proto__` are simply unknown.
 */
export function normalizeDtype(input: string): Dtype | undefined {
  const s = String(input).trim().toLowerCase().replace(/-/g, "_");
  const spelled = DTYPE_SPELLINGS.get(s);
  if (spelled) return spelled;
  return (DTYPES as readonly string[]).includes(s) ? (s as Dtype) : undefined;
}

/** The checkpoint's own format when `--dtype auto`: its quantisation, else its torch dtype. */
export function checkpointDtype(torchDtype: string, quantMethod: string | null, bits: number | null = null, floatWeights: boolean | null = null): ConcreteDtype {
  if (quantMethod) {
    const m = quantMethod.toLowerCase();
    if (m === "fbgemm_fp8" || m === "modelopt" || (m === "compressed-tensors" && bits === 8 && floatWeights === true)) return "fp8";
    if (m === "compressed-tensors" || m === "bitsandbytes" || m === "autoround" || m === "auto-round") {
      return bits === 8 ? (floatWeights ? "fp8" : "int8") : "int4";
    }
    const q = normalizeDtype(m);
    if (q && q !== "auto") return q;
  }
  const d = normalizeDtype(torchDtype);
  return d && d !== "auto" ? d : "bf16";
}

/**
 * What vLLM serves for `--dtype auto`: the checkpoint's quantisation or 16-bit type; fp32
 * checkpoints are served in 16 bits (vLLM never picks fp32 on its own).
 */
export function servingDtype(torchDtype: string, quantMethod: string | null, bits: number | null = null, floatWeights: boolean | null = null): ConcreteDtype {
  const d = checkpointDtype(torchDtype, quantMethod, bits, floatWeights);
  return d === "fp32" ? "bf16" : d;
}
