/**
 * Pulumi type tokens that more than one layer needs, declared once. Pure: no imports, so the
 * policy pack, the components and the CLI can all read them.
 */

/**
 * Type token of the `fleet.Fleet` component: its inputs carry the stack's parsed config, which
 * the policy pack reads at preview.
 */
export const FLEET_TYPE = "gpu-hosting:fleet:Fleet";

/** Type token of `scaleway.GpuInstance`. */
export const SCALEWAY_GPU_INSTANCE_TYPE = "gpu-hosting:scaleway:GpuInstance";
/** Type token of `hetzner.DedicatedServer`. */
export const HETZNER_DEDICATED_SERVER_TYPE = "gpu-hosting:hetzner:DedicatedServer";
/** Type token of `hetzner.CpuServer`. */
export const HETZNER_CPU_SERVER_TYPE = "gpu-hosting:hetzner:CpuServer";
/** Type token of `hetzner.PrivateNetwork`. */
export const HETZNER_PRIVATE_NETWORK_TYPE = "gpu-hosting:hetzner:PrivateNetwork";
/** Type token of `onprem.Host`. */
export const ONPREM_HOST_TYPE = "gpu-hosting:onprem:Host";
/** Type token of `layers.HostSoftware`. */
export const HOST_SOFTWARE_TYPE = "gpu-hosting:layers:HostSoftware";
/** Type token of `kubernetes.Cluster`. */
export const KUBERNETES_CLUSTER_TYPE = "gpu-hosting:kubernetes:Cluster";
/** Type token of `kubernetes.InferenceDeployment`. */
export const KUBERNETES_INFERENCE_TYPE = "gpu-hosting:kubernetes:InferenceDeployment";
