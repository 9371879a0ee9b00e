/**
 * Speed calibration cases (test/fixtures/speed-calibration.json) run through core/sizing/speed.ts:
 * predictions, relative errors and their summary by split. Used by test/speed.test.ts and
 * test/calibration/speed-report.ts.
 */
import blindFixture from "../fixtures/speed-blind.json";
import blind2Fixture from "../fixtures/speed-blind2.json";
import blind3Fixture from "../fixtures/speed-blind3.json";
import blind4Fixture from "../fixtures/speed-blind4.json";
import blind5Fixture from "../fixtures/speed-blind5.json";
import blind6Fixture from "../fixtures/speed-blind6.json";
import blind7Fixture from "../fixtures/speed-blind7.json";
import blind8Fixture from "../fixtures/speed-blind8.json";
import fixture from "../fixtures/speed-calibration.json";
import { findGpu, findModel } from "../../core/catalog";
import { parseHfConfig, type ModelArchitecture } from "../../core/sizing/architecture";
import type { ConcreteDtype } from "../../core/sizing/dtypes";
import type { Engine } from "../../core/sizing/engines";
import { efficiencyKey, throughputWith, SPEED_EFFICIENCY, type EfficiencyKey, type SpeedEfficiency, type SpeedRequest } from "../../core/sizing/speed";

/** train / heldout: round 1's split of the calibration set; blind to blind8: the test sets of rounds 1 to 8. */
export type Split = "train" | "heldout" | "blind" | "blind2" | "blind3" | "blind4" | "blind5" | "blind6" | "blind7" | "blind8";

export interface SpeedCase {
  id: string;
  source: string;
  split: Split;
  model: string | null;
  config?: string;
  dtype: string;
  engine: string;
  hardware: { gpu?: string; gpuCount?: number; cpu?: { description: string; cores: number; memBandwidthGBs: number } };
  context: number;
  promptTokens: number;
  concurrency: number;
  measured: { decodeTokensPerSecond?: number; prefillTokensPerSecond?: number; aggregateDecodeTokensPerSecond?: number };
  excludedPrefill?: string;
  /** Why the case lies outside what the project deploys (left out of fitting and of the target statistics). */
  outOfScope?: string;
  note?: string;
}

export interface SpeedSource {
  id: string;
  group: string;
  published: string;
  publishedNote?: string;
  url: string;
  read: string;
  description: string;
  split: Split;
}

export const SPEED_FIXTURE = fixture as unknown as {
  splitRule: string;
  configs: Record<string, unknown>;
  sources: SpeedSource[];
  cases: SpeedCase[];
};

/**
 * The blind test set (test/fixtures/speed-blind.json): measurements collected after the
 * efficiencies were frozen, from sources the calibration set does not use. Never fitted on.
 */
export const BLIND_FIXTURE = blindFixture as unknown as {
  splitRule: string;
  configs: Record<string, unknown>;
  sources: SpeedSource[];
  cases: SpeedCase[];
};

/**
 * Round 2's test set (test/fixtures/speed-blind2.json): named before round 2's fit was committed,
 * collected from sources neither other file uses, never fitted on.
 */
export const BLIND2_FIXTURE = blind2Fixture as unknown as {
  splitRule: string;
  mergeRule: string;
  configs: Record<string, unknown>;
  sources: SpeedSource[];
  cases: SpeedCase[];
};

/**
 * Round 3's test set (test/fixtures/speed-blind3.json): named before round 3's fit was committed,
 * collected from sources no other file uses, never fitted on.
 */
export const BLIND3_FIXTURE = blind3Fixture as unknown as typeof BLIND2_FIXTURE;

/** Round 4's test set (test/fixtures/speed-blind4.json): named before round 4's fit was committed. */
export const BLIND4_FIXTURE = blind4Fixture as unknown as typeof BLIND2_FIXTURE;

/** Round 5's test set (test/fixtures/speed-blind5.json): a second test of the round 4 model. */
export const BLIND5_FIXTURE = blind5Fixture as unknown as typeof BLIND2_FIXTURE;

/** Round 6's test set (test/fixtures/speed-blind6.json): named before round 6's fit was committed. */
export const BLIND6_FIXTURE = blind6Fixture as unknown as typeof BLIND2_FIXTURE;

/** Round 7's test set (test/fixtures/speed-blind7.json): round 7 changed nothing, a second test of round 6's model. */
export const BLIND7_FIXTURE = blind7Fixture as unknown as typeof BLIND2_FIXTURE;

/** Round 8's test set (test/fixtures/speed-blind8.json): named before round 8's fit was committed. */
export const BLIND8_FIXTURE = blind8Fixture as unknown as typeof BLIND2_FIXTURE;

/** The test sets of rounds 1 to 8, by split. */
export const TEST_SETS = { blind: BLIND_FIXTURE, blind2: BLIND2_FIXTURE, blind3: BLIND3_FIXTURE, blind4: BLIND4_FIXTURE, blind5: BLIND5_FIXTURE, blind6: BLIND6_FIXTURE, blind7: BLIND7_FIXTURE, blind8: BLIND8_FIXTURE } as const;

const CONFIGS: Record<Split, Record<string, unknown>> = {
  train: SPEED_FIXTURE.configs,
  heldout: SPEED_FIXTURE.configs,
  ...(Object.fromEntries(Object.entries(TEST_SETS).map(([split, f]) => [split, f.configs])) as Record<keyof typeof TEST_SETS, Record<string, unknown>>),
};

const archCache = new Map<string, ModelArchitecture>();

/** The model architecture of a case: a catalog model or an inline config. */
export function caseArch(c: SpeedCase): ModelArchitecture {
  const key = c.model ?? `config:${c.split}:${c.config}`;
  let arch = archCache.get(key);
  if (!arch) {
    if (c.model) {
      const m = findModel(c.model);
      if (!m) throw new Error(`speed case ${c.id}: model ${c.model} is not in the catalog`);
      arch = parseHfConfig(m.config, m.id);
    } else {
      const cfg = CONFIGS[c.split][c.config ?? ""];
      if (!cfg) throw new Error(`speed case ${c.id}: config ${c.config} is not in the fixture's configs`);
      arch = parseHfConfig(cfg, String(c.config));
    }
    archCache.set(key, arch);
  }
  return arch;
}

/** The speed request a case describes. */
export function caseRequest(c: SpeedCase): SpeedRequest {
  const gpu = c.hardware.gpu ? findGpu(c.hardware.gpu) : null;
  if (c.hardware.gpu && !gpu) throw new Error(`speed case ${c.id}: GPU ${c.hardware.gpu} is not in the catalog`);
  return {
    arch: caseArch(c),
    engine: c.engine as Engine,
    dtype: c.dtype as ConcreteDtype,
    gpu: gpu ?? null,
    gpuCount: c.hardware.gpuCount ?? 1,
    cpu: c.hardware.cpu ? { cores: c.hardware.cpu.cores, memBandwidthGBs: c.hardware.cpu.memBandwidthGBs } : null,
    context: c.context,
    promptTokens: c.promptTokens,
    concurrency: c.concurrency,
  };
}

export interface SpeedResult {
  case: SpeedCase;
  key: EfficiencyKey;
  decode: { measured: number; predicted: number; error: number } | null;
  prefill: { measured: number; predicted: number; error: number } | null;
  aggregate: { measured: number; predicted: number; error: number } | null;
}

const err = (predicted: number, measured: number): number => (predicted - measured) / measured;

/** Runs one case with the given efficiencies (default: the calibrated table). */
export function runCase(c: SpeedCase, eff?: SpeedEfficiency): SpeedResult {
  const req = caseRequest(c);
  const key = efficiencyKey(req);
  const t = throughputWith(req, eff ?? SPEED_EFFICIENCY[key]);
  const m = c.measured;
  const pair = (measured: number | undefined, predicted: number): SpeedResult["decode"] =>
    measured === undefined ? null : { measured, predicted, error: err(predicted, measured) };
  return {
    case: c,
    key,
    // Single-request cases only: concurrency > 1 cases measure aggregate decode.
    decode: c.concurrency === 1 ? pair(m.decodeTokensPerSecond, t.decodeTokensPerSecond) : null,
    prefill: c.excludedPrefill ? null : pair(m.prefillTokensPerSecond, t.prefillTokensPerSecond),
    aggregate: pair(m.aggregateDecodeTokensPerSecond, t.aggregateDecodeTokensPerSecond),
  };
}

export function runAllSpeed(): SpeedResult[] {
  return SPEED_FIXTURE.cases.map((c) => runCase(c));
}

/** One test set's cases, run with the calibrated efficiencies. */
export function runTestSet(split: keyof typeof TEST_SETS): SpeedResult[] {
  return TEST_SETS[split].cases.map((c) => runCase(c));
}

/** Mean absolute log error of the predictions that `pick` selects, with the given efficiencies. */
export function meanLogError(cases: SpeedCase[], eff: SpeedEfficiency, pick: "decode" | "prefill"): number {
  let sum = 0;
  let n = 0;
  for (const c of cases) {
    const r = runCase(c, eff)[pick];
    if (r) {
      sum += Math.abs(Math.log(r.predicted / r.measured));
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** The q-quantile (0..1) of absolute values, linear interpolation; null for no values. */
export function quantileAbs(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const s = values.map(Math.abs).sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export interface ErrorSummary {
  n: number;
  median: number | null;
  p80: number | null;
}

export function summarise(errors: number[]): ErrorSummary {
  return { n: errors.length, median: quantileAbs(errors, 0.5), p80: quantileAbs(errors, 0.8) };
}

/** Error summaries of decode, prefill and aggregate decode for one split. */
export function splitSummary(results: SpeedResult[], split: Split): { decode: ErrorSummary; prefill: ErrorSummary; aggregate: ErrorSummary } {
  const rs = results.filter((r) => r.case.split === split);
  return {
    decode: summarise(rs.flatMap((r) => (r.decode ? [r.decode.error] : []))),
    prefill: summarise(rs.flatMap((r) => (r.prefill ? [r.prefill.error] : []))),
    aggregate: summarise(rs.flatMap((r) => (r.aggregate ? [r.aggregate.error] : []))),
  };
}
