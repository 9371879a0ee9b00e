/** The shape of core/footprint/defaults.json (PUE by cooling type, grid intensity, electricity price), each figure with its sources. */
import { z } from "zod";
import { Source } from "../catalog/schema";

const Cooling = z.object({
  id: z.string(),
  label: z.string(),
  pue: z.number().min(1),
  waterLitresPerKwh: z.number().nonnegative(),
  sources: z.array(Source).min(1),
});
export const FootprintDefaults = z.object({
  hoursPerMonth: z.number().positive(),
  cooling: z.array(Cooling),
  providerPue: z.record(z.string(), z.object({ pue: z.number().min(1), sources: z.array(Source).min(1) })),
  gridIntensity: z.object({ note: z.string(), sources: z.array(Source).min(1), gramsPerKwh: z.record(z.string(), z.number().nonnegative()) }),
  electricity: z.object({ defaultEurPerKwh: z.number().positive(), sources: z.array(Source).min(1) }),
});
export type FootprintDefaults = z.infer<typeof FootprintDefaults>;
