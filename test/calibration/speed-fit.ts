/**
 * Round 3 of the speed calibration (`npx tsx test/calibration/speed-fit.ts`, `--cv` for the
 * model choice). Fits, on every in-scope case of the three earlier files (calibration set, round
 * 1 and round 2 test sets; round 3's test set, speed-blind3.json, is never read here):
 *
 * - vLLM decode: η_bw and the fixed step overhead, and, when leave-one-source-out error says it
 *   predicts better, an overhead per MoE layer for a model copy over several GPUs (a first
 *   candidate, per layer of every model, predicted unseen sources well but made tensor parallel
 *   no faster than one GPU for dense 70B models, failing a property test; rejected);
 * - vLLM prefill: η_c (when it beats the unfitted 0.55 leave-one-source-out);
 * - llama.cpp on AMD GPUs: η_bw, the overhead and η_c per memory class, on dense models;
 * - llama.cpp prefill of mixtures of experts: one share of η_c, all vendors.
 *
 * Grid searches minimising the mean absolute log error.
 */
import { findGpu } from "../../core/catalog";
import { deviceClass, SPEED_EFFICIENCY, type EfficiencyKey, type SpeedEfficiency } from "../../core/sizing/speed";
import { BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE, BLIND6_FIXTURE, BLIND7_FIXTURE, BLIND_FIXTURE, caseArch, meanLogError, runCase, SPEED_FIXTURE, type SpeedCase } from "./speed-cases";

/** Every in-scope case round 3 may fit on. */
export function round3Cases(): SpeedCase[] {
  return [...SPEED_FIXTURE.cases, ...BLIND_FIXTURE.cases, ...BLIND2_FIXTURE.cases].filter((c) => !c.outOfScope);
}

type Pick = "decode" | "prefill";

const loss = meanLogError;

function grid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i++) out.push(Math.round((from + i * step) * 1e4) / 1e4);
  return out;
}

type Loss = (cases: SpeedCase[], eff: SpeedEfficiency, pick: Pick) => number;

/** Minimises the loss over the cartesian product of the given values. */
function search(cases: SpeedCase[], base: SpeedEfficiency, pick: Pick, space: Partial<Record<keyof SpeedEfficiency, number[]>>, lossFn: Loss = loss): SpeedEfficiency {
  const keys = Object.keys(space) as (keyof SpeedEfficiency)[];
  let best = base;
  let bestLoss = Infinity;
  const walk = (i: number, eff: SpeedEfficiency): void => {
    if (i === keys.length) {
      const l = lossFn(cases, eff, pick);
      if (l < bestLoss) {
        bestLoss = l;
        best = eff;
      }
      return;
    }
    for (const v of space[keys[i]!]!) walk(i + 1, { ...eff, [keys[i]!]: v });
  };
  walk(0, base);
  return best;
}

/** Leave-one-source-out: each source predicted by a fit on the others; mean |log error|. */
function crossValidate(cases: SpeedCase[], pick: Pick, fit: (train: SpeedCase[]) => SpeedEfficiency): number {
  let sum = 0;
  let n = 0;
  for (const source of new Set(cases.map((c) => c.source))) {
    const eff = fit(cases.filter((c) => c.source !== source));
    for (const c of cases.filter((x) => x.source === source)) {
      const r = runCase(c, eff)[pick];
      if (r) {
        sum += Math.abs(Math.log(r.predicted / r.measured));
        n++;
      }
    }
  }
  return sum / n;
}

const isVllm = (c: SpeedCase): boolean => c.engine === "vllm";
/** llama.cpp on an AMD GPU: "hbm" (Instinct) or "gddr" (Radeon), else null. */
function amdMemory(c: SpeedCase): "hbm" | "gddr" | null {
  if (c.engine === "vllm" || !c.hardware.gpu) return null;
  const gpu = findGpu(c.hardware.gpu)!;
  if (gpu.vendor !== "amd") return null;
  return deviceClass({ engine: "llamacpp", gpu }) === "gpu-datacenter" ? "hbm" : "gddr";
}
const singleDecode = (c: SpeedCase): boolean => c.concurrency === 1 && c.measured.decodeTokensPerSecond !== undefined;

const VLLM = SPEED_EFFICIENCY["vllm/gpu-datacenter"];
const decodeSpace = { bandwidth: grid(0.3, 1, 0.01), stepOverheadMs: grid(0, 6, 0.25) };
const vllmDecodeSpace = { bandwidth: grid(0.6, 1, 0.01), stepOverheadMs: grid(1, 6, 0.25) };

export const vllmDecodeCases = (): SpeedCase[] => round3Cases().filter((c) => isVllm(c) && singleDecode(c));
export const fitVllmDecode = (cases: SpeedCase[], parallel: boolean): SpeedEfficiency =>
  search(cases, { ...VLLM, parallelMoeLayerOverheadMs: 0 }, "decode", parallel ? { ...vllmDecodeSpace, parallelMoeLayerOverheadMs: grid(0, 0.3, 0.01) } : vllmDecodeSpace);



/** The vLLM prefill cases of a pool of cases. */
const vllmPrefill = (pool: SpeedCase[]): SpeedCase[] => pool.filter((c) => isVllm(c) && c.measured.prefillTokensPerSecond !== undefined && !c.excludedPrefill);
export const vllmPrefillCases = (): SpeedCase[] => vllmPrefill(round3Cases());
export const fitVllmPrefill = (cases: SpeedCase[], base: SpeedEfficiency): SpeedEfficiency => search(cases, base, "prefill", { compute: grid(0.05, 1, 0.01) });

/** Dense-model llama.cpp cases on AMD GPUs of one memory class. */
export const amdCases = (memory: "hbm" | "gddr"): SpeedCase[] => round3Cases().filter((c) => amdMemory(c) === memory && caseArch(c).moe === null);
/** The NVIDIA values an AMD class starts from (and keeps, where fitting does not predict better). */
export const amdBase = (memory: "hbm" | "gddr"): SpeedEfficiency => SPEED_EFFICIENCY[memory === "hbm" ? "llamacpp/gpu-datacenter" : "llamacpp/gpu-consumer"];
export function fitAmd(cases: SpeedCase[], base: SpeedEfficiency): SpeedEfficiency {
  const d = search(cases, base, "decode", decodeSpace);
  return search(cases, d, "prefill", { compute: grid(0.01, 1, 0.01) });
}

export const moePrefillCases = (): SpeedCase[] => round3Cases().filter((c) => !isVllm(c) && c.hardware.gpu !== undefined && caseArch(c).moe !== null && c.measured.prefillTokensPerSecond !== undefined);

if (require.main === module && !["--moe", "--round4", "--round5", "--round6", "--round7", "--round8"].some((f) => process.argv.includes(f))) {
  const cv = process.argv.includes("--cv");
  const vd = vllmDecodeCases();
  const vDecode = fitVllmDecode(vd, false);
  const vDecodeTp = fitVllmDecode(vd, true);
  console.log(`vLLM decode, ${vd.length} cases: ${JSON.stringify(vDecode)}; with an overhead per MoE layer over several GPUs: ${JSON.stringify(vDecodeTp)}`);
  if (cv && process.argv.includes("--decode")) {
    console.log(`  leave-one-source-out: plain ${crossValidate(vd, "decode", (t) => fitVllmDecode(t, false)).toFixed(3)}, with the MoE term ${crossValidate(vd, "decode", (t) => fitVllmDecode(t, true)).toFixed(3)}`);
  }
  const vp = vllmPrefillCases();
  const vPrefill = fitVllmPrefill(vp, vDecode);
  console.log(`vLLM prefill, ${vp.length} cases: compute ${vPrefill.compute}`);
  if (cv) console.log(`  leave-one-source-out: fitted ${crossValidate(vp, "prefill", (t) => fitVllmPrefill(t, vDecode)).toFixed(3)}, unfitted 0.55 ${loss(vp, vDecode, "prefill").toFixed(3)}`);
  for (const memory of ["hbm", "gddr"] as const) {
    const cs = amdCases(memory);
    const base = amdBase(memory);
    const f = fitAmd(cs, base);
    console.log(`llama.cpp on AMD ${memory} GPUs, ${cs.length} dense cases: ${JSON.stringify(f)}`);
    if (cv) {
      const nv = (pick: Pick): string => loss(cs, base, pick).toFixed(3);
      console.log(`  leave-one-source-out decode ${crossValidate(cs, "decode", (t) => fitAmd(t, base)).toFixed(3)} prefill ${crossValidate(cs, "prefill", (t) => fitAmd(t, base)).toFixed(3)}; NVIDIA values: decode ${nv("decode")} prefill ${nv("prefill")}`);
    }
  }
  const mp = moePrefillCases();
  console.log(`llama.cpp MoE prefill, ${mp.length} cases: ${mp.map((c) => c.id).join(", ")}`);
}

/** One share of η_c for llama.cpp MoE prefill, all vendors (each case with its own class's other values). */
export function fitMoePrefill(cases: SpeedCase[], table: Record<EfficiencyKey, SpeedEfficiency> = SPEED_EFFICIENCY): number {
  let best = 1;
  let bestLoss = Infinity;
  for (const share of grid(0.01, 1, 0.01)) {
    let sum = 0;
    for (const c of cases) {
      const r = runCase(c, { ...table[runCase(c).key], moePrefillCompute: share }).prefill!;
      sum += Math.abs(Math.log(r.predicted / r.measured));
    }
    if (sum < bestLoss) {
      bestLoss = sum;
      best = share;
    }
  }
  return best;
}

if (require.main === module && process.argv.includes("--moe")) {
  const mp = moePrefillCases();
  const share = fitMoePrefill(mp);
  let cvSum = 0;
  let oneSum = 0;
  for (const source of new Set(mp.map((c) => c.source))) {
    const s = fitMoePrefill(mp.filter((c) => c.source !== source));
    for (const c of mp.filter((x) => x.source === source)) {
      const eff = SPEED_EFFICIENCY[runCase(c).key];
      const r = runCase(c, { ...eff, moePrefillCompute: s }).prefill!;
      const r1 = runCase(c, eff).prefill!;
      cvSum += Math.abs(Math.log(r.predicted / r.measured));
      oneSum += Math.abs(Math.log(r1.predicted / r1.measured));
      console.log(`  ${c.id}: held-out share ${s}, error ${((r.predicted / r.measured - 1) * 100).toFixed(1)} % (share 1: ${((r1.predicted / r1.measured - 1) * 100).toFixed(1)} %)`);
    }
  }
  console.log(`llama.cpp MoE prefill share ${share} on ${mp.length} cases; leave-one-source-out ${(cvSum / mp.length).toFixed(3)} against ${(oneSum / mp.length).toFixed(3)} unfitted`);
}

/*
 * Round 4: llama.cpp on builds of 2025 and later. Round 3's test set showed current llama.cpp
 * builds faster than the May 2024 build round 1 was fitted on, so round 4 fits the llama.cpp GPU
 * classes on the cases whose source dates from 2025 on (the deployed images are 2025+ builds), on
 * all four earlier files; round 4's test set (speed-blind4.json) is never read here. vLLM keeps
 * round 3's values.
 */
// Every source of the files rounds 4 to 8 read (ids are unique across files, so the later files change no earlier round's result).
const ALL_SOURCES = new Map(
  [SPEED_FIXTURE, BLIND_FIXTURE, BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE, BLIND6_FIXTURE, BLIND7_FIXTURE].flatMap((f) => f.sources).map((s) => [s.id, s]),
);

/** Every in-scope case round 4 may fit on: the three files round 3 used and round 3's test set. */
export function round4Cases(): SpeedCase[] {
  return [...round3Cases(), ...BLIND3_FIXTURE.cases.filter((c) => !c.outOfScope)];
}

/** llama.cpp GPU cases of one efficiency class, among `pool`, from sources dated 2025 or later. */
function recentLlama(key: EfficiencyKey, pool: SpeedCase[]): SpeedCase[] {
  return pool.filter((c) => c.engine !== "vllm" && c.hardware.gpu !== undefined && runCase(c).key === key && ALL_SOURCES.get(c.source)!.published >= "2025");
}

/** Round 4's pool of {@link recentLlama}. */
export const recentLlamaCases = (key: EfficiencyKey): SpeedCase[] => recentLlama(key, round4Cases());

/** Decode (η_bw, overhead) on every case, then {@link fitLlamaPrefill}. */
export function fitLlama(cases: SpeedCase[], base: SpeedEfficiency): SpeedEfficiency {
  return fitLlamaPrefill(cases, search(cases, base, "decode", decodeSpace));
}

/** η_c on dense prefill, then the MoE share on MoE prefill; the decode values stay as given. */
export function fitLlamaPrefill(cases: SpeedCase[], base: SpeedEfficiency): SpeedEfficiency {
  const dense = cases.filter((c) => caseArch(c).moe === null);
  const moe = cases.filter((c) => caseArch(c).moe !== null);
  let e = base;
  if (dense.some((c) => runCase(c, e).prefill)) e = search(dense, e, "prefill", { compute: grid(0.05, 1, 0.01) });
  if (moe.some((c) => runCase(c, e).prefill)) e = search(moe, e, "prefill", { moePrefillCompute: grid(0.05, 1.5, 0.05) });
  return e;
}

if (require.main === module && process.argv.includes("--round4")) {
  for (const key of ["llamacpp/gpu-consumer", "llamacpp/gpu-datacenter"] as const) {
    const cs = recentLlamaCases(key);
    const f = fitLlama(cs, SPEED_EFFICIENCY[key]);
    console.log(`${key}: ${cs.length} cases from ${new Set(cs.map((c) => c.source)).size} sources: ${JSON.stringify(f)}`);
    if (process.argv.includes("--cv")) {
      const t = SPEED_EFFICIENCY[key];
      const fitCv = (pick: Pick): string => crossValidate(cs, pick, (train) => fitLlama(train, t)).toFixed(3);
      console.log(`  leave-one-source-out decode ${fitCv("decode")} prefill ${fitCv("prefill")}; table values: decode ${loss(cs, t, "decode").toFixed(3)} prefill ${loss(cs, t, "prefill").toFixed(3)}`);
      const p = fitLlamaPrefill(cs, t);
      console.log(`  prefill only: ${JSON.stringify(p)}, leave-one-source-out prefill ${crossValidate(cs, "prefill", (train) => fitLlamaPrefill(train, t)).toFixed(3)}`);
    }
  }
}

/*
 * Round 5: vLLM prefill. Round 4's test set missed the prefill target, most of it vLLM, whose η_c
 * had never been fitted (round 3's 7 cases did not support a value). Round 5 fits it on every
 * in-scope vLLM prefill case of the five earlier files, if that predicts unseen sources better
 * (leave-one-source-out); round 5's test set (speed-blind5.json) is never read here.
 */
export function round5Cases(): SpeedCase[] {
  return [...round4Cases(), ...BLIND4_FIXTURE.cases.filter((c) => !c.outOfScope)];
}

/** η_c and a fixed first-token latency together. */
export const fitVllmPrefillWithLatency = (cases: SpeedCase[], base: SpeedEfficiency): SpeedEfficiency =>
  search(cases, base, "prefill", { compute: grid(0.1, 1, 0.02), firstTokenOverheadMs: grid(0, 150, 5) });

export const vllmPrefillCases5 = (): SpeedCase[] => vllmPrefill(round5Cases());

if (require.main === module && process.argv.includes("--round5")) {
  const cs = vllmPrefillCases5();
  const base = SPEED_EFFICIENCY["vllm/gpu-datacenter"];
  const f = fitVllmPrefill(cs, base);
  console.log(`vLLM prefill, ${cs.length} cases from ${new Set(cs.map((c) => c.source)).size} sources: compute ${f.compute}`);
  console.log(`  leave-one-source-out: fitted ${crossValidate(cs, "prefill", (t) => fitVllmPrefill(t, base)).toFixed(3)}, current ${base.compute}: ${loss(cs, base, "prefill").toFixed(3)}`);
  const f2 = fitVllmPrefillWithLatency(cs, base);
  console.log(`  with a fixed first-token latency: ${JSON.stringify(f2)}, leave-one-source-out ${crossValidate(cs, "prefill", (t) => fitVllmPrefillWithLatency(t, base)).toFixed(3)}`);
}

/*
 * Round 6: prefill. Two corrections of the physics, made before any refit: the output layer runs
 * for a prompt's last token only (both engines compute logits only where they sample), and a
 * prompt (or a batch) reads every expert some token is routed to, not one token's experts. Then
 * the prefill efficiencies are refitted on every in-scope case of the six earlier files: llama.cpp's
 * η_c and MoE share per NVIDIA memory class (builds from 2025 on, as in round 4), vLLM's η_c (dense
 * models) and MoE share. Round 6's test set (speed-blind6.json) is never read here.
 *
 * Round 6 also groups sources into campaigns: one repository, one issue/PR/discussion thread, or
 * one web site. Two sources of one campaign (two files of one benchmark repository) share their
 * author's setup, so leaving out one source still lets the other one's setup into the fit. Each
 * group keeps the candidate with the lowest leave-one-campaign-out error, campaigns weighted
 * equally: the values it starts from, a fit weighing cases equally, or one weighing campaigns
 * equally (and for vLLM, the MoE share alone).
 */
export function round6Cases(): SpeedCase[] {
  return [...round5Cases(), ...BLIND5_FIXTURE.cases.filter((c) => !c.outOfScope)];
}


/** The campaign of a source: its repository, its issue/PR/discussion thread, or its web site. */
export function campaign(sourceId: string): string {
  const url = ALL_SOURCES.get(sourceId)?.url;
  if (!url) throw new Error(`speed source ${sourceId} not found`);
  const u = new URL(url);
  if (u.hostname !== "github.com") return u.hostname;
  const [owner, repo, kind, num] = u.pathname.split("/").filter(Boolean);
  return ["issues", "pull", "discussions"].includes(kind ?? "") ? `${owner}/${repo}/${num}` : `${owner}/${repo}`;
}

/** Mean over campaigns of each campaign's mean |log error|. */
export const campaignLoss: Loss = (cases, eff, pick) => {
  const by = new Map<string, number[]>();
  for (const c of cases) {
    const r = runCase(c, eff)[pick];
    if (r) {
      const k = campaign(c.source);
      by.set(k, [...(by.get(k) ?? []), Math.abs(Math.log(r.predicted / r.measured))]);
    }
  }
  let sum = 0;
  for (const v of by.values()) sum += v.reduce((a, b) => a + b, 0) / v.length;
  return by.size === 0 ? 0 : sum / by.size;
};

/** Leave-one-campaign-out: each campaign predicted by a fit on the others; mean of their {@link campaignLoss}. */
export function crossValidateCampaigns(cases: SpeedCase[], pick: Pick, fit: (train: SpeedCase[]) => SpeedEfficiency): number {
  const per: number[] = [];
  for (const k of new Set(cases.map((c) => campaign(c.source)))) {
    const held = cases.filter((c) => campaign(c.source) === k);
    if (!held.some((c) => runCase(c)[pick])) continue;
    per.push(campaignLoss(held, fit(cases.filter((c) => campaign(c.source) !== k)), pick));
  }
  return per.reduce((a, b) => a + b, 0) / per.length;
}

/** η_c on dense prefill, then the MoE share on MoE prefill (the MoE share alone with `moeOnly`). */
function fitPrefill(cases: SpeedCase[], base: SpeedEfficiency, lossFn: Loss, moeOnly = false): SpeedEfficiency {
  const dense = cases.filter((c) => caseArch(c).moe === null && runCase(c, base).prefill);
  const moe = cases.filter((c) => caseArch(c).moe !== null && runCase(c, base).prefill);
  let e = base;
  if (!moeOnly && dense.length > 0) e = search(dense, e, "prefill", { compute: grid(0.05, 1, 0.01) }, lossFn);
  if (moe.length > 0) e = search(moe, e, "prefill", { moePrefillCompute: grid(0.05, 1.5, 0.05) }, lossFn);
  return e;
}

/** The table round 7 starts from: round 6's values. */
export const ROUND7_START: Record<EfficiencyKey, SpeedEfficiency> = {
  "vllm/gpu-datacenter": { bandwidth: 0.88, compute: 0.55, stepOverheadMs: 3.75, parallelMoeLayerOverheadMs: 0.19, moePrefillCompute: 0.4, firstTokenOverheadMs: 0 },
  "vllm/gpu-consumer": { bandwidth: 0.88, compute: 0.55, stepOverheadMs: 3.75, parallelMoeLayerOverheadMs: 0.19, moePrefillCompute: 0.4, firstTokenOverheadMs: 0 },
  "llamacpp/gpu-datacenter": { bandwidth: 0.54, compute: 0.14, stepOverheadMs: 3.8, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.15, firstTokenOverheadMs: 0 },
  "llamacpp/gpu-consumer": { bandwidth: 0.83, compute: 0.48, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.35, firstTokenOverheadMs: 0 },
  "llamacpp/amd-gpu-consumer": { bandwidth: 0.57, compute: 0.63, stepOverheadMs: 3.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 0.1, firstTokenOverheadMs: 0 },
  "llamacpp/cpu": { bandwidth: 0.6, compute: 0.5, stepOverheadMs: 1.0, parallelMoeLayerOverheadMs: 0, moePrefillCompute: 1, firstTokenOverheadMs: 0 },
};

/** The groups round 6 fits, and the values each starts from (rounds 3 and 4: round 6's table before its prefill fit). */
export const ROUND6_GROUPS = {
  vllm: { start: { ...ROUND7_START["vllm/gpu-datacenter"], moePrefillCompute: 1 }, cases: (): SpeedCase[] => vllmPrefill(round6Cases()) },
  "llamacpp/gpu-consumer": { start: ROUND7_START["llamacpp/gpu-consumer"], cases: (): SpeedCase[] => recentLlama("llamacpp/gpu-consumer", round6Cases()) },
  "llamacpp/gpu-datacenter": { start: { ...ROUND7_START["llamacpp/gpu-datacenter"], compute: 0.3, moePrefillCompute: 0.1 }, cases: (): SpeedCase[] => recentLlama("llamacpp/gpu-datacenter", round6Cases()) },
} as const;
export type Round6Group = keyof typeof ROUND6_GROUPS;

export interface Candidate {
  name: string;
  fit: (train: SpeedCase[]) => SpeedEfficiency;
}

type Ranked = { name: string; cv: number; eff: SpeedEfficiency }[];

/** Each candidate's leave-one-campaign-out error and its fit on every case; the chosen one first. */
function rank(cases: SpeedCase[], pick: Pick, candidates: Candidate[]): Ranked {
  return candidates.map((c) => ({ name: c.name, cv: crossValidateCampaigns(cases, pick, c.fit), eff: c.fit(cases) })).sort((a, b) => a.cv - b.cv);
}

/** Prefill candidates from `start`: keep it, fit weighing cases or campaigns equally, and (vLLM) the MoE share alone. */
const prefillCandidates = (vllm: boolean) => (start: SpeedEfficiency): Candidate[] => [
  { name: "start values", fit: () => start },
  { name: "fit, cases weighted equally", fit: (t) => fitPrefill(t, start, loss) },
  { name: "fit, campaigns weighted equally", fit: (t) => fitPrefill(t, start, campaignLoss) },
  ...(vllm ? [{ name: "MoE share alone, cases weighted equally", fit: (t: SpeedCase[]) => fitPrefill(t, start, loss, true) }] : []),
];

/** Round 6's ranking for one group. */
export function round6Choice(group: Round6Group): Ranked {
  return rank(ROUND6_GROUPS[group].cases(), "prefill", prefillCandidates(group === "vllm")(ROUND6_GROUPS[group].start));
}

if (require.main === module && process.argv.includes("--round6")) {
  for (const group of Object.keys(ROUND6_GROUPS) as Round6Group[]) {
    const cases = ROUND6_GROUPS[group].cases();
    console.log(`${group}: ${cases.length} prefill-pool cases, ${new Set(cases.map((c) => campaign(c.source))).size} campaigns`);
    for (const c of round6Choice(group)) console.log(`  ${c.cv.toFixed(3)}  ${c.name}: η_c ${c.eff.compute}, MoE share ${c.eff.moePrefillCompute}`);
  }
}

/*
 * Round 7: decode and prefill together, on every in-scope case of the seven earlier files (round
 * 6's test set included), by round 6's rule: per group, the candidate with the lowest
 * leave-one-campaign-out error, campaigns weighted equally. Decode groups first (vLLM; llama.cpp on
 * NVIDIA GDDR and on HBM GPUs, builds from 2025 on), then the prefill groups from the decode values
 * kept. Round 7's test set (speed-blind7.json) is never read here.
 */
export function round7Cases(): SpeedCase[] {
  return [...round6Cases(), ...BLIND6_FIXTURE.cases.filter((c) => !c.outOfScope)];
}

/** Decode: bandwidth and overhead on a grid, then (vLLM) the per-MoE-layer term over several GPUs. */
function fitDecode7(cases: SpeedCase[], base: SpeedEfficiency, lossFn: Loss, vllm: boolean): SpeedEfficiency {
  const single = cases.filter((c) => singleDecode(c) && runCase(c, base).decode);
  let e = search(single, base, "decode", vllm ? vllmDecodeSpace : decodeSpace, lossFn);
  if (vllm) e = search(single, e, "decode", { parallelMoeLayerOverheadMs: grid(0, 0.3, 0.01) }, lossFn);
  return e;
}

type Group7 = { pick: Pick; keys: EfficiencyKey[]; cases: () => SpeedCase[]; candidates: (start: SpeedEfficiency) => Candidate[] };

const decodeCandidates = (vllm: boolean) => (start: SpeedEfficiency): Candidate[] => [
  { name: "start values", fit: () => start },
  { name: "fit, cases weighted equally", fit: (t) => fitDecode7(t, start, loss, vllm) },
  { name: "fit, campaigns weighted equally", fit: (t) => fitDecode7(t, start, campaignLoss, vllm) },
];

/** The groups of a round over a pool of cases (vLLM cases further filtered by `vllmCases`), in the order they are fitted. */
function groupsOver(pool: () => SpeedCase[], vllmCases: (c: SpeedCase) => boolean = () => true): Record<string, Group7> {
  return {
    "vllm decode": { pick: "decode", keys: ["vllm/gpu-datacenter", "vllm/gpu-consumer"], cases: () => pool().filter((c) => isVllm(c) && singleDecode(c) && vllmCases(c)), candidates: decodeCandidates(true) },
    "llamacpp/gpu-consumer decode": { pick: "decode", keys: ["llamacpp/gpu-consumer"], cases: () => recentLlama("llamacpp/gpu-consumer", pool()), candidates: decodeCandidates(false) },
    "llamacpp/gpu-datacenter decode": { pick: "decode", keys: ["llamacpp/gpu-datacenter"], cases: () => recentLlama("llamacpp/gpu-datacenter", pool()), candidates: decodeCandidates(false) },
    "vllm prefill": { pick: "prefill", keys: ["vllm/gpu-datacenter", "vllm/gpu-consumer"], cases: () => vllmPrefill(pool()).filter(vllmCases), candidates: prefillCandidates(true) },
    "llamacpp/gpu-consumer prefill": { pick: "prefill", keys: ["llamacpp/gpu-consumer"], cases: () => recentLlama("llamacpp/gpu-consumer", pool()), candidates: prefillCandidates(false) },
    "llamacpp/gpu-datacenter prefill": { pick: "prefill", keys: ["llamacpp/gpu-datacenter"], cases: () => recentLlama("llamacpp/gpu-datacenter", pool()), candidates: prefillCandidates(false) },
  };
}

/** Round 7's groups, in the order they are fitted. */
export const ROUND7_GROUPS: Record<string, Group7> = groupsOver(round7Cases);

/**
 * Runs round 7 from the given table (round 6's values): each group's candidates, cross-validated,
 * the best one's fit on all its cases written into the table for the next groups.
 */
export function round7(table: Record<EfficiencyKey, SpeedEfficiency>, groups: Record<string, Group7> = ROUND7_GROUPS): { table: Record<EfficiencyKey, SpeedEfficiency>; report: { group: string; cases: number; campaigns: number; ranked: Ranked }[] } {
  const t = { ...table };
  const report = [];
  for (const [group, g] of Object.entries(groups)) {
    const cases = g.cases();
    const ranked = rank(cases, g.pick, g.candidates(t[g.keys[0]!]));
    for (const k of g.keys) t[k] = { ...t[k], ...pickFields(ranked[0]!.eff, g.pick) };
    report.push({ group, cases: cases.length, campaigns: new Set(cases.map((c) => campaign(c.source))).size, ranked });
  }
  return { table: t, report };
}

const pickFields = (e: SpeedEfficiency, pick: Pick): Partial<SpeedEfficiency> =>
  pick === "decode" ? { bandwidth: e.bandwidth, stepOverheadMs: e.stepOverheadMs, parallelMoeLayerOverheadMs: e.parallelMoeLayerOverheadMs } : { compute: e.compute, moePrefillCompute: e.moePrefillCompute };

/** Prints a round's rankings and the table it ends with. */
function printRound(groups: Record<string, Group7>): void {
  const { table, report } = round7(ROUND7_START, groups);
  for (const r of report) {
    console.log(`${r.group}: ${r.cases} cases, ${r.campaigns} campaigns`);
    for (const c of r.ranked) console.log(`  ${c.cv.toFixed(3)}  ${c.name}: ${JSON.stringify(pickFields(c.eff, groups[r.group]!.pick))}`);
  }
  console.log(JSON.stringify(table, null, 1));
}

if (require.main === module && process.argv.includes("--round7")) printRound(ROUND7_GROUPS);

/*
 * Round 8: vLLM fitted on the versions the project deploys. The inference layer pins vLLM 0.19.0
 * (CUDA) and 0.11.2 (ROCm) (core/catalog/data/images.json), and the eight earlier files show
 * vLLM from 0.11 on taking less time per decode step than the 0.8-0.10 releases the fixed 3.75 ms
 * overhead was fitted on (rounds 6 and 7: vLLM 0.11+ cases under-predicted, older ones over).
 * As round 4 did for llama.cpp builds, round 8 fits vLLM (decode and prefill) on the cases of
 * vLLM 0.11 or later only: the version a case's note or source description states (the lowest,
 * where it names several), or, where none is stated, a source published from 2025-10-02 (vLLM
 * 0.11.0's release) on. llama.cpp groups as in round 7, on the larger pool. Each group keeps the
 * candidate with the lowest leave-one-campaign-out error. Round 8's test set (speed-blind8.json) is
 * never read here.
 */
export function round8Cases(): SpeedCase[] {
  return [...round7Cases(), ...BLIND7_FIXTURE.cases.filter((c) => !c.outOfScope)];
}

/** The vLLM version a case states ([major, minor], the lowest where several), else null. */
export function statedVllmVersion(c: SpeedCase): [number, number] | null {
  const text = `${c.note ?? ""} ${ALL_SOURCES.get(c.source)?.description ?? ""}`;
  // "vLLM 0.23.0", "vLLM v0.11.1", "vllm/vllm-openai:v0.19.0": a 0.x version within 25 characters, no digit between.
  const found = [...text.matchAll(/v(?:LLM|llm)[^0-9]{0,25}?(?<![A-Za-z0-9.])v?(0)\.(\d{1,2})\b/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
  if (found.length === 0) return null;
  return found.reduce((a, b) => (b[0] < a[0] || (b[0] === a[0] && b[1] < a[1]) ? b : a));
}

/** vLLM 0.11 or later: stated, or (none stated) a source published from 2025-10-02 on. */
export function deployedVllm(c: SpeedCase): boolean {
  const v = statedVllmVersion(c);
  if (v) return v[0] > 0 || v[1] >= 11;
  return ALL_SOURCES.get(c.source)!.published >= "2025-10-02";
}

export const ROUND8_GROUPS: Record<string, Group7> = groupsOver(round8Cases, deployedVllm);

if (require.main === module && process.argv.includes("--round8")) {
  if (process.argv.includes("--list")) {
    for (const c of round8Cases().filter(isVllm)) console.log(`${deployedVllm(c) ? "0.11+" : "older"}  ${statedVllmVersion(c)?.join(".") ?? `none stated, published ${ALL_SOURCES.get(c.source)!.published}`}  ${c.id}`);
  }
  printRound(ROUND8_GROUPS);
}
