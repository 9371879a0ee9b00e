/**
 * The `gpu-hosting` package's library entry: the pure core (catalog, sizing, footprint, config
 * schema, host kinds and their validators, planner, checks, type tokens) and the Pulumi components
 * (`scaleway.GpuInstance`, `hetzner.DedicatedServer`, `hetzner.CpuServer`, `onprem.Host`,
 * `fleet.Fleet`). Helpers exported for tests only are marked `@internal` and left out of the
 * published type declarations.
 */
export * as fleet from "./components/fleet";
export * as hetzner from "./components/hetzner";
export * as kubernetes from "./components/kubernetes";
export * as layers from "./components/layers/hostSoftware";
export * as onprem from "./components/onprem";
export * as scaleway from "./components/scaleway";
export type { GpuHost, HostConnection } from "./components/host";
export * as catalog from "./core/catalog";
export * as checks from "./core/checks";
export * as config from "./core/config/schema";
export * as hosts from "./core/hosts";
export * as clusters from "./core/clusters";
export * as manifests from "./core/kubernetes";
export * as tokens from "./core/tokens";
export * as footprint from "./core/footprint";
export * as planner from "./core/planner";
export * from "./core/sizing/architecture";
export * from "./core/sizing/deployment";
export * from "./core/sizing/dtypes";
export * from "./core/sizing/engines";
export * from "./core/sizing/estimate";
export * from "./core/sizing/memory";
export * as speed from "./core/sizing/speed";
