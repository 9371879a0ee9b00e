/**
 * Weight and KV-cache memory of a model, per GPU, for a weight format and a tensor-parallel size.
 * Mirrors how vLLM shards a model: q/o, MLP, experts, embeddings and lm_head split across ranks,
 * k/v projections replicated when there are fewer KV heads than ranks, MLA down-projections,
 * norms and routers replicated.
 */
import { countParameters, type ModelArchitecture, type ParameterBreakdown } from "./architecture";
import { checkpointDtype, kvBytesPerElement, type ConcreteDtype, type KvCacheDtype, WEIGHT_FORMATS } from "./dtypes";

export const GiB = 1024 ** 3;

export interface WeightMemory {
  /** Bytes of weights held by one GPU (or by the host for CPU inference when tp = 1). */
  bytesPerGpu: number;
  /** Bytes of weights over all GPUs, replication included. */
  bytesTotal: number;
  parameters: ParameterBreakdown;
}

/** Vocabulary padded as vLLM's VocabParallelEmbedding does (multiple of 64, split over ranks). */
function paddedVocabPerRank(vocab: number, tp: number): number {
  const padded = Math.ceil(vocab / 64) * 64;
  return Math.ceil(padded / tp);
}

/**
 * Weight bytes per GPU for `dtype` at tensor-parallel size `tp`.
 * @param tp tensor-parallel size (GPUs sharing one model copy), 1 or more.
 */
export function weightMemory(arch: ModelArchitecture, dtype: ConcreteDtype, tp = 1): WeightMemory {
  const f = WEIGHT_FORMATS[dtype];
  const p = countParameters(arch);
  const H = arch.hiddenSize;
  const att = arch.attention;
  // Layers a quantised checkpoint leaves in 16 bits (`modules_to_not_convert` / `ignore`) count at
  // base width: the share of quantised attention and MLP parameters drops accordingly.
  const kept = dtype === checkpointFormat(arch) ? unquantisedShare(arch) : { attention: 0, mlp: 0, ssm: 0 };
  const mix = (quantised: number, share: number): number => quantised * (1 - share) + f.baseBytes * share;
  const linearQ = f.quantizedParts === "linear" ? f.quantizedBytes : f.baseBytes;
  const linearBytes = mix(linearQ, kept.attention);
  const mlpBytes = mix(linearQ, kept.mlp);
  const expertBytes = mix(f.quantizedParts === "none" ? f.baseBytes : f.quantizedBytes, kept.mlp);
  // Mamba / DeltaNet projections are linear layers; a checkpoint may keep them in 16 bits.
  const ssmBytes = mix(linearQ, kept.ssm);
  const attentionLayers = arch.layers.filter((l) => l.mixer === "attention").length;

  // Attention split into what shards and what each rank replicates.
  let attShard = p.attention;
  let attReplicated = 0;
  if (att.mla) {
    const m = att.mla;
    attReplicated = attentionLayers * ((m.qLoraRank !== null ? H * m.qLoraRank + m.qLoraRank : 0) + H * (m.kvLoraRank + m.qkRopeHeadDim) + m.kvLoraRank);
    attShard = p.attention - attReplicated;
  } else if (att.numKvHeads < tp) {
    // Each rank keeps one full KV head: k/v weights are replicated, not split.
    const kv = attentionLayers * 2 * H * att.numKvHeads * att.headDim;
    attShard = p.attention - kv;
    attReplicated = kv / att.numKvHeads; // one head per rank, counted per rank below
  }

  const vocabRank = paddedVocabPerRank(arch.vocabSize, tp);
  // Learned position embeddings (OPT, GPT-2) are the part of `embedding` beyond vocab × hidden; replicated.
  const embeddingBytes = vocabRank * H * f.embeddingBytes + (p.embedding - arch.vocabSize * H) * f.baseBytes;
  const lmHeadBytes = arch.tieWordEmbeddings ? 0 : vocabRank * H * f.lmHeadBytes;

  // vLLM's MXFP4 MoE kernels pad each expert's intermediate size to a multiple of 256.
  const moeI = arch.moe?.expertIntermediateSize ?? 0;
  const expertPadding = dtype === "mxfp4" && moeI > 0 ? (Math.ceil(moeI / 256) * 256) / moeI : 1;
  const shardedBytes =
    attShard * linearBytes +
    p.ssm * ssmBytes +
    (p.denseMlp + p.sharedExperts) * mlpBytes +
    p.experts * expertBytes * expertPadding +
    p.vision * f.baseBytes;
  const replicatedBytes = attReplicated * linearBytes + p.router * f.baseBytes + p.norms * f.normBytes;
  const rope = ropeCacheBytes(arch);
  const bytesPerGpu = shardedBytes / tp + replicatedBytes + embeddingBytes + lmHeadBytes + rope;
  return { bytesPerGpu, bytesTotal: bytesPerGpu * tp, parameters: p };
}

/** The format a checkpoint ships in, when it is quantised (`quantization_config`), else null. */
function checkpointFormat(arch: ModelArchitecture): ConcreteDtype | null {
  const q = arch.checkpointQuantization;
  return q ? checkpointDtype(arch.checkpointDtype, q.method, q.bits, q.floatWeights) : null;
}

/**
 * Share of attention and MLP parameters a quantised checkpoint keeps unquantised, from its
 * excluded-module list: `model.layers.0.mlp.down_proj` keeps (part of) layer 0's MLP, a bare
 * `self_attn` every layer's attention. Routers (`mlp.gate`) and `lm_head` are 16-bit anyway.
 */
export function unquantisedShare(arch: ModelArchitecture): { attention: number; mlp: number; ssm: number } {
  const excluded = arch.checkpointQuantization?.excluded ?? [];
  const n = arch.numLayers;
  const attn = new Set<number>();
  const mlp = new Set<number>();
  const ssm = new Set<number>();
  for (const raw of excluded) {
    const e = raw.toLowerCase();
    if (/lm_head|embed|(mlp|block_sparse_moe)\.gate$|router/.test(e)) continue;
    const layer = /layers\.(\d+)(\.|$)/.exec(e);
    // Mamba mixers and DeltaNet layers (`linear_attn`) before the attention test.
    const isSsm = /mamba|linear_attn|ssm/.test(e);
    const isAttn = !isSsm && /attn|attention/.test(e);
    const isMlp = /mlp|ffn|feed_forward|experts|moe/.test(e);
    const whole = !isAttn && !isMlp && !isSsm && layer !== null;
    const layers = layer ? [Number(layer[1])] : Array.from({ length: n }, (_, i) => i);
    for (const i of layers) {
      if (i >= n) continue;
      const kind = arch.layers[i]?.mixer ?? "attention";
      const ssmLayer = kind !== "attention" && kind !== "none";
      if ((isAttn || whole) && kind === "attention") attn.add(i);
      if ((isSsm || whole) && ssmLayer) ssm.add(i);
      if (isMlp || whole) mlp.add(i);
    }
  }
  // Shares of the layers that have each part.
  const count = (kind: (m: string) => boolean): number => Math.max(arch.layers.filter((l) => kind(l.mixer)).length, 1);
  return {
    attention: Math.min(attn.size / count((m) => m === "attention"), 1),
    mlp: mlp.size / n,
    ssm: Math.min(ssm.size / count((m) => m !== "attention" && m !== "none"), 1),
  };
}

/**
 * vLLM keeps one cos/sin cache (max positions × rotary dim, 16-bit) per model. Partial rotary
 * (phi-2 0.4, GPT-NeoX `rotary_pct`, GPT-J `rotary_dim`) shrinks the rotary dim; learned
 * positions and ALiBi (OPT, GPT-2, BLOOM) have none.
 */
function ropeCacheBytes(arch: ModelArchitecture): number {
  const rotary = arch.attention.mla ? arch.attention.mla.qkRopeHeadDim : Math.round(arch.attention.headDim * arch.family.rotaryFraction);
  return arch.maxPositionEmbeddings * rotary * 2;
}

export interface KvLayout {
  /** Bytes of KV cache per token per GPU, with every layer counted as vLLM counts it. */
  bytesPerTokenPerGpu: number;
  /** Bytes per token over the whole deployment (all ranks). */
  bytesPerTokenTotal: number;
  /** Layers that attend over the full context. */
  fullLayers: number;
  /** Layers with a sliding window. */
  slidingLayers: number;
  /**
   * Layer slots vLLM's hybrid allocator charges per token: groups of equal size, padded. Equals
   * `numLayers` for uniform models and the attention layers alone for hybrid attention/SSM models.
   */
  chargedLayers: number;
  /** Bytes per token per layer per GPU. */
  bytesPerLayerToken: number;
}

/**
 * KV cache per token. Full attention: 2 (K and V) × KV heads per rank × head dim × bytes. MLA: the
 * compressed latent plus the rope key (kv_lora_rank + qk_rope_head_dim), replicated on every rank.
 * Models that mix sliding-window and full layers are charged as vLLM's hybrid KV-cache manager
 * does: layers are grouped by type into groups of the smallest type's size (or one group when the
 * counts are within 25 %), the last group of a type padded; the reported token capacity divides
 * the pool by all groups.
 */
export function kvLayout(arch: ModelArchitecture, kvDtype: KvCacheDtype, weights: ConcreteDtype, tp = 1): KvLayout {
  const bytes = kvBytesPerElement(kvDtype, weights);
  const att = arch.attention;
  let perLayer: number;
  let ranksHoldingCopy: number;
  if (att.mla) {
    perLayer = (att.mla.kvLoraRank + att.mla.qkRopeHeadDim) * bytes;
    ranksHoldingCopy = tp;
  } else {
    const kvPerRank = Math.max(1, att.numKvHeads / tp);
    perLayer = 2 * kvPerRank * att.headDim * bytes;
    ranksHoldingCopy = tp;
  }
  // Mamba / DeltaNet / MLP-only layers of hybrid models (attention "none") keep no per-token KV.
  const sliding = arch.layers.filter((l) => l.attention === "sliding").length;
  const full = arch.layers.filter((l) => l.attention === "full").length;
  let charged = full + sliding;
  if (sliding > 0 && full > 0) {
    const min = Math.min(sliding, full);
    const max = Math.max(sliding, full);
    const groupSize = max < min * 1.25 ? max : min;
    charged = groupSize * (Math.ceil(full / groupSize) + Math.ceil(sliding / groupSize));
  }
  const perToken = perLayer * charged;
  return {
    bytesPerTokenPerGpu: perToken,
    bytesPerTokenTotal: perToken * ranksHoldingCopy,
    fullLayers: full,
    slidingLayers: sliding,
    chargedLayers: charged,
    bytesPerLayerToken: perLayer,
  };
}
