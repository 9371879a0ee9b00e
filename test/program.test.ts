import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { parseStackConfig } from "../core/config/schema";

/** Loads a stack file's config as the Pulumi CLI would hand it to the program. */
function stackConfig(file: string): Record<string, string> {
  const doc = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "stacks", file), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

async function runProgram(config: Record<string, string>): Promise<Record<string, unknown>> {
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks({
    newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
    call: (args) => args.inputs,
  });
  let mod: Record<string, unknown> = {};
  jest.isolateModules(() => {
    // A fresh require per test: the program reads config at load time, as under `pulumi up`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require("../index") as Record<string, unknown>;
  });
  return mod;
}

describe("stack program", () => {
  it("sizes the dev stack's deployment under Pulumi mocks", async () => {
    const out = await runProgram(stackConfig("Pulumi.dev.yaml"));
    const sizing = out.sizing as { name: string; model: string; gpu: string; fits: boolean; kvCacheTokens: number }[];
    expect(sizing).toHaveLength(1);
    expect(sizing[0]).toMatchObject({ name: "chat", model: "meta-llama/Llama-3.1-8B-Instruct", gpu: "1 × l4", fits: true });
    expect(sizing[0]!.kvCacheTokens).toBeGreaterThanOrEqual(2 * 16384);
  });

  it("fails before declaring anything when the config is invalid, listing every problem by path", async () => {
    const bad = { "gpu-hosting:deployments": JSON.stringify([{ name: "Chat", model: "x", gpu: "l4", gpuCount: 0, color: "red" }]) };
    await expect(runProgram(bad)).rejects.toThrow(/invalid stack config:\n {2}gpu-hosting:deployments\[0\]\.name/);
    const r = parseStackConfig({ deployments: [{ name: "Chat", model: "x", gpu: "l4", gpuCount: 0, color: "red" }] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^gpu-hosting:deployments\[0\]\.name: use lower-case letters, digits and dashes$/),
          expect.stringMatching(/^gpu-hosting:deployments\[0\]\.gpuCount: /),
          expect.stringMatching(/^gpu-hosting:deployments\[0\]: Unrecognized key: "color"/),
        ]),
      );
    }
  });

  it("reads 32k-style context lengths and applies schema defaults", () => {
    const r = parseStackConfig({ deployments: [{ name: "a", model: "qwen3-8b", gpu: "l4", context: "32k" }] });
    expect(r.ok && r.config.deployments[0]).toMatchObject({ context: 32768, gpuCount: 1, engine: "vllm", dtype: "auto", gpuMemoryUtilization: 0.9 });
  });
});
