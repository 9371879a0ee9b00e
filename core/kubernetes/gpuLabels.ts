/**
 * Which nodes carry a catalog GPU, by the labels the vendors' node labellers set. Pure.
 *
 * NVIDIA: GPU Feature Discovery (part of the GPU Operator and of k8s-device-plugin) sets
 * `nvidia.com/gpu.product` to the NVML device name (what `nvidia-smi --query-gpu=name` prints)
 * with every character outside `[A-Za-z0-9-_. ]` removed and runs of blanks joined by `-`
 * (`sanitise` and `getProductName` in internal/lm/resource.go of k8s-device-plugin v0.20.0,
 * https://github.com/NVIDIA/k8s-device-plugin/blob/v0.20.0/internal/lm/resource.go). With
 * time-slicing or MPS sharing (not renamed) GFD appends `-SHARED`, and MIG devices add
 * `-MIG-<profile>`: deployments here take whole, unshared GPUs.
 *
 * AMD: the node labeller of ROCm/k8s-device-plugin (deployed by the AMD GPU Operator) sets
 * `amd.com/gpu.device-id` to the PCI device id from sysfs, lower-case hex without `0x`, when all
 * GPUs of a node share it (`createLabels` and the "device-id" labeller in cmd/k8s-node-labeller/main.go,
 * https://github.com/ROCm/k8s-device-plugin/blob/ed7646843003e8f0b6a0630346f01bb4d1ecff2e/cmd/k8s-node-labeller/main.go).
 * Its `amd.com/gpu.product-name` comes from the board's VBIOS string ("AMD_Instinct_MI300X_OAM" on
 * one MI300X, "Instinct_MI210" in the labeller's tests), which varies by board: the device id is the
 * stable key. Ids from the labeller's own table, cmd/k8s-node-labeller/amdgpu.ids at the same commit.
 */
import { findGpu } from "../catalog";

/** The label GFD sets to the sanitised NVML product name. */
export const NVIDIA_PRODUCT_LABEL = "nvidia.com/gpu.product";
/** The label the AMD node labeller sets to the PCI device id. */
export const AMD_DEVICE_ID_LABEL = "amd.com/gpu.device-id";

/**
 * NVML device name of every NVIDIA catalog GPU (each is one of the catalog entry's aliases, read
 * from nvidia-smi output cited in core/catalog/data/gpus.json).
 */
export const NVML_NAMES: Readonly<Record<string, string>> = {
  "h100-sxm-80gb": "NVIDIA H100 80GB HBM3",
  "h100-pcie-80gb": "NVIDIA H100 PCIe",
  "h100-nvl-94gb": "NVIDIA H100 NVL",
  "h200-sxm-141gb": "NVIDIA H200",
  "h200-nvl-141gb": "NVIDIA H200 NVL",
  b200: "NVIDIA B200",
  b300: "NVIDIA B300 SXM6 AC",
  "a100-sxm-80gb": "NVIDIA A100-SXM4-80GB",
  "a100-pcie-80gb": "NVIDIA A100 80GB PCIe",
  "a100-pcie-40gb": "NVIDIA A100-PCIE-40GB",
  l4: "NVIDIA L4",
  l40s: "NVIDIA L40S",
  "rtx-4000-sff-ada": "NVIDIA RTX 4000 SFF Ada Generation",
  "rtx-6000-ada": "NVIDIA RTX 6000 Ada Generation",
  "rtx-4090": "NVIDIA GeForce RTX 4090",
  "rtx-3090": "NVIDIA GeForce RTX 3090",
  "rtx-5090": "NVIDIA GeForce RTX 5090",
  "rtx-3070": "NVIDIA GeForce RTX 3070",
  "tesla-p100-16gb": "Tesla P100-PCIE-16GB",
  "rtx-pro-6000-blackwell-max-q": "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
  "rtx-pro-6000-blackwell-server": "NVIDIA RTX PRO 6000 Blackwell Server Edition",
  "rtx-pro-4000-blackwell": "NVIDIA RTX PRO 4000 Blackwell SFF Edition",
};

/** PCI device ids (physical function, then variants and SR-IOV virtual functions) of every AMD catalog GPU. */
export const AMD_DEVICE_IDS: Readonly<Record<string, readonly string[]>> = {
  mi210: ["740f"],
  mi250x: ["7408", "740c"],
  mi300x: ["74a1", "74a9", "74bd", "74b5"],
  mi325x: ["74a5", "74b9"],
  mi350x: ["75a0", "75b0"],
  mi355x: ["75a3", "75b3"],
  "radeon-pro-w7900": ["7448", "744a"],
};

/** GFD's label value for an NVML device name: `NVIDIA H100 80GB HBM3` → `NVIDIA-H100-80GB-HBM3`. */
export function gfdProductLabel(nvmlName: string): string {
  return nvmlName.replace(/[^A-Za-z0-9\-_. ]/g, "").trim().split(/\s+/).join("-");
}

/** The label key and the values any of which marks a node with the GPU. */
export interface GpuNodeLabel {
  key: string;
  values: string[];
}

/**
 * The node label that selects nodes with catalog GPU `gpuId`. Throws for a GPU the catalog lacks
 * or whose label value is unknown (fail closed: a pod without it could land on another GPU model,
 * one the sizing was not done for).
 */
export function gpuNodeLabel(gpuId: string, at = "gpuProduct"): GpuNodeLabel {
  const gpu = findGpu(gpuId);
  if (!gpu) throw new Error(`${at}: "${gpuId}" is not in the GPU catalog; run \`gpu-hosting catalog gpus\``);
  if (gpu.vendor === "nvidia") {
    const name = NVML_NAMES[gpu.id];
    if (!name) throw new Error(`${at}: no ${NVIDIA_PRODUCT_LABEL} value is known for ${gpu.id}; add its nvidia-smi name to NVML_NAMES in core/kubernetes/gpuLabels.ts`);
    return { key: NVIDIA_PRODUCT_LABEL, values: [gfdProductLabel(name)] };
  }
  if (gpu.vendor === "amd") {
    const ids = AMD_DEVICE_IDS[gpu.id];
    if (!ids) throw new Error(`${at}: no ${AMD_DEVICE_ID_LABEL} value is known for ${gpu.id}; add its PCI device ids to AMD_DEVICE_IDS in core/kubernetes/gpuLabels.ts`);
    return { key: AMD_DEVICE_ID_LABEL, values: [...ids] };
  }
  throw new Error(`${at}: ${gpu.id} is a ${String(gpu.vendor)} GPU; Kubernetes deployments support nvidia and amd`);
}
