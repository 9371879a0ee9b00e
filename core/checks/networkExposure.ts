/** network-exposure: no SSH from anywhere, engine port never public, endpoint behind TLS and a key. */
import type { Check, CheckContext, Finding } from "./types";

const ANYWHERE = (cidr: string): boolean => /\/0$/.test(cidr.trim());
const ANY_LIST = (xs: unknown): string[] => (Array.isArray(xs) ? xs.filter((x): x is string => typeof x === "string" && ANYWHERE(x)) : []);

/** A resource as the analyzer hands it over: type, name and input properties. */
export interface ResourceFacts {
  type: string;
  name: string;
  props: Record<string, unknown>;
}

export interface NetworkExposureConfig {
  /** Ports that must never be reachable from anywhere. */
  privatePorts: number[];
}

function portMatches(rulePort: unknown, ports: number[]): number[] {
  if (rulePort === undefined || rulePort === null || rulePort === "" || rulePort === "any") return ports;
  const s = String(rulePort);
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return [];
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  return ports.filter((p) => p >= lo && p <= hi);
}

/** Finds rules in provider resources that open a private port to the whole internet. */
export function exposedRules(resources: ResourceFacts[], ports: number[]): Finding[] {
  const out: Finding[] = [];
  const report = (r: ResourceFacts, port: number, source: string): void => {
    out.push({
      subject: `resource ${r.name}`,
      message: `${r.type} opens port ${port} to ${source}`,
      remediation: networkExposure.remediationSteps,
    });
  };
  for (const r of resources) {
    if (r.type === "scaleway:instance/securityGroup:SecurityGroup") {
      const policy = r.props.inboundDefaultPolicy;
      if (policy !== "drop") {
        out.push({ subject: `resource ${r.name}`, message: `${r.type} has inbound default policy ${JSON.stringify(policy ?? "accept")}; it must be "drop"`, remediation: networkExposure.remediationSteps });
      }
      for (const rule of (r.props.inboundRules as Record<string, unknown>[] | undefined) ?? []) {
        if (rule.action === "drop") continue;
        const range = String(rule.ipRange ?? rule.ip ?? "0.0.0.0/0");
        if (ANYWHERE(range)) for (const p of portMatches(rule.port ?? rule.portRange, ports)) report(r, p, range);
      }
    }
    if (r.type === "hcloud:index/firewall:Firewall") {
      for (const rule of (r.props.rules as Record<string, unknown>[] | undefined) ?? []) {
        if (rule.direction !== "in") continue;
        for (const src of ANY_LIST(rule.sourceIps)) for (const p of portMatches(rule.port, ports)) report(r, p, src);
      }
    }
    if (r.type === "hcloud:index/loadBalancerService:LoadBalancerService" && r.props.protocol !== "https") {
      out.push({ subject: `resource ${r.name}`, message: `${r.type} serves ${JSON.stringify(r.props.protocol)} on port ${String(r.props.listenPort ?? "")}; the endpoint must be https`, remediation: networkExposure.remediationSteps });
    }
  }
  return out;
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
      for (const cidr of h.sshAllowedCidrs.filter(ANYWHERE)) {
        out.push({ subject: `host ${h.name}`, message: `gpu-hosting:hosts[${i}].sshAllowedCidrs: ${cidr} opens SSH to the whole internet`, remediation: networkExposure.remediationSteps });
      }
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
