/** Scaleway host components: `scaleway.GpuInstance`. */
export * from "./gpuInstance";
