/** power-budget: each site's hosts stay within its watts; advisory warning near the limit. */
import type { Check, Finding } from "./types";

export const powerBudget: Check<{ headroomWarningPercent: number }> = {
  name: "power-budget",
  description:
    "Checks that, for every site with a power budget, the sum over its hosts of GPU power (board power or the configured cap) plus the rest of each server stays within the site's watts.",
  defaultEnforcement: () => "mandatory",
  remediationSteps:
    "Cap GPU power (hosts[].gpuPowerCapWatts, applied with nvidia-smi -pl), move a host to another site, use fewer or more efficient GPUs, or raise the site's powerBudgetWatts if the circuit allows it.",
  configSchema: {
    headroomWarningPercent: { type: "number", description: "warn (advisory) when a site draws more than this share of its budget, %", default: 80, minimum: 1, maximum: 100 },
  },
  run(ctx, cfg) {
    const budgeted = ctx.fleet.sites.filter((s) => s.powerBudgetWatts !== null);
    if (budgeted.length === 0) return { notApplicable: "no site has a power budget" };
    const out: Finding[] = [];
    for (const s of budgeted) {
      const budget = s.powerBudgetWatts!;
      const hosts = ctx.fleet.hosts.filter((h) => h.site === s.name);
      const detail = hosts.map((h) => `${h.name} ${Math.round(h.peakWatts)} W (${h.gpuCount} × ${h.gpu ?? "CPU"} at ${h.gpuPowerCapWatts ?? h.gpuBoardWatts} W + ${h.nonGpuWatts} W)`).join(", ");
      if (s.itWatts > budget) {
        out.push({
          subject: `site ${s.name}`,
          message: `draws ${Math.round(s.itWatts)} W at peak, over its budget of ${budget} W by ${Math.round(s.itWatts - budget)} W: ${detail}`,
          remediation: powerBudget.remediationSteps,
        });
      } else if (s.itWatts > (budget * cfg.headroomWarningPercent) / 100) {
        out.push({
          subject: `site ${s.name}`,
          message: `draws ${Math.round(s.itWatts)} W at peak, ${Math.round((s.itWatts / budget) * 100)} % of its ${budget} W budget (warning above ${cfg.headroomWarningPercent} %): ${detail}`,
          remediation: powerBudget.remediationSteps,
          level: "advisory",
        });
      }
    }
    return out;
  },
};
