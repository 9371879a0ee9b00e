/**
 * How a deployment's `concurrency` is shared by its replicas. `concurrency` is the total the
 * deployment serves; each replica (a host in `hosts`, or a pod of a cluster deployment) is sized,
 * and its engine flags (`--max-num-seqs`, llama.cpp `-np`/`-c`) are set, for its share.
 * Pure; the fleet facts, vram-fit, the host layers and the Kubernetes manifests all use it.
 */
import type { DeploymentConfig } from "./schema";

type ReplicaFields = Pick<DeploymentConfig, "concurrency" | "hosts" | "cluster" | "replicas" | "autoscaling">;

/**
 * Replicas that share the concurrency: one per host listed; on a cluster `replicas`, or
 * `autoscaling.minReplicas` when the deployment autoscales. The minimum, because when the
 * autoscaler scales down to it those replicas alone must still hold the whole concurrency:
 * sizing for more replicas would promise memory the scaled-down deployment does not have.
 */
export function replicasOf(d: Partial<ReplicaFields>): number {
  if (d.hosts && d.hosts.length > 0) return d.hosts.length;
  if (d.cluster && d.autoscaling) return Math.max(1, d.autoscaling.minReplicas);
  return Math.max(1, d.replicas ?? 1);
}

/** Requests one replica serves at full context: ceil(concurrency / replicas). */
export function concurrencyPerReplica(d: Partial<ReplicaFields>): number {
  return Math.ceil(Math.max(1, d.concurrency ?? 1) / replicasOf(d));
}
