/** cost-budget: the stack's monthly cost, energy and emissions within its budgets. */
import type { Check, Finding } from "./types";

export const costBudget: Check<{ includeSetupFees: boolean }> = {
  name: "cost-budget",
  description: "Checks that the stack's monthly cost (rent, electricity, amortisation, colocation), energy and CO2e stay within the budgets in gpu-hosting:budgets.",
  defaultEnforcement: () => "advisory",
  remediationSteps:
    "Pick cheaper offers (`gpu-hosting fit` ranks them), quantise to fit smaller GPUs, remove idle hosts, or raise gpu-hosting:budgets if the spend is intended.",
  configSchema: {
    includeSetupFees: { type: "boolean", description: "add one-off setup fees to the first month's cost", default: false },
  },
  run(ctx, cfg) {
    const b = ctx.config.budgets;
    if (b.eurPerMonth === undefined && b.kwhPerMonth === undefined && b.co2eKgPerMonth === undefined) return { notApplicable: "gpu-hosting:budgets is empty" };
    const t = ctx.fleet.totals;
    const setup = cfg.includeSetupFees ? ctx.fleet.hosts.reduce((s, h) => s + h.setupEur, 0) : 0;
    const out: Finding[] = [];
    const eur = t.eurPerMonth + setup;
    if (b.eurPerMonth !== undefined && eur > b.eurPerMonth) {
      const parts = ctx.fleet.hosts.map((h) => `${h.name} €${(h.rentEurPerMonth ?? 0).toFixed(0)}`).join(", ");
      out.push({ subject: "stack", message: `costs €${eur.toFixed(2)}/month${setup ? ` (incl. €${setup} setup)` : ""}, over the budget of €${b.eurPerMonth} by €${(eur - b.eurPerMonth).toFixed(2)} (rent: ${parts})`, remediation: costBudget.remediationSteps });
    }
    if (b.kwhPerMonth !== undefined && t.kwhPerMonth > b.kwhPerMonth) {
      out.push({ subject: "stack", message: `uses ${Math.round(t.kwhPerMonth)} kWh/month at peak, over the budget of ${b.kwhPerMonth} kWh`, remediation: costBudget.remediationSteps });
    }
    if (b.co2eKgPerMonth !== undefined && t.co2eKgPerMonth > b.co2eKgPerMonth) {
      out.push({ subject: "stack", message: `emits ${Math.round(t.co2eKgPerMonth)} kg CO2e/month at peak, over the budget of ${b.co2eKgPerMonth} kg`, remediation: costBudget.remediationSteps });
    }
    return out;
  },
};
