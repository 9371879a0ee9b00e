/**
 * The whole stack as one component: every host of the stack config, by kind, as children. Its
 * inputs are the parsed stack config (plain values, known at preview) plus the raw config with
 * secrets redacted, so the policy pack reads the same facts `gpu-hosting check` does. Secrets are
 * taken separately and never become inputs of this component.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { StackConfig } from "../core/config/schema";
import { buildFleet, type Fleet as FleetFacts } from "../core/fleet";
import { secretNeeds, type HostConfig } from "../core/hosts";
import { planStack, type HostPlan } from "../core/layers/plan";
import type { SecretFileRef } from "../core/layers/types";
import { FLEET_TYPE } from "../core/tokens";
import type { GpuHost } from "./host";
import { HOST_COMPONENTS, type FleetSecrets, type HostBuild } from "./kinds";
import { HostSoftware } from "./layers/hostSoftware";
import { Cluster, InferenceDeployment } from "./kubernetes";
import { clusterSecretKeys, planClusters } from "../core/clusters";

export type { FleetSecrets };

export interface FleetArgs {
  /** Parsed stack config (`parseStackConfig`). */
  config: StackConfig;
  /** The stack's config map with secret values replaced by "[secret]", for the secrets policy. */
  rawConfig?: Record<string, unknown>;
  /** Config keys the engine holds as secrets. */
  secretKeys?: string[];
  /** Secrets by config key without namespace (`sshPrivateKey`, `robotUser`, a host's `privateKeySecret`, …), each a Pulumi secret. */
  secrets: FleetSecrets;
  /**
   * Install and run the software layers on every host (driver, power, inference server, endpoint).
   * `false` stops at bare, hardened hosts. @default true
   */
  software?: boolean;
}

/**
 * The content of a secret file the layers read, from its variable names: `*_API_KEY` gets the
 * endpoint's API key, `HF_TOKEN` the Hugging Face token (left out when none is configured).
 */
export function secretFileContent(ref: SecretFileRef, apiKey: pulumi.Input<string>, hfToken: pulumi.Input<string> | undefined): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.all([apiKey, hfToken ?? ""]).apply(([key, hf]) =>
      ref.variables
        .flatMap((v) => (/API_KEY$/.test(v) ? [`${v}=${key}`] : v === "HF_TOKEN" ? (hf ? [`${v}=${hf}`] : []) : []))
        .map((line) => `${line}\n`)
        .join(""),
    ),
  );
}

/** Every secret the config's hosts need but `secrets` lacks, with the command that sets it. */
export function missingSecrets(config: StackConfig, secrets: FleetSecrets): string[] {
  const out = new Set<string>();
  for (const { host, need } of secretNeeds(config.hosts)) {
    if (secrets[need.key] === undefined) out.add(`gpu-hosting:hosts[${host}] ${config.hosts[host]!.name}: needs ${need.secret ? "the secret " : ""}gpu-hosting:${need.key}; set it with \`${need.how}\``);
  }
  for (const key of clusterSecretKeys(config.clusters)) {
    if (secrets[key] === undefined) out.add(`gpu-hosting:clusters: an existing cluster needs the secret gpu-hosting:${key}; set it with \`pulumi config set --secret ${key} < ~/.kube/config\``);
  }
  return [...out];
}

/** Builds a stack's hosts. Token `gpu-hosting:fleet:Fleet`. */
export class Fleet extends pulumi.ComponentResource {
  static readonly __pulumiType = FLEET_TYPE;
  /** Facts resolved from the catalog: hosts, sites, deployments, totals. */
  readonly facts: FleetFacts;
  /** Host components by host name. */
  readonly hosts: Record<string, GpuHost>;
  /** What runs on each host, by host name. */
  readonly plans: Record<string, HostPlan>;
  /** Kubernetes clusters, by name. */
  readonly clusters: Record<string, Cluster>;
  /** Deployments on clusters, by deployment name. */
  readonly clusterDeployments: Record<string, InferenceDeployment>;
  /** The software layers of each host, by host name (none with `software: false`). */
  readonly software: Record<string, HostSoftware>;
  /** Where each deployment answers: its host's domain, else the host's address (known after create). */
  readonly endpoints: { deployment: string; host: string; model: string; url: pulumi.Output<string> }[];
  /** The endpoints' API key: `gpu-hosting:apiKey` when set, else generated once and kept in the state. Secret. */
  readonly apiKey: pulumi.Output<string>;

  constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
    const facts = buildFleet(args.config);
    const problems = [...facts.problems, ...missingSecrets(args.config, args.secrets)];
    if (problems.length > 0) throw new Error(`gpu-hosting Fleet ${name}: invalid stack config:\n  ${problems.join("\n  ")}`);
    super(Fleet.__pulumiType, name, { config: args.config, rawConfig: args.rawConfig ?? {}, secretKeys: args.secretKeys ?? [] }, opts);
    this.facts = facts;
    const protect = args.config.environment === "production";
    this.hosts = {};
    this.software = {};
    this.plans = Object.fromEntries(planStack(args.config, facts).map((p) => [p.host, p]));
    this.apiKey = pulumi.secret(args.secrets.apiKey ?? new random.RandomPassword(`${name}-api-key`, { length: 48, special: false }, { parent: this }).result);
    for (const h of args.config.hosts) {
      const plan = this.plans[h.name]!;
      const build: HostBuild<HostConfig> = {
        host: h,
        facts: facts.hosts.find((x) => x.name === h.name)!,
        secret: (key) => {
          const v = args.secrets[key];
          if (v === undefined) throw new Error(`gpu-hosting:hosts ${h.name}: secret "gpu-hosting:${key}" is missing; set it with \`pulumi config set --secret ${key} …\``);
          return v;
        },
        protect,
        endpointPort: plan.publicPort ?? undefined,
        opts: { parent: this },
      };
      const host = (HOST_COMPONENTS[h.kind] as (b: HostBuild<HostConfig>) => GpuHost)(build);
      this.hosts[h.name] = host;
      if (args.software === false) continue;
      const secretFiles = Object.fromEntries(plan.secrets.map((ref) => [ref.path, secretFileContent(ref, this.apiKey, args.secrets.hfToken)]));
      this.software[h.name] = new HostSoftware(`${h.name}-software`, { connection: host.connection, plan, secretFiles }, { parent: this, dependsOn: [host as unknown as pulumi.Resource] });
    }
    this.clusters = {};
    this.clusterDeployments = {};
    args.config.clusters.forEach((c) => {
      const f = facts.clusters.find((x) => x.name === c.name)!;
      this.clusters[c.name] = new Cluster(c.name, { config: c, facts: f, kubeconfig: c.kind === "existing" ? args.secrets[c.kubeconfigSecret] : undefined }, { parent: this });
    });
    const firstNamespace = new Set<string>();
    for (const p of planClusters(args.config, facts)) {
      const cluster = this.clusters[p.cluster]!;
      const key = `${p.cluster}/${p.input.namespace}`;
      this.clusterDeployments[p.deployment] = new InferenceDeployment(
        p.deployment,
        { input: p.input, provider: cluster.provider, apiKey: this.apiKey, hfToken: args.secrets.hfToken, createNamespace: !firstNamespace.has(key) },
        { parent: this },
      );
      firstNamespace.add(key);
    }
    this.endpoints = Object.values(this.plans).flatMap((p) => {
      const url = p.endpointUrl?.includes("<host address>") ? this.hosts[p.host]!.connection.host.apply((a) => p.endpointUrl!.replace("<host address>", a.includes(":") ? `[${a}]` : a)) : pulumi.output(p.endpointUrl ?? "");
      return p.deployments.map((d) => ({ deployment: d.name, host: p.host, model: d.servedModel, url }));
    });
    this.registerOutputs({
      hosts: Object.fromEntries(Object.entries(this.hosts).map(([n, h]) => [n, { address: h.connection.host, user: h.connection.user }])),
      totals: facts.totals,
      endpoints: this.endpoints,
    });
  }
}
