/**
 * A tiny llama model written as a GGUF v3 file by the test itself, for a real llama.cpp (through
 * node-llama-cpp) to load and run on CPU. Not a trained model: one block, 64-wide, F32 weights
 * chosen so that greedy decoding is known in advance. Every token embeds to the same all-ones
 * vector, attention and feed-forward weights are zero (the residual stream stays all-ones), and the
 * output matrix has one non-zero row, so the model answers {@link TINY_ANSWER_BYTE} at every step.
 * The vocabulary is SentencePiece-style: `<unk>`, `<s>`, `</s>`, the 256 byte tokens
 * `<0x00>`…`<0xFF>` and `▁` (a space), so any text tokenizes (byte fallback) and decodes back.
 *
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (header, metadata key/values,
 * tensor infos, data aligned to `general.alignment`, 32 by default).
 */

/** The byte the model emits at every step. */
export const TINY_ANSWER_BYTE = "A";
/** The model's training context (llama.context_length). */
export const TINY_CONTEXT = 16384;

const N_EMBD = 64;
const N_HEAD = 4;
const N_FF = 128;
const ALIGN = 32;

// GGUF value types.
const UINT32 = 4;
const INT32 = 5;
const FLOAT32 = 6;
const BOOL = 7;
const STRING = 8;
const ARRAY = 9;
// ggml tensor type F32.
const GGML_F32 = 0;

type Value = { t: "u32"; v: number } | { t: "f32"; v: number } | { t: "bool"; v: boolean } | { t: "str"; v: string } | { t: "strs"; v: string[] } | { t: "f32s"; v: number[] } | { t: "i32s"; v: number[] };

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  bytes(b: Buffer): void {
    this.push(b);
  }
  pad(): void {
    const n = (ALIGN - (this.length % ALIGN)) % ALIGN;
    if (n > 0) this.push(Buffer.alloc(n));
  }
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(w: Writer, v: Value): void {
  const array = (type: number, n: number): void => {
    w.u32(ARRAY);
    w.u32(type);
    w.u64(n);
  };
  switch (v.t) {
    case "u32":
      w.u32(UINT32);
      w.u32(v.v);
      return;
    case "f32":
      w.u32(FLOAT32);
      w.f32(v.v);
      return;
    case "bool":
      w.u32(BOOL);
      w.bytes(Buffer.from([v.v ? 1 : 0]));
      return;
    case "str":
      w.u32(STRING);
      w.str(v.v);
      return;
    case "strs":
      array(STRING, v.v.length);
      for (const x of v.v) w.str(x);
      return;
    case "f32s":
      array(FLOAT32, v.v.length);
      for (const x of v.v) w.f32(x);
      return;
    case "i32s":
      array(INT32, v.v.length);
      for (const x of v.v) w.i32(x);
      return;
  }
}

/** The vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte tokens, then `▁`. */
export function tinyVocab(): { tokens: string[]; types: number[] } {
  const bytes = Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, "0")}>`);
  // token_type: 2 unknown, 3 control, 6 byte.
  // "▁" (U+2581): SentencePiece writes a space as it; without it a space would be its 3 UTF-8 bytes and decode as "▁".
  return { tokens: ["<unk>", "<s>", "</s>", ...bytes, "\u2581"], types: [2, 3, 3, ...bytes.map(() => 6), 1] };
}

/** The GGUF file's bytes. */
export function tinyLlamaGguf(): Buffer {
  const { tokens, types } = tinyVocab();
  const nVocab = tokens.length;
  const answer = 3 + TINY_ANSWER_BYTE.charCodeAt(0);
  const f32 = (n: number, fill: (i: number) => number = () => 0): Buffer => {
    const b = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) b.writeFloatLE(fill(i), i * 4);
    return b;
  };
  // ggml dims: ne0 (the contiguous one) first. A [ne0, ne1] matrix is ne1 rows of ne0.
  const tensors: Array<{ name: string; dims: number[]; data: Buffer }> = [
    { name: "token_embd.weight", dims: [N_EMBD, nVocab], data: f32(N_EMBD * nVocab, () => 1) },
    { name: "output_norm.weight", dims: [N_EMBD], data: f32(N_EMBD, () => 1) },
    // Row `answer` all ones: its logit is N_EMBD, every other logit 0.
    { name: "output.weight", dims: [N_EMBD, nVocab], data: f32(N_EMBD * nVocab, (i) => (Math.floor(i / N_EMBD) === answer ? 1 : 0)) },
    { name: "blk.0.attn_norm.weight", dims: [N_EMBD], data: f32(N_EMBD, () => 1) },
    { name: "blk.0.attn_q.weight", dims: [N_EMBD, N_EMBD], data: f32(N_EMBD * N_EMBD) },
    { name: "blk.0.attn_k.weight", dims: [N_EMBD, N_EMBD], data: f32(N_EMBD * N_EMBD) },
    { name: "blk.0.attn_v.weight", dims: [N_EMBD, N_EMBD], data: f32(N_EMBD * N_EMBD) },
    { name: "blk.0.attn_output.weight", dims: [N_EMBD, N_EMBD], data: f32(N_EMBD * N_EMBD) },
    { name: "blk.0.ffn_norm.weight", dims: [N_EMBD], data: f32(N_EMBD, () => 1) },
    { name: "blk.0.ffn_gate.weight", dims: [N_EMBD, N_FF], data: f32(N_EMBD * N_FF) },
    { name: "blk.0.ffn_up.weight", dims: [N_EMBD, N_FF], data: f32(N_EMBD * N_FF) },
    { name: "blk.0.ffn_down.weight", dims: [N_FF, N_EMBD], data: f32(N_FF * N_EMBD) },
  ];
  const kv: Array<[string, Value]> = [
    ["general.architecture", { t: "str", v: "llama" }],
    ["general.name", { t: "str", v: "gpu-hosting test tiny llama (not a trained model)" }],
    ["general.alignment", { t: "u32", v: ALIGN }],
    ["llama.context_length", { t: "u32", v: TINY_CONTEXT }],
    ["llama.embedding_length", { t: "u32", v: N_EMBD }],
    ["llama.block_count", { t: "u32", v: 1 }],
    ["llama.feed_forward_length", { t: "u32", v: N_FF }],
    ["llama.attention.head_count", { t: "u32", v: N_HEAD }],
    ["llama.attention.head_count_kv", { t: "u32", v: N_HEAD }],
    ["llama.rope.dimension_count", { t: "u32", v: N_EMBD / N_HEAD }],
    ["llama.attention.layer_norm_rms_epsilon", { t: "f32", v: 1e-5 }],
    ["llama.vocab_size", { t: "u32", v: nVocab }],
    ["tokenizer.ggml.model", { t: "str", v: "llama" }],
    ["tokenizer.ggml.tokens", { t: "strs", v: tokens }],
    ["tokenizer.ggml.scores", { t: "f32s", v: tokens.map(() => 0) }],
    ["tokenizer.ggml.token_type", { t: "i32s", v: types }],
    ["tokenizer.ggml.unknown_token_id", { t: "u32", v: 0 }],
    ["tokenizer.ggml.bos_token_id", { t: "u32", v: 1 }],
    ["tokenizer.ggml.eos_token_id", { t: "u32", v: 2 }],
    ["tokenizer.ggml.add_bos_token", { t: "bool", v: true }],
    // No "▁" before the first word: text then tokenizes to its bytes and detokenizes back to the same text.
    ["tokenizer.ggml.add_space_prefix", { t: "bool", v: false }],
  ];
  const w = new Writer();
  w.bytes(Buffer.from("GGUF", "ascii"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const [k, v] of kv) {
    w.str(k);
    writeValue(w, v);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    offsets.push(offset);
    offset += t.data.length + ((ALIGN - (t.data.length % ALIGN)) % ALIGN);
  }
  w.pad();
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad();
  }
  return w.done();
}
