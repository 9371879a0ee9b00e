/** allowed-locations: providers and regions from an allow-list (EU-only by default). */
import { PROVIDERS } from "../hosts";
import { looksLikeIdentifier, notShown } from "./secrets";
import type { Check, Finding } from "./types";

export interface AllowedLocationsConfig {
  /** Overrides gpu-hosting:allowed.providers when non-empty. */
  providers: string[];
  /** Overrides gpu-hosting:allowed.regions when non-empty. */
  regions: string[];
  /** Forces EU-only whatever the stack's gpu-hosting:allowed.euOnly says. */
  euOnly: boolean;
}

export const allowedLocations: Check<AllowedLocationsConfig> = {
  name: "allowed-locations",
  description: "Checks that every host's provider and region are on the allow-list (gpu-hosting:allowed, or this policy's config) and, with euOnly, that every host is in the EU.",
  defaultEnforcement: () => "mandatory",
  remediationSteps: "Move the host to an allowed provider and region (e.g. Hetzner fsn1/nbg1/hel1, Scaleway fr-par-2/pl-waw-2), give on-prem sites their country, or widen the allow-list deliberately.",
  configSchema: {
    providers: { type: "array", items: { type: "string", enum: [...PROVIDERS] }, description: "allowed providers (empty: use the stack's gpu-hosting:allowed)", default: [] },
    regions: { type: "array", items: { type: "string" }, description: "allowed locations/zones (empty: use the stack's)", default: [] },
    euOnly: { type: "boolean", description: "force EU-only for every stack (false: follow the stack's gpu-hosting:allowed.euOnly, which defaults to true)", default: false },
  },
  run(ctx, cfg) {
    if (ctx.fleet.hosts.length === 0) return { notApplicable: "the stack has no hosts" };
    const providers = cfg.providers.length > 0 ? cfg.providers : (ctx.config.allowed.providers ?? []);
    const regions = cfg.regions.length > 0 ? cfg.regions : (ctx.config.allowed.regions ?? []);
    // Where the list comes from, and the list as messages show it: an entry that cannot be a
    // location id (a token pasted into the wrong field) is named by its index, never shown.
    const regionsFrom = cfg.regions.length > 0 ? "allowed-locations policy config regions" : "gpu-hosting:allowed.regions";
    const shownRegions = regions.map((r, i) => (looksLikeIdentifier(r.trim()) ? r : notShown(r, `${regionsFrom}[${i}]`))).join(", ");
    const euOnly = cfg.euOnly || ctx.config.allowed.euOnly;
    const out: Finding[] = [];
    for (const h of ctx.fleet.hosts) {
      if (providers.length > 0 && !providers.includes(h.provider)) {
        out.push({ subject: `host ${h.name}`, message: `provider ${h.provider} is not allowed; allowed: ${providers.join(", ")}`, remediation: allowedLocations.remediationSteps });
      }
      const owned = h.offerId === null;
      if (!owned && regions.length > 0 && !regions.includes(h.location)) {
        out.push({ subject: `host ${h.name}`, message: `${h.provider} location ${h.location} is not allowed; allowed: ${shownRegions}`, remediation: allowedLocations.remediationSteps });
      }
      if (euOnly) {
        if (h.eu === null) {
          out.push({ subject: `host ${h.name}`, message: `cannot tell whether site ${h.site} is in the EU: give the site a country (gpu-hosting:sites[].country); failing closed`, remediation: allowedLocations.remediationSteps });
        } else if (!h.eu) {
          out.push({ subject: `host ${h.name}`, message: `${h.provider} ${h.location} is in ${h.country ?? "an unknown country"}, outside the EU, and the stack is EU-only`, remediation: allowedLocations.remediationSteps });
        }
      }
    }
    return out;
  },
};
