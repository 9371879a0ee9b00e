/** Kubernetes renderers: an inference deployment's objects and the NVIDIA GPU Operator's Helm values. Pure. */
export * from "./types";
export * from "./budget";
export * from "./gpuLabels";
export * from "./validate";
export * from "./manifests";
export * from "./gpuOperator";
