import fc from "fast-check";
import { findOffer } from "../core/catalog";
import { cooling, COOLING_TYPES, energy, footprintDefaults, gridIntensity, hostPower, ownedMonthlyCost } from "../core/footprint";

describe("host power", () => {
  it("sums GPU board power and the rest of the server", () => {
    expect(hostPower({ gpuCount: 2, gpuBoardWatts: 400, nonGpuWatts: 600 })).toEqual({ peakWatts: 1400, gpuWatts: 800, averageWatts: 1400 });
  });

  it("uses a power cap below board power, never above it", () => {
    expect(hostPower({ gpuCount: 4, gpuBoardWatts: 700, gpuPowerCapWatts: 500, nonGpuWatts: 1000 }).peakWatts).toBe(3000);
    expect(hostPower({ gpuCount: 1, gpuBoardWatts: 350, gpuPowerCapWatts: 450, nonGpuWatts: 100 }).peakWatts).toBe(450);
  });

  it("scales the average, not the peak, with load", () => {
    const p = hostPower({ gpuCount: 1, gpuBoardWatts: 300, nonGpuWatts: 100, load: 0.5 });
    expect(p.peakWatts).toBe(400);
    expect(p.averageWatts).toBe(200);
  });
});

describe("energy, cost and emissions", () => {
  it("turns 1 kW of IT at PUE 1.5 into 1095 kWh a month", () => {
    const e = energy({ itWatts: 1000, pue: 1.5, gridGramsPerKwh: 400, waterLitresPerKwh: 1.8, eurPerKwh: 0.2 });
    expect(e.facilityWatts).toBe(1500);
    expect(e.kwhPerMonth).toBeCloseTo(1095, 6);
    expect(e.co2eKgPerMonth).toBeCloseTo(438, 6);
    expect(e.waterLitresPerMonth).toBeCloseTo(730 * 1.8, 6);
    expect(e.electricityEurPerMonth).toBeCloseTo(219, 6);
  });

  it("amortises hardware over 36 months by default and adds colocation rent", () => {
    expect(ownedMonthlyCost({ electricityEurPerMonth: 100, hardwareEur: 36000 })).toBe(1100);
    expect(ownedMonthlyCost({ electricityEurPerMonth: 100, hardwareEur: 36000, amortisationMonths: 60, colocationEurPerMonth: 250 })).toBe(950);
  });

  it("knows PUE for every cooling type, liquid below air", () => {
    for (const t of COOLING_TYPES) expect(cooling(t).pue).toBeGreaterThanOrEqual(1);
    expect(cooling("liquid").pue).toBeLessThan(cooling("air").pue);
    expect(() => cooling("steam" as never)).toThrow(/cooling "steam" is unknown; use one of air, liquid/);
  });

  it("falls back to the EU average grid intensity for unknown countries", () => {
    expect(gridIntensity("fr")).toBeLessThan(gridIntensity("PL"));
    expect(gridIntensity("ZZ")).toBe(footprintDefaults().gridIntensity.gramsPerKwh.EU);
  });

  it("sources every default", () => {
    const d = footprintDefaults();
    for (const c of d.cooling) expect(c.sources.length).toBeGreaterThan(0);
    expect(d.electricity.sources[0]!.url).toMatch(/^https:\/\//);
  });

  it("prices a GEX45 with its GPU and the rest of the box", () => {
    const o = findOffer("hetzner-gex45")!;
    expect(hostPower({ gpuCount: o.gpuCount, gpuBoardWatts: 70, nonGpuWatts: o.nonGpuWatts }).peakWatts).toBe(70 + o.nonGpuWatts);
  });
});

describe("properties", () => {
  const host = fc.record({
    gpuCount: fc.integer({ min: 0, max: 8 }),
    gpuBoardWatts: fc.integer({ min: 50, max: 1400 }),
    nonGpuWatts: fc.integer({ min: 20, max: 6000 }),
  });

  it("site watts are additive over hosts", () => {
    fc.assert(
      fc.property(fc.array(host, { maxLength: 20 }), fc.array(host, { maxLength: 20 }), (a, b) => {
        const sum = (hs: typeof a): number => hs.reduce((s, h) => s + hostPower(h).peakWatts, 0);
        return sum([...a, ...b]) === sum(a) + sum(b);
      }),
    );
  });

  it("energy and emissions scale linearly with IT power", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100000 }), fc.double({ min: 1, max: 3, noNaN: true }), fc.integer({ min: 2, max: 10 }), (w, pue, k) => {
        const one = energy({ itWatts: w, pue, gridGramsPerKwh: 300, waterLitresPerKwh: 1, eurPerKwh: 0.2 });
        const many = energy({ itWatts: w * k, pue, gridGramsPerKwh: 300, waterLitresPerKwh: 1, eurPerKwh: 0.2 });
        return Math.abs(many.kwhPerMonth - k * one.kwhPerMonth) < 1e-6 * many.kwhPerMonth && Math.abs(many.co2eKgPerMonth - k * one.co2eKgPerMonth) < 1e-6 * many.co2eKgPerMonth;
      }),
    );
  });
});
