/** Prints the calibration table (Markdown) for docs/sizing.md: `npm run calibrate`. */
import { runAll, summarize } from "./cases";

const pct = (x: number | null): string => (x === null ? "" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 2): string => (x === null ? "" : x.toFixed(d));
const results = runAll();
console.log("| case | model | GPU | TP | dtype | vLLM | weights GiB obs / est | err | KV tokens obs / est | KV GiB obs / est | KV err |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const c = r.case;
  if (r.skipped) {
    console.log(`| [${c.id}](${c.source.url}) | ${c.model} | ${c.gpu ?? "?"} | ${c.tensorParallelSize} | ${c.quantization ?? c.dtype} | ${r.version} | skipped: ${r.skipped} | | | | |`);
    continue;
  }
  console.log(
    `| [${c.id}](${c.source.url})${c.excluded ? " (excluded)" : ""} | ${c.model} | ${c.gpu ?? "?"} | ${c.tensorParallelSize} | ${c.quantization ?? c.dtype}${c.kvCacheDtype !== "auto" ? `, kv ${c.kvCacheDtype}` : ""} | ${r.version}${c.vllmVersion ? "" : "*"} | ${num(c.observed.weightsGiB)} / ${num(r.predictedWeightsGiB)} | ${pct(r.weightsError)} | ${r.observedTokens ?? ""} / ${r.predictedTokens ?? ""} | ${num(c.observed.kvCacheGiB)} / ${num(r.predictedKvGiB)} | ${pct(r.kvTokensError ?? r.kvGiBError)} |`,
  );
}
const line = (label: string, s: ReturnType<typeof summarize>): void => {
  console.log(
    `${label}: weights mean absolute error ${(s.weightsMeanAbsError * 100).toFixed(2)} % over ${s.weightsCompared} cases; ` +
      `KV cache median absolute error ${(s.kvMedianAbsError * 100).toFixed(2)} %, ${(s.kvWithin15 * 100).toFixed(0)} % of ${s.kvCompared} cases within 15 %.`,
  );
};
console.log();
line("Targets (excluded cases left out)", summarize(results));
line("All cases", summarize(results, true));
console.log();
console.log("Excluded from the targets:");
for (const r of results.filter((x) => x.case.excluded)) console.log(`- ${r.case.id}: ${r.case.excluded}`);
