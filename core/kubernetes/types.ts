/**
 * What the Kubernetes renderers take and return: one inference deployment on a node type (catalog
 * GPU and count per replica), and plain JSON objects (apiVersion, kind, metadata, spec) that a
 * component hands to `@pulumi/kubernetes` and `gpu-hosting render` writes as YAML. Pure data.
 */
import type { InferenceInput } from "../layers/inference";

/** Object metadata, as rendered (no server-set fields). */
export interface K8sMetadata {
  name: string;
  /** Set on every namespaced object; absent on the Namespace itself. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A rendered Kubernetes object: plain JSON, no class, no Pulumi type. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: K8sMetadata;
  spec?: Record<string, unknown>;
}

/** Where the engine keeps downloaded weights (mounted at /models in the container). */
export type K8sModelCache =
  /** One ReadWriteOnce volume per replica (a StatefulSet's volumeClaimTemplates), kept across restarts and scale-downs. */
  | { kind: "pvc"; sizeGi: number; storageClass?: string }
  /** A directory on the node (DirectoryOrCreate): nodes that keep weights between pods. */
  | { kind: "hostPath"; path: string };

/** An Ingress in front of the Service, with a certificate from cert-manager. */
export interface K8sIngress {
  /** Public host name, e.g. "llm.example.com". */
  host: string;
  /** The cert-manager ClusterIssuer (`cert-manager.io/cluster-issuer`). */
  clusterIssuer: string;
  /** `spec.ingressClassName`. @default the cluster's default IngressClass */
  className?: string;
}

/** Horizontal autoscaling on vLLM's queue length (a Pods metric served by a metrics adapter). */
export interface K8sAutoscaling {
  minReplicas: number;
  maxReplicas: number;
  /** Requests waiting per replica (`vllm:num_requests_waiting`, averaged over pods) above which it scales out. */
  targetWaitingRequests: number;
}

/** Per-replica CPU and memory, overriding the defaults of `podResources`. */
export interface K8sResources {
  /** Cores, request = limit. @default 4 per GPU (GPU engines), 8 (CPU inference) */
  cpu?: number;
  /** Memory for the engine's processes, GiB; /dev/shm is added on top. @default 16 per GPU, or the sizing's host RAM need + 2 (CPU inference) */
  memoryGiB?: number;
}

/**
 * One inference deployment on Kubernetes, sized for the node type's GPUs. The engine's inputs are
 * the host layer's (`InferenceInput`): the same fields feed the same `engineArgs`. `deployment`
 * here is at most 52 characters (a StatefulSet's pods add a revision hash label) and also names
 * the workload, Service, Ingress, PDB and HPA; `sizing` is for `gpusPerReplica` × `gpuProduct`.
 */
export interface K8sInferenceInput extends Pick<InferenceInput, "deployment" | "sizing" | "context" | "concurrency" | "gpuMemoryUtilization" | "kvCacheDtype" | "gpuVendor"> {
  /** Namespace of every object (rendered as a Namespace unless `createNamespace` is false). */
  namespace: string;
  /** Catalog GPU id of the node type (e.g. "l40s"), or null for CPU pools. Must be the sizing's GPU. */
  gpuProduct: string | null;
  /** GPUs each replica gets (`nvidia.com/gpu` / `amd.com/gpu` limit). Must be the sizing's GPU count. */
  gpusPerReplica: number;
  /** Replicas; ignored (left to the HPA) when `autoscaling` is set. */
  replicas: number;
  /** `repo@sha256:…`. @default the catalog's pinned image for the engine and vendor */
  image?: string;
  /** Repository as configured, when it names a quantised checkpoint. @default the catalog checkpoint for the sizing's dtype */
  modelRepo?: string;
  modelCache: K8sModelCache;
  ingress?: K8sIngress;
  autoscaling?: K8sAutoscaling;
  /** The Secret (created by the component from Pulumi secrets) holding the keys `inferenceSecret` lists. */
  secretName: string;
  resources?: K8sResources;
  /** Render the Namespace object (false when several deployments share one). @default true */
  createNamespace?: boolean;
}

/** The Secret the pods read, as the component must create it. Values never reach the renderer. */
export interface K8sSecretRef {
  name: string;
  namespace: string;
  /** Keys the pod reads; a missing key stops the pod from starting (fail closed). */
  requiredKeys: string[];
  /** Keys read when present (HF_TOKEN: only gated models need it). */
  optionalKeys: string[];
}
