/**
 * The numbers a pod of an inference deployment is given, from its sizing: CPU and memory, the
 * /dev/shm size, the startup probe's budget for fetching and loading weights, and the smallest
 * model cache that holds the weights. Pure; every rule is documented in docs/kubernetes.md.
 */
import type { DeploymentSizing } from "../sizing/deployment";
import type { K8sResources } from "./types";

/** Seconds between startup probes. */
export const STARTUP_PERIOD_SECONDS = 10;
/** The least the startup probe waits for the engine: 30 minutes. */
export const MIN_STARTUP_BUDGET_SECONDS = 30 * 60;
/** Engine start without the download: image start, weights from the cache to the GPUs, CUDA graph capture / torch.compile. */
export const ENGINE_WARMUP_SECONDS = 10 * 60;
/** Download rate assumed for a first start with an empty cache, MiB/s (about 420 Mbit/s; Hugging Face usually gives more). */
export const ASSUMED_DOWNLOAD_MIB_PER_SECOND = 50;

/** Weights of one replica, GiB (the sizing's per-GPU weights × GPUs; host RAM for CPU inference). */
export function replicaWeightsGiB(s: DeploymentSizing): number {
  return s.result.perGpu.weightsGiB * Math.max(1, s.gpuCount);
}

/**
 * Seconds the startup probe allows before the kubelet restarts the container: the engine's warm-up
 * plus downloading the weights at `ASSUMED_DOWNLOAD_MIB_PER_SECOND`, at least 30 minutes, rounded
 * up to whole probe periods. A 70B AWQ model (37 GiB) gets 30 minutes; 70B in bf16 (131 GiB), 55.
 * The component also waits this long (plus the image pull) before it calls a rollout failed.
 */
export function startupBudgetSeconds(s: DeploymentSizing): number {
  const download = (replicaWeightsGiB(s) * 1024) / ASSUMED_DOWNLOAD_MIB_PER_SECOND;
  const budget = Math.max(MIN_STARTUP_BUDGET_SECONDS, ENGINE_WARMUP_SECONDS + download);
  return Math.ceil(budget / STARTUP_PERIOD_SECONDS) * STARTUP_PERIOD_SECONDS;
}

/**
 * /dev/shm of a replica, GiB: 1 GiB per GPU, at least 1. Container runtimes give 64 MiB, and vLLM
 * and NCCL need more: NCCL's shared-memory transport between the tensor-parallel ranks (the path on
 * PCIe boards without NVLink, such as the L40S), vLLM's shared-memory broadcast queue from the
 * scheduler to its GPU workers, and PyTorch's multiprocessing. NVIDIA's containers are run with
 * `--shm-size=1g`; tensor parallelism adds one rank per GPU, hence per GPU. A memory-backed
 * emptyDir counts against the container's memory limit, so the limit includes it.
 */
export function shmSizeGiB(gpus: number): number {
  return Math.max(1, gpus);
}

/** CPU and memory of a replica's engine container (request = limit). */
export interface PodResources {
  /** Cores. */
  cpu: number;
  /** Memory limit, GiB, /dev/shm included. */
  memoryGiB: number;
  /** Of which /dev/shm, GiB. */
  shmGiB: number;
}

/**
 * Requests = limits (the Guaranteed QoS class: evicted last under memory pressure, and whole cores
 * under the kubelet's static CPU manager policy).
 *
 * - GPU engines: 4 cores and 16 GiB per GPU. vLLM runs an API server, an engine core that
 *   busy-loops, and one worker process per GPU (about 3–5 GiB resident each, before pinned buffers);
 *   weights stream from the page cache (reclaimable, so it does not count towards an OOM kill).
 *   This fits the smallest GPU node types in the catalog (8 vCPUs and 48 GB of RAM per GPU).
 * - CPU inference: the sizing's host RAM need (weights + KV cache + compute buffers) + 2 GiB for
 *   the server, and 8 cores (llama.cpp starts one thread per core of the node: raise `cpu` to the
 *   node's cores when it is dedicated).
 */
export function podResources(s: DeploymentSizing, over: K8sResources = {}): PodResources {
  const gpus = s.engine === "cpu" ? 0 : s.gpuCount;
  const shmGiB = shmSizeGiB(gpus);
  const g = s.result.perGpu;
  const defaultMemory = gpus > 0 ? 16 * gpus : Math.ceil(g.weightsGiB + g.kvCacheGiB + g.activationGiB + g.overheadGiB) + 2;
  const cpu = over.cpu ?? (gpus > 0 ? 4 * gpus : 8);
  const memory = over.memoryGiB ?? defaultMemory;
  return { cpu, memoryGiB: memory + shmGiB, shmGiB };
}

/** The smallest model cache, GiB, that holds a replica's weights with 10 % to spare (tokenizer, configs, partial downloads). */
export function minModelCacheGiB(s: DeploymentSizing): number {
  return Math.ceil(replicaWeightsGiB(s) * 1.1);
}
