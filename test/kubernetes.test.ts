/**
 * Kubernetes objects of an inference deployment (core/kubernetes): the engine flags are the hosts'
 * (`engineArgs` for the same input), GPUs are limits and node selectors from the vendors' labels,
 * secrets are references only, and every rendered object validates offline against the Kubernetes
 * v1.33.0 OpenAPI schema through kubernetes-models 4.5.1.
 */
import { validateK8sObject } from "./helpers/k8s";
import { dump } from "js-yaml";
import { catalog } from "../core/catalog";
import { DeploymentConfig } from "../core/config/schema";
import {
  AMD_DEVICE_IDS,
  checkGpuOperatorValues,
  gfdProductLabel,
  gpuNodeLabel,
  GPU_OPERATOR_CHART,
  inferenceSecret,
  minModelCacheGiB,
  NVML_NAMES,
  podResources,
  renderGpuOperatorNamespace,
  renderGpuOperatorValues,
  renderInferenceManifests,
  startupBudgetSeconds,
  workloadKind,
  type K8sInferenceInput,
  type K8sObject,
} from "../core/kubernetes";
import { engineArgs, type InferenceInput } from "../core/layers/inference";
import { sizeOnGpu, type DeploymentSizing } from "../core/sizing/deployment";

const VLLM = "vllm/vllm-openai@sha256:7a0f0fdd2771464b6976625c2b2d5dd46f566aa00fbc53eceab86ef50883da90";
const ROCM_VLLM = "rocm/vllm@sha256:e7f02dd2ce3824959658bc0391296f6158638e3ebce164f6c019c4eca8150ec7";
const LLAMA_CPU = "ghcr.io/ggml-org/llama.cpp@sha256:8fdfad183be053cdb72d4b6a5930c3a2475730f932855ee9260193422c2564ed";

function sized(d: Record<string, unknown>, gpu: string | null, count: number, ramGiB: number | null = null): DeploymentSizing {
  return sizeOnGpu(DeploymentConfig.parse({ hosts: ["h1"], ...d }), "deployments[0]", gpu, count, ramGiB, ["h1"]);
}

const llama8bL40s = sized({ name: "small", model: "meta-llama/Llama-3.1-8B-Instruct" }, "l40s", 1);
const awq70b = sized({ name: "chat", model: "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", context: 16384, concurrency: 4 }, "l40s", 2);
const llama8bMi300x = sized({ name: "mi", model: "meta-llama/Llama-3.1-8B-Instruct" }, "mi300x", 1);
const cpu3b = sized({ name: "cpu", model: "meta-llama/Llama-3.2-3B-Instruct", context: 4096, concurrency: 2 }, null, 0, 64);

function k8s(sizing: DeploymentSizing, over: Partial<K8sInferenceInput> = {}): K8sInferenceInput {
  return {
    deployment: sizing.name,
    namespace: "llm",
    sizing,
    context: 8192,
    concurrency: 1,
    gpuMemoryUtilization: 0.9,
    kvCacheDtype: "auto",
    gpuVendor: "nvidia",
    gpuProduct: sizing.gpu,
    gpusPerReplica: sizing.gpuCount,
    replicas: 1,
    modelCache: { kind: "pvc", sizeGi: 100 },
    secretName: `${sizing.name}-secrets`,
    ...over,
  };
}

/** The hosts' renderer input for the same deployment, written out here rather than taken from the module under test. */
function hostInput(o: K8sInferenceInput): InferenceInput {
  return { deployment: o.deployment, sizing: o.sizing, context: o.context, concurrency: o.concurrency, gpuMemoryUtilization: o.gpuMemoryUtilization, kvCacheDtype: o.kvCacheDtype, gpuVendor: o.gpuVendor, port: 8000, bindAddress: "0.0.0.0" };
}

const validateObject = validateK8sObject;

const byKind = (objs: K8sObject[], kind: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} among ${objs.map((x) => x.kind).join(", ")}`);
  return o;
};
// Rendered objects are plain JSON: walk them with a loose type in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
const podSpec = (objs: K8sObject[]): Loose => (objs.find((x) => x.kind === "StatefulSet" || x.kind === "Deployment")!.spec as Loose).template.spec;
const engine = (objs: K8sObject[]): Loose => podSpec(objs).containers[0];

const scenarios: [string, K8sInferenceInput][] = [
  ["1 × L40S, vLLM, PVC", k8s(llama8bL40s)],
  ["2 × L40S, 70B AWQ, ingress and autoscaling", k8s(awq70b, { context: 16384, concurrency: 4, ingress: { host: "llm.example.com", clusterIssuer: "letsencrypt", className: "nginx" }, autoscaling: { minReplicas: 1, maxReplicas: 4, targetWaitingRequests: 5 } })],
  ["1 × MI300X, vLLM on ROCm, hostPath", k8s(llama8bMi300x, { gpuVendor: "amd", modelCache: { kind: "hostPath", path: "/var/lib/gpu-hosting/models" } })],
  ["CPU pool, llama.cpp", k8s(cpu3b, { gpuVendor: "none", context: 4096, concurrency: 2, modelCache: { kind: "pvc", sizeGi: 10, storageClass: "scw-bssd" } })],
];

describe("inference deployment on an NVIDIA node type", () => {
  const one = renderInferenceManifests(k8s(llama8bL40s));
  const tpInput = k8s(awq70b, { context: 16384, concurrency: 4 });
  const tp = renderInferenceManifests(tpInput);

  it("renders Namespace, StatefulSet (PVC cache), Service and PodDisruptionBudget in apply order", () => {
    expect(one.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`)).toEqual(["v1 Namespace llm", "apps/v1 StatefulSet small", "v1 Service small", "policy/v1 PodDisruptionBudget small"]);
    expect(one.slice(1).every((o) => o.metadata.namespace === "llm")).toBe(true);
  });

  it("runs the catalog's pinned vLLM image with exactly the hosts' engine flags", () => {
    const c = engine(one);
    expect(c.image).toBe(VLLM);
    expect(c.args).toEqual(engineArgs(hostInput(k8s(llama8bL40s))).args);
    expect(c.args).toEqual(["meta-llama/Llama-3.1-8B-Instruct", "--served-model-name", "small", "--tensor-parallel-size", "1", "--max-model-len", "8192", "--gpu-memory-utilization", "0.9", "--max-num-seqs", "1", "--dtype", "bfloat16"]);
  });

  it("serves a 70B AWQ checkpoint on 2 × L40S with tensor parallelism 2, two GPUs per pod and a 2 GiB /dev/shm", () => {
    const c = engine(tp);
    expect(c.args).toEqual(engineArgs(hostInput(tpInput)).args);
    expect(c.args.slice(0, 5)).toEqual(["hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "--served-model-name", "chat", "--tensor-parallel-size", "2"]);
    expect(c.resources).toEqual({
      requests: { cpu: "8", memory: "34Gi", "nvidia.com/gpu": "2" },
      limits: { cpu: "8", memory: "34Gi", "nvidia.com/gpu": "2" },
    });
    expect(podSpec(tp).volumes).toContainEqual({ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } });
    expect(c.volumeMounts).toEqual([
      { name: "model-cache", mountPath: "/models" },
      { name: "dshm", mountPath: "/dev/shm" },
    ]);
  });

  it("selects nodes by GPU Feature Discovery's product label and tolerates the nvidia.com/gpu taint", () => {
    expect(podSpec(one).nodeSelector).toEqual({ "kubernetes.io/arch": "amd64", "nvidia.com/gpu.product": "NVIDIA-L40S" });
    expect(podSpec(one).tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    expect(podSpec(one).affinity).toBeUndefined();
  });

  it("probes /health with a startup budget of at least 30 minutes, then readiness and liveness", () => {
    const c = engine(tp);
    expect(c.startupProbe).toEqual({ httpGet: { path: "/health", port: "http" }, timeoutSeconds: 5, periodSeconds: 10, failureThreshold: 180 });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(30 * 60);
    expect(c.readinessProbe).toEqual({ httpGet: { path: "/health", port: "http" }, timeoutSeconds: 5, periodSeconds: 10, failureThreshold: 3 });
    expect(c.livenessProbe).toEqual({ httpGet: { path: "/health", port: "http" }, timeoutSeconds: 10, periodSeconds: 30, failureThreshold: 5 });
    expect(c.ports).toEqual([{ name: "http", containerPort: 8000, protocol: "TCP" }]);
  });

  it("reads the API key and HF token from the named Secret, the key required and the token optional", () => {
    const env = engine(one).env;
    expect(env).toEqual([
      { name: "HF_HOME", value: "/models/huggingface" },
      { name: "VLLM_NO_USAGE_STATS", value: "1" },
      { name: "DO_NOT_TRACK", value: "1" },
      { name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: "small-secrets", key: "VLLM_API_KEY", optional: false } } },
      { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "small-secrets", key: "HF_TOKEN", optional: true } } },
    ]);
    expect(inferenceSecret(k8s(llama8bL40s))).toEqual({ name: "small-secrets", namespace: "llm", requiredKeys: ["VLLM_API_KEY"], optionalKeys: ["HF_TOKEN"] });
    expect(one.some((o) => o.kind === "Secret")).toBe(false);
  });

  it("gives each replica its own ReadWriteOnce cache volume, kept on scale-down", () => {
    const spec = byKind(one, "StatefulSet").spec as Loose;
    expect(spec.replicas).toBe(1);
    expect(spec.podManagementPolicy).toBe("Parallel");
    expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Retain" });
    expect(spec.volumeClaimTemplates).toEqual([
      {
        metadata: { name: "model-cache", labels: { "app.kubernetes.io/instance": "small", "app.kubernetes.io/component": "inference" } },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Gi" } } },
      },
    ]);
    expect(podSpec(one).volumes).toEqual([{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } }]);
  });

  it("keeps the pod off the Kubernetes API and free of service-link variables", () => {
    expect(podSpec(one)).toMatchObject({ automountServiceAccountToken: false, enableServiceLinks: false });
  });

  it("publishes through an Ingress with TLS from cert-manager, and scales on vLLM's waiting requests", () => {
    const objs = renderInferenceManifests(scenarios[1]![1]);
    expect(objs.map((o) => o.kind)).toEqual(["Namespace", "StatefulSet", "Service", "Ingress", "PodDisruptionBudget", "HorizontalPodAutoscaler"]);
    const ing = byKind(objs, "Ingress");
    expect(ing.metadata.annotations).toEqual({ "cert-manager.io/cluster-issuer": "letsencrypt" });
    expect(ing.spec).toEqual({
      ingressClassName: "nginx",
      tls: [{ hosts: ["llm.example.com"], secretName: "chat-tls" }],
      rules: [{ host: "llm.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "chat", port: { name: "http" } } } }] } }],
    });
    const hpa = byKind(objs, "HorizontalPodAutoscaler").spec as Loose;
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "StatefulSet", name: "chat" });
    expect(hpa.metrics).toEqual([{ type: "Pods", pods: { metric: { name: "vllm_num_requests_waiting" }, target: { type: "AverageValue", averageValue: "5" } } }]);
    expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([1, 4]);
    expect((byKind(objs, "StatefulSet").spec as Loose).replicas).toBeUndefined();
    expect(byKind(objs, "Service").spec).toEqual({
      type: "ClusterIP",
      selector: { "app.kubernetes.io/instance": "chat", "app.kubernetes.io/component": "inference" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    });
  });

  it("lets a node drain evict the only replica (maxUnavailable 1, never minAvailable)", () => {
    expect(byKind(one, "PodDisruptionBudget").spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { "app.kubernetes.io/instance": "small", "app.kubernetes.io/component": "inference" } },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
  });
});

describe("inference deployment on an AMD node type", () => {
  const input = k8s(llama8bMi300x, { gpuVendor: "amd", modelCache: { kind: "hostPath", path: "/var/lib/gpu-hosting/models" } });
  const objs = renderInferenceManifests(input);

  it("runs vLLM from the pinned ROCm image with `vllm serve` and the hosts' flags", () => {
    const c = engine(objs);
    expect(c.image).toBe(ROCM_VLLM);
    expect(c.args).toEqual(engineArgs(hostInput(input)).args);
    expect(c.args.slice(0, 3)).toEqual(["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]);
  });

  it("asks for amd.com/gpu, selects MI300X nodes by PCI device id and tolerates the amd.com/gpu taint", () => {
    const c = engine(objs);
    expect(c.resources.limits).toEqual({ cpu: "4", memory: "17Gi", "amd.com/gpu": "1" });
    expect(c.resources.limits["nvidia.com/gpu"]).toBeUndefined();
    const spec = podSpec(objs);
    expect(spec.nodeSelector).toEqual({ "kubernetes.io/arch": "amd64" });
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "amd.com/gpu.device-id", operator: "In", values: ["74a1", "74a9", "74bd", "74b5"] }] },
    ]);
    expect(spec.tolerations).toEqual([{ key: "amd.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  });

  it("uses a Deployment without surge for a hostPath cache, in a privileged namespace", () => {
    const d = byKind(objs, "Deployment").spec as Loose;
    expect(workloadKind(input)).toBe("Deployment");
    expect(d.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    expect(d.progressDeadlineSeconds).toBe(1800 + 600);
    expect(podSpec(objs).volumes[0]).toEqual({ name: "model-cache", hostPath: { path: "/var/lib/gpu-hosting/models", type: "DirectoryOrCreate" } });
    expect(byKind(objs, "Namespace").metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });
});

describe("other engines", () => {
  it("runs llama.cpp on a CPU pool with memory from the sizing's host RAM need and no GPU anything", () => {
    const input = scenarios[3]![1];
    const objs = renderInferenceManifests(input);
    const c = engine(objs);
    expect(c.image).toBe(LLAMA_CPU);
    expect(c.args).toEqual(engineArgs(hostInput(input)).args);
    const g = cpu3b.result.perGpu;
    expect(c.resources.limits).toEqual({ cpu: "8", memory: `${Math.ceil(g.weightsGiB + g.kvCacheGiB + g.activationGiB + g.overheadGiB) + 2 + 1}Gi` });
    expect(podSpec(objs).tolerations).toBeUndefined();
    expect(podSpec(objs).nodeSelector).toBeUndefined(); // the catalog records no single platform for this image
    expect(c.startupProbe.httpGet.path).toBe("/health");
    expect(c.env.filter((e: Loose) => e.valueFrom).map((e: Loose) => e.name)).toEqual(["LLAMA_API_KEY", "HF_TOKEN"]);
  });

  it("pulls Ollama's model after start and is ready only once the served name exists", () => {
    const s = sized({ name: "ol", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "ollama" }, "l4", 1);
    const objs = renderInferenceManifests(k8s(s, { modelCache: { kind: "pvc", sizeGi: 20 } }));
    const c = engine(objs);
    expect(c.args).toBeUndefined();
    expect(c.livenessProbe.httpGet.path).toBe("/");
    expect(c.readinessProbe.exec).toEqual({ command: ["ollama", "show", "ol"] });
    expect(c.lifecycle.postStart.exec.command[2]).toBe(
      "until ollama list >/dev/null 2>&1; do sleep 2; done; ollama pull 'hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M' && ollama cp 'hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M' 'ol'",
    );
    expect(podSpec(objs).nodeSelector["nvidia.com/gpu.product"]).toBe("NVIDIA-L4");
  });
});

describe("no secret values in any manifest", () => {
  it.each(scenarios)("%s: every secret variable is a secretKeyRef and no token appears", (_label, input) => {
    const objs = renderInferenceManifests(input);
    const json = JSON.stringify(objs);
    expect(json).not.toMatch(/hf_[A-Za-z0-9]/);
    expect(json).not.toMatch(/stringData|"data"/);
    const secretVars = engineArgs(hostInput(input)).secretVariables;
    for (const e of engine(objs).env as Loose[]) {
      if (secretVars.includes(e.name)) expect(e).toEqual({ name: e.name, valueFrom: { secretKeyRef: { name: input.secretName, key: e.name, optional: e.name === "HF_TOKEN" } } });
      else expect(e.valueFrom).toBeUndefined();
    }
  });
});

describe("offline validation against the Kubernetes v1.33.0 OpenAPI schema (kubernetes-models 4.5.1)", () => {
  it.each(scenarios)("%s: every object validates", (_label, input) => {
    const objs = renderInferenceManifests(input);
    expect(objs.length).toBeGreaterThanOrEqual(4);
    for (const obj of objs) expect(() => validateObject(obj)).not.toThrow();
    expect(dump(objs)).not.toContain("&ref"); // no object shared between two fields
  });

  it("validates the GPU Operator's namespace", () => {
    expect(() => validateObject(renderGpuOperatorNamespace())).not.toThrow();
  });

  it("rejects a workload whose pod has no containers", () => {
    const objs = renderInferenceManifests(k8s(llama8bL40s));
    const broken = JSON.parse(JSON.stringify(byKind(objs, "StatefulSet"))) as Loose;
    delete broken.spec.template.spec.containers;
    expect(() => validateObject(broken)).toThrow("data/spec/template/spec must have required property containers");
  });

  it("rejects resources of the wrong type", () => {
    const objs = renderInferenceManifests(k8s(llama8bL40s));
    const broken = JSON.parse(JSON.stringify(byKind(objs, "StatefulSet"))) as Loose;
    broken.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] = ["1"];
    expect(() => validateObject(broken)).toThrow("data/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu must be number");
    broken.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] = "two";
    expect(() => validateObject(broken)).toThrow('must match format "quantity"');
  });

  it("rejects a Deployment without a selector", () => {
    const input = k8s(llama8bMi300x, { gpuVendor: "amd", modelCache: { kind: "hostPath", path: "/srv/models" } });
    const broken = JSON.parse(JSON.stringify(byKind(renderInferenceManifests(input), "Deployment"))) as Loose;
    delete broken.spec.selector;
    expect(() => validateObject(broken)).toThrow("data/spec must have required property selector");
  });
});

describe("node labels of the catalog's GPUs", () => {
  it.each([
    ["NVIDIA H100 80GB HBM3", "NVIDIA-H100-80GB-HBM3"],
    ["NVIDIA L4", "NVIDIA-L4"],
    ["NVIDIA A100-SXM4-80GB", "NVIDIA-A100-SXM4-80GB"],
    ["Tesla P100-PCIE-16GB", "Tesla-P100-PCIE-16GB"],
    ["NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "NVIDIA-RTX-PRO-6000-Blackwell-Max-Q-Workstation-Edition"],
    ["Quadro RTX 8000 (rev. 2)", "Quadro-RTX-8000-rev.-2"],
  ])("GFD labels %s as %s", (name, label) => {
    expect(gfdProductLabel(name)).toBe(label);
  });

  it("knows the NVML name of every NVIDIA catalog GPU, each one of the catalog's own aliases", () => {
    for (const g of catalog().gpus.filter((x) => x.vendor === "nvidia")) {
      expect([g.id, g.aliases]).toEqual([g.id, expect.arrayContaining([NVML_NAMES[g.id]])]);
      expect(gpuNodeLabel(g.id).key).toBe("nvidia.com/gpu.product");
      expect(gpuNodeLabel(g.id).values[0]!.length).toBeLessThanOrEqual(63);
    }
  });

  it("knows the PCI device ids of every AMD catalog GPU, as the labeller writes them (lower-case hex)", () => {
    for (const g of catalog().gpus.filter((x) => x.vendor === "amd")) {
      expect([g.id, AMD_DEVICE_IDS[g.id]?.every((id) => /^[0-9a-f]{4}$/.test(id))]).toEqual([g.id, true]);
    }
  });

  it("refuses a GPU the catalog lacks", () => {
    expect(() => gpuNodeLabel("t4")).toThrow('gpuProduct: "t4" is not in the GPU catalog; run `gpu-hosting catalog gpus`');
  });
});

describe("budgets from the sizing", () => {
  it("waits 30 minutes for a 70B AWQ replica and longer for 70B in bf16", () => {
    expect(startupBudgetSeconds(awq70b)).toBe(1800);
    const bf16 = sized({ name: "big", model: "meta-llama/Llama-3.1-70B-Instruct" }, "h100-sxm-80gb", 2);
    expect(startupBudgetSeconds(bf16)).toBeGreaterThan(50 * 60);
    expect(startupBudgetSeconds(bf16) % 10).toBe(0);
  });

  it("counts /dev/shm in the memory limit and takes overrides", () => {
    expect(podResources(awq70b)).toEqual({ cpu: 8, memoryGiB: 34, shmGiB: 2 });
    expect(podResources(awq70b, { cpu: 12, memoryGiB: 40 })).toEqual({ cpu: 12, memoryGiB: 42, shmGiB: 2 });
    const objs = renderInferenceManifests(k8s(awq70b, { resources: { cpu: 1.5, memoryGiB: 40.5 } }));
    expect(engine(objs).resources.limits).toEqual({ cpu: "1500m", memory: "43520Mi", "nvidia.com/gpu": "2" });
  });
});

describe("refusals, with the path and the fix", () => {
  it.each<[string, Partial<K8sInferenceInput>, string]>([
    ["a node type other than the sizing's", { gpusPerReplica: 1 }, "deployments.chat: the node type gives each replica 1 × l40s but the deployment is sized for 2 × l40s; size it on the node type's GPUs (sizeOnGpu with l40s and 1) so the engine flags match the GPUs the pods get"],
    ["a vendor other than the GPU's", { gpuVendor: "amd" }, 'deployments.chat.gpuVendor: "amd" but l40s is a nvidia GPU; use gpuVendor "nvidia"'],
    ["a cache too small for the weights", { modelCache: { kind: "pvc", sizeGi: 20 } }, `deployments.chat.modelCache.sizeGi: 20 cannot hold the 37.1 GiB of weights of meta-llama/Llama-3.1-70B-Instruct; use at least ${minModelCacheGiB(awq70b)}`],
    ["a relative hostPath", { modelCache: { kind: "hostPath", path: "models" } }, 'deployments.chat.modelCache.path: "models" must be an absolute path without "..", e.g. /var/lib/gpu-hosting/models'],
    ["a name too long for a StatefulSet", { deployment: "a".repeat(53) }, `deployment: "${"a".repeat(53)}" must be lower-case letters, digits and dashes, at most 52`],
    ["an upper-case namespace", { namespace: "LLM" }, 'deployments.chat.namespace: "LLM" must be lower-case letters, digits and dashes, at most 63'],
    ["an ingress host without a domain", { ingress: { host: "llm", clusterIssuer: "letsencrypt" } }, 'deployments.chat.ingress.host: "llm" must be a fully qualified lower-case host name'],
    ["maxReplicas below minReplicas", { autoscaling: { minReplicas: 3, maxReplicas: 2, targetWaitingRequests: 5 } }, "deployments.chat.autoscaling.maxReplicas: 2 must be a whole number from minReplicas (3) to 1000"],
    ["an unpinned image", { image: "vllm/vllm-openai:latest" }, 'image: "vllm/vllm-openai:latest" is not pinned by digest'],
  ])("refuses %s", (_label, over, message) => {
    expect(() => renderInferenceManifests(k8s(awq70b, over))).toThrow(message);
  });

  it("refuses an Ingress in front of Ollama, which has no API key", () => {
    const s = sized({ name: "ol", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "ollama" }, "l4", 1);
    expect(() => renderInferenceManifests(k8s(s, { ingress: { host: "llm.example.com", clusterIssuer: "letsencrypt" } }))).toThrow(
      "deployments.ol.ingress: ollama has no API key of its own, so an Ingress would publish it without authentication; use engine vllm or llamacpp, or reach it through the cluster only",
    );
  });

  it("refuses autoscaling for an engine without the queue metric", () => {
    const s = sized({ name: "lc", model: "meta-llama/Llama-3.1-8B-Instruct", engine: "llamacpp" }, "l4", 1);
    expect(() => renderInferenceManifests(k8s(s, { modelCache: { kind: "pvc", sizeGi: 20 }, autoscaling: { minReplicas: 1, maxReplicas: 2, targetWaitingRequests: 4 } }))).toThrow(
      "deployments.lc.autoscaling: the queue metric (vllm:num_requests_waiting) is vLLM's and llamacpp exposes none; remove autoscaling or use engine vllm",
    );
  });
});

describe("NVIDIA GPU Operator values", () => {
  it("pins the chart and installs driver and toolkit by default", () => {
    expect(GPU_OPERATOR_CHART).toMatchObject({ chart: "gpu-operator", repo: "https://helm.ngc.nvidia.com/nvidia", version: "v26.7.0" });
    expect(renderGpuOperatorValues()).toEqual({
      driver: { enabled: true },
      toolkit: { enabled: true },
      nfd: { enabled: true },
      devicePlugin: { enabled: true },
      gfd: { enabled: true },
      dcgmExporter: { enabled: true, serviceMonitor: { enabled: false } },
    });
  });

  it("switches the driver (and by default the toolkit) off for nodes that have them", () => {
    const v = renderGpuOperatorValues({ installDriver: false });
    expect(v).toMatchObject({ driver: { enabled: false }, toolkit: { enabled: false } });
    expect(renderGpuOperatorValues({ installDriver: false, installToolkit: true })).toMatchObject({ toolkit: { enabled: true } });
    expect(renderGpuOperatorValues({ driverVersion: "580.95.05" })).toMatchObject({ driver: { enabled: true, version: "580.95.05" } });
  });

  it("checks values against the keys and types of the pinned chart's values.yaml", () => {
    expect(checkGpuOperatorValues(renderGpuOperatorValues({ serviceMonitor: true }))).toEqual([]);
    expect(checkGpuOperatorValues({ driver: { enable: false }, gfd: { enabled: "yes" }, toolkit: true })).toEqual([
      "driver.enable: not a key gpu-hosting sets in chart v26.7.0",
      'gfd.enabled: "yes" is not a boolean',
      "toolkit: not a key gpu-hosting sets in chart v26.7.0",
    ]);
  });

  it("refuses a driver version without the driver", () => {
    expect(() => renderGpuOperatorValues({ installDriver: false, driverVersion: "580.95.05" })).toThrow("gpuOperator.driverVersion: set, but installDriver is false");
  });
});
