/**
 * Round 2 of the speed calibration: fits vLLM single-request decode
 * (`npx tsx test/calibration/speed-fit-vllm.ts`).
 *
 * Decode step time = stepOverhead + layers × layerOverhead + MoE layers × moeLayerOverhead
 *   + bytes / (bandwidth × η_bw × (4-bit weights ? fourBitBandwidth : 1)).
 * Fitted on every in-scope vLLM single-request decode case of speed-calibration.json (train and
 * held out) and speed-blind.json (round 1's blind set); cases marked `outOfScope` (vLLM before 0.8,
 * --enforce-eager, the non-Marlin AWQ kernel) are left out. Round 2's test set,
 * speed-blind2.json, is never read here. Grid search minimising the mean absolute log error; one
 * set of values for both vLLM device classes (HBM and GDDR GPUs).
 */
import { activeWeightBytes, devicePeaks, kvReadBytes, parallelScale, SPEED_EFFICIENCY } from "../../core/sizing/speed";
import { weightMemory } from "../../core/sizing/memory";
import { BLIND_FIXTURE, caseRequest, runCase, SPEED_FIXTURE, type SpeedCase } from "./speed-cases";

const FOUR_BIT = new Set(["awq", "gptq", "mxfp4", "nvfp4"]);

/**
 * The decode-step terms a candidate model may have. The chosen model (leave-one-source-out, see
 * `--cv`) has none of the optional ones: core/sizing/speed.ts keeps η_bw and the fixed overhead.
 */
export interface DecodeTerms {
  bandwidth: number;
  stepOverheadMs: number;
  layerOverheadMs: number;
  moeLayerOverheadMs: number;
  fourBitBandwidth: number;
}

/** The vLLM single-request decode cases round 2 fits on. */
export function vllmFitCases(): SpeedCase[] {
  return [...SPEED_FIXTURE.cases, ...BLIND_FIXTURE.cases].filter(
    (c) => c.engine === "vllm" && c.concurrency === 1 && c.measured.decodeTokensPerSecond !== undefined && !c.outOfScope,
  );
}

interface Row {
  c: SpeedCase;
  bytesSeconds: number; // bytes / peak bandwidth (η = 1)
  fourBit: boolean;
  layers: number;
  moeLayers: number;
  measuredSeconds: number;
}

function rows(cases: SpeedCase[]): Row[] {
  return cases.map((c) => {
    const r = caseRequest(c);
    const w = weightMemory(r.arch, r.dtype, 1);
    const bytes = activeWeightBytes(r.arch, r.dtype, w) + kvReadBytes(r.arch, "auto", r.dtype, r.context);
    return {
      c,
      bytesSeconds: bytes / (devicePeaks(r).bandwidthGBs * 1e9 * parallelScale(r)),
      fourBit: FOUR_BIT.has(r.dtype),
      layers: r.arch.layers.length,
      moeLayers: r.arch.layers.filter((l) => l.mlp === "moe").length,
      measuredSeconds: 1 / c.measured.decodeTokensPerSecond!,
    };
  });
}

const predicted = (r: Row, e: DecodeTerms): number =>
  (e.stepOverheadMs + r.layers * e.layerOverheadMs + r.moeLayers * e.moeLayerOverheadMs) / 1000 + r.bytesSeconds / (e.bandwidth * (r.fourBit ? e.fourBitBandwidth : 1));

function loss(rs: Row[], e: DecodeTerms): number {
  let s = 0;
  for (const r of rs) s += Math.abs(Math.log(predicted(r, e) / r.measuredSeconds));
  return s / rs.length;
}

function grid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i++) out.push(Math.round((from + i * step) * 1e4) / 1e4);
  return out;
}

/** The grid search: returns the best efficiencies (compute kept from the current table). */
export type Term = "layer" | "moe" | "fourBit";

/** The grid search over η_bw, the fixed overhead and the `terms` asked for (the others stay 0 or 1). */
export function fitVllmDecode(cases: SpeedCase[] = vllmFitCases(), terms: readonly Term[] = []): { eff: DecodeTerms; loss: number; n: number } {
  const rs = rows(cases);
  let best = { eff: { bandwidth: 1, stepOverheadMs: 0, layerOverheadMs: 0, moeLayerOverheadMs: 0, fourBitBandwidth: 1 }, loss: Infinity };
  for (const stepOverheadMs of grid(0, 5, 0.25))
    for (const layerOverheadMs of terms.includes("layer") ? grid(0, 0.12, 0.005) : [0])
      for (const moeLayerOverheadMs of terms.includes("moe") ? grid(0, 0.12, 0.005) : [0])
        for (const bandwidth of grid(0.5, 1, 0.01))
          for (const fourBitBandwidth of terms.includes("fourBit") ? grid(0.3, 1, 0.02) : [1]) {
            const eff = { stepOverheadMs, layerOverheadMs, moeLayerOverheadMs, bandwidth, fourBitBandwidth };
            const l = loss(rs, eff);
            if (l < best.loss) best = { eff, loss: l };
          }
  return { ...best, n: rs.length };
}

/** Leave-one-source-out errors of a set of terms: each source predicted from a fit on the others. */
export function crossValidate(terms: readonly Term[], cases: SpeedCase[] = vllmFitCases()): number[] {
  const errors: number[] = [];
  const all = rows(cases);
  for (const source of new Set(cases.map((c) => c.source))) {
    const fit = fitVllmDecode(cases.filter((c) => c.source !== source), terms);
    for (const r of all.filter((x) => x.c.source === source)) errors.push(r.measuredSeconds / predicted(r, fit.eff) - 1);
  }
  return errors;
}

/** The candidate term sets, simplest first. */
export const CANDIDATES: readonly (readonly Term[])[] = [[], ["fourBit"], ["moe"], ["moe", "fourBit"], ["layer", "fourBit"], ["layer", "moe", "fourBit"]];

if (require.main === module && process.argv.includes("--cv")) {
  const med = (xs: number[]): number => {
    const s = xs.map(Math.abs).sort((a, b) => a - b);
    return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
  };
  for (const terms of CANDIDATES) {
    const e = crossValidate(terms);
    const mean = e.reduce((a, x) => a + Math.abs(Math.log(1 + x)), 0) / e.length;
    console.log(`[${terms.join(", ")}]: leave-one-source-out median |error| ${(med(e) * 100).toFixed(1)} %, mean |log error| ${mean.toFixed(3)} (${e.length} cases)`);
  }
} else if (require.main === module) {
  const cases = vllmFitCases();
  const fit = fitVllmDecode(cases);
  console.log(`fitted on ${fit.n} cases, mean |log error| ${fit.loss.toFixed(4)}:`);
  console.log(JSON.stringify(fit.eff));
  const eff = { ...SPEED_EFFICIENCY["vllm/gpu-datacenter"], bandwidth: fit.eff.bandwidth, stepOverheadMs: fit.eff.stepOverheadMs };
  for (const c of cases) {
    const d = runCase(c, eff).decode!;
    console.log(`${c.id.padEnd(52)} ${String(d.measured).padStart(8)} ${d.predicted.toFixed(1).padStart(8)} ${((d.error * 100).toFixed(1) + " %").padStart(9)}`);
  }
}
