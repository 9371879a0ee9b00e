/**
 * The Kubernetes objects of one inference deployment: the same engine, image and flags as on a host
 * (`engineArgs` from core/layers/inference.ts, from the same sizing), on a node type's GPUs.
 * Secrets appear only as references to a Secret the component creates; no value is ever rendered.
 * Pure: plain JSON objects, no `@pulumi/*`.
 */
import { imageRef, images } from "../catalog";
import { engineArgs, ENGINE_CONTAINER_PORT, findImage, parseImage, type EngineCommand, type InferenceInput, type ServingEngine } from "../layers/inference";
import { shq } from "../layers/script";
import { minModelCacheGiB, podResources, replicaWeightsGiB, startupBudgetSeconds, STARTUP_PERIOD_SECONDS, type PodResources } from "./budget";
import { gpuNodeLabel } from "./gpuLabels";
import type { K8sInferenceInput, K8sObject, K8sSecretRef } from "./types";
import { validateK8sInferenceInput } from "./validate";

/** The engine's health endpoint: 200 once the model is loaded (vLLM, llama.cpp), or once the server answers (Ollama). */
export const HEALTH_PATHS: Readonly<Record<ServingEngine, string>> = { vllm: "/health", llamacpp: "/health", ollama: "/" };
/** The Service's port (plain HTTP inside the cluster; TLS ends at the Ingress). */
export const SERVICE_PORT = 80;
/** Where the model cache is mounted; the engines' cache variables (HF_HOME, LLAMA_CACHE, OLLAMA_MODELS) point under it. */
export const MODEL_CACHE_MOUNT = "/models";
/** vLLM's queue length: the Prometheus series, and the name a metrics adapter serves it under (colons renamed). */
export const QUEUE_METRIC = { prometheus: "vllm:num_requests_waiting", podsMetric: "vllm_num_requests_waiting" } as const;
/** Extended resource of each vendor's device plugin. */
export const GPU_RESOURCE = { nvidia: "nvidia.com/gpu", amd: "amd.com/gpu" } as const;

const CACHE_VOLUME = "model-cache";
const SHM_VOLUME = "dshm";

/**
 * The workload kind: a StatefulSet when the cache is a PVC, a Deployment for hostPath.
 *
 * With a PVC, each replica needs its own cache volume: block storage (Kapsule's default, EBS,
 * Persistent Disk…) is ReadWriteOnce, so one PVC shared by a Deployment's replicas on different
 * nodes fails to attach, and ReadWriteMany storage is not on every cluster. A StatefulSet's
 * volumeClaimTemplates give each replica its own ReadWriteOnce volume that follows it across
 * restarts, rescheduling and scale-down/up (whenScaled: Retain), so weights are fetched once per
 * replica, not once per pod start. With hostPath the cache belongs to the node and replicas are
 * interchangeable: a Deployment. Both roll out one replica at a time with no surge (a surge pod
 * would wait for a GPU that is not there).
 */
export function workloadKind(o: Pick<K8sInferenceInput, "modelCache">): "StatefulSet" | "Deployment" {
  return o.modelCache.kind === "pvc" ? "StatefulSet" : "Deployment";
}

/** The pinned image, by the same path as on hosts: the deployment's own (digest kept) or the catalog's. */
export function inferenceImage(o: Pick<K8sInferenceInput, "image" | "sizing" | "gpuVendor">): string {
  if (o.image !== undefined) {
    const p = parseImage(o.image);
    return `${p.repository}@${p.digest}`;
  }
  return findImage(o.sizing.engine, o.gpuVendor);
}

/** The host renderer's input for the same deployment: what `engineArgs` is called with. */
export function k8sEngineInput(o: K8sInferenceInput): InferenceInput {
  return {
    deployment: o.deployment,
    sizing: o.sizing,
    context: o.context,
    concurrency: o.concurrency,
    gpuMemoryUtilization: o.gpuMemoryUtilization,
    kvCacheDtype: o.kvCacheDtype,
    gpuVendor: o.gpuVendor,
    port: ENGINE_CONTAINER_PORT,
    bindAddress: "0.0.0.0",
    ...(o.image !== undefined ? { image: o.image } : {}),
    ...(o.modelRepo !== undefined ? { modelRepo: o.modelRepo } : {}),
  };
}

/** Keys the engine reads from the deployment's Secret: the API key is required, HF_TOKEN optional. */
export function inferenceSecret(o: K8sInferenceInput): K8sSecretRef {
  return secretRef(o, engineArgs(k8sEngineInput(o)));
}

const secretRef = (o: K8sInferenceInput, cmd: EngineCommand): K8sSecretRef => ({
  name: o.secretName,
  namespace: o.namespace,
  requiredKeys: cmd.secretVariables.filter((v) => v !== "HF_TOKEN"),
  optionalKeys: cmd.secretVariables.filter((v) => v === "HF_TOKEN"),
});

/** Labels the selectors use: stable, so a change of engine or model never needs a new selector. */
export function selectorLabels(o: Pick<K8sInferenceInput, "deployment">): Record<string, string> {
  return { "app.kubernetes.io/instance": o.deployment, "app.kubernetes.io/component": "inference" };
}

/**
 * Every object of the deployment, in apply order: Namespace, workload (StatefulSet or Deployment),
 * Service, then the optional Ingress, the PodDisruptionBudget and the optional
 * HorizontalPodAutoscaler. Throws with the config path on an input the cluster would refuse or run
 * wrongly.
 */
export function renderInferenceManifests(o: K8sInferenceInput): K8sObject[] {
  validateK8sInferenceInput(o);
  const cmd = engineArgs(k8sEngineInput(o));
  if (o.ingress && cmd.secretVariables.length === 0) {
    throw new Error(`deployments.${o.deployment}.ingress: ${cmd.engine} has no API key of its own, so an Ingress would publish it without authentication; use engine vllm or llamacpp, or reach it through the cluster only`);
  }
  if (o.modelCache.kind === "pvc" && o.modelCache.sizeGi < minModelCacheGiB(o.sizing)) {
    const weights = replicaWeightsGiB(o.sizing).toFixed(1);
    throw new Error(`deployments.${o.deployment}.modelCache.sizeGi: ${o.modelCache.sizeGi} cannot hold the ${weights} GiB of weights of ${o.sizing.model}; use at least ${minModelCacheGiB(o.sizing)}`);
  }
  const meta = (name: string) => ({ name, namespace: o.namespace, labels: commonLabels(o, cmd) });
  const objects: K8sObject[] = [];
  if (o.createNamespace !== false) objects.push(namespace(o));
  objects.push(workload(o, cmd, meta(o.deployment)));
  objects.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(o.deployment),
    spec: { type: "ClusterIP", selector: selectorLabels(o), ports: [{ name: "http", port: SERVICE_PORT, targetPort: "http", protocol: "TCP" }] },
  });
  if (o.ingress) objects.push(ingress(o, meta(o.deployment)));
  // maxUnavailable 1, not minAvailable: a single replica must not block node drains (upgrades,
  // the cluster autoscaler); AlwaysAllow lets a drain evict a replica that never became ready.
  objects.push({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(o.deployment),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(o) }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  });
  if (o.autoscaling) objects.push(autoscaler(o, cmd, meta(o.deployment)));
  return objects;
}

function commonLabels(o: K8sInferenceInput, cmd: EngineCommand): Record<string, string> {
  return { ...selectorLabels(o), "app.kubernetes.io/name": cmd.engine, "app.kubernetes.io/managed-by": "gpu-hosting" };
}

/** hostPath volumes are refused by the Pod Security "baseline" level, so such namespaces stay "privileged". */
function namespace(o: K8sInferenceInput): K8sObject {
  const level = o.modelCache.kind === "hostPath" ? "privileged" : "baseline";
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: o.namespace, labels: { "app.kubernetes.io/managed-by": "gpu-hosting", "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/warn": "baseline" } },
  };
}

function workload(o: K8sInferenceInput, cmd: EngineCommand, metadata: K8sObject["metadata"]): K8sObject {
  const kind = workloadKind(o);
  const res = podResources(o.sizing, o.resources);
  const startup = startupBudgetSeconds(o.sizing);
  const spec: Record<string, unknown> = {
    ...(o.autoscaling ? {} : { replicas: o.replicas }), // with an HPA, applying a replica count would undo its scaling
    selector: { matchLabels: selectorLabels(o) },
    template: podTemplate(o, cmd, res),
  };
  if (kind === "StatefulSet") {
    const cache = o.modelCache as Extract<K8sInferenceInput["modelCache"], { kind: "pvc" }>;
    Object.assign(spec, {
      serviceName: o.deployment, // optional since 1.33; older API servers and kubectl validators still ask for it
      podManagementPolicy: "Parallel", // start and stop replicas together: each takes minutes, ordering buys nothing
      updateStrategy: { type: "RollingUpdate" },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
      volumeClaimTemplates: [
        {
          metadata: { name: CACHE_VOLUME, labels: selectorLabels(o) },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(cache.storageClass ? { storageClassName: cache.storageClass } : {}),
            resources: { requests: { storage: `${cache.sizeGi}Gi` } },
          },
        },
      ],
    });
  } else {
    Object.assign(spec, {
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      progressDeadlineSeconds: startup + 600, // the default 600 s would call every first start a failed rollout
    });
  }
  return { apiVersion: "apps/v1", kind, metadata, spec };
}

function podTemplate(o: K8sInferenceInput, cmd: EngineCommand, res: PodResources): Record<string, unknown> {
  const image = inferenceImage(o);
  const health = HEALTH_PATHS[cmd.engine];
  const gpus = o.sizing.engine === "cpu" ? 0 : o.gpusPerReplica;
  const gpuResource = gpus > 0 && o.gpuVendor !== "none" ? { [GPU_RESOURCE[o.gpuVendor]]: String(gpus) } : {};
  const amounts = { cpu: cpuQuantity(res.cpu), memory: memoryQuantity(res.memoryGiB), ...gpuResource };
  const secret = secretRef(o, cmd);
  const env = [
    ...Object.entries(cmd.env).map(([name, value]) => ({ name, value })),
    ...secret.requiredKeys.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: o.secretName, key, optional: false } } })),
    ...secret.optionalKeys.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: o.secretName, key, optional: true } } })),
  ];
  // Fresh objects every time: no shared references (YAML output would carry anchors, and a caller could mutate two fields at once).
  const httpProbe = (): Record<string, unknown> => ({ httpGet: { path: health, port: "http" }, timeoutSeconds: 5 });
  const container: Record<string, unknown> = {
    name: "engine",
    image,
    imagePullPolicy: "IfNotPresent",
    ...(cmd.args.length > 0 ? { args: [...cmd.args] } : {}), // args replace the image's CMD and keep its ENTRYPOINT, as `docker run IMAGE ARGS` does on hosts
    ports: [{ name: "http", containerPort: ENGINE_CONTAINER_PORT, protocol: "TCP" }],
    env,
    resources: { requests: { ...amounts }, limits: { ...amounts } },
    volumeMounts: [
      { name: CACHE_VOLUME, mountPath: MODEL_CACHE_MOUNT },
      { name: SHM_VOLUME, mountPath: "/dev/shm" },
    ],
    // Weight loading (and a first download) happens before the engine answers: the startup probe
    // holds liveness off for the whole budget, then readiness gates traffic and liveness restarts
    // an engine that stopped answering for 2.5 minutes.
    startupProbe: { ...httpProbe(), periodSeconds: STARTUP_PERIOD_SECONDS, failureThreshold: startupBudgetSeconds(o.sizing) / STARTUP_PERIOD_SECONDS },
    readinessProbe: cmd.pull ? ollamaModelProbe(cmd) : { ...httpProbe(), periodSeconds: 10, failureThreshold: 3 },
    livenessProbe: { ...httpProbe(), timeoutSeconds: 10, periodSeconds: 30, failureThreshold: 5 },
    securityContext: { allowPrivilegeEscalation: false },
    ...(cmd.pull ? { lifecycle: { postStart: { exec: { command: ["/bin/sh", "-c", ollamaPull(cmd)] } } } } : {}),
  };
  const volumes = [
    o.modelCache.kind === "hostPath" ? { name: CACHE_VOLUME, hostPath: { path: o.modelCache.path, type: "DirectoryOrCreate" } } : null,
    { name: SHM_VOLUME, emptyDir: { medium: "Memory", sizeLimit: memoryQuantity(res.shmGiB) } },
  ].filter((v) => v !== null);
  const placement = nodePlacement(o, image);
  return {
    metadata: { labels: commonLabels(o, cmd), annotations: podAnnotations(o, cmd) },
    spec: {
      // The engine never calls the Kubernetes API; and service links would inject VLLM_PORT-style
      // variables (from a Service named "vllm") that the engine reads as its own settings.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 60,
      ...placement,
      containers: [container],
      volumes,
    },
  };
}

/** Sizing facts on the pod, and Prometheus' conventional scrape annotations for vLLM's /metrics. */
function podAnnotations(o: K8sInferenceInput, cmd: EngineCommand): Record<string, string> {
  const a: Record<string, string> = {
    "gpu-hosting/model": o.sizing.model,
    "gpu-hosting/checkpoint": cmd.checkpoint,
    "gpu-hosting/dtype": o.sizing.dtype,
    "gpu-hosting/gpus": o.sizing.gpu ? `${o.sizing.gpuCount} x ${o.sizing.gpu}` : "none",
  };
  if (cmd.engine === "vllm") Object.assign(a, { "prometheus.io/scrape": "true", "prometheus.io/port": String(ENGINE_CONTAINER_PORT), "prometheus.io/path": "/metrics" });
  return a;
}

/** nodeSelector (one value), or a required node affinity (several), on the GPU label; tolerations for the vendor's taint; the image's CPU architecture. */
function nodePlacement(o: K8sInferenceInput, image: string): Record<string, unknown> {
  const nodeSelector: Record<string, string> = {};
  const platform = images().find((i) => imageRef(i) === image)?.platform;
  if (platform?.startsWith("linux/")) nodeSelector["kubernetes.io/arch"] = platform.slice("linux/".length);
  const out: Record<string, unknown> = {};
  if (o.gpuProduct !== null && o.gpuVendor !== "none" && o.sizing.engine !== "cpu") {
    const label = gpuNodeLabel(o.gpuProduct, `deployments.${o.deployment}.gpuProduct`);
    if (label.values.length === 1) nodeSelector[label.key] = label.values[0]!;
    else {
      out.affinity = {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: label.key, operator: "In", values: label.values }] }] } },
      };
    }
    out.tolerations = [{ key: GPU_RESOURCE[o.gpuVendor], operator: "Exists", effect: "NoSchedule" }];
  }
  if (Object.keys(nodeSelector).length > 0) out.nodeSelector = nodeSelector;
  return out;
}

/** Ollama: pull the GGUF once the server answers and name it after the deployment (as the host script does with docker exec). */
function ollamaPull(cmd: EngineCommand): string {
  const model = shq(cmd.pull!);
  return `until ollama list >/dev/null 2>&1; do sleep 2; done; ollama pull ${model} && ollama cp ${model} ${shq(cmd.servedModelName)}`;
}

/** Ollama answers `/` before the model is pulled: ready only once the served name exists. */
function ollamaModelProbe(cmd: EngineCommand): Record<string, unknown> {
  return { exec: { command: ["ollama", "show", cmd.servedModelName] }, timeoutSeconds: 10, periodSeconds: 10, failureThreshold: 3 };
}

function ingress(o: K8sInferenceInput, metadata: K8sObject["metadata"]): K8sObject {
  const i = o.ingress!;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { ...metadata, annotations: { "cert-manager.io/cluster-issuer": i.clusterIssuer } },
    spec: {
      ...(i.className ? { ingressClassName: i.className } : {}),
      tls: [{ hosts: [i.host], secretName: `${o.deployment}-tls` }],
      rules: [{ host: i.host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: o.deployment, port: { name: "http" } } } }] } }],
    },
  };
}

/**
 * Scales on vLLM's waiting requests per replica (a Pods metric: needs Prometheus scraping the pods
 * and an adapter serving `vllm_num_requests_waiting` on custom.metrics.k8s.io, see
 * docs/kubernetes.md). Scale-up keeps the HPA's default (at once); scale-down waits for 10 quiet
 * minutes and removes one replica per 5 minutes, since a new replica takes many minutes to load its
 * weights.
 */
function autoscaler(o: K8sInferenceInput, cmd: EngineCommand, metadata: K8sObject["metadata"]): K8sObject {
  const a = o.autoscaling!;
  if (cmd.engine !== "vllm") {
    throw new Error(`deployments.${o.deployment}.autoscaling: the queue metric (${QUEUE_METRIC.prometheus}) is vLLM's and ${cmd.engine} exposes none; remove autoscaling or use engine vllm`);
  }
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: workloadKind(o), name: o.deployment },
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics: [{ type: "Pods", pods: { metric: { name: QUEUE_METRIC.podsMetric }, target: { type: "AverageValue", averageValue: String(a.targetWaitingRequests) } } }],
      behavior: {
        scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: "Pods", value: 1, periodSeconds: 300 }] },
      },
    },
  };
}

/** Cores as a Kubernetes quantity: "4", or millicores ("1500m"). */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.ceil(cores * 1000)}m`;
}

/** GiB as a Kubernetes quantity: "17Gi", or whole MiB ("1536Mi"). */
export function memoryQuantity(gib: number): string {
  return Number.isInteger(gib) ? `${gib}Gi` : `${Math.ceil(gib * 1024)}Mi`;
}
