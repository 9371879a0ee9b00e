/**
 * The `gpu-hosting` package's library entry: the pure core (catalog, sizing, footprint, config
 * schema, planner, checks) and the Pulumi components (`scaleway.GpuInstance`,
 * `hetzner.DedicatedServer`, `hetzner.CpuServer`, `onprem.Host`, `fleet.Fleet`).
 */
export * as fleet from "./components/fleet";
export * as hetzner from "./components/hetzner";
export * as onprem from "./components/onprem";
export * as scaleway from "./components/scaleway";
export type { GpuHost, HostConnection } from "./components/host";
export * as catalog from "./core/catalog";
export * as checks from "./core/checks";
export * as config from "./core/config/schema";
export * as footprint from "./core/footprint";
export * as planner from "./core/planner";
export * from "./core/sizing/architecture";
export * from "./core/sizing/deployment";
export * from "./core/sizing/dtypes";
export * from "./core/sizing/engines";
export * from "./core/sizing/estimate";
export * from "./core/sizing/memory";
