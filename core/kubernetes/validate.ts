/**
 * Checks a Kubernetes inference input before anything is rendered: names the API server would
 * refuse, a node type that does not match the sizing (the engine flags would then be wrong for the
 * GPUs the pods get), and bounds. Errors name the config path, the value, what is allowed and the
 * fix. The engine-level checks (context, utilisation, KV-cache type, image pin) stay in
 * `engineArgs`, shared with hosts. Pure.
 */
import { findGpu } from "../catalog";
import type { K8sInferenceInput } from "./types";

/** A StatefulSet's pods get a `controller-revision-hash` label of name + 11 characters, at most 63. */
export const MAX_DEPLOYMENT_NAME = 52;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9._/-]+$/;

const isLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);
const isSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);

/** Throws on the first problem, naming `deployments.<name>.<field>`. */
export function validateK8sInferenceInput(o: K8sInferenceInput): void {
  const at = `deployments.${o.deployment}`;
  if (!isLabel(o.deployment) || o.deployment.length > MAX_DEPLOYMENT_NAME) {
    throw new Error(`deployment: "${o.deployment}" must be lower-case letters, digits and dashes, at most ${MAX_DEPLOYMENT_NAME} (a StatefulSet's pods carry a label of the name plus 11 characters)`);
  }
  if (!isLabel(o.namespace)) throw new Error(`${at}.namespace: "${o.namespace}" must be lower-case letters, digits and dashes, at most 63`);
  if (!isSubdomain(o.secretName)) throw new Error(`${at}.secretName: "${o.secretName}" is not a valid Secret name; use lower-case letters, digits, dashes and dots`);

  const s = o.sizing;
  const sizedFor = s.gpu ? `${s.gpuCount} × ${s.gpu}` : "CPU inference (no GPU)";
  if (o.gpuProduct !== s.gpu || o.gpusPerReplica !== s.gpuCount) {
    const node = o.gpuProduct ? `${o.gpusPerReplica} × ${o.gpuProduct}` : `no GPU (${o.gpusPerReplica})`;
    throw new Error(`${at}: the node type gives each replica ${node} but the deployment is sized for ${sizedFor}; size it on the node type's GPUs (sizeOnGpu with ${o.gpuProduct ?? "null"} and ${o.gpusPerReplica}) so the engine flags match the GPUs the pods get`);
  }
  if (o.gpuProduct !== null) {
    const gpu = findGpu(o.gpuProduct);
    if (!gpu) throw new Error(`${at}.gpuProduct: "${o.gpuProduct}" is not in the GPU catalog; run \`gpu-hosting catalog gpus\``);
    if (gpu.vendor !== o.gpuVendor) throw new Error(`${at}.gpuVendor: "${o.gpuVendor}" but ${gpu.id} is a ${gpu.vendor} GPU; use gpuVendor "${gpu.vendor}"`);
    if (!Number.isInteger(o.gpusPerReplica) || o.gpusPerReplica < 1) throw new Error(`${at}.gpusPerReplica: ${o.gpusPerReplica} must be a whole number of at least 1 on a GPU node type`);
  }
  if (!Number.isInteger(o.replicas) || o.replicas < 1 || o.replicas > 1000) throw new Error(`${at}.replicas: ${o.replicas} must be a whole number from 1 to 1000`);

  const c = o.modelCache;
  if (c.kind === "pvc") {
    if (!Number.isInteger(c.sizeGi) || c.sizeGi < 1) throw new Error(`${at}.modelCache.sizeGi: ${c.sizeGi} must be a whole number of GiB, at least 1`);
    if (c.storageClass !== undefined && !isSubdomain(c.storageClass)) throw new Error(`${at}.modelCache.storageClass: "${c.storageClass}" is not a valid StorageClass name`);
  } else if (!ABSOLUTE_PATH.test(c.path) || c.path.split("/").includes("..")) {
    throw new Error(`${at}.modelCache.path: "${c.path}" must be an absolute path without "..", e.g. /var/lib/gpu-hosting/models`);
  }

  if (o.ingress) {
    const i = o.ingress;
    if (!isSubdomain(i.host) || !i.host.includes(".")) throw new Error(`${at}.ingress.host: "${i.host}" must be a fully qualified lower-case host name, e.g. llm.example.com`);
    if (!isSubdomain(i.clusterIssuer)) throw new Error(`${at}.ingress.clusterIssuer: "${i.clusterIssuer}" is not a valid ClusterIssuer name`);
    if (i.className !== undefined && !isSubdomain(i.className)) throw new Error(`${at}.ingress.className: "${i.className}" is not a valid IngressClass name`);
  }
  if (o.autoscaling) {
    const a = o.autoscaling;
    if (!Number.isInteger(a.minReplicas) || a.minReplicas < 1) throw new Error(`${at}.autoscaling.minReplicas: ${a.minReplicas} must be a whole number of at least 1`);
    if (!Number.isInteger(a.maxReplicas) || a.maxReplicas < a.minReplicas || a.maxReplicas > 1000) {
      throw new Error(`${at}.autoscaling.maxReplicas: ${a.maxReplicas} must be a whole number from minReplicas (${a.minReplicas}) to 1000`);
    }
    if (!(a.targetWaitingRequests > 0)) throw new Error(`${at}.autoscaling.targetWaitingRequests: ${a.targetWaitingRequests} must be above 0`);
  }
  const r = o.resources ?? {};
  if (r.cpu !== undefined && !(r.cpu > 0)) throw new Error(`${at}.resources.cpu: ${r.cpu} must be above 0 cores`);
  if (r.memoryGiB !== undefined && !(r.memoryGiB > 0)) throw new Error(`${at}.resources.memoryGiB: ${r.memoryGiB} must be above 0 GiB`);
}
