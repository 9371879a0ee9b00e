/** Prints the calibration table (Markdown) for docs/sizing.md: `npm run calibrate`. */
import { runAll, SPLIT_RULE, summarize } from "./cases";

const pct = (x: number | null): string => (x === null ? "" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 2): string => (x === null ? "" : x.toFixed(d));
const results = runAll();
console.log("| case | split | model | GPU | TP | dtype | vLLM | weights GiB obs / est | err | KV tokens obs / est | KV GiB obs / est | KV err |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const c = r.case;
  if (r.skipped) {
    console.log(`| [${c.id}](${c.source.url}) | ${c.split} | ${c.model} | ${c.gpu ?? "?"} | ${c.tensorParallelSize} | ${c.quantization ?? c.dtype} | ${r.version} | skipped: ${r.skipped} | | | | |`);
    continue;
  }
  console.log(
    `| [${c.id}](${c.source.url})${c.excluded ? " (excluded)" : ""} | ${c.split} | ${c.model} | ${c.gpu ?? "?"} | ${c.tensorParallelSize} | ${c.quantization ?? c.dtype}${c.kvCacheDtype !== "auto" ? `, kv ${c.kvCacheDtype}` : ""} | ${r.version}${c.vllmVersion ? "" : "*"} | ${num(c.observed.weightsGiB)} / ${num(r.predictedWeightsGiB)} | ${pct(r.weightsError)} | ${r.observedTokens ?? ""} / ${r.predictedTokens ?? ""} | ${num(c.observed.kvCacheGiB)} / ${num(r.predictedKvGiB)} | ${pct(r.kvTokensError ?? r.kvGiBError)} |`,
  );
}
const pc = (x: number): string => `${(x * 100).toFixed(2)} %`;
const line = (label: string, s: ReturnType<typeof summarize>): void => {
  console.log(
    `${label}: weights mean absolute error ${pc(s.weightsMeanAbsError)} over ${s.weightsCompared} cases; ` +
      `KV cache median absolute error ${pc(s.kvMedianAbsError)}, 80th percentile ${pc(s.kvP80AbsError)}, ` +
      `${(s.kvWithin15 * 100).toFixed(0)} % of ${s.kvCompared} cases within 15 %.`,
  );
};
console.log();
console.log(`Split: ${SPLIT_RULE}`);
console.log();
console.log("| set | cases | weights compared | weights mean abs err | KV compared | KV median abs err | KV 80th pct abs err | KV within 15 % |");
console.log("|---|---|---|---|---|---|---|---|");
for (const [label, s] of [
  ["train", summarize(results, false, "train")],
  ["held-out", summarize(results, false, "heldout")],
  ["all (targets of issue #2)", summarize(results)],
  ["train, excluded cases included", summarize(results, true, "train")],
  ["held-out, excluded cases included", summarize(results, true, "heldout")],
] as const) {
  console.log(`| ${label} | ${s.cases} | ${s.weightsCompared} | ${pc(s.weightsMeanAbsError)} | ${s.kvCompared} | ${pc(s.kvMedianAbsError)} | ${pc(s.kvP80AbsError)} | ${(s.kvWithin15 * 100).toFixed(0)} % |`);
}
console.log();
line("Train (excluded cases left out)", summarize(results, false, "train"));
line("Held-out (excluded cases left out)", summarize(results, false, "heldout"));
line("All cases (excluded cases left out)", summarize(results));
line("All cases", summarize(results, true));
console.log();
console.log("Excluded from the targets:");
for (const r of results.filter((x) => x.case.excluded)) console.log(`- ${r.case.id}: ${r.case.excluded}`);
