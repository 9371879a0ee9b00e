/**
 * The NVIDIA GPU Operator as a Helm release: the pinned chart and the values gpu-hosting sets, with
 * the driver (and container toolkit) switchable off for nodes that already have them. Pure; the
 * component passes these to `helm.v4.Chart`.
 *
 * The chart ships no values.schema.json (only its node-feature-discovery sub-chart does, and no
 * value here goes to the sub-chart), so `checkGpuOperatorValues` checks every value against the key
 * and type of the same key in the pinned chart's values.yaml instead.
 */
import type { K8sObject } from "./types";

/** The chart, pinned. Release v26.7.0 (2026-08-20). */
export const GPU_OPERATOR_CHART = {
  chart: "gpu-operator",
  repo: "https://helm.ngc.nvidia.com/nvidia",
  version: "v26.7.0",
  /** values.yaml of the release, which `GPU_OPERATOR_VALUE_TYPES` follows. */
  valuesSource: "https://github.com/NVIDIA/gpu-operator/blob/10ee5b3638b89e11e949412aafa5ba99279c3721/deployments/gpu-operator/values.yaml",
} as const;

/** Namespace the operator runs in (its daemonsets need the "privileged" Pod Security level). */
export const GPU_OPERATOR_NAMESPACE = "gpu-operator";

/** Type of each key this module may set, as its default in the pinned values.yaml. */
export const GPU_OPERATOR_VALUE_TYPES: Readonly<Record<string, "boolean" | "string">> = {
  "driver.enabled": "boolean",
  "driver.version": "string",
  "toolkit.enabled": "boolean",
  "nfd.enabled": "boolean",
  "devicePlugin.enabled": "boolean",
  "gfd.enabled": "boolean",
  "dcgmExporter.enabled": "boolean",
  "dcgmExporter.serviceMonitor.enabled": "boolean",
};

export interface GpuOperatorOptions {
  /** Install the driver as a container. false on nodes whose image has it already (Scaleway Kapsule GPU pools, the GPU hosts of this toolkit). @default true */
  installDriver?: boolean;
  /** Install the NVIDIA Container Toolkit (NVIDIA: set false when it is already installed on the nodes). @default installDriver */
  installToolkit?: boolean;
  /** Driver version (a tag of nvcr.io/nvidia/driver without the OS suffix). @default the chart's (595.91.07 in v26.7.0) */
  driverVersion?: string;
  /** Deploy Node Feature Discovery with the operator; false when the cluster runs NFD already (GFD needs its PCI labels). @default true */
  nodeFeatureDiscovery?: boolean;
  /** Create a ServiceMonitor for the DCGM exporter; needs the Prometheus Operator's CRDs. @default false */
  serviceMonitor?: boolean;
}

/**
 * Helm values: the device plugin and GPU Feature Discovery always on (the inference pods ask for
 * `nvidia.com/gpu` and select on `nvidia.com/gpu.product`), the DCGM exporter on. The MIG manager
 * keeps the chart's default (on, with the "all-disabled" configuration), which leaves whole GPUs.
 */
export function renderGpuOperatorValues(o: GpuOperatorOptions = {}): Record<string, unknown> {
  const driver = o.installDriver ?? true;
  if (o.driverVersion !== undefined && !/^[0-9]+(\.[0-9]+){1,2}$/.test(o.driverVersion)) {
    throw new Error(`gpuOperator.driverVersion: "${o.driverVersion}" must be a driver version such as 595.91.07`);
  }
  if (o.driverVersion !== undefined && !driver) throw new Error(`gpuOperator.driverVersion: set, but installDriver is false; remove driverVersion or install the driver`);
  const values = {
    driver: { enabled: driver, ...(o.driverVersion !== undefined ? { version: o.driverVersion } : {}) },
    toolkit: { enabled: o.installToolkit ?? driver },
    nfd: { enabled: o.nodeFeatureDiscovery ?? true },
    devicePlugin: { enabled: true },
    gfd: { enabled: true },
    dcgmExporter: { enabled: true, serviceMonitor: { enabled: o.serviceMonitor ?? false } },
  };
  const problems = checkGpuOperatorValues(values);
  if (problems.length > 0) throw new Error(`gpu-operator values do not match chart ${GPU_OPERATOR_CHART.version}:\n  ${problems.join("\n  ")}`);
  return values;
}

/**
 * Problems of a values object against the keys and types of the pinned chart's values.yaml: a key
 * the chart does not have (Helm would ignore it silently) or a value of the wrong type. Empty when
 * all is well.
 */
export function checkGpuOperatorValues(values: Record<string, unknown>, prefix = ""): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      if (!Object.keys(GPU_OPERATOR_VALUE_TYPES).some((p) => p.startsWith(`${path}.`))) problems.push(`${path}: not a key gpu-hosting sets in chart ${GPU_OPERATOR_CHART.version}`);
      else problems.push(...checkGpuOperatorValues(v as Record<string, unknown>, path));
      continue;
    }
    const want = GPU_OPERATOR_VALUE_TYPES[path];
    if (!want) problems.push(`${path}: not a key gpu-hosting sets in chart ${GPU_OPERATOR_CHART.version}`);
    else if (typeof v !== want) problems.push(`${path}: ${JSON.stringify(v)} is not a ${want}`);
  }
  return problems;
}

/** The operator's namespace, labelled "privileged": its driver, toolkit and device-plugin pods use host paths and privileges. */
export function renderGpuOperatorNamespace(): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: GPU_OPERATOR_NAMESPACE, labels: { "app.kubernetes.io/managed-by": "gpu-hosting", "pod-security.kubernetes.io/enforce": "privileged" } },
  };
}
