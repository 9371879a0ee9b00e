/** network-exposure: no SSH from anywhere, engine port never public, endpoint behind TLS and a key. */
import { kubernetesExposures } from "../clusters";
import { exposuresOf, type ResourceFacts } from "../hosts";
import { isAnywhere } from "../hosts/common";
import { quoted } from "./secrets";
import type { Check, CheckContext, Finding } from "./types";

/** A resource as the analyzer hands it over: type, name and input properties. */
export type { ResourceFacts };

export interface NetworkExposureConfig {
  /** Ports that must never be reachable from anywhere. */
  privatePorts: number[];
}

/** Finds rules in provider resources that open a private port to the whole internet (every host kind's reader). */
export function exposedRules(resources: ResourceFacts[], ports: number[]): Finding[] {
  return [...exposuresOf(resources, ports), ...kubernetesExposures(resources)].map((e) => ({ ...e, remediation: networkExposure.remediationSteps }));
}

export const networkExposure: Check<NetworkExposureConfig> = {
  name: "network-exposure",
  description:
    "Checks that no host allows SSH from 0.0.0.0/0 or ::/0, that the inference engine's port is never public, and that every endpoint is served only behind TLS and an API key.",
  defaultEnforcement: (ctx: CheckContext) => (ctx.config.environment === "production" ? "mandatory" : "advisory"),
  remediationSteps:
    "List the admin networks in hosts[].sshAllowedCidrs (e.g. your office or VPN range), keep deployments[].endpoint.tls and apiKey true, keep publicEnginePort false, and reach the engine through the TLS endpoint or an SSH tunnel.",
  configSchema: {
    privatePorts: { type: "array", items: { type: "number" }, description: "ports never open to the internet: SSH, vLLM, llama.cpp, Ollama", default: [22, 8000, 8080, 11434] },
  },
  run(ctx, cfg) {
    if (ctx.config.hosts.length === 0 && ctx.config.deployments.length === 0) return { notApplicable: "the stack has no hosts and no deployments" };
    const out: Finding[] = [];
    ctx.config.hosts.forEach((h, i) => {
      const path = `gpu-hosting:hosts[${i}].sshAllowedCidrs`;
      const push = (message: string): void => void out.push({ subject: `host ${h.name}`, message, remediation: networkExposure.remediationSteps });
      let alone = 0;
      h.sshAllowedCidrs.forEach((cidr, j) => {
        let unreadable = false;
        if (!isAnywhere(cidr, () => (unreadable = true))) return;
        alone++;
        if (unreadable) push(`${path}[${j}]: ${quoted(cidr)} cannot be read as a CIDR; treated as the whole internet (failing closed)`);
        else if (/\/\s*0+\s*$/.test(cidr)) push(`${path}: ${cidr} opens SSH to the whole internet`);
        else push(`${path}: ${cidr} opens SSH to half of the internet or more`);
      });
      if (alone === 0 && isAnywhere(h.sshAllowedCidrs)) push(`${path}: ${h.sshAllowedCidrs.join(" + ")} together open SSH to half of the internet or more`);
    });
    ctx.config.deployments.forEach((d, i) => {
      const e = d.endpoint;
      if (!e.tls) out.push({ subject: `deployment ${d.name}`, message: `gpu-hosting:deployments[${i}].endpoint.tls is false: the endpoint would serve prompts and the API key in clear text`, remediation: networkExposure.remediationSteps });
      if (!e.apiKey) out.push({ subject: `deployment ${d.name}`, message: `gpu-hosting:deployments[${i}].endpoint.apiKey is false: anyone who reaches the endpoint can use the GPUs`, remediation: networkExposure.remediationSteps });
      if (e.publicEnginePort) out.push({ subject: `deployment ${d.name}`, message: `gpu-hosting:deployments[${i}].endpoint.publicEnginePort is true: the engine port 8000 would be public, bypassing TLS`, remediation: networkExposure.remediationSteps });
    });
    out.push(...exposedRules(ctx.resources ?? [], cfg.privatePorts));
    return out;
  },
};
