/**
 * The gpu-hosting policy pack: `pulumi preview --policy-pack policies`. The policies are the rows
 * of `POLICY_TABLE` in table.ts, each over a pure check in core/checks; this file only starts the pack.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./table";

export { policies };

new PolicyPack("gpu-hosting", { policies });
