/**
 * Kubernetes clusters as deployment targets beside hosts: an existing cluster reached through a
 * kubeconfig (a secret), or a Scaleway Kapsule cluster with a GPU pool the stack creates. Their
 * schema, their resolution against the catalog (node type's GPU, count, price, watts) and the
 * secrets they need. Pure; the stack config, the fleet facts, the checks and the components use it.
 */
import { z } from "zod";
import { catalog as defaultCatalog, findGpu, findLocation, type Catalog, type Gpu, type Offer } from "./catalog";
import { Name } from "./config/common";
import { concurrencyPerReplica } from "./config/replicas";
import type { DeploymentConfig, StackConfig } from "./config/schema";
import type { Fleet } from "./fleet";
import { quotedId } from "./checks/redact";
import { findHostOffer } from "./hosts/common";
import type { Exposure, ResourceFacts } from "./hosts/types";
import { minModelCacheGiB, renderInferenceManifests, type K8sInferenceInput, type K8sObject } from "./kubernetes";
import type { DeploymentSizing } from "./sizing/deployment";

/** A cluster that exists: the stack reaches it with a kubeconfig and declares its GPU nodes. */
export const ExistingClusterConfig = z
  .object({
    name: Name,
    kind: z.literal("existing"),
    /** Config key of the secret holding the kubeconfig. @default "kubeconfig" */
    kubeconfigSecret: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, "use a config key name such as kubeconfig").default("kubeconfig"),
    /** GPU of the nodes deployments run on: a catalog id, or null for CPU nodes. */
    gpu: z.string().nullable(),
    /** GPUs per node. */
    gpusPerNode: z.number().int().nonnegative(),
    /** GPU nodes available to these deployments. @default 1 */
    nodes: z.number().int().positive().default(1),
    /** Install the NVIDIA GPU Operator; `installDriver: false` for nodes that already have drivers. @default none */
    gpuOperator: z.object({ installDriver: z.boolean().default(true) }).strict().optional(),
    /** Storage class for the model cache volumes. @default the cluster's default */
    storageClass: z.string().optional(),
    /** Keep weights in this directory on each node (hostPath) instead of one volume per replica. @default none (a PVC per replica) */
    modelCacheHostPath: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, "expected an absolute path such as /var/lib/models").optional(),
  })
  .strict();

/** A Scaleway Kapsule cluster with one GPU pool, created by the stack. */
export const KapsuleClusterConfig = z
  .object({
    name: Name,
    kind: z.literal("kapsule"),
    /** Node type: a Scaleway GPU Instance type of the catalog, e.g. "L4-1-24G". */
    nodeType: z.string(),
    /** Zone of the pool, e.g. "fr-par-2". */
    zone: z.string(),
    /** Nodes in the pool. @default 1 */
    poolSize: z.number().int().positive().default(1),
    /** Autoscaling bounds; without them the pool keeps `poolSize` nodes. */
    autoscaling: z.object({ minSize: z.number().int().nonnegative(), maxSize: z.number().int().positive() }).strict().optional(),
    /** Kubernetes version of the control plane. @default "1.33" */
    version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "expected a Kubernetes version such as 1.33").default("1.33"),
  })
  .strict();

export const ClusterConfig = z.discriminatedUnion("kind", [ExistingClusterConfig, KapsuleClusterConfig]);
export type ClusterConfig = z.infer<typeof ClusterConfig>;

/** What the checks and components know about a cluster before deploy. */
export interface ClusterFacts {
  name: string;
  kind: ClusterConfig["kind"];
  provider: "scaleway" | "existing";
  /** Zone for Kapsule; "" for an existing cluster. */
  location: string;
  /** Site the nodes draw power from (`scaleway-<zone>`), or null when unknown (existing cluster). */
  site: string | null;
  country: string | null;
  eu: boolean | null;
  offerId: string | null;
  gpu: string | null;
  gpuVendor: "nvidia" | "amd" | "none";
  gpusPerNode: number;
  /** Nodes counted for cost and power: the pool size, or the autoscaling maximum. */
  nodes: number;
  /** Node price × nodes, EUR per month; null for an existing cluster (not ours to price). */
  eurPerMonth: number | null;
  /** GPUs at board power plus the rest of each node, × nodes; 0 when unknown. */
  peakWatts: number;
}

/** Resolves a cluster against the catalog; problems start with its config path. */
export function resolveCluster(c: ClusterConfig, i: number, cat: Catalog = defaultCatalog()): ClusterFacts | { problems: string[] } {
  const path = `gpu-hosting:clusters[${i}]`;
  if (c.kind === "existing") {
    let gpu: Gpu | null = null;
    if (c.gpu !== null) {
      gpu = findGpu(c.gpu, cat) ?? null;
      if (!gpu) return { problems: [`${path}.gpu: ${quotedId(c.gpu)} is not in the GPU catalog; \`gpu-hosting catalog gpus\` lists the ids`] };
      if (c.gpusPerNode === 0) return { problems: [`${path}.gpusPerNode: 0 with gpu ${quotedId(c.gpu)}; give the GPUs per node, or gpu: null for CPU nodes`] };
    } else if (c.gpusPerNode !== 0) {
      return { problems: [`${path}.gpusPerNode: ${c.gpusPerNode} with gpu null (CPU nodes); name the GPU or set gpusPerNode: 0`] };
    }
    return { name: c.name, kind: c.kind, provider: "existing", location: "", site: null, country: null, eu: null, offerId: null, gpu: gpu?.id ?? null, gpuVendor: gpu?.vendor ?? "none", gpusPerNode: c.gpusPerNode, nodes: c.nodes, eurPerMonth: null, peakWatts: 0 };
  }
  const offer = findHostOffer(
    { path, provider: "scaleway", offerKind: "gpu-instance", noun: "Scaleway GPU Instance type", field: "nodeType", name: c.nodeType, locationField: "zone", location: c.zone, allowUnlisted: false },
    cat,
  );
  if ("problems" in offer) return offer;
  const problems: string[] = [];
  if (c.autoscaling && (c.autoscaling.minSize > c.poolSize || c.autoscaling.maxSize < c.poolSize)) {
    problems.push(`${path}.autoscaling: ${c.autoscaling.minSize}–${c.autoscaling.maxSize} does not contain poolSize ${c.poolSize}; widen the bounds or change poolSize`);
  }
  if (problems.length > 0) return { problems };
  return kapsuleFacts(c, offer, cat);
}

function kapsuleFacts(c: z.infer<typeof KapsuleClusterConfig>, offer: Offer, cat: Catalog): ClusterFacts {
  const zone = c.zone.trim().toLowerCase();
  const gpu = offer.gpu ? (findGpu(offer.gpu, cat) ?? null) : null;
  const nodes = c.autoscaling?.maxSize ?? c.poolSize;
  const loc = findLocation("scaleway", zone, cat);
  const nodeWatts = offer.gpuCount * (gpu?.boardPowerWatts ?? 0) + offer.nonGpuWatts;
  return {
    name: c.name,
    kind: c.kind,
    provider: "scaleway",
    location: zone,
    site: `scaleway-${zone}`,
    country: loc?.country ?? null,
    eu: loc?.eu ?? null,
    offerId: offer.id,
    gpu: gpu?.id ?? null,
    gpuVendor: gpu?.vendor ?? "none",
    gpusPerNode: offer.gpuCount,
    nodes,
    eurPerMonth: offer.eurPerMonth * nodes,
    peakWatts: nodeWatts * nodes,
  };
}

/** Secrets a cluster needs: the kubeconfig of an existing cluster (Kapsule's comes from the cluster). */
export function clusterSecretKeys(clusters: readonly ClusterConfig[]): string[] {
  return [...new Set(clusters.flatMap((c) => (c.kind === "existing" ? [c.kubeconfigSecret] : [])))];
}

// ---------------------------------------------------------------------------------------------
// From a stack to Kubernetes objects, and what network-exposure reads of them
// ---------------------------------------------------------------------------------------------

/** Cert-manager ClusterIssuer named by Ingresses. */
export const DEFAULT_CLUSTER_ISSUER = "letsencrypt";

/** The renderer's input for one cluster deployment: the same sizing and engine flags as on hosts. */
export function clusterDeploymentInput(d: DeploymentConfig, sizing: DeploymentSizing, cluster: ClusterFacts, cache: { storageClass?: string; hostPath?: string } = {}): K8sInferenceInput {
  return {
    deployment: d.name,
    namespace: "gpu-hosting",
    sizing,
    context: d.context,
    // Per pod: each replica serves its share of the deployment's total concurrency.
    concurrency: concurrencyPerReplica(d),
    gpuMemoryUtilization: d.gpuMemoryUtilization,
    kvCacheDtype: d.kvCacheDtype,
    gpuVendor: cluster.gpuVendor,
    gpuProduct: cluster.gpu,
    gpusPerReplica: sizing.gpuCount,
    replicas: d.replicas,
    ...(d.image ? { image: d.image } : {}),
    modelCache: cache.hostPath ? { kind: "hostPath", path: cache.hostPath } : { kind: "pvc", sizeGi: Math.max(20, minModelCacheGiB(sizing)), ...(cache.storageClass ? { storageClass: cache.storageClass } : {}) },
    ...(d.ingressHost ? { ingress: { host: d.ingressHost, clusterIssuer: DEFAULT_CLUSTER_ISSUER } } : {}),
    ...(d.autoscaling ? { autoscaling: d.autoscaling } : {}),
    secretName: `${d.name}-secrets`,
    createNamespace: false,
  };
}

/** Every cluster deployment's objects, by cluster: what `render` writes and the component applies. */
export function planClusters(config: StackConfig, fleet: Fleet): { cluster: string; deployment: string; input: K8sInferenceInput; objects: K8sObject[] }[] {
  const out: { cluster: string; deployment: string; input: K8sInferenceInput; objects: K8sObject[] }[] = [];
  for (const d of config.deployments) {
    if (!d.cluster) continue;
    const cluster = fleet.clusters.find((c) => c.name === d.cluster);
    const sizing = fleet.deployments.find((s) => s.name === d.name);
    if (!cluster || !sizing) continue;
    const cfg = config.clusters.find((c) => c.name === d.cluster);
    const input = clusterDeploymentInput(d, sizing, cluster, cfg?.kind === "existing" ? { storageClass: cfg.storageClass, hostPath: cfg.modelCacheHostPath } : {});
    out.push({ cluster: cluster.name, deployment: d.name, input, objects: renderInferenceManifests(input) });
  }
  return out;
}

/** Kubernetes objects that reach the internet without TLS or the API key: LoadBalancer/NodePort Services, Ingresses without TLS. */
export function kubernetesExposures(resources: readonly ResourceFacts[]): Exposure[] {
  const out: Exposure[] = [];
  for (const r of resources) {
    if (r.type === "kubernetes:core/v1:Service") {
      const type = (r.props.spec as { type?: unknown } | undefined)?.type;
      if (type === "LoadBalancer" || type === "NodePort") out.push({ subject: `resource ${r.name}`, message: `${r.type} of type ${type} exposes the engine without TLS or the API key; keep it ClusterIP and serve through an Ingress with TLS` });
    }
    if (r.type === "kubernetes:networking.k8s.io/v1:Ingress") {
      const tls = (r.props.spec as { tls?: unknown } | undefined)?.tls;
      if (!Array.isArray(tls) || tls.length === 0) out.push({ subject: `resource ${r.name}`, message: `${r.type} has no tls section: prompts and the API key would cross the internet in clear` });
    }
  }
  return out;
}
