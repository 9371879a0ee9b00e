import fc from "fast-check";
import { catalog, cpuCatalog, findGpu, findModel, offerCpu, type Gpu } from "../core/catalog";
import { validateCpus } from "../core/catalog/validate";
import { parseHfConfig, type ModelArchitecture } from "../core/sizing/architecture";
import type { ConcreteDtype } from "../core/sizing/dtypes";
import { weightMemory } from "../core/sizing/memory";
import {
  activeWeightBytes,
  deviceClass,
  gpuTflops,
  SPEED_EFFICIENCY,
  throughput,
  type EfficiencyKey,
  type SpeedEfficiency,
  type SpeedRequest,
} from "../core/sizing/speed";
import { BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE, BLIND6_FIXTURE, BLIND7_FIXTURE, BLIND8_FIXTURE, BLIND_FIXTURE, meanLogError, runAllSpeed, runCase, runTestSet, splitSummary, SPEED_FIXTURE, summarise } from "./calibration/speed-cases";
import { amdBase, amdCases, campaign, fitAmd, fitLlama, recentLlamaCases, round3Cases, round6Cases, round6Choice, ROUND6_GROUPS, round7, round7Cases, ROUND7_START, round8Cases, ROUND8_GROUPS, statedVllmVersion, deployedVllm, vllmDecodeCases, type Round6Group } from "./calibration/speed-fit";

const arch = (id: string): ModelArchitecture => parseHfConfig(findModel(id)!.config);
const gpu = (id: string): Gpu => findGpu(id)!;
const llama8b = arch("meta-llama/Llama-3.1-8B-Instruct");
const llama70b = arch("meta-llama/Llama-3.1-70B-Instruct");
const mixtral = arch("mistralai/Mixtral-8x7B-Instruct-v0.1");

const base = (patch: Partial<SpeedRequest> = {}): SpeedRequest => ({
  arch: llama8b,
  engine: "vllm",
  dtype: "bf16",
  gpu: gpu("h100-sxm-80gb"),
  gpuCount: 1,
  context: 1024,
  promptTokens: 512,
  concurrency: 1,
  ...patch,
});

/** Checks a test set uses only sources no earlier file uses, and marks every source and case with its split. */
function expectNewSources(set: typeof BLIND2_FIXTURE, split: string, earlier: typeof BLIND2_FIXTURE.sources): void {
  const urls = new Set(earlier.map((s) => s.url.split("#")[0]));
  const ids = new Set(earlier.map((s) => s.id));
  for (const s of set.sources) expect([s.id, s.split, ids.has(s.id), urls.has(s.url.split("#")[0])]).toEqual([s.id, split, false, false]);
  const sourceIds = new Set(set.sources.map((s) => s.id));
  for (const c of set.cases) expect([c.id, c.split, sourceIds.has(c.source)]).toEqual([c.id, split, true]);
}

/**
 * Errors (single-request decode, or prefill) of a test set's counted cases under an earlier round's table: the
 * first evaluations of rounds 1-5 used round 3's vLLM decode values (0.88, 3.75 ms, 0.19 ms),
 * which stood until round 8; round 8 refitted them on vLLM 0.11+ (below).
 */
function errorsUnder(table: Record<EfficiencyKey, SpeedEfficiency>, results: ReturnType<typeof runTestSet>, engine?: string, pick: "decode" | "prefill" = "decode") {
  return summarise(
    results
      .filter((r) => !r.case.outOfScope && r[pick] && (engine === undefined || r.case.engine === engine))
      .map((r) => runCase(r.case, table[r.key])[pick]!.error),
  );
}

/** A test set's results, the counted ones (in scope), and their error summary per measure and engine. */
function testSet(split: "blind2" | "blind3" | "blind4" | "blind5" | "blind6" | "blind7" | "blind8") {
  const results = runTestSet(split);
  const counted = results.filter((r) => !r.case.outOfScope);
  const summary = (pick: "decode" | "prefill", engine?: string) =>
    summarise(counted.filter((r) => engine === undefined || r.case.engine === engine).flatMap((r) => (r[pick] ? [r[pick]!.error] : [])));
  return { results, counted, summary };
}

/**
 * Accuracy against published measurements (test/fixtures/speed-calibration.json). The bounds are
 * the errors reported in docs/sizing.md ("Speed"), rounded up: a change that makes the model worse
 * than documented fails here. Targets from issue #11: single-request decode median ≤ 20 %, prefill
 * median ≤ 30 %; the held-out prefill misses its target (documented).
 */
describe("speed calibration against published measurements", () => {
  const results = runAllSpeed();
  const train = splitSummary(results, "train");
  const heldout = splitSummary(results, "heldout");

  it("compares enough cases, about a third of them held out", () => {
    expect(results.length).toBeGreaterThanOrEqual(80);
    expect(train.decode.n).toBeGreaterThanOrEqual(50);
    expect(heldout.decode.n).toBeGreaterThanOrEqual(20);
    const share = results.filter((r) => r.case.split === "heldout").length / results.length;
    expect(share).toBeGreaterThan(0.25);
  });

  it("splits by source: within each group the newest campaign trains and older ones are held out", () => {
    const sources = new Map(SPEED_FIXTURE.sources.map((s) => [s.id, s]));
    for (const c of SPEED_FIXTURE.cases) {
      expect(sources.get(c.source)?.split).toBe(c.split);
    }
    for (const group of new Set(SPEED_FIXTURE.sources.map((s) => s.group))) {
      const inGroup = SPEED_FIXTURE.sources.filter((s) => s.group === group);
      const newest = [...inGroup].sort((a, b) => b.published.localeCompare(a.published))[0]!;
      for (const s of inGroup) expect(s.split).toBe(s === newest ? "train" : "heldout");
    }
  });

  // Since round 4 llama.cpp on GDDR GPUs is fitted on builds of 2025 on: these 2023-2024 campaigns
  // are outside its scope, and their bounds below are the errors under the current values, rounded up.
  it("predicts single-request decode within 20 % at the median, on training and held-out cases", () => {
    expect(train.decode.median!).toBeLessThanOrEqual(0.07);
    expect(heldout.decode.median!).toBeLessThanOrEqual(0.1);
    expect(train.decode.p80!).toBeLessThanOrEqual(0.17);
    expect(heldout.decode.p80!).toBeLessThanOrEqual(0.24);
  });

  // Round 6 lowered llama.cpp's η_c on HBM GPUs (fitted on builds of 2025 on, MI300X among them),
  // which under-predicts these 2023-2024 builds on A100 and H100: training 33 % -> 42 %, held out
  // 93 % -> 61 %.
  it("prefill of the 2023-2024 campaigns: within the documented 42 % (training) and 61 % (held out) at the median", () => {
    expect(train.prefill.median!).toBeLessThanOrEqual(0.42);
    expect(train.prefill.p80!).toBeLessThanOrEqual(0.74);
    expect(heldout.prefill.median!).toBeLessThanOrEqual(0.61);
  });

  it("keeps every single-request decode prediction within a factor of 1.5", () => {
    for (const r of results) {
      if (r.decode) expect(Math.abs(Math.log(r.decode.predicted / r.decode.measured))).toBeLessThan(Math.log(1.5));
    }
  });
});

/**
 * The blind test set (test/fixtures/speed-blind.json): collected after the efficiencies were frozen,
 * from sources the calibration set does not use, and never fitted on. The bounds are the errors
 * documented in docs/sizing.md ("Speed"), rounded up, by engine: llama.cpp meets both targets;
 * vLLM single-request decode misses the 20 % target (documented; the bound only guards against
 * getting worse), accurate for dense 16-bit models on current vLLM, over-estimated where a step
 * is short (few active parameters, small models, 4-bit weights).
 */
describe("speed against the blind test set", () => {
  const results = runTestSet("blind");
  const byEngine = (engine: string) => splitSummary(results.filter((r) => r.case.engine === engine), "blind");

  it("uses only sources the calibration set does not, each case marked blind", () => {
    const calibrationUrls = new Set(SPEED_FIXTURE.sources.map((s) => s.url));
    const calibrationIds = new Set(SPEED_FIXTURE.sources.map((s) => s.id));
    for (const s of BLIND_FIXTURE.sources) {
      expect(s.split).toBe("blind");
      expect(calibrationIds.has(s.id)).toBe(false);
      expect(calibrationUrls.has(s.url)).toBe(false);
      expect(s.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    const sourceIds = new Set(BLIND_FIXTURE.sources.map((s) => s.id));
    for (const c of BLIND_FIXTURE.cases) {
      expect(c.split).toBe("blind");
      expect(sourceIds.has(c.source)).toBe(true);
    }
    expect(results.length).toBeGreaterThanOrEqual(45);
  });

  it("llama.cpp: decode and prefill within the documented blind errors (targets: 20 % and 30 % at the median)", () => {
    const l = byEngine("llamacpp");
    expect(l.decode.n).toBeGreaterThanOrEqual(7);
    expect(l.prefill.n).toBeGreaterThanOrEqual(9);
    // Round 1's values met both targets here (decode 8.1 %, prefill 10.0 %); since round 4 the
    // 2024 builds among these cases are outside the llama.cpp fit's scope.
    expect(l.decode.median!).toBeLessThanOrEqual(0.12);
    expect(l.decode.p80!).toBeLessThanOrEqual(0.14);
    expect(l.prefill.median!).toBeLessThanOrEqual(0.49);
    expect(l.prefill.p80!).toBeLessThanOrEqual(0.55);
  });

  it("vLLM: since round 2 fitted on the in-scope cases (within 7 % at the median); the out-of-scope ones, reported, within a factor of 2.3", () => {
    // Under round 3's vLLM decode values (ROUND7_START), which stood from round 3 to round 7.
    const v = results.filter((r) => r.case.engine === "vllm").map((r) => runCase(r.case, ROUND7_START[r.key]));
    expect(v.length).toBeGreaterThanOrEqual(36);
    const inScope = summarise(v.filter((r) => !r.case.outOfScope).map((r) => r.decode!.error));
    expect(inScope.n).toBe(14);
    expect(inScope.median!).toBeLessThanOrEqual(0.07);
    expect(inScope.p80!).toBeLessThanOrEqual(0.17);
    const out = summarise(v.filter((r) => r.case.outOfScope).map((r) => r.decode!.error));
    expect(out.n).toBe(22);
    expect(out.median!).toBeLessThanOrEqual(0.14);
    for (const r of v) expect(Math.abs(Math.log(r.decode!.predicted / r.decode!.measured))).toBeLessThan(Math.log(2.3));
    // Few active parameters (gpt-oss-20b, 3.6B active, MXFP4): within 10 % on NVIDIA since the round 2 overhead (+76 to +167 % before).
    const gptOss = v.filter((r) => r.case.source.startsWith("sariekr") && r.case.hardware.gpu !== "mi300x");
    expect(gptOss.length).toBe(3);
    for (const r of gptOss) expect(Math.abs(r.decode!.error)).toBeLessThan(0.1);
  });
});

/** Round 3 of the speed calibration (test/calibration/speed-fit.ts): the table is the fit. */
describe("round 3: the fit", () => {
  it("fits only in-scope cases of the three earlier files, never round 3's test set", () => {
    const cases = round3Cases();
    expect(cases).toHaveLength(170);
    for (const c of cases) {
      expect(c.outOfScope).toBeUndefined();
      expect(["train", "heldout", "blind", "blind2"]).toContain(c.split);
    }
    expect(vllmDecodeCases()).toHaveLength(35);
  });

  it("vLLM decode: no grid step from the table lowers the error (bandwidth, overhead, per-MoE-layer overhead over several GPUs)", () => {
    const cases = vllmDecodeCases();
    // Round 3's values (kept to round 7; round 8 refitted them on vLLM 0.11+).
    const e = ROUND7_START["vllm/gpu-datacenter"];
    expect(SPEED_EFFICIENCY["vllm/gpu-consumer"]).toEqual(SPEED_EFFICIENCY["vllm/gpu-datacenter"]);
    const at = meanLogError(cases, e, "decode");
    const steps: Partial<SpeedEfficiency>[] = [
      { bandwidth: e.bandwidth - 0.01 },
      { bandwidth: e.bandwidth + 0.01 },
      { stepOverheadMs: e.stepOverheadMs - 0.25 },
      { stepOverheadMs: e.stepOverheadMs + 0.25 },
      { parallelMoeLayerOverheadMs: e.parallelMoeLayerOverheadMs - 0.01 },
      { parallelMoeLayerOverheadMs: e.parallelMoeLayerOverheadMs + 0.01 },
    ];
    for (const step of steps) expect(meanLogError(cases, { ...e, ...step }, "decode")).toBeGreaterThanOrEqual(at);
    expect(e.bandwidth).toBeLessThanOrEqual(1); // a share of the peak
  });

  it("llama.cpp on Radeon (GDDR) GPUs and MoE prefill: the table holds what the fit gives", () => {
    const f = fitAmd(amdCases("gddr"), amdBase("gddr"));
    const t = SPEED_EFFICIENCY["llamacpp/amd-gpu-consumer"];
    expect([t.bandwidth, t.stepOverheadMs]).toEqual([f.bandwidth, f.stepOverheadMs]);
    // Round 6's output-layer correction moves this fit's η_c from round 3's 0.63 to 0.62; Radeon
    // was not refitted in round 6 (no case from 2025 on), so the table keeps 0.63.
    expect(t.compute).toBe(0.63);
    expect(Math.abs(f.compute - t.compute)).toBeLessThanOrEqual(0.01 + 1e-9);
    // Round 3's MoE prefill share; on HBM GPUs round 6 refitted it (below).
    expect(SPEED_EFFICIENCY["llamacpp/amd-gpu-consumer"].moePrefillCompute).toBe(0.1);
  });
});

/** Round 4 (speed-fit.ts --round4): llama.cpp on GDDR NVIDIA GPUs refitted on builds from 2025 on. */
describe("round 4: the fit", () => {
  it("fits llama.cpp on GDDR GPUs on the 47 cases from sources of 2025 and later, never round 4's test set", () => {
    const cases = recentLlamaCases("llamacpp/gpu-consumer");
    expect(cases).toHaveLength(47);
    for (const c of cases) expect(["train", "heldout", "blind", "blind2", "blind3"]).toContain(c.split);
  });

  it("the table holds what the fit gives (decode; prefill: round 6 kept round 4's values)", () => {
    const t = SPEED_EFFICIENCY["llamacpp/gpu-consumer"];
    const f = fitLlama(recentLlamaCases("llamacpp/gpu-consumer"), t);
    expect([t.bandwidth, t.stepOverheadMs]).toEqual([f.bandwidth, f.stepOverheadMs]);
    expect([t.compute, t.moePrefillCompute]).toEqual([ROUND6_GROUPS["llamacpp/gpu-consumer"].start.compute, ROUND6_GROUPS["llamacpp/gpu-consumer"].start.moePrefillCompute]);
  });
});

/**
 * Round 6 (speed-fit.ts --round6): prefill. Two corrections of the physics, then per group the
 * candidate with the lowest leave-one-campaign-out error.
 */
describe("round 6: the fit", () => {
  it("fits on in-scope cases of the six earlier files, never round 6's test set", () => {
    const sizes = (Object.keys(ROUND6_GROUPS) as Round6Group[]).map((g) => ROUND6_GROUPS[g].cases().length);
    expect(sizes).toEqual([16, 52, 9]);
    for (const c of round6Cases()) {
      expect(c.outOfScope).toBeUndefined();
      expect(c.split).not.toBe("blind6");
    }
  });

  it("groups sources into campaigns: a repository, a thread, or a web site", () => {
    const campaigns = new Set(round6Cases().map((c) => campaign(c.source)));
    expect(campaigns.has("ggml-org/llama.cpp/15396")).toBe(true);
    expect(campaigns.has("pegainfer-project/pegainfer")).toBe(true);
    expect(round6Cases().filter((c) => campaign(c.source) === "pegainfer-project/pegainfer").map((c) => c.source)).toContain("pegainfer-bs1-4k64-vllm0191-rtx5090");
  });

  it.each(Object.keys(ROUND6_GROUPS) as Round6Group[])("%s: the table holds the fit of the candidate that best predicts unseen campaigns", (group) => {
    const [chosen, ...rest] = round6Choice(group);
    for (const r of rest) expect(chosen!.cv).toBeLessThan(r.cv);
    const keys: EfficiencyKey[] = group === "vllm" ? ["vllm/gpu-datacenter", "vllm/gpu-consumer"] : [group];
    for (const k of keys) expect([SPEED_EFFICIENCY[k].compute, SPEED_EFFICIENCY[k].moePrefillCompute]).toEqual([chosen!.eff.compute, chosen!.eff.moePrefillCompute]);
  });
});

/**
 * Round 2's test set (test/fixtures/speed-blind2.json): named before the round 2 fit and read after
 * it, it missed both targets then (decode 21.3 %, prefill 37.1 % at the median; docs/sizing.md,
 * "Speed"). Round 3 fitted on it, so these bounds are training errors, rounded up.
 */
describe("round 2's test set, training data since round 3", () => {
  const { results, counted, summary } = testSet("blind2");

  it("uses only sources neither the calibration set nor round 1's blind set uses, each case marked blind2", () => {
    expectNewSources(BLIND2_FIXTURE, "blind2", [...SPEED_FIXTURE.sources, ...BLIND_FIXTURE.sources]);
    expect(counted).toHaveLength(58);
    expect(results.length - counted.length).toBe(1); // the --enforce-eager run
  });

  it("single-request decode within 14 % and prefill within 29 % at the median", () => {
    const decode = summary("decode");
    const prefill = summary("prefill");
    expect([decode.n, prefill.n]).toEqual([58, 39]);
    expect(decode.median!).toBeLessThanOrEqual(0.14);
    expect(prefill.median!).toBeLessThanOrEqual(0.29);
  });
});

/**
 * Round 3's test set (test/fixtures/speed-blind3.json): named before the round 3 fit was committed
 * and read after it. vLLM decode meets the target on it; llama.cpp misses both (docs/sizing.md,
 * "Speed"). The bounds are the measured errors rounded up, a guard against getting worse.
 */
describe("round 3: the test set", () => {
  const { results, counted, summary } = testSet("blind3");

  it("uses only sources no earlier file uses, each case marked blind3", () => {
    expectNewSources(BLIND3_FIXTURE, "blind3", [...SPEED_FIXTURE.sources, ...BLIND_FIXTURE.sources, ...BLIND2_FIXTURE.sources]);
    expect(counted).toHaveLength(37);
  });

  it("vLLM single-request decode: 8.7 % at the median over 10 cases (target 20 %: met)", () => {
    const v = errorsUnder(ROUND7_START, results, "vllm");
    expect(v.n).toBe(10);
    expect(v.median!).toBeLessThanOrEqual(0.09);
  });

  it("all cases: decode 27.6 %, prefill 68.1 % at the median (targets 20 % and 30 %: missed, by llama.cpp)", () => {
    const d = summary("decode");
    const p = summary("prefill");
    expect([d.n, p.n]).toEqual([30, 24]);
    expect(d.median!).toBeLessThanOrEqual(0.28);
    expect(p.median!).toBeLessThanOrEqual(0.69);
  });
});

/**
 * Round 4's test set (test/fixtures/speed-blind4.json): named before the round 4 fit was committed
 * and read after it. Decode meets the target on it, prefill misses it (docs/sizing.md, "Speed").
 * The bounds are the measured errors rounded up.
 */
describe("round 4: the test set", () => {
  const { results, counted, summary } = testSet("blind4");

  it("uses only sources no earlier file uses, each case marked blind4", () => {
    expectNewSources(BLIND4_FIXTURE, "blind4", [...SPEED_FIXTURE.sources, ...BLIND_FIXTURE.sources, ...BLIND2_FIXTURE.sources, ...BLIND3_FIXTURE.sources]);
    expect(results.length - counted.length).toBe(4);
  });

  it("single-request decode: 18.1 % at the median over 15 cases (target 20 %: met)", () => {
    const d = errorsUnder(ROUND7_START, results);
    expect(d.n).toBe(15);
    expect(d.median!).toBeLessThanOrEqual(0.19);
  });

  it("prefill: 39.4 % at the median over 14 cases (target 30 %: missed)", () => {
    const p = summary("prefill");
    expect(p.n).toBe(14);
    expect(p.median!).toBeLessThanOrEqual(0.4);
  });
});

/**
 * Round 5's test set (test/fixtures/speed-blind5.json): round 5 changed nothing, so this is a
 * second test of the round 4 model. One case: gpt-oss-120b on one MI300X with vLLM 0.24 (ROCm),
 * +134 % (docs/sizing.md, "Speed").
 */
describe("round 5: the test set", () => {
  const { results } = testSet("blind5");

  it("uses only sources no earlier file uses, each case marked blind5", () => {
    expectNewSources(BLIND5_FIXTURE, "blind5", [SPEED_FIXTURE, BLIND_FIXTURE, BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE].flatMap((f) => f.sources));
    expect(results).toHaveLength(1);
  });

  it("its one decode case: within the documented +134 %", () => {
    const d = errorsUnder(ROUND7_START, results);
    expect(d.n).toBe(1);
    expect(d.median!).toBeLessThanOrEqual(1.35);
  });
});

/**
 * Round 6's test set (test/fixtures/speed-blind6.json): named, with its merge rule, in the commit
 * of round 6's fit (864c8dc), merged after it (2963dbb) and read once: decode 20.5 %, prefill
 * 32.2 % at the median, both targets missed by a little (docs/sizing.md, "Speed").
 */
describe("round 6: the test set", () => {
  const { results, counted } = testSet("blind6");

  it("uses only sources no earlier file uses, each case marked blind6", () => {
    expectNewSources(BLIND6_FIXTURE, "blind6", [SPEED_FIXTURE, BLIND_FIXTURE, BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE].flatMap((f) => f.sources));
    expect(results).toHaveLength(31);
    expect(counted).toHaveLength(31);
  });

  // Its first evaluation, under round 6's table (ROUND7_START).
  it("single-request decode: 20.5 % at the median over 28 cases (target 20 %: missed by 0.5 points)", () => {
    const d = errorsUnder(ROUND7_START, results);
    expect(d.n).toBe(28);
    expect(d.median!).toBeLessThanOrEqual(0.206);
    expect(errorsUnder(ROUND7_START, results, "vllm").median!).toBeLessThanOrEqual(0.171);
  });

  it("prefill: 32.2 % at the median over 15 cases (target 30 %: missed; vLLM 22.3 %: met)", () => {
    const p = errorsUnder(ROUND7_START, results, undefined, "prefill");
    expect(p.n).toBe(15);
    expect(p.median!).toBeLessThanOrEqual(0.323);
    const v = errorsUnder(ROUND7_START, results, "vllm", "prefill");
    expect(v.n).toBe(7);
    expect(v.median!).toBeLessThanOrEqual(0.224);
  });
});

/**
 * Round 7 (speed-fit.ts --round7, about 80 s, so not run here): no refit of any group predicted
 * unseen campaigns better than round 6's values; the table is round 6's.
 */
describe("round 7: no change", () => {
  it("kept round 6's table (round 8 changed vLLM decode only)", () => {
    const vllmDecode = (e: SpeedEfficiency) => ({ ...e, bandwidth: 0, stepOverheadMs: 0, parallelMoeLayerOverheadMs: 0 });
    for (const k of Object.keys(ROUND7_START) as EfficiencyKey[]) {
      if (k.startsWith("vllm/")) expect(vllmDecode(SPEED_EFFICIENCY[k])).toEqual(vllmDecode(ROUND7_START[k]));
      else expect(SPEED_EFFICIENCY[k]).toEqual(ROUND7_START[k]);
    }
  });

  it("fits on the seven earlier files, round 6's test set included, never round 7's", () => {
    const cases = round7Cases();
    expect(cases.filter((c) => c.split === "blind6")).toHaveLength(31);
    for (const c of cases) expect(c.split).not.toBe("blind7");
  });
});

/**
 * Round 8 (speed-fit.ts --round8): vLLM fitted on the versions the project deploys (0.11 and later).
 * The vLLM groups run here (about 16 s); the llama.cpp groups, which kept their values as in
 * round 7, only in the script.
 */
describe("round 8: vLLM on the versions the project deploys", () => {
  it("reads the vLLM version a case states, the lowest where it names several", () => {
    const byId = new Map(round8Cases().map((c) => [c.id, c]));
    expect(statedVllmVersion(byId.get("laknarayana9-l40s-qwen25-7b-bf16-rag-c1")!)).toEqual([0, 23]);
    expect(statedVllmVersion(byId.get("moreh-mi355-qwen3-235b-fp8-tp8-in512-out512-c1")!)).toEqual([0, 10]);
    expect(statedVllmVersion(byId.get("vllm-pr53060-h100pcie-qwen25-05b-bf16-bs1-cache128")!)).toBeNull();
    expect(deployedVllm(byId.get("vllm-pr53060-h100pcie-qwen25-05b-bf16-bs1-cache128")!)).toBe(true); // published 2026-08
    expect(deployedVllm(byId.get("aurotripathy-1xh100-llama31-8b-16bit-c1")!)).toBe(false); // vLLM 0.8
  });

  it("fits on the eight earlier files, never round 8's test set; vLLM decode on 41 cases of 0.11 and later", () => {
    for (const c of round8Cases()) expect(c.split).not.toBe("blind8");
    expect(ROUND8_GROUPS["vllm decode"]!.cases()).toHaveLength(41);
    expect(ROUND8_GROUPS["vllm prefill"]!.cases()).toHaveLength(16);
  });

  it("aggregate decode (13 vLLM rows at concurrency 8-128): the documented 21 % under round 6's values, 49 % under round 8's", () => {
    const rows = [...round8Cases(), ...BLIND8_FIXTURE.cases].filter((c) => c.engine === "vllm" && c.measured.aggregateDecodeTokensPerSecond !== undefined);
    expect(rows).toHaveLength(13);
    const median = (table?: Record<EfficiencyKey, SpeedEfficiency>) => summarise(rows.map((c) => runCase(c, table?.[runCase(c).key]).aggregate!.error)).median!;
    expect(median(ROUND7_START)).toBeLessThanOrEqual(0.21);
    expect(median()).toBeLessThanOrEqual(0.493);
  });

  it("vLLM: the table holds the fit of the candidate that best predicts unseen campaigns", () => {
    const groups = { "vllm decode": ROUND8_GROUPS["vllm decode"]!, "vllm prefill": ROUND8_GROUPS["vllm prefill"]! };
    const { table, report } = round7(ROUND7_START, groups);
    expect(report.map((r) => r.ranked[0]!.name)).toEqual(["fit, cases weighted equally", "start values"]);
    for (const k of ["vllm/gpu-datacenter", "vllm/gpu-consumer"] as const) expect(SPEED_EFFICIENCY[k]).toEqual(table[k]);
  }, 60_000);
});

/**
 * Round 7's test set (test/fixtures/speed-blind7.json): a second test of round 6's model, named in
 * aa329cd, merged in 15c6e0b, read once: decode 32.2 % (vLLM 45.5 %: a 0.5B model on an H100 PCIe
 * runs 2.6 × faster than predicted), prefill 24.9 % at the median (docs/sizing.md, "Speed").
 */
describe("round 7: the test set", () => {
  const { results, counted } = testSet("blind7");

  it("uses only sources no earlier file uses, each case marked blind7", () => {
    expectNewSources(BLIND7_FIXTURE, "blind7", [SPEED_FIXTURE, BLIND_FIXTURE, BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE, BLIND6_FIXTURE].flatMap((f) => f.sources));
    expect(results).toHaveLength(14);
    expect(counted).toHaveLength(14);
  });

  // Its first evaluation, under round 6's table (ROUND7_START).
  it("single-request decode: 32.2 % at the median over 11 cases (target 20 %: missed)", () => {
    const d = errorsUnder(ROUND7_START, results);
    expect(d.n).toBe(11);
    expect(d.median!).toBeLessThanOrEqual(0.323);
  });

  it("prefill: 24.9 % at the median over 4 cases (target 30 %: met, on llama.cpp only)", () => {
    const p = errorsUnder(ROUND7_START, results, undefined, "prefill");
    expect(p.n).toBe(4);
    expect(p.median!).toBeLessThanOrEqual(0.25);
  });

  it("rounds 6 and 7 together, the sets round 6's model never saw: decode 23.2 % (39 cases), prefill 32.2 % (19)", () => {
    const both = [...testSet("blind6").results, ...results];
    const pick = (k: "decode" | "prefill") => errorsUnder(ROUND7_START, both, undefined, k);
    expect([pick("decode").n, pick("prefill").n]).toEqual([39, 19]);
    expect(pick("decode").median!).toBeLessThanOrEqual(0.233);
    expect(pick("prefill").median!).toBeLessThanOrEqual(0.323);
  });
});

/**
 * Round 8's test set (test/fixtures/speed-blind8.json): named with round 8's fit (d1ffba5), merged
 * after it (60bbeda), read once with round 8's model, the current one: decode 10.9 %, prefill
 * 14.2 % at the median, both targets met (docs/sizing.md, "Speed").
 */
describe("round 8: the test set", () => {
  const { results, counted, summary } = testSet("blind8");

  it("uses only sources no earlier file uses, each case marked blind8", () => {
    expectNewSources(BLIND8_FIXTURE, "blind8", [SPEED_FIXTURE, BLIND_FIXTURE, BLIND2_FIXTURE, BLIND3_FIXTURE, BLIND4_FIXTURE, BLIND5_FIXTURE, BLIND6_FIXTURE, BLIND7_FIXTURE].flatMap((f) => f.sources));
    expect(results).toHaveLength(16);
    expect(counted).toHaveLength(16);
  });

  it("single-request decode: 10.9 % at the median over 10 cases (target 20 %: met; vLLM 8.8 % over 7)", () => {
    const d = summary("decode");
    expect(d.n).toBe(10);
    expect(d.median!).toBeLessThanOrEqual(0.11);
    const v = summary("decode", "vllm");
    expect(v.n).toBe(7);
    expect(v.median!).toBeLessThanOrEqual(0.089);
  });

  it("prefill: 14.2 % at the median over 8 cases (target 30 %: met; all llama.cpp)", () => {
    const p = summary("prefill");
    expect(p.n).toBe(8);
    expect(p.median!).toBeLessThanOrEqual(0.143);
  });

  it("rounds 6 to 8, each case under the model of its round, before it was read: decode 17.2 % (49 cases), prefill 22.2 % (27)", () => {
    const earlier = [...testSet("blind6").results, ...testSet("blind7").results].filter((r) => !r.case.outOfScope).map((r) => runCase(r.case, ROUND7_START[r.key]));
    const all = [...earlier, ...counted];
    const pick = (k: "decode" | "prefill") => summarise(all.flatMap((r) => (r[k] ? [r[k]!.error] : [])));
    expect([pick("decode").n, pick("prefill").n]).toEqual([49, 27]);
    expect(pick("decode").median!).toBeLessThanOrEqual(0.173);
    expect(pick("prefill").median!).toBeLessThanOrEqual(0.223);
  });
});

describe("throughput", () => {
  it("reads active weights only for a mixture of experts", () => {
    const active = activeWeightBytes(mixtral, "bf16");
    const total = weightMemory(mixtral, "bf16").bytesTotal;
    // Mixtral: 2 of 8 experts per token, ~12.9B of ~46.7B parameters active.
    expect(active / total).toBeGreaterThan(0.25);
    expect(active / total).toBeLessThan(0.32);
  });

  it("reads nearly every expert for a long prompt or a large batch: (1 - k/E)^tokens of them stay unread", () => {
    const total = weightMemory(mixtral, "bf16").bytesTotal;
    const one = activeWeightBytes(mixtral, "bf16");
    const two = activeWeightBytes(mixtral, "bf16", undefined, 2);
    const prompt = activeWeightBytes(mixtral, "bf16", undefined, 512);
    const p = weightMemory(mixtral, "bf16").parameters;
    // Two tokens leave (6/8)² of the experts unread instead of 6/8.
    expect(two - one).toBeCloseTo(p.experts * 2 * (0.75 - 0.75 ** 2), -3);
    expect(prompt / total).toBeGreaterThan(0.99);
    expect(activeWeightBytes(llama8b, "bf16", undefined, 512)).toBe(activeWeightBytes(llama8b, "bf16"));
  });

  it("runs the output layer for the prompt's last token only", () => {
    const t = throughput(base({ promptTokens: 4096 }));
    const e = SPEED_EFFICIENCY["vllm/gpu-datacenter"];
    const w = weightMemory(llama8b, "bf16");
    const lookup = llama8b.vocabSize * llama8b.hiddenSize;
    const logits = 2 * lookup;
    const linear = 2 * (w.parameters.active - w.parameters.vision - lookup);
    let attention = 0;
    for (let i = 0; i < llama8b.layers.length; i++) attention += 2 * llama8b.attention.numHeads * (4097 / 2) * 2 * llama8b.attention.headDim;
    const flops = 4096 * (linear - logits + attention) + logits;
    const seconds = flops / (989.4e12 * e.compute) + e.stepOverheadMs / 1000;
    expect(t.timeToFirstTokenMs).toBeCloseTo(seconds * 1000, 6);
  });

  it("is memory-bandwidth bound for one request and compute bound for many", () => {
    expect(throughput(base()).bound).toBe("memory-bandwidth");
    expect(throughput(base({ concurrency: 512, context: 256 })).bound).toBe("compute");
  });

  it("decodes Llama 3.1 8B bf16 on one H100 SXM at about 3.35 TB/s × efficiency / 16 GB", () => {
    const t = throughput(base({ context: 0 }));
    const e = SPEED_EFFICIENCY["vllm/gpu-datacenter"];
    const bytes = activeWeightBytes(llama8b, "bf16");
    const expected = 1 / (bytes / (3350e9 * e.bandwidth) + e.stepOverheadMs / 1000);
    expect(t.decodeTokensPerSecond).toBeCloseTo(expected, 6);
    // Measured on vLLM 0.21 (yobitel, calibration set): 154 tokens/s; the round 2 fit gives about 112 (−28 %).
    expect(t.decodeTokensPerSecond).toBeGreaterThan(100);
    expect(t.decodeTokensPerSecond).toBeLessThan(200);
  });

  it("gives time to first token as the prefill time of the prompt", () => {
    const t = throughput(base({ promptTokens: 2048 }));
    expect(t.timeToFirstTokenMs).toBeCloseTo((2048 / t.prefillTokensPerSecond) * 1000, 6);
    expect(t.promptTokens).toBe(2048);
  });

  it("speeds up one request with vLLM tensor parallelism but not with llama.cpp's layer split", () => {
    const vllm1 = throughput(base({ arch: llama70b, dtype: "fp8" }));
    const vllm4 = throughput(base({ arch: llama70b, dtype: "fp8", gpuCount: 4 }));
    expect(vllm4.decodeTokensPerSecond).toBeGreaterThan(2 * vllm1.decodeTokensPerSecond);
    const cpp1 = throughput(base({ engine: "llamacpp", dtype: "q4_k_m", gpu: gpu("rtx-4090") }));
    const cpp4 = throughput(base({ engine: "llamacpp", dtype: "q4_k_m", gpu: gpu("rtx-4090"), gpuCount: 4 }));
    expect(cpp4.decodeTokensPerSecond).toBeCloseTo(cpp1.decodeTokensPerSecond, 9);
  });

  it("uses the fp8 tensor rate for fp8 on Hopper and the 16-bit rate for AWQ", () => {
    const h100 = gpu("h100-sxm-80gb");
    expect(gpuTflops(h100, "fp8", "vllm")).toBe(h100.tensorTflops.fp8);
    expect(gpuTflops(h100, "awq", "vllm")).toBe(h100.tensorTflops.fp16);
    expect(gpuTflops(gpu("a100-sxm-80gb"), "fp8", "vllm")).toBe(312);
  });

  it("classes GPUs by memory: HBM as datacenter, GDDR (L40S included) as consumer", () => {
    expect(deviceClass({ engine: "vllm", gpu: gpu("h100-pcie-80gb") })).toBe("gpu-datacenter");
    expect(deviceClass({ engine: "vllm", gpu: gpu("l40s") })).toBe("gpu-consumer");
    expect(deviceClass({ engine: "cpu", gpu: null })).toBe("cpu");
  });

  it("runs CPU inference from cores and memory bandwidth", () => {
    const t = throughput(base({ engine: "cpu", dtype: "q4_k_m", gpu: null, gpuCount: 0, cpu: { cores: 32, memBandwidthGBs: 460.8 } }));
    expect(t.decodeTokensPerSecond).toBeGreaterThan(20);
    expect(t.decodeTokensPerSecond).toBeLessThan(100);
  });

  it("takes overrides for hardware not in the catalog", () => {
    const t = throughput(base({ gpu: null, memBandwidthGBs: 1000, tflops: 200 }));
    const faster = throughput(base({ gpu: null, memBandwidthGBs: 2000, tflops: 200 }));
    expect(faster.decodeTokensPerSecond).toBeGreaterThan(t.decodeTokensPerSecond);
  });

  it("says what is missing when the bandwidth is unknown", () => {
    expect(() => throughput(base({ gpu: null }))).toThrow(/memory bandwidth of the GPU is unknown.*memBandwidthGBs/);
    expect(() => throughput(base({ engine: "cpu", gpu: null, cpu: null }))).toThrow(/memory bandwidth of the CPU is unknown/);
  });

  it("rejects a concurrency below 1", () => {
    expect(() => throughput(base({ concurrency: 0 }))).toThrow("speed: concurrency must be a number ≥ 1; got 0");
  });
});

describe("speed properties", () => {
  const models = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-30B-A3B", "google/gemma-3-27b-it", "mistralai/Mixtral-8x7B-Instruct-v0.1", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-20b"].map(arch);
  const gpus = ["h100-sxm-80gb", "l40s", "rtx-4090", "a100-pcie-80gb", "mi300x", "l4"].map(gpu);
  const vllmDtypes: ConcreteDtype[] = ["bf16", "fp16", "fp8", "int8", "awq", "gptq"];
  const request = fc.record({
    arch: fc.constantFrom(...models),
    engine: fc.constantFrom("vllm" as const, "llamacpp" as const, "ollama" as const),
    dtype: fc.constantFrom(...vllmDtypes),
    gpu: fc.constantFrom(...gpus),
    gpuCount: fc.constantFrom(1, 2, 4, 8),
    context: fc.integer({ min: 0, max: 131072 }),
    promptTokens: fc.integer({ min: 1, max: 32768 }),
    concurrency: fc.integer({ min: 1, max: 256 }),
  });

  it("more memory bandwidth is never slower", () => {
    fc.assert(
      fc.property(request, fc.double({ min: 50, max: 10000, noNaN: true }), fc.double({ min: 1, max: 10, noNaN: true }), (r, bw, k) => {
        const slow = throughput({ ...r, memBandwidthGBs: bw });
        const fast = throughput({ ...r, memBandwidthGBs: bw * k });
        return (
          fast.decodeTokensPerSecond >= slow.decodeTokensPerSecond &&
          fast.aggregateDecodeTokensPerSecond >= slow.aggregateDecodeTokensPerSecond &&
          fast.prefillTokensPerSecond >= slow.prefillTokensPerSecond
        );
      }),
      { numRuns: 300 },
    );
  });

  it("more context never makes decode faster", () => {
    fc.assert(
      fc.property(request, fc.integer({ min: 0, max: 131072 }), (r, extra) => {
        const short = throughput(r);
        const long = throughput({ ...r, context: r.context + extra });
        return long.decodeTokensPerSecond <= short.decodeTokensPerSecond && long.aggregateDecodeTokensPerSecond <= short.aggregateDecodeTokensPerSecond;
      }),
      { numRuns: 300 },
    );
  });

  it("more concurrency never lowers aggregate throughput (and never raises each request's)", () => {
    fc.assert(
      fc.property(request, fc.integer({ min: 1, max: 256 }), (r, extra) => {
        const few = throughput(r);
        const many = throughput({ ...r, concurrency: r.concurrency + extra });
        // A relative 1e-12 for rounding: at context 0 the per-request rate is flat, and
        // (3 × x) / 3 can come out one unit in the last place above x.
        return (
          many.aggregateDecodeTokensPerSecond >= few.aggregateDecodeTokensPerSecond * (1 - 1e-12) &&
          many.perRequestDecodeTokensPerSecond <= few.perRequestDecodeTokensPerSecond * (1 + 1e-12)
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe("catalog speed data", () => {
  it("gives every GPU dense tensor TFLOPS with a source", () => {
    for (const g of catalog().gpus) {
      expect(g.tensorTflops.fp16).toBeGreaterThan(0);
      expect(g.tensorTflops.sources.length).toBeGreaterThan(0);
      if (g.dataTypes.fp8) expect(g.tensorTflops.fp8 ?? 0).toBeGreaterThanOrEqual(g.tensorTflops.fp16);
      if (!g.dataTypes.fp8) expect(g.tensorTflops.fp8).toBeUndefined();
    }
  });

  it("knows the CPU of every offer that names one", () => {
    for (const o of catalog().offers.filter((x) => x.cpu !== null)) {
      const c = offerCpu(o.id);
      expect(c?.cores).toBeGreaterThan(0);
      expect(c?.memBandwidthGBs).toBeGreaterThan(0);
      expect(c!.memBandwidthGBs).toBeLessThanOrEqual(c!.model.peakBandwidthGBs * 2 + 1e-9);
    }
    expect(offerCpu("hetzner-gex131")).toMatchObject({ cores: 24, memBandwidthGBs: 281.6, model: { model: "Intel Xeon Gold 5412U" } });
    expect(offerCpu("no-such-offer")).toBeUndefined();
  });

  it("rejects a CPU entry whose bandwidth does not match its memory system", () => {
    const raw = structuredClone(cpuCatalog());
    raw.cpus[0]!.peakBandwidthGBs = 999;
    expect(() => validateCpus(raw)).toThrow(/cpus\.json\.cpus\[0\]\.peakBandwidthGBs: peakBandwidthGBs must equal memoryChannels × memoryMTs × 8 \/ 1000/);
  });

  it("rejects a CPU entry for an offer that does not exist", () => {
    const raw = structuredClone(cpuCatalog());
    raw.offers[0]!.offer = "hetzner-gex999";
    expect(() => validateCpus(raw)).toThrow('cpus.json.offers[0].offer: "hetzner-gex999" is not an offer id in offers.json');
  });
});
