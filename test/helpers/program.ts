/**
 * Runs the stack program (index.ts) under Pulumi mocks with a stack file's config, the way
 * `pulumi preview -s <stack>` would hand it over, and returns what it registered.
 */
import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { CORE_SCHEMA, load } from "js-yaml";
import { recordResources, type RecordedResource } from "./mocks";

const ROOT = path.join(__dirname, "..", "..");

/** A throwaway key pair's public half and a fake private key used as secrets in tests. */
export const TEST_SECRETS: Record<string, string> = {
  "gpu-hosting:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv6rWRz0Ja8x1L5u2CwXv0cZ9yWm3VhM7mB3q0pTnQe test@gpu-hosting",
  "gpu-hosting:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nTESTKEY-not-a-real-key-7f3a9\n-----END OPENSSH PRIVATE KEY-----\n",
  "gpu-hosting:robotUser": "#ws+TestRobotUser",
  "gpu-hosting:robotPassword": "robot-password-7f3a9-do-not-leak",
};
export const TEST_SECRET_KEYS = ["gpu-hosting:sshPrivateKey", "gpu-hosting:robotUser", "gpu-hosting:robotPassword"];

/** A stack file's `config:` map, values as the Pulumi CLI hands them to a program (JSON strings for objects). */
export function stackFileConfig(file: string): Record<string, unknown> {
  const doc = load(fs.readFileSync(path.isAbsolute(file) ? file : path.join(ROOT, "stacks", file), "utf8"), { schema: CORE_SCHEMA }) as { config: Record<string, unknown> };
  return doc.config;
}

export function asProgramConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

export interface ProgramRun {
  exports: Record<string, unknown>;
  resources: RecordedResource[];
}

/**
 * Runs index.ts with `config` (plus TEST_SECRETS unless `withSecrets` is false), as a preview by
 * default: values a provider would only know after deploying (IPs, probe output) stay unknown, as
 * they are when `pulumi preview --policy-pack` runs the policies.
 */
export async function runProgram(config: Record<string, unknown>, opts: { withSecrets?: boolean; stack?: string; preview?: boolean; secretKeys?: string[] } = {}): Promise<ProgramRun> {
  const withSecrets = opts.withSecrets ?? true;
  const all = { ...asProgramConfig(config), ...(withSecrets ? TEST_SECRETS : {}) };
  pulumi.runtime.setAllConfig(all, [...(withSecrets ? TEST_SECRET_KEYS : []), ...(opts.secretKeys ?? [])]);
  const recorder = await recordResources({ stack: opts.stack ?? "test", preview: opts.preview ?? true });
  let programExports: Record<string, unknown> = {};
  jest.isolateModules(() => {
    // The program reads config at load time, as under `pulumi up`: load a fresh copy per run.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    programExports = require("../../index") as Record<string, unknown>;
  });
  await recorder.settled();
  // Wait until every RPC of this run (registrations, registerOutputs) has drained, so nothing
  // from this program reaches the next run's mock monitor.
  await pulumi.runtime.disconnect();
  return { exports: programExports, resources: [...recorder.resources] };
}
