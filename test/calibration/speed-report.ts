/**
 * Speed calibration report for docs/sizing.md ("Speed"): `npx tsx test/calibration/speed-report.ts`.
 * With `--fit`, grid-searches the efficiencies of each engine/device group on the training cases
 * only and prints them (copy them into SPEED_EFFICIENCY in core/sizing/speed.ts).
 */
import { SPEED_EFFICIENCY, type EfficiencyKey, type SpeedEfficiency } from "../../core/sizing/speed";
import { meanLogError, runAllSpeed, runCase, runTestSet, splitSummary, SPEED_FIXTURE, type ErrorSummary, type SpeedCase, type SpeedResult } from "./speed-cases";

const pct = (x: number | null): string => (x === null ? "–" : `${(x * 100).toFixed(1)} %`);
const signed = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;

const loss = meanLogError;

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let x = from; x <= to + 1e-9; x += step) out.push(Math.round(x * 1000) / 1000);
  return out;
}

/** Fits bandwidth and step overhead on decode, then compute on prefill, for one group's training cases. */
function fitGroup(cases: SpeedCase[], start: SpeedEfficiency): { eff: SpeedEfficiency; decodeCases: number; prefillCases: number } {
  const decodeCases = cases.filter((c) => runCase(c, start).decode).length;
  const prefillCases = cases.filter((c) => runCase(c, start).prefill).length;
  let best = { ...start };
  if (decodeCases > 0) {
    // With fewer than 5 decode cases the overhead is not identifiable: keep it, fit bandwidth only.
    const overheads = decodeCases >= 5 ? range(0, 8, 0.1) : [start.stepOverheadMs];
    let bestLoss = Infinity;
    for (const bandwidth of range(0.2, 1, 0.01)) {
      for (const stepOverheadMs of overheads) {
        const l = loss(cases, { ...best, bandwidth, stepOverheadMs }, "decode");
        if (l < bestLoss) {
          bestLoss = l;
          best = { ...best, bandwidth, stepOverheadMs };
        }
      }
    }
  }
  if (prefillCases > 0) {
    let bestLoss = Infinity;
    let bestCompute = best.compute;
    for (const compute of range(0.05, 1, 0.01)) {
      const l = loss(cases, { ...best, compute }, "prefill");
      if (l < bestLoss) {
        bestLoss = l;
        bestCompute = compute;
      }
    }
    best = { ...best, compute: bestCompute };
  }
  return { eff: best, decodeCases, prefillCases };
}

if (process.argv.includes("--fit")) {
  const train = SPEED_FIXTURE.cases.filter((c) => c.split === "train");
  const byKey = new Map<EfficiencyKey, SpeedCase[]>();
  for (const c of train) {
    const k = runCase(c).key;
    byKey.set(k, [...(byKey.get(k) ?? []), c]);
  }
  console.log("Fitted on training cases only:");
  for (const [k, cases] of byKey) {
    const f = fitGroup(cases, SPEED_EFFICIENCY[k]);
    console.log(`  "${k}": ${JSON.stringify(f.eff)}, // ${f.decodeCases} decode, ${f.prefillCases} prefill training cases`);
  }
  process.exit(0);
}

const results = [...runAllSpeed(), ...runTestSet("blind"), ...runTestSet("blind2"), ...runTestSet("blind3"), ...runTestSet("blind4"), ...runTestSet("blind5"), ...runTestSet("blind6"), ...runTestSet("blind7"), ...runTestSet("blind8")];
console.log("| case | split | hardware | model, dtype, engine | decode t/s measured / model | err | prefill t/s measured / model | err |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const c = r.case;
  const hw = c.hardware.gpu ? `${c.hardware.gpuCount ?? 1} × ${c.hardware.gpu}` : (c.hardware.cpu?.description ?? "?");
  const d = r.decode ?? r.aggregate;
  const dLabel = r.aggregate ? ` (aggregate, ${c.concurrency} requests)` : "";
  const p = r.prefill;
  const pNote = c.excludedPrefill ? `excluded: ${c.measured.prefillTokensPerSecond}` : "";
  console.log(
    `| ${c.id} | ${c.split}${c.outOfScope ? " (out of scope)" : ""} | ${hw} | ${c.model ?? c.config}, ${c.dtype}, ${c.engine} | ` +
      `${d ? `${d.measured} / ${d.predicted.toFixed(1)}${dLabel}` : ""} | ${d ? signed(d.error) : ""} | ` +
      `${p ? `${p.measured} / ${p.predicted.toFixed(0)}` : pNote} | ${p ? signed(p.error) : ""} |`,
  );
}
const line = (label: string, s: ErrorSummary): string => `${label}: median ${pct(s.median)}, 80th percentile ${pct(s.p80)} (${s.n} cases)`;
console.log();
const inScope = results.filter((r) => !r.case.outOfScope);
for (const split of ["train", "heldout", "blind", "blind2", "blind3", "blind4", "blind5", "blind6", "blind7", "blind8"] as const) {
  const s = splitSummary(inScope, split);
  const out = results.filter((r) => r.case.split === split && r.case.outOfScope).length;
  console.log(`${split}: ${line("decode", s.decode)}; ${line("prefill", s.prefill)}; ${line("aggregate decode", s.aggregate)}${out ? `; ${out} cases out of scope, not counted` : ""}`);
}
const byEngine = (rs: SpeedResult[], split: "blind" | "blind2" | "blind3" | "blind4" | "blind6" | "blind7" | "blind8"): void => {
  for (const engine of ["llamacpp", "vllm"]) {
    const s = splitSummary(rs.filter((r) => r.case.engine === engine), split);
    console.log(`  ${split}, ${engine}: ${line("decode", s.decode)}; ${line("prefill", s.prefill)}`);
  }
};
byEngine(inScope, "blind");
byEngine(inScope, "blind2");
byEngine(inScope, "blind3");
byEngine(inScope, "blind4");
byEngine(inScope, "blind6");
byEngine(inScope, "blind7");
byEngine(inScope, "blind8");
