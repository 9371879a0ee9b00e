import fc from "fast-check";
import { catalog, findModel, findOffer, gpuMemoryGiB } from "../core/catalog";
import { breakEvenUtilisation, compareOwnership, ownedCost, ownershipPrices, serverlessCost, serverPrice } from "../core/ownership";
import { bestSetup, filterOffers, fitAll, fitOffer, type FitRequest } from "../core/planner";
import { parseHfConfig } from "../core/sizing/architecture";
import { parseStackConfig } from "../core/config/schema";
import { concurrencyPerReplica, replicasOf } from "../core/config/replicas";
import { buildFleet } from "../core/fleet";
import { planStack } from "../core/layers/plan";
import { clusterDeploymentInput } from "../core/clusters";

const arch = (id: string) => parseHfConfig(findModel(id)!.config);

describe("fit planner", () => {
  it("serves the Tesla P100 (compute capability 6.0) with llama.cpp and a GGUF type, not vLLM", () => {
    const f = fitOffer({ arch: arch("meta-llama/Llama-3.1-8B-Instruct"), context: 4096, dtype: "best" }, findOffer("scaleway-render-s")!);
    expect(f.engine).toBe("llamacpp");
    expect(f.dtype).toBe("q8_0");
    expect(f.fits).toBe(true);
  });

  it("refuses vLLM formats on the P100 with the reason", () => {
    const f = fitOffer({ arch: arch("meta-llama/Llama-3.1-8B-Instruct"), context: 4096, dtype: "awq" }, findOffer("scaleway-render-s")!);
    expect(f.fits).toBe(false);
    expect(f.reason).toMatch(/compute capability 6\.0\) is too old for vLLM; use a GGUF type with llama\.cpp/);
  });

  it("picks bf16 when it fits and falls back to fp8 on an fp8-capable GPU when it does not", () => {
    const small = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 8192, dtype: "best" }, findOffer("scaleway-l40s-1-48g")!);
    expect(small).toMatchObject({ fits: true, dtype: "bf16" });
    const big = fitOffer({ arch: arch("Qwen/Qwen3-32B"), context: 16384, concurrency: 4, dtype: "best" }, findOffer("scaleway-h100-1-80g")!);
    expect(big).toMatchObject({ fits: true, dtype: "fp8" });
  });

  it("refuses fp8 on a GPU without native fp8, naming the generation", () => {
    const gpuless = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 8192, dtype: "fp8" }, findOffer("scaleway-render-s")!);
    expect(gpuless.fits).toBe(false);
    expect(gpuless.reason).toMatch(/fp8 needs an Ada, Hopper, Blackwell or CDNA3 GPU/);
  });

  it("uses the largest tensor-parallel size that divides the heads", () => {
    // Qwen2.5-7B has 28 heads and 4 KV heads: 8 GPUs cannot split it, 4 can.
    const f = fitOffer({ arch: arch("Qwen/Qwen2.5-7B-Instruct"), context: 8192, dtype: "bf16" }, findOffer("scaleway-l4-8-24g")!);
    expect(f.gpusUsed).toBe(4);
    expect(f.reason).toMatch(/uses 4 of 8 GPUs/);
  });

  it("ranks fitting offers first, each group cheapest first, and filters EU-only", () => {
    const rows = fitAll({ arch: arch("meta-llama/Llama-3.1-70B-Instruct"), context: 32768, concurrency: 16, dtype: "best", euOnly: true });
    const firstMiss = rows.findIndex((r) => !r.fits);
    expect(rows.slice(firstMiss).every((r) => !r.fits)).toBe(true);
    for (const group of [rows.slice(0, firstMiss), rows.slice(firstMiss)]) {
      for (let i = 1; i < group.length; i++) expect(group[i]!.eurPerMonth).toBeGreaterThanOrEqual(group[i - 1]!.eurPerMonth);
    }
    expect(rows.flatMap((r) => r.locations).some((l) => ["ash", "hil", "sin"].includes(l))).toBe(false);
    expect(rows.every((r) => r.offer.status === "listed")).toBe(true);
  });
});

describe("fit planner: replicas", () => {
  const llama70 = () => arch("meta-llama/Llama-3.3-70B-Instruct");

  it("splits the total concurrency over the replicas and multiplies price, watts, kWh and CO2e", () => {
    const offer = findOffer("hetzner-gex131")!;
    const req: FitRequest = { arch: llama70(), context: 32768, concurrency: 20, dtype: "awq" };
    const one = fitOffer(req, offer, catalog(), 1);
    const five = fitOffer(req, offer, catalog(), 5);
    expect(one.concurrencyPerReplica).toBe(20);
    expect(five.concurrencyPerReplica).toBe(4);
    expect(five.estimate.concurrency).toBe(4);
    expect(five.estimate.requiredTokens).toBe(4 * 32768);
    expect(one.fits).toBe(false);
    expect(five.fits).toBe(true);
    expect(five.eurPerMonth).toBeCloseTo(5 * offer.eurPerMonth, 6);
    expect(five.setupEur).toBeCloseTo(5 * offer.setupEur, 6);
    expect(five.peakWatts).toBeCloseTo(5 * one.peakWatts, 6);
    expect(five.kwhPerMonth).toBeCloseTo(5 * one.kwhPerMonth, 6);
    expect(five.co2eKgPerMonth).toBeCloseTo(5 * one.co2eKgPerMonth, 6);
  });

  it("rounds the share up: 20 users over 3 replicas is 7 per replica", () => {
    const f = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 8192, concurrency: 20, dtype: "bf16" }, findOffer("scaleway-l40s-1-48g")!, catalog(), 3);
    expect(f.concurrencyPerReplica).toBe(7);
    expect(f.estimate.concurrency).toBe(7);
  });

  it("keeps the fewest replicas that fit: 5 × GEX131 for Llama 3.3 70B at 32k × 20 in awq", () => {
    const f = bestSetup({ arch: llama70(), context: 32768, concurrency: 20, dtype: "awq" }, findOffer("hetzner-gex131")!);
    expect(f).toMatchObject({ replicas: 5, concurrencyPerReplica: 4, fits: true, meets: true });
    expect(fitOffer({ arch: llama70(), context: 32768, concurrency: 20, dtype: "awq" }, findOffer("hetzner-gex131")!, catalog(), 4).fits).toBe(false);
  });

  it("never lets more replicas serve the same users with less aggregate throughput", () => {
    const offers = ["scaleway-l40s-1-48g", "hetzner-gex131", "scaleway-h100-1-80g", "hetzner-ccx63"].map((id) => findOffer(id)!);
    const a = arch("Qwen/Qwen3-8B");
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom(...offers), (concurrency, n, offer) => {
        const req: FitRequest = { arch: a, context: 8192, concurrency, dtype: "best" };
        const fewer = fitOffer(req, offer, catalog(), n).aggregateTokensPerSecond!;
        const more = fitOffer(req, offer, catalog(), n + 1).aggregateTokensPerSecond!;
        expect(fewer).toBeGreaterThan(0);
        expect(more).toBeGreaterThanOrEqual(fewer * (1 - 1e-9));
      }),
      { numRuns: 60 },
    );
  });

  it("ranks setups that reach the speed by €/month, ahead of those that do not", () => {
    const min = 15;
    const rows = fitAll({ arch: llama70(), context: 32768, concurrency: 20, dtype: "best", minTokensPerSecond: min, euOnly: true });
    const meeting = rows.filter((r) => r.meets);
    expect(meeting.length).toBeGreaterThan(2);
    expect(rows.slice(0, meeting.length).every((r) => r.meets)).toBe(true);
    for (const r of meeting) expect(r.tokensPerSecondPerUser!).toBeGreaterThanOrEqual(min);
    for (let i = 1; i < meeting.length; i++) expect(meeting[i]!.eurPerMonth).toBeGreaterThanOrEqual(meeting[i - 1]!.eurPerMonth);
    expect(meeting.some((r) => r.replicas > 1)).toBe(true);
    // The speed requirement removes setups that fit in memory but are too slow for each user.
    const slow = rows.filter((r) => r.fits && !r.meets);
    for (const r of slow) expect(r).toMatchObject({ shortfall: "speed", reason: expect.stringMatching(/tokens\/s per user .* below the 15 asked/) });
  });

  it("shows CPU rows' speed: 8 vCPUs for 4 users at 16k is visibly slow", () => {
    const f = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 16384, concurrency: 4, dtype: "best" }, findOffer("hetzner-ccx33")!);
    expect(f.engine).toBe("cpu");
    expect(f.tokensPerSecondPerUser).not.toBeNull();
    expect(f.tokensPerSecondPerUser!).toBeLessThan(3);
    const slow = fitOffer({ arch: arch("Qwen/Qwen3-8B"), context: 16384, concurrency: 4, dtype: "best", minTokensPerSecond: 10 }, findOffer("hetzner-ccx33")!);
    expect(slow).toMatchObject({ fits: true, meets: false, shortfall: "speed" });
  });
});

describe("fit planner: filters and sorting", () => {
  const base = (): FitRequest => ({ arch: arch("Qwen/Qwen3-8B"), context: 8192, concurrency: 4, dtype: "best" });

  it("filters by GPU, provider and total GPU memory", () => {
    expect(filterOffers({ gpus: ["l40s"] }).map((o) => o.id).sort()).toEqual(catalog().offers.filter((o) => o.gpu === "l40s" && o.status === "listed").map((o) => o.id).sort());
    expect(filterOffers({ providers: ["hetzner"] }).every((o) => o.provider === "hetzner")).toBe(true);
    const big = filterOffers({ minVramGiB: 150 });
    expect(big.length).toBeGreaterThan(0);
    for (const o of big) expect(gpuMemoryGiB(catalog().gpus.find((g) => g.id === o.gpu)!) * o.gpuCount).toBeGreaterThanOrEqual(150);
    expect(big.some((o) => o.gpu === null)).toBe(false);
  });

  it.each(["speed", "watts", "co2e"] as const)("sorts the setups that meet the need by %s", (sort) => {
    const rows = fitAll({ ...base(), sort }).filter((r) => r.meets);
    const key = { speed: (r: (typeof rows)[number]) => -(r.tokensPerSecondPerUser ?? -1), watts: (r: (typeof rows)[number]) => r.peakWatts, co2e: (r: (typeof rows)[number]) => r.co2eKgPerMonth }[sort];
    expect(rows.length).toBeGreaterThan(3);
    for (let i = 1; i < rows.length; i++) expect(key(rows[i]!)).toBeGreaterThanOrEqual(key(rows[i - 1]!));
  });

  it("counts the price limit for all replicas together", () => {
    const req: FitRequest = { arch: arch("meta-llama/Llama-3.3-70B-Instruct"), context: 32768, concurrency: 20, dtype: "awq", maxEurPerMonth: 5000, providers: ["hetzner"] };
    const rows = fitAll(req);
    for (const r of rows) expect(r.eurPerMonth).toBeLessThanOrEqual(5000);
    // One GEX131 (€1,497) is under the limit, but the 5 it takes to hold 20 users are not: left out.
    expect(rows.map((r) => r.offer.id)).not.toContain("hetzner-gex131");
    expect(bestSetup(req, findOffer("hetzner-gex131")!)).toMatchObject({ replicas: 5, fits: true, meets: false, shortfall: "price" });
    expect(rows.find((r) => r.offer.id === "hetzner-gex63")).toMatchObject({ replicas: 5, meets: true });
  });
});

describe("fit planner: checkpoints and alternatives", () => {
  it("sizes Qwen3-32B-AWQ as its AWQ checkpoint, not the bf16 base", () => {
    const a = arch("Qwen/Qwen3-32B");
    const awq = fitOffer({ arch: a, context: 8192, dtype: "best", checkpointDtype: "awq" }, findOffer("scaleway-l40s-1-48g")!);
    const base = fitOffer({ arch: a, context: 8192, dtype: "best" }, findOffer("scaleway-l40s-1-48g")!);
    expect(awq.dtype).toBe("awq");
    expect(base.dtype).not.toBe("awq");
    expect(awq.estimate.perGpu.weightsGiB).toBeLessThan(base.estimate.perGpu.weightsGiB / 1.5);
  });

  it("never suggests the setup already given, nor GPU counts the provider does not sell", () => {
    const c = catalog();
    const rows = fitAll({ arch: arch("meta-llama/Llama-3.1-70B-Instruct"), context: 65536, concurrency: 4, dtype: "best", includeUnlisted: true });
    const withAlt = rows.filter((r) => r.alternatives !== null);
    expect(withAlt.length).toBeGreaterThan(3);
    for (const r of withAlt) {
      const a = r.alternatives!;
      const sold = c.offers.filter((o) => o.gpu === r.offer.gpu && o.provider === r.offer.provider).map((o) => o.gpuCount);
      if (a.smallestGpuCount !== null) {
        expect(a.smallestGpuCount).not.toBe(Math.max(r.gpusUsed, 1));
        expect(sold).toContain(a.smallestGpuCount);
      }
      expect(a.dtype).not.toBe(r.dtype);
      if (a.largestContext !== null) expect(a.largestContext).toBeLessThan(65536);
    }
    // The GEX131 is sold with one GPU only: no "or 2 GPUs".
    const gex131 = withAlt.find((r) => r.offer.id === "hetzner-gex131");
    expect(gex131?.alternatives?.smallestGpuCount ?? null).toBeNull();
  });
});

describe("ownership", () => {
  it("computes an owned server by hand: €36,000 over 3 years, 1 kW at PUE 1.5, €0.20/kWh, 300 g/kWh", () => {
    const own = ownedCost({ hardwareEur: 36000, years: 3, itWatts: 1000, pue: 1.5, eurPerKwh: 0.2, gridGramsPerKwh: 300 });
    // 36,000 / 36 = 1,000 €/month; 1 kW × 1.5 × 730 h = 1,095 kWh; × €0.20 = €219; × 0.3 kg = 328.5 kg.
    expect(own.capexEurPerMonth).toBeCloseTo(1000, 9);
    expect(own.kwhPerMonth).toBeCloseTo(1095, 9);
    expect(own.electricityEurPerMonth).toBeCloseTo(219, 9);
    expect(own.co2eKgPerMonth).toBeCloseTo(328.5, 9);
    expect(own.eurPerMonth).toBeCloseTo(1219, 9);
    const colo = ownedCost({ hardwareEur: 36000, years: 3, itWatts: 1000, pue: 1.5, eurPerKwh: 0.2, gridGramsPerKwh: 300, coloEurPerKwMonth: 150 });
    expect(colo.coloEurPerMonth).toBeCloseTo(150, 9);
    expect(colo.eurPerMonth).toBeCloseTo(1369, 9);
  });

  it("computes serverless by hand: $0.001/s × 2 GPUs, 8 h a day, $1.25 per €", () => {
    const s = serverlessCost({ usdPerSecond: 0.001, usdPerEur: 1.25, gpus: 2, busyHoursPerDay: 8, gpuBoardWatts: 700, pue: 1.2, gridGramsPerKwh: 250 });
    // 0.001 × 3,600 × 2 / 1.25 = €5.76 per busy hour; 8/24 × 730 h = 243.33 h; €1,401.60.
    expect(s.eurPerBusyHour).toBeCloseTo(5.76, 9);
    expect(s.eurPerMonth).toBeCloseTo(1401.6, 6);
    // 2 × 700 W × 1.2 × 243.33 h = 408.8 kWh; × 0.25 kg = 102.2 kg.
    expect(s.kwhPerMonth).toBeCloseTo(408.8, 6);
    expect(s.co2eKgPerMonth).toBeCloseTo(102.2, 6);
  });

  it("computes break-even utilisation against a rental", () => {
    // Owning at €1,369/month against a rental at €2/h: 1,369 / (2 × 730) = 93.8 % busy.
    expect(breakEvenUtilisation("own", { fixedEurPerMonth: 1369 }, { eurPerMonth: 1460, eurPerHour: 2 })).toBeCloseTo(1369 / 1460, 9);
    // A monthly-only rental costs the same busy or idle.
    expect(breakEvenUtilisation("own", { fixedEurPerMonth: 1369 }, { eurPerMonth: 1460, eurPerHour: null })).toBeNull();
    // Serverless at €5.76 per busy hour against €1,460/month: 1,460 / (5.76 × 730) = 34.7 %.
    expect(breakEvenUtilisation("serverless", { eurPerBusyHour: 5.76 }, { eurPerMonth: 1460, eurPerHour: 2 })).toBeCloseTo(1460 / (5.76 * 730), 9);
  });

  it("prices a server as base + cards, converted at the data's exchange rate, and SXM GPUs only as systems", () => {
    const p = ownershipPrices().hardware;
    const card = p.cards.find((x) => x.gpu === "l40s")!;
    const base = p.baseServers.find((b) => b.maxGpus >= 2)!;
    expect(serverPrice("l40s", 2)!.eur).toBeCloseTo(base.eur + (2 * card.usd) / p.usdPerEur.value, 6);
    expect(serverPrice("h100-sxm-80gb", 2)).toBeNull();
    expect(serverPrice("h100-sxm-80gb", 8)!.eur).toBeCloseTo(p.systems[0]!.usd / p.usdPerEur.value, 6);
    expect(serverPrice("mi300x", 1)).toBeNull();
  });

  it("every hardware and serverless price has a source URL, a read date and a confidence", () => {
    const { hardware, serverless } = ownershipPrices();
    const sources = [hardware.usdPerEur.source, ...hardware.baseServers.map((b) => b.source), ...hardware.cards.map((x) => x.source), ...hardware.systems.map((x) => x.source), ...serverless.providers.flatMap((p) => p.gpus.map((g) => g.source))];
    for (const s of sources) {
      expect(s.url).toMatch(/^https:\/\//);
      expect(s.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(["confirmed", "secondary", "estimate"]).toContain(s.confidence);
      if (s.confidence === "estimate") expect(s.note).toMatch(/ESTIMATE/);
    }
  });

  it("rows for Llama 3.3 70B at 32k × 20: each meets the speed, costs add up, and compares against the cheapest rental", () => {
    const req: FitRequest = { arch: arch("meta-llama/Llama-3.3-70B-Instruct"), context: 32768, concurrency: 20, dtype: "best", minTokensPerSecond: 15, euOnly: true };
    const rentals = fitAll(req);
    const rows = compareOwnership(req, rentals, { years: 3, eurPerKwh: 0.2, busyHoursPerDay: 8, coloEurPerKwMonth: 200 });
    expect(rows.map((r) => r.kind)).toEqual(expect.arrayContaining(["own", "colo", "serverless"]));
    for (const r of rows) {
      expect(r.tokensPerSecondPerUser!).toBeGreaterThanOrEqual(15);
      expect(r.against).toBe(`${rentals[0]!.replicas} × ${rentals[0]!.offer.id}`);
    }
    // The cheapest rental (Hetzner, billed by the month) costs the same busy or idle: owning has no
    // break-even utilisation against it; serverless has one: rental €/month ÷ (€ per busy hour × 730 h).
    expect(rentals[0]!.offer.billing).toBe("monthly");
    for (const r of rows.filter((x) => x.kind !== "serverless")) expect(r.breakEvenUtilisation).toBeNull();
    for (const r of rows.filter((x) => x.kind === "serverless")) {
      const perBusyHour = r.eurPerMonth / ((8 / 24) * 730);
      expect(r.breakEvenUtilisation!).toBeCloseTo(rentals[0]!.eurPerMonth / (perBusyHour * 730), 9);
    }
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.eurPerMonth).toBeGreaterThanOrEqual(rows[i - 1]!.eurPerMonth);
    const own = rows.find((r) => r.kind === "own")!;
    const colo = rows.find((r) => r.kind === "colo" && r.label.replace("co-locate", "own") === own.label)!;
    expect(colo.eurPerMonth).toBeGreaterThan(own.eurPerMonth);
    expect(own.hardwareEur! / 36).toBeLessThan(own.eurPerMonth);
    const fixed = rows.find((r) => r.kind === "own" && r.gpu === "rtx-pro-6000-blackwell-max-q")!;
    const withPrice = compareOwnership(req, rentals, { hardwareEur: 10000, years: 2, eurPerKwh: 0.2 }).find((r) => r.label === fixed.label)!;
    expect(withPrice.hardwareEur).toBe(10000 * fixed.replicas);
    expect(withPrice.sources).toEqual(["--hardware-eur"]);
  });
});

describe("stack deployments: concurrency is the total, split over the replicas", () => {
  it.each([
    [{ concurrency: 20, hosts: ["a", "b", "c", "d", "e"] }, 5, 4],
    [{ concurrency: 20, hosts: ["a", "b", "c"] }, 3, 7],
    [{ concurrency: 3, hosts: ["a", "b", "c", "d"] }, 4, 1],
    [{ concurrency: 16, cluster: "k", replicas: 4 }, 4, 4],
    [{ concurrency: 16, cluster: "k", replicas: 8, autoscaling: { minReplicas: 2, maxReplicas: 8, targetWaitingRequests: 5 } }, 2, 8],
    [{ concurrency: 5 }, 1, 5],
  ])("%j: %d replicas, %d requests each", (d, replicas, share) => {
    expect(replicasOf(d)).toBe(replicas);
    expect(concurrencyPerReplica(d)).toBe(share);
  });

  /** The systemd unit the inference layer installs (its ExecStart holds the engine flags). */
  const unitOf = (layer: { files: { name: string; content: string }[] }): string => layer.files.filter((f) => f.name.endsWith(".service")).map((f) => f.content).join("\n");

  function twoHostStack(engine: "vllm" | "llamacpp") {
    const parsed = parseStackConfig({
      hosts: [
        { name: "a", kind: "scaleway", type: "L40S-1-48G", zone: "fr-par-2" },
        { name: "b", kind: "scaleway", type: "L40S-1-48G", zone: "fr-par-2" },
      ],
      deployments: [{ name: "chat", model: "Qwen/Qwen3-8B", hosts: ["a", "b"], context: 8192, concurrency: 7, engine, ...(engine === "llamacpp" ? { dtype: "q8_0" } : {}) }],
    });
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    return { config: parsed.config, fleet: buildFleet(parsed.config) };
  }

  it("sizes each host's replica and sets vLLM's --max-num-seqs for its share (7 over 2 hosts: 4)", () => {
    const { config, fleet } = twoHostStack("vllm");
    expect(fleet.problems).toEqual([]);
    expect(fleet.deployments[0]!.result.concurrency).toBe(4);
    const plans = planStack(config, fleet);
    expect(plans).toHaveLength(2);
    for (const plan of plans) {
      const unit = unitOf(plan.layers.find((l) => l.layer === "inference")!);
      expect(unit).toMatch(/--max-num-seqs 4\b/);
      expect(unit).not.toMatch(/--max-num-seqs 7\b/);
    }
    // Rent counts per host: two hosts, twice the offer's price, once each.
    expect(fleet.totals.eurPerMonth).toBeCloseTo(2 * findOffer("scaleway-l40s-1-48g")!.eurPerMonth, 6);
  });

  it("sets llama.cpp's -np and -c for the share", () => {
    const { config, fleet } = twoHostStack("llamacpp");
    const unit = unitOf(planStack(config, fleet)[0]!.layers.find((l) => l.layer === "inference")!);
    expect(unit).toMatch(/ -np 4\b/);
    expect(unit).toMatch(new RegExp(` -c ${4 * 8192}\\b`));
  });

  it("gives each cluster pod its share", () => {
    const parsed = parseStackConfig({
      clusters: [{ name: "k", kind: "existing", kubeconfigSecret: "kubeconfig", gpu: "l40s", gpusPerNode: 1, nodes: 4 }],
      deployments: [{ name: "chat", model: "Qwen/Qwen3-8B", cluster: "k", replicas: 4, context: 8192, concurrency: 10 }],
    });
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const fleet = buildFleet(parsed.config);
    expect(fleet.problems).toEqual([]);
    const sizing = fleet.deployments[0]!;
    expect(sizing.result.concurrency).toBe(3);
    expect(clusterDeploymentInput(parsed.config.deployments[0]!, sizing, fleet.clusters[0]!).concurrency).toBe(3);
  });
});
