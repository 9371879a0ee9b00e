/**
 * The data bundled with the package (core/catalog/data/*.json, core/footprint/defaults.json) is
 * validated with zod when first used. The CLI bundle is the exception: its build
 * (scripts/bundle.mjs) validates the same files, fails on any problem, and sets
 * GPU_HOSTING_VALIDATED_AT_BUILD, so a run of `gpu-hosting fit` does not load zod to check data it
 * ships already checked. The data in the bundle is inlined at that build, so it cannot change
 * after it was validated.
 */
import type * as CatalogValidation from "./catalog/validate";

declare const GPU_HOSTING_VALIDATED_AT_BUILD: boolean | undefined;

/** True only inside the CLI bundle built by scripts/bundle.mjs. */
export const VALIDATED_AT_BUILD: boolean = typeof GPU_HOSTING_VALIDATED_AT_BUILD === "boolean" && GPU_HOSTING_VALIDATED_AT_BUILD;

/** The validators, loaded on first use: requiring them loads zod and builds every schema (tens of ms). */
export function validators(): typeof CatalogValidation {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy require keeps zod out of start-up where the data was validated at build
  return require("./catalog/validate") as typeof CatalogValidation;
}
