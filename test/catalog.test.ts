import { catalog, closest, findGpu, findModel, findOffer, formatPriceSource, gpuPowerLimitRange, matchModel, PRICE_CONFIDENCE_LABEL } from "../core/catalog";
import { isProviderUrl } from "../core/catalog/schema";
import { validateCatalog } from "../core/catalog/validate";
import gpusJson from "../core/catalog/data/gpus.json";
import locationsJson from "../core/catalog/data/locations.json";
import modelsJson from "../core/catalog/data/models.json";
import offersJson from "../core/catalog/data/offers.json";
import { countParameters, parseHfConfig } from "../core/sizing/architecture";

const raw = { gpus: gpusJson, offers: offersJson, locations: locationsJson, models: modelsJson };

describe("catalog data", () => {
  const c = catalog();

  it("validates every entry with zod and cross-checks references", () => {
    expect(() => validateCatalog(raw)).not.toThrow();
    expect(c.gpus.length).toBeGreaterThanOrEqual(25);
    expect(c.models.length).toBeGreaterThanOrEqual(25);
  });

  it.each(["gpus", "offers", "locations", "models"] as const)("gives every %s entry a source with URL and read date", (kind) => {
    for (const entry of c[kind]) {
      expect(entry.sources.length).toBeGreaterThan(0);
      for (const s of entry.sources) {
        expect(s.url).toMatch(/^https?:\/\//);
        expect(s.read).toMatch(/^20\d\d-\d\d-\d\d$/);
      }
    }
  });

  it.each([
    "rtx-pro-4000-blackwell",
    "rtx-pro-6000-blackwell-max-q",
    "l4",
    "l40s",
    "a100-pcie-40gb",
    "a100-sxm-80gb",
    "h100-pcie-80gb",
    "h100-sxm-80gb",
    "h100-nvl-94gb",
    "h200-sxm-141gb",
    "b200",
    "b300",
    "mi210",
    "mi250x",
    "mi300x",
    "mi325x",
    "radeon-pro-w7900",
    "tesla-p100-16gb",
    "rtx-4090",
    "rtx-3090",
  ])("has GPU %s", (id) => {
    expect(findGpu(id)?.id).toBe(id);
  });

  it("finds GPUs by their nvidia-smi names, case-insensitively", () => {
    expect(findGpu("NVIDIA H100 80GB HBM3")?.id).toBe("h100-sxm-80gb");
    expect(findGpu("nvidia l4")?.id).toBe("l4");
  });

  it("records native data types by generation", () => {
    expect(findGpu("tesla-p100-16gb")?.dataTypes).toMatchObject({ bf16: false, fp8: false });
    expect(findGpu("a100-sxm-80gb")?.dataTypes).toMatchObject({ bf16: true, fp8: false, fp4: false });
    expect(findGpu("l40s")?.dataTypes).toMatchObject({ bf16: true, fp8: true, fp4: false });
    expect(findGpu("b200")?.dataTypes).toMatchObject({ fp8: true, fp4: true });
    expect(findGpu("mi300x")?.dataTypes).toMatchObject({ bf16: true, fp8: true });
  });

  it("has the Hetzner GEX offers, marking GEX44 and GEX130 as no longer listed", () => {
    for (const id of ["hetzner-gex45", "hetzner-gex63", "hetzner-gex131"]) expect(findOffer(id)?.status).toBe("listed");
    for (const id of ["hetzner-gex44", "hetzner-gex130"]) expect(findOffer(id)?.status).toBe("not-listed");
    expect(c.offers.some((o) => o.provider === "hetzner" && o.kind === "cloud-cpu")).toBe(true);
  });

  it("has every Scaleway GPU type with zones, per-minute billing and no setup fee", () => {
    const names = c.offers.filter((o) => o.provider === "scaleway").map((o) => o.name);
    for (const n of ["L4-1-24G", "L4-8-24G", "L40S-1-48G", "L40S-8-48G", "H100-1-80G", "H100-2-80G", "H100-SXM-2-80G", "H100-SXM-8-80G", "B300-SXM-8-288G", "RENDER-S"]) {
      expect(names).toContain(n);
    }
    const l40s = findOffer("scaleway-l40s-1-48g")!;
    expect(l40s.locations).toEqual(expect.arrayContaining(["fr-par-2", "pl-waw-2"]));
    expect(l40s.billing).toBe("per-minute");
    expect(l40s.setupEur).toBe(0);
    expect(findOffer("scaleway-h100-sxm-8-80g")?.locations).toEqual(["fr-par-2"]);
  });

  it("prices every offer with a date", () => {
    for (const o of c.offers) {
      expect(o.eurPerMonth).toBeGreaterThan(0);
      expect(o.priceRead).toMatch(/^20\d\d-\d\d-\d\d$/);
    }
  });

  it("gives every offer's price a source URL, a real read date not in the future, and a confidence", () => {
    const today = new Date().toISOString().slice(0, 10);
    for (const o of c.offers) {
      expect([o.id, new Date(`${o.priceRead}T00:00:00Z`).toISOString().slice(0, 10)]).toEqual([o.id, o.priceRead]);
      expect([o.id, o.priceRead <= today]).toEqual([o.id, true]);
      expect(() => new URL(o.priceSource)).not.toThrow();
      expect(["confirmed", "secondary", "estimate"]).toContain(o.priceConfidence);
      // A confirmed price was read on the provider's own site, docs or API.
      if (o.priceConfidence === "confirmed") expect([o.id, isProviderUrl(o.provider, o.priceSource)]).toEqual([o.id, true]);
    }
  });

  it("refuses a confirmed price whose source is not the provider's own, naming the field", () => {
    const bad = { ...raw, offers: [{ ...offersJson[0], priceConfidence: "confirmed", priceSource: "https://itbrief.co.uk/story/hetzner-launches-gex45-gpu-server-for-ai-workloads" }] };
    expect(() => validateCatalog(bad)).toThrow(/offers\.json\[0\]\.priceSource: a confirmed price needs the provider's own URL \(hetzner\.com or hetzner\.cloud\)/);
    expect(isProviderUrl("hetzner", "https://docs.hetzner.com/robot/")).toBe(true);
    expect(isProviderUrl("hetzner", "https://hetzner.com.example.org/")).toBe(false);
    expect(isProviderUrl("scaleway", "https://api.scaleway.com/instance/v1/zones/fr-par-2/products/servers")).toBe(true);
    const { priceConfidence: _dropped, ...withoutConfidence } = offersJson[0]!;
    expect(() => validateCatalog({ ...raw, offers: [withoutConfidence] })).toThrow(/offers\.json\[0\]\.priceConfidence/);
  });

  it("re-reads the old and second-hand prices: RENDER-S at €1.221/h, GEX130 marked an estimate with its setup fee a placeholder", () => {
    const render = findOffer("scaleway-render-s")!;
    expect(render).toMatchObject({ eurPerHour: 1.221, eurPerMonth: 891.33, priceConfidence: "secondary", priceRead: "2026-08-22" });
    expect(render.priceSource).toMatch(/^https:\/\/github\.com\/getcomputable\/gpu-index\/.+servers_page2\.json$/);
    const gex130 = findOffer("hetzner-gex130")!;
    expect(gex130.priceConfidence).toBe("estimate");
    expect(gex130.notes).toMatch(/setupEur 0 is a PLACEHOLDER/);
    // Hetzner GEX prices come only from copies of Hetzner's price list: secondary, never confirmed.
    for (const id of ["hetzner-gex45", "hetzner-gex63", "hetzner-gex131"]) expect(findOffer(id)?.priceConfidence).toBe("secondary");
    // A price that was an ESTIMATE (2 × the one-GPU price) before the API capture is now secondary.
    expect(findOffer("scaleway-l40s-4-48g")).toMatchObject({ eurPerHour: 5.8797, priceConfidence: "secondary" });
    expect(c.offers.filter((o) => o.priceConfidence === "estimate").map((o) => o.id)).toEqual([
      "hetzner-gex130",
      "hetzner-ccx33",
      "hetzner-ccx43",
      "hetzner-ccx53",
      "hetzner-ccx63",
      "scaleway-gpu-3070-s",
    ]);
  });

  it("formats the source column for tables", () => {
    expect(formatPriceSource(findOffer("scaleway-render-s")!)).toBe("secondary source, 2026-08-22");
    expect(formatPriceSource({ priceConfidence: "estimate", priceRead: "2026-09-29" })).toBe("estimate, 2026-09-29");
    expect(PRICE_CONFIDENCE_LABEL.confirmed).toBe("confirmed");
  });

  it.each([
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Llama-3.1-405B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Nemo-Instruct-2407",
    "mistralai/Mistral-Small-24B-Instruct-2501",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-30B-A3B",
    "google/gemma-2-9b-it",
    "google/gemma-3-27b-it",
    "microsoft/Phi-3-mini-4k-instruct",
    "microsoft/phi-4",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
    "deepseek-ai/DeepSeek-V3",
    "openai/gpt-oss-120b",
  ])("has model %s with licence, gating and sources", (id) => {
    const m = findModel(id);
    expect(m?.id).toBe(id);
    expect(m?.licence.length).toBeGreaterThan(0);
    expect(typeof m?.gated).toBe("boolean");
  });

  it("rejects a GPU entry without sources, naming file, index and field", () => {
    const bad = { ...raw, gpus: [{ ...gpusJson[0], sources: [] }] };
    expect(() => validateCatalog(bad)).toThrow(/gpus\.json\[0\]\.sources: every catalog entry needs at least one source/);
  });

  it("rejects an offer pointing at an unknown GPU", () => {
    const bad = { ...raw, offers: [{ ...offersJson[0], gpu: "h900" }] };
    expect(() => validateCatalog(bad)).toThrow(/offers\.json\[0\]\.gpu: "h900" is not a GPU id in gpus\.json/);
  });

  it("suggests the closest names for a typo", () => {
    const names = c.models.flatMap((m) => [m.id, ...m.aliases]);
    expect(closest("llama-3.1-8bb", names)).toContain("llama-3.1-8b");
  });
});

describe("GPU power-limit ranges", () => {
  const gpus = catalog().gpus;

  // GPUs whose board power lies outside the settable range because a source says so, with the
  // reason. None today: every range read or estimated includes the board power.
  const boardPowerOutsideRange: Record<string, string> = {};

  it.each(gpus.map((g) => [g.id, g] as const))("%s has a range with min > 0 that contains its board power, with sources", (id, g) => {
    const r = g.powerLimitWatts;
    expect(r.min).toBeGreaterThan(0);
    expect(r.max).toBeGreaterThanOrEqual(r.min);
    expect(r.sources.length).toBeGreaterThanOrEqual(1);
    for (const s of r.sources) {
      expect(s.url).toMatch(/^https?:\/\//);
      expect(s.read).toMatch(/^20\d\d-\d\d-\d\d$/);
      expect(s.note?.length ?? 0).toBeGreaterThan(0);
    }
    if (!(id in boardPowerOutsideRange)) {
      expect(r.min).toBeLessThanOrEqual(g.boardPowerWatts);
      expect(g.boardPowerWatts).toBeLessThanOrEqual(r.max);
    }
  });

  // Values read from real nvidia-smi output or NVIDIA documentation (see the sources' notes).
  it.each<[string, number, number]>([
    ["h100-sxm-80gb", 200, 700], // nvidia-smi -q -d power: Min 200.00 W, Max 700.00 W
    ["b200", 200, 1000], // DGX B200 user guide: AllowableMin 200, AllowableMax 1000
    ["a100-sxm-80gb", 100, 400], // nvidia-smi -q: Min 100.00 W, Max 400.00 W
    ["rtx-4090", 150, 450], // nvidia-smi -q -x: min 150.00 W, max 450.00 W
    ["rtx-3090", 100, 375], // nvidia-smi -q -x: min 100.00 W, max 375.00 W
    ["rtx-4000-sff-ada", 30, 70], // nvidia-smi -q -x: min 30.00 W, max 70.00 W
    ["rtx-pro-6000-blackwell-max-q", 250, 325], // nvidia-smi -q -x: min 250.00 W, max 325.00 W
  ])("%s can be set to %i-%i W (confirmed)", (id, minWatts, maxWatts) => {
    expect(gpuPowerLimitRange(findGpu(id)!)).toEqual({ minWatts, maxWatts, confirmed: true });
  });

  it("marks estimated ranges as unconfirmed", () => {
    expect(gpuPowerLimitRange(findGpu("l4")!).confirmed).toBe(false);
    expect(gpuPowerLimitRange(findGpu("mi300x")!)).toMatchObject({ maxWatts: 750, confirmed: false });
    for (const g of gpus) {
      const unconfirmed = g.powerLimitWatts.sources.every((s) => s.confidence === "unconfirmed");
      expect(gpuPowerLimitRange(g).confirmed).toBe(!unconfirmed);
    }
  });

  // validateCatalog prints nested paths as `powerLimitWatts].max` today, hence the optional `]`.
  it("rejects a range with max below min or min of 0, naming the field", () => {
    const base = gpusJson[0]!;
    const flipped = { ...raw, gpus: [{ ...base, powerLimitWatts: { ...base.powerLimitWatts, min: 700, max: 200 } }] };
    expect(() => validateCatalog(flipped)).toThrow(/gpus\.json\[0\]\.powerLimitWatts\]?\.max: max must be at least min/);
    const zero = { ...raw, gpus: [{ ...base, powerLimitWatts: { ...base.powerLimitWatts, min: 0 } }] };
    expect(() => validateCatalog(zero)).toThrow(/gpus\.json\[0\]\.powerLimitWatts\]?\.min/);
    const noSources = { ...raw, gpus: [{ ...base, powerLimitWatts: { ...base.powerLimitWatts, sources: [] } }] };
    expect(() => validateCatalog(noSources)).toThrow(/gpus\.json\[0\]\.powerLimitWatts\]?\.sources: every catalog entry needs at least one source/);
  });
});

describe("parameter counts of catalog models", () => {
  // Counted from config.json against the authors' published totals.
  it.each(catalog().models.map((m) => [m.id, m] as const))("%s matches its published total within 1.5 %", (_id, m) => {
    const p = countParameters(parseHfConfig(m.config));
    expect(Math.abs(p.total / m.publishedParameters - 1)).toBeLessThan(0.015);
    if (m.publishedActiveParameters) {
      // Published "active" figures differ in whether they count the input embedding (gpt-oss does
      // not, Mixtral and DeepSeek do): one of the two readings must match within 2 %.
      const withEmbedding = Math.abs(p.active / m.publishedActiveParameters - 1);
      const withoutEmbedding = Math.abs((p.active - p.embedding) / m.publishedActiveParameters - 1);
      expect(Math.min(withEmbedding, withoutEmbedding)).toBeLessThan(0.02);
      expect(p.active).toBeLessThan(p.total);
    }
  });
});

describe("matching model ids as users write them", () => {
  it.each<[string, string, string]>([
    ["meta-llama/llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", "id"],
    ["llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "alias"],
    ["hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", "meta-llama/Llama-3.1-8B-Instruct", "variant"],
    ["meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "sibling"],
    ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct", "sibling"],
    ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct", "sibling"],
    ["google/gemma-2-9b", "google/gemma-2-9b-it", "sibling"],
  ])("%s is %s (%s)", (query, id, via) => {
    const m = matchModel(query);
    expect({ id: m?.model.id, via: m?.via }).toEqual({ id, via });
  });

  it("keeps the quantisation a variant repo ships", () => {
    expect(matchModel("Qwen/Qwen3-8B-FP8")?.variantMethod).toBe("fp8");
  });

  it("does not match a different size or another organisation", () => {
    expect(matchModel("meta-llama/Llama-3.1-9B")).toBeUndefined();
    expect(matchModel("someone/Llama-3.1-8B-Instruct")).toBeUndefined();
  });
});
