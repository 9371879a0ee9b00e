/**
 * Counts a model's parameters per part from its normalised architecture (architecture.ts), as the
 * checkpoint stores them. Pure: no I/O, no `@pulumi/*`.
 */
import type { ModelArchitecture } from "./architecture";
import { ssmLayerParameters } from "./families";

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
  /** Mamba / DeltaNet mixers of a hybrid model, all layers. */
  ssm: number;
  /** Norm vectors and attention sinks. */
  norms: number;
  vision: number;
  total: number;
  /** Non-parameter tensors the checkpoint also stores (GPT-2's causal masks); not in `total`. */
  storedBuffers: number;
  /** Parameters used per token: routed experts scaled by experts-per-token / experts. */
  active: number;
}

/** Counts parameters per part, as the checkpoint stores them (before any quantisation). */
export function countParameters(a: ModelArchitecture): ParameterBreakdown {
  const H = a.hiddenSize;
  const att = a.attention;
  const fam = a.family;
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
    const qProj = att.outputGate ? 2 * qOut : qOut;
    attentionPerLayer = H * qProj + 2 * H * kvOut + qOut * H;
    if (att.qkvBias) attentionPerLayer += qProj + 2 * kvOut;
    if (att.oBias) attentionPerLayer += H;
  }
  const attentionExtras = fam.qkNormElements + (att.sinks ? att.numHeads : 0);

  const mlpParams = (inter: number, bias: boolean, gated = a.gatedMlp): number => (gated ? 3 : 2) * H * inter + (bias ? (gated ? 2 : 1) * inter + H : 0);

  let attention = 0;
  let ssm = 0;
  let denseMlp = 0;
  let experts = 0;
  let sharedExperts = 0;
  let router = 0;
  let moeLayers = 0;
  let layerNorms = 0;
  const ssmPerLayer = a.ssm ? ssmLayerParameters(a.ssm, H) : 0;
  for (const layer of a.layers) {
    if (layer.mixer === "attention") {
      attention += attentionPerLayer;
      layerNorms += attentionExtras;
    } else if (layer.mixer !== "none") {
      ssm += ssmPerLayer;
    }
    if (layer.mlp === "moe" && a.moe) {
      const m = a.moe;
      moeLayers++;
      experts += m.numExperts * mlpParams(m.expertIntermediateSize, m.expertBias, m.expertGated);
      sharedExperts += m.sharedExperts * mlpParams(m.expertIntermediateSize, false, m.expertGated);
      if (m.sharedExpertIntermediateSize > 0) sharedExperts += mlpParams(m.sharedExpertIntermediateSize, false, m.expertGated);
      if (m.sharedExpertGate) sharedExperts += H;
      router += H * m.numExperts + (m.routerBias ? m.numExperts : 0);
    } else if (layer.mlp !== "none") {
      denseMlp += mlpParams(a.denseIntermediateSize, a.mlpBias);
    }
  }
  const normWidth = fam.normBias ? 2 * H : H;
  const norms = layerNorms + a.numLayers * a.normsPerLayer * normWidth + (1 + fam.extraNorms) * normWidth;
  const embedding = a.vocabSize * H + fam.learnedPositions * H;
  const lmHead = a.tieWordEmbeddings ? 0 : a.vocabSize * H + (fam.lmHeadBias ? a.vocabSize : 0);
  const total = embedding + lmHead + attention + ssm + denseMlp + experts + sharedExperts + router + norms + a.visionParameters;
  const activeExperts = a.moe && moeLayers > 0 ? (experts * a.moe.expertsPerToken) / a.moe.numExperts : experts;
  return {
    embedding,
    lmHead,
    attention,
    denseMlp,
    experts,
    sharedExperts,
    router,
    ssm,
    norms,
    vision: a.visionParameters,
    total,
    storedBuffers: fam.storedBuffers,
    active: total - experts + activeExperts,
  };
}
