import { caseFiles, loadCases, ruleSplit, runAll, sourceKey, SPLIT_BATCHES, SPLIT_RULE, summarize } from "./calibration/cases";

/**
 * Accuracy of the sizing core against real vLLM startup logs (test/fixtures/vllm-calibration*.json,
 * sources per case). Targets of the foundation issue, asserted on the TRAIN split: weights per GPU
 * within 2 % on average; KV cache within 4 % at the median and four cases in five within 15 %.
 * The HELD-OUT split (rule in test/fixtures/vllm-calibration-split.json) is computed the same way
 * and checked against generous bounds (the held-out figures were already printed when these were
 * written, so they are a guard against regressions, not a pre-registered target): median KV error
 * ≤ 8 %, 80th percentile ≤ 20 %, weights mean error ≤ 4 %. No constant is tuned on held-out.
 */
describe("calibration against real vLLM logs", () => {
  const results = runAll();
  const train = summarize(results, false, "train");
  const heldout = summarize(results, false, "heldout");

  describe("split", () => {
    const cases = loadCases();

    it("records, for every case, the split the written rule gives", () => {
      expect(SPLIT_RULE).toMatch(/Every third source/);
      const rule = ruleSplit();
      const wrong = cases.filter((c) => c.split !== rule.get(c.id)).map((c) => `${c.id}: ${c.split}, rule says ${rule.get(c.id)}`);
      expect(wrong).toEqual([]);
    });

    it("numbers every case file in exactly one batch", () => {
      expect([...SPLIT_BATCHES.flat()].sort()).toEqual(caseFiles());
    });

    it("keeps all the cases of one source on the same side", () => {
      const bySource = new Map<string, Set<string>>();
      for (const c of cases) bySource.set(sourceKey(c.source.url), (bySource.get(sourceKey(c.source.url)) ?? new Set()).add(c.split));
      expect([...bySource].filter(([, s]) => s.size > 1)).toEqual([]);
    });

    it("holds out about a third of the cases and of the sources", () => {
      const held = cases.filter((c) => c.split === "heldout").length / cases.length;
      expect(held).toBeGreaterThanOrEqual(0.25);
      expect(held).toBeLessThanOrEqual(0.45);
      const sources = new Set(cases.map((c) => sourceKey(c.source.url)));
      const heldSources = new Set(cases.filter((c) => c.split === "heldout").map((c) => sourceKey(c.source.url)));
      expect(heldSources.size).toBe(Math.floor(sources.size / 3));
      expect(held).toBeGreaterThan(0);
    });

    it("has unique case ids", () => {
      expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    });

    it("derives source keys from thread, repository or host", () => {
      expect(sourceKey("https://github.com/vllm-project/vllm/issues/10517#issuecomment-1")).toBe("vllm-project/vllm#10517");
      expect(sourceKey("https://github.com/LMCache/LMCache/pull/9")).toBe("lmcache/lmcache#9");
      expect(sourceKey("https://github.com/dennislee22/vLLM-benchmarking/blob/abc/log/x.log")).toBe("dennislee22/vllm-benchmarking");
      expect(sourceKey("https://www.myoceane.fr/index.php/x/")).toBe("myoceane.fr");
    });
  });

  describe("train split (targets)", () => {
    it("compares enough cases to mean something", () => {
      expect(train.weightsCompared).toBeGreaterThanOrEqual(20);
      expect(train.kvCompared).toBeGreaterThanOrEqual(15);
    });

    it("predicts weights per GPU within 2 % on average", () => {
      expect(train.weightsMeanAbsError).toBeLessThan(0.02);
    });

    it("predicts the KV cache within 4 % at the median", () => {
      expect(train.kvMedianAbsError).toBeLessThan(0.04);
    });

    it("predicts four KV caches in five within 15 %", () => {
      expect(train.kvWithin15).toBeGreaterThanOrEqual(0.8);
    });
  });

  describe("held-out split (reported, generous bounds)", () => {
    it("compares enough held-out cases for the figures to be reported", () => {
      expect(heldout.weightsCompared).toBeGreaterThanOrEqual(8);
      expect(heldout.kvCompared).toBeGreaterThanOrEqual(8);
    });

    it("keeps the held-out KV median error within 8 % and the 80th percentile within 20 %", () => {
      expect(heldout.kvMedianAbsError).toBeLessThanOrEqual(0.08);
      expect(heldout.kvP80AbsError).toBeLessThanOrEqual(0.2);
    });

    it("keeps the held-out weights mean error within 4 %", () => {
      expect(heldout.weightsMeanAbsError).toBeLessThanOrEqual(0.04);
    });
  });

  it("also meets the issue #2 targets over all cases", () => {
    const all = summarize(results);
    expect(all.weightsMeanAbsError).toBeLessThan(0.02);
    expect(all.kvMedianAbsError).toBeLessThan(0.04);
    expect(all.kvWithin15).toBeGreaterThanOrEqual(0.8);
  });

  it("skips only pipeline-parallel runs and architectures without a config", () => {
    for (const r of results.filter((x) => x.skipped)) {
      expect(r.skipped).toMatch(/pipeline parallelism is not modelled|architecture not known/);
    }
  });
});
