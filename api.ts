/**
 * The `gpu-hosting` package's library entry: the pure core (catalog, sizing, footprint, config
 * schema, planner). Pulumi components are added per host kind as they land.
 */
export * as catalog from "./core/catalog";
export * as config from "./core/config/schema";
export * as footprint from "./core/footprint";
export * as planner from "./core/planner";
export * from "./core/sizing/architecture";
export * from "./core/sizing/deployment";
export * from "./core/sizing/dtypes";
export * from "./core/sizing/engines";
export * from "./core/sizing/estimate";
export * from "./core/sizing/memory";
