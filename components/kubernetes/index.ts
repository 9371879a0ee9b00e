/** Kubernetes: clusters (Kapsule or existing) and inference deployments on them. */
export * from "./cluster";
export * from "./inferenceDeployment";
