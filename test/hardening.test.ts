/**
 * Hostile input (issue #12, "Reliability and security"): alias bombs, prototype-named values,
 * impossible config.json fields, non-canonical CIDRs and malformed firewall rules, and values
 * that could be secrets in messages. The CLI runs in-process through `main(argv)`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { configDefaults, networkExposure, runChecks, secrets, type CheckContext } from "../core/checks";
import { looksLikeCredential, quoted, redactSecrets, REQUIRED_SECRET_KEYS } from "../core/checks/secrets";
import { checkStackConfig, MAX_STACK_FILE_BYTES, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { parseStackConfig, RESERVED_KEYS, stackConfigInput } from "../core/config/schema";
import { buildFleet } from "../core/fleet";
import { isAnywhere, portsCovered } from "../core/hosts/common";
import { hcloudFirewallExposures } from "../core/hosts/hetznerCloud";
import { robotExposures } from "../core/hosts/hetznerDedicated";
import { scalewayExposures } from "../core/hosts/scaleway";
import { ModelConfigError, parseHfConfig } from "../core/sizing/architecture";
import { checkpointDtype, normalizeDtype } from "../core/sizing/dtypes";
import { catalog } from "../core/catalog";
import { runCliInProcess, type CliRun } from "./helpers/cliInProcess";

const ROOT = path.join(__dirname, "..");
const DEV = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8");
const PROD = fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.prod.yaml"), "utf8");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-hardening-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A token shaped like a Hugging Face one (hf_ + 34 characters), never a real one. */
const HF = "hf_Q7xkT2vLm9PzR4sWc8YbN1jHd6FgK3aVeU";

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}


/** Runs the CLI in-process, capturing what it writes. */
const cli = (...args: string[]): Promise<CliRun> => runCliInProcess(args);

/** The dev stack plus more lines under `config:`. */
const devWith = (...lines: string[]): string => `${DEV.trimEnd()}\n${lines.join("\n")}\n`;

/** A billion-laughs bomb: `levels` anchors, each a list of `fanout` aliases to the one before. */
function aliasBomb(levels: number, fanout: number): string[] {
  const lines = [`  laughs-0: &laughs0 ["${"lol".repeat(8)}", "${"lol".repeat(8)}", "${"lol".repeat(8)}"]`];
  for (let i = 1; i <= levels; i++) lines.push(`  laughs-${i}: &laughs${i} [${Array.from({ length: fanout }, () => `*laughs${i - 1}`).join(", ")}]`);
  return [...lines, `  other:notes: *laughs${levels}`];
}

/** The same with merge keys: every level merges the one before and refers to it under 9 keys. */
function mergeBomb(levels: number): string[] {
  const lines = [`  m-0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol}`];
  for (let i = 1; i <= levels; i++) lines.push(`  m-${i}: &m${i} {<<: *m${i - 1}, ${Array.from({ length: 9 }, (_, j) => `k${j}: *m${i - 1}`).join(", ")}}`);
  return [...lines, `  other:extra: *m${levels}`];
}

describe("YAML alias bombs and oversized stack files", () => {
  it("refuses a 2.4 KB alias bomb with exit 2, naming the problem", async () => {
    const text = devWith(...aliasBomb(10, 15));
    expect(text.length).toBeGreaterThan(2000);
    expect(text.length).toBeLessThan(3000);
    const r = await cli("check", write("bomb.yaml", text));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/bomb\.yaml: YAML aliases \(\*name\) or merge keys \(<<\) expand the document past [\d,]+ values, 100,000 more than its size can spell out; refused as a possible alias bomb/);
  });

  it("refuses the merge-key (<<) variant with exit 2", async () => {
    const r = await cli("check", "--format", "json", write("merge-bomb.yaml", devWith(...mergeBomb(9))));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/merge-bomb\.yaml: YAML aliases .* refused as a possible alias bomb/);
  });

  it("still reads a stack that uses a few aliases", async () => {
    const text = DEV.replace("sshAllowedCidrs: [203.0.113.0/24]", "sshAllowedCidrs: &admins [203.0.113.0/24]") + "  other:admins: *admins\n";
    const r = await cli("check", write("aliases.yaml", text), "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
  });

  it("refuses an alias that contains itself, by path", () => {
    expect(() => readStackYaml(devWith("  other:loop: &loop [1, *loop]"), "loop.yaml")).toThrow("loop.yaml: other:loop[1]: an alias refers to a mapping or list that contains it (a cycle)");
  });

  it("refuses a file over the size limit before parsing it", () => {
    const text = devWith(`  other:padding: "${"x".repeat(MAX_STACK_FILE_BYTES)}"`);
    expect(() => readStackYaml(text, "big.yaml")).toThrow(/^big\.yaml: [\d,]+ bytes, more than the 4,194,304 a stack file may have; split the stack$/);
  });

  it("refuses nesting past 64 levels", () => {
    const deep = `${"[".repeat(80)}1${"]".repeat(80)}`;
    expect(() => readStackYaml(devWith(`  other:deep: ${deep}`), "deep.yaml")).toThrow(/^deep\.yaml: not valid YAML at line \d+, column \d+: nesting exceeded maxDepth \(64\)$/);
  });

  it("walks each object once in the secrets check, whatever the aliases expand to", () => {
    // 9^12 strings if walked naively; one object per level here.
    let v: unknown = [`${HF}`];
    for (let i = 0; i < 12; i++) v = Array.from({ length: 9 }, () => v);
    const ctx = { ...context(DEV), rawConfig: { "gpu-hosting:environment": "development", "other:notes": v } };
    const found = secrets.run(ctx, configDefaults(secrets)) as { message: string }[];
    expect(found.map((f) => f.message)).toEqual([`other:notes${"[0]".repeat(13)} contains a Hugging Face token in plain text`]);
  });
});

/** The check context of a stack file's text. */
function context(text: string): CheckContext {
  const raw = readStackYaml(text, "stack.yaml");
  const parsed = parseStackConfig(stackConfigInput(raw));
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  return { config: parsed.config, fleet: buildFleet(parsed.config), rawConfig: raw, secretKeys: [] };
}

describe("prototype-named values", () => {
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("refuses --dtype %s with exit 2 naming the flag", async (name) => {
    const r = await cli("estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--dtype", name);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --dtype: got "${name}"; allowed: auto, fp32, bf16, fp16, fp8, int8, int4, awq, gptq, mxfp4, nvfp4, q8_0, q6_k, q5_k_m, q4_k_m, q4_0\n`);
    expect(normalizeDtype(name)).toBeUndefined();
  });

  it.each(["constructor", "__proto__", "valueOf"])("refuses --engine %s with exit 2 naming the flag", async (name) => {
    const r = await cli("estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--engine", name);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --engine: got "${name}"; allowed: vllm, llamacpp, ollama, cpu\n`);
  });

  it("refuses --dtype constructor in fit too", async () => {
    const r = await cli("fit", "llama-3.1-8b", "--dtype", "constructor");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --dtype: got "constructor"; allowed: best, auto, /);
  });

  it.each(["__proto__", "constructor", "toString"])('reads quant_method "%s" in a config.json as an unknown method (the checkpoint\'s torch dtype)', async (method) => {
    const config = { ...llamaConfig(), quantization_config: { quant_method: method, bits: 4 } };
    expect(checkpointDtype("bfloat16", method, 4)).toBe("bf16");
    expect(parseHfConfig(config).checkpointQuantization?.method).toBe(method.toLowerCase());
    const r = await cli("estimate", "--config", write(`quant-${method}.json`, JSON.stringify(config)), "--gpu", "l40s", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dtype: "bf16", fits: true });
  });

  it('gives model_type "__proto__" no defaults (and no crash)', () => {
    expect(parseHfConfig({ ...llamaConfig(), model_type: "__proto__" }).hiddenSize).toBe(4096);
  });

  it("refuses a gpu-hosting:__proto__ key by path instead of switching the stack to production", async () => {
    const r = await cli("check", write("proto.yaml", devWith("  gpu-hosting:__proto__: {environment: production}")), "--json");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`error: ${path.join(tmp, "proto.yaml")}: gpu-hosting:__proto__: "__proto__" is a reserved name (a JavaScript prototype property) and cannot be a key; rename or remove it\n`);
  });

  it.each([
    ["  other:x: {constructor: 1}", "other:x.constructor"],
    ["  other:y: [{prototype: 1}]", "other:y[0].prototype"],
  ])("refuses nested reserved keys by path (%s)", (line, at) => {
    expect(() => readStackYaml(devWith(line), "s.yaml")).toThrow(new StackInputError(`s.yaml: ${at}: "${at.split(/[.[\]]/).filter(Boolean).pop()}" is a reserved name (a JavaScript prototype property) and cannot be a key; rename or remove it`, []));
  });

  it("refuses a nested __proto__ key by path", () => {
    const text = DEV.replace("      zone: fr-par-2\n", "      zone: fr-par-2\n      __proto__: {gpuPowerCapWatts: 1}\n");
    expect(() => readStackYaml(text, "s.yaml")).toThrow('s.yaml: gpu-hosting:hosts[0].__proto__: "__proto__" is a reserved name');
  });

  it("keeps __proto__ a key in the schema input (no prototype), so the strict schema refuses it by path", () => {
    const raw: Record<string, unknown> = { "gpu-hosting:hosts": "[]" };
    Object.defineProperty(raw, "gpu-hosting:__proto__", { value: { environment: "production" }, enumerable: true });
    const input = stackConfigInput(raw);
    expect(Object.getPrototypeOf(input)).toBeNull();
    expect((input as { environment?: unknown }).environment).toBeUndefined();
    expect(parseStackConfig(input)).toEqual({ ok: false, problems: ['gpu-hosting: Unrecognized key: "__proto__"'] });
    expect([...RESERVED_KEYS]).toEqual(["__proto__", "constructor", "prototype"]);
  });
});

/** Llama 3.1 8B's config.json, from the catalog. */
function llamaConfig(): Record<string, unknown> {
  const m = catalog().models.find((x) => x.id === "meta-llama/Llama-3.1-8B-Instruct");
  if (!m) throw new Error("catalog has no Llama 3.1 8B");
  return { ...(m.config as Record<string, unknown>) };
}

describe("architecture fields are bounded", () => {
  it.each([
    [{ num_hidden_layers: 1e9 }, "cfg.num_hidden_layers: 1000000000 is outside the allowed range 1–2,048 (a whole number)"],
    [{ num_attention_heads: 0 }, "cfg.num_attention_heads: 0 is outside the allowed range 1–8,192 (a whole number)"],
    [{ num_hidden_layers: 2.5 }, "cfg.num_hidden_layers: 2.5 is outside the allowed range 1–2,048 (a whole number)"],
    [{ hidden_size: 1e12 }, "cfg.hidden_size: 1000000000000 is outside the allowed range 1–262,144 (a whole number)"],
    [{ vocab_size: 0 }, "cfg.vocab_size: 0 is outside the allowed range 1–4,194,304 (a whole number)"],
    [{ max_position_embeddings: 1e15 }, "cfg.max_position_embeddings: 1000000000000000 is outside the allowed range 1–1,073,741,824 (a whole number)"],
    [{ num_key_value_heads: 64 }, "cfg.num_key_value_heads: 64 is more than num_attention_heads (32); the allowed range is 1–32"],
    [{ num_attention_heads: 7, num_key_value_heads: 7 }, "cfg.num_attention_heads: 7 does not divide hidden_size (4096) and there is no head_dim; give head_dim"],
    [{ num_local_experts: 8, num_experts_per_tok: 9 }, "cfg.num_experts_per_tok: 9 is more than the 8 experts; the allowed range is 1–8"],
    [{ vision_config: { hidden_size: 1024, num_hidden_layers: 24, patch_size: 0 } }, "cfg.vision_config.patch_size: 0 is outside the allowed range 1–4,096 (a whole number)"],
  ])("refuses %j naming the field, the value and the range", (override, message) => {
    expect(() => parseHfConfig({ ...llamaConfig(), ...override }, "cfg")).toThrow(ModelConfigError);
    expect(() => parseHfConfig({ ...llamaConfig(), ...override }, "cfg")).toThrow(message);
  });

  it("refuses num_hidden_layers 1e9 and num_attention_heads 0 from the CLI with exit 2", async () => {
    const layers = await cli("estimate", "--config", write("layers.json", JSON.stringify({ ...llamaConfig(), num_hidden_layers: 1e9 })), "--gpu", "l4", "--json");
    expect(layers.code).toBe(2);
    expect(layers.stderr).toMatch(/^error: --config: .*layers\.json\.num_hidden_layers: 1000000000 is outside the allowed range 1–2,048/);
    const heads = await cli("fit", "--config", write("heads.json", JSON.stringify({ ...llamaConfig(), num_attention_heads: 0 })), "--json");
    expect(heads.code).toBe(2);
    expect(heads.stdout).toBe("");
    expect(heads.stderr).toMatch(/heads\.json\.num_attention_heads: 0 is outside the allowed range 1–8,192/);
  });

  it("refuses a config.json over 1 MiB without reading it", async () => {
    const r = await cli("estimate", "--config", write("huge.json", `{"pad": "${"x".repeat(1024 * 1024)}"}`), "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --config: .*huge\.json has 1,048,5\d\d bytes, more than the 1,048,576 a config\.json may have/);
  });

  it("reads every catalog model within the bounds", () => {
    for (const m of catalog().models) expect(() => parseHfConfig(m.config, m.id)).not.toThrow();
  });
});

describe("CIDRs are normalised before network-exposure judges them", () => {
  it.each([
    ["0.0.0.0/0", true],
    ["0.0.0.0/00", true],
    ["000.000.000.000/0", true],
    [" 0.0.0.0/0 ", true],
    ["10.1.2.3/0", true],
    ["::/0", true],
    ["0::/0", true],
    ["0:0:0:0:0:0:0:0/000", true],
    ["::ffff:0:0/96", true],
    ["0.0.0.0/1", true],
    ["128.0.0.0/1", true],
    ["2000::/3", true],
    ["2000::/4", true],
    ["0x0.0.0.0/0", true],
    ["999.0.0.0/8", true],
    ["1.2.3.4/33", true],
    ["not a cidr", true],
    [42, true],
    [null, true],
    ["0.0.0.0/2", false],
    ["203.0.113.0/24", false],
    ["010.0.0.0/8", false],
    ["2001:db8::/32", false],
    ["2000::/5", false],
    ["192.0.2.10", false],
    ["fe80::1%eth0", false],
  ])("isAnywhere(%j) is %s", (cidr, expected) => {
    expect(isAnywhere(cidr)).toBe(expected);
  });

  it("reads a list together: two quarters make half the internet", () => {
    expect(isAnywhere(["0.0.0.0/2", "64.0.0.0/2"])).toBe(true);
    expect(isAnywhere(["0.0.0.0/2", "0.0.0.0/3"])).toBe(false);
    expect(isAnywhere(["2000::/5", "2800::/5"])).toBe(true);
    const unreadable: unknown[] = [];
    expect(isAnywhere(["203.0.113.0/24", { cidr: "x" }], (v) => unreadable.push(v))).toBe(true);
    expect(unreadable).toEqual([{ cidr: "x" }]);
  });

  it.each([
    [22, [22]],
    ["22", [22]],
    [" 8000 - 8100 ", [8000, 8080]],
    ["8100-8000", [8000, 8080]],
    ["1:65535", [22, 8000, 8080, 11434]],
    [[22, "8080"], [22, 8080]],
    ["any", [22, 8000, 8080, 11434]],
    ["", [22, 8000, 8080, 11434]],
    [null, [22, 8000, 8080, 11434]],
    ["ssh", [22, 8000, 8080, 11434]],
    [22.5, [22, 8000, 8080, 11434]],
    ["70000", [22, 8000, 8080, 11434]],
    [{ from: 1, to: 2 }, [22, 8000, 8080, 11434]],
    ["443", []],
  ])("portsCovered(%j) is %j", (port, expected) => {
    expect(portsCovered(port, [22, 8000, 8080, 11434])).toEqual(expected);
  });

  const SG = "scaleway:instance/securityGroup:SecurityGroup";
  const FW = "hcloud:index/firewall:Firewall";
  const robot = (firewallRules: unknown) => ({ type: "pulumi-nodejs:dynamic:Resource", name: "gex", props: { productId: "GEX131", confirmOrder: false, firewallRules } });

  it.each([
    ["props: null", [{ type: SG, name: "sg", props: null }], [`${SG} has properties network-exposure cannot read (null); failing closed`]],
    ["inboundRules as a string", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: "0.0.0.0/0:22" } }], [`${SG} has inboundRules network-exposure cannot read (a string, not a list); failing closed`]],
    ["a null rule", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [null] } }], [`${SG} inboundRules[0] cannot be read (null); failing closed`]],
    ["a list as ipRange", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", port: 22, ipRange: ["198.51.100.0/24"] }] } }], [`${SG} opens port 22 to a source it cannot read (ipRange: a list, not a CIDR); failing closed`]],
    ["a prefix /00", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", port: 22, ipRange: "0.0.0.0/00" }] } }], [`${SG} opens port 22 to 0.0.0.0/00`]],
    ["a narrow range", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", port: 22, ipRange: "198.51.100.0/24" }] } }], []],
    ["a port range as text", [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", portRange: "20-30", ipRange: "::/0" }] } }], [`${SG} opens port 22 to ::/0`]],
    [
      "0.0.0.0/2 + 64.0.0.0/2",
      [{ type: SG, name: "sg", props: { inboundDefaultPolicy: "drop", inboundRules: [{ action: "accept", port: 22, ipRange: "0.0.0.0/2" }, { action: "accept", port: 22, ipRange: "64.0.0.0/2" }] } }],
      [`${SG} opens port 22 to 0.0.0.0/2 + 64.0.0.0/2 (together: the internet)`],
    ],
  ])("scaleway security groups fail closed: %s", (_name, resources, messages) => {
    expect(scalewayExposures(resources as never, [22]).map((e) => e.message)).toEqual(messages);
  });

  it.each([
    ["props: null", [{ type: FW, name: "fw", props: null }], [`${FW} has properties network-exposure cannot read (null); failing closed`]],
    ["rules as a string", [{ type: FW, name: "fw", props: { rules: "in tcp 22 0.0.0.0/0" } }], [`${FW} has rules network-exposure cannot read (a string, not a list); failing closed`]],
    ["sourceIps as a string", [{ type: FW, name: "fw", props: { rules: [{ direction: "in", port: "22", sourceIps: "198.51.100.0/24" }] } }], [`${FW} opens port 22 to sources it cannot read (sourceIps: a string, not a list of CIDRs); failing closed`]],
    ["no sourceIps", [{ type: FW, name: "fw", props: { rules: [{ direction: "in", port: "22" }] } }], [`${FW} opens port 22 to sources it cannot read (sourceIps: missing, not a list of CIDRs); failing closed`]],
    ["a number among sourceIps", [{ type: FW, name: "fw", props: { rules: [{ direction: "in", port: "22", sourceIps: ["198.51.100.0/24", 42] }] } }], [`${FW} opens port 22 to a source it cannot read (sourceIps: a number, not a CIDR); failing closed`]],
    ["an unknown direction", [{ type: FW, name: "fw", props: { rules: [{ direction: "IN", port: "22", sourceIps: ["0::/0"] }] } }], [`${FW} opens port 22 to 0::/0`]],
    ["0.0.0.0/1 + 128.0.0.0/1", [{ type: FW, name: "fw", props: { rules: [{ direction: "in", port: "22", sourceIps: ["0.0.0.0/1", "128.0.0.0/1"] }] } }], [`${FW} opens port 22 to 0.0.0.0/1`, `${FW} opens port 22 to 128.0.0.0/1`]],
    ["two quarters in two rules", [{ type: FW, name: "fw", props: { rules: [{ direction: "in", port: "22", sourceIps: ["0.0.0.0/2"] }, { direction: "in", port: "1-100", sourceIps: ["64.0.0.0/2"] }] } }], [`${FW} opens port 22 to 0.0.0.0/2 + 64.0.0.0/2 (together: the internet)`]],
    ["an outbound rule", [{ type: FW, name: "fw", props: { rules: [{ direction: "out", port: "22", destinationIps: ["0.0.0.0/0"] }] } }], []],
  ])("hcloud firewalls fail closed: %s", (_name, resources, messages) => {
    expect(hcloudFirewallExposures(resources as never, [22]).map((e) => e.message)).toEqual(messages);
  });

  it.each([
    ["firewallRules as a string", robot("accept all"), ["Robot firewall rules of gex cannot be read (a string, not a list); failing closed"]],
    ["a null rule", robot([null]), ["Robot firewall rule 0 cannot be read (null); failing closed"]],
    ["no action", robot([{ name: "x", srcIp: "0.0.0.0/00", dstPort: "22" }]), ['Robot firewall rule "x" accepts port 22 from 0.0.0.0/00']],
    ["a protocol number", robot([{ name: "x", srcIp: "::/0", dstPort: "22", protocol: 6, action: "accept" }]), ['Robot firewall rule "x" accepts port 22 from ::/0']],
    ["a list as srcIp", robot([{ name: "x", srcIp: ["198.51.100.0/24"], dstPort: "22", action: "accept" }]), ['Robot firewall rule "x" accepts port 22 from a source it cannot read (srcIp: a list, not a CIDR); failing closed']],
    ["a garbage srcIp", robot([{ name: "x", srcIp: "any", dstPort: "22", action: "accept" }]), ['Robot firewall rule "x" accepts port 22 from any (not a CIDR it can read; failing closed)']],
    [
      "0.0.0.0/2 + 64.0.0.0/2",
      robot([{ name: "a", srcIp: "0.0.0.0/2", dstPort: "22", action: "accept" }, { name: "b", srcIp: "64.0.0.0/2", dstPort: "20-25", action: "accept" }]),
      ["Robot firewall rules of gex accept port 22 from 0.0.0.0/2 + 64.0.0.0/2 (together: the internet)"],
    ],
    ["discarded", robot([{ name: "x", srcIp: "0.0.0.0/0", dstPort: "22", action: "discard" }]), []],
  ])("Robot firewalls fail closed: %s", (_name, resource, messages) => {
    expect(robotExposures([resource as never], [22]).map((e) => e.message)).toEqual(messages);
  });

  it("fails a production stack whose SSH is open to 0.0.0.0/00 (exit 1, mandatory)", async () => {
    const text = PROD.replace("sshAllowedCidrs: [198.51.100.0/24]", "sshAllowedCidrs: [0.0.0.0/00]");
    const r = await cli("check", write("open.yaml", text), "--json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { violations: { policy: string; enforcementLevel: string; message: string }[] };
    expect(j.violations).toContainEqual(expect.objectContaining({ policy: "network-exposure", enforcementLevel: "mandatory", message: "gpu-hosting:hosts[0].sshAllowedCidrs: 0.0.0.0/00 opens SSH to the whole internet" }));
  });

  it("names sshAllowedCidrs that open SSH together, and the halves", () => {
    const c = context(DEV.replace("sshAllowedCidrs: [203.0.113.0/24]", "sshAllowedCidrs: [0.0.0.0/2, 64.0.0.0/2]"));
    expect((networkExposure.run(c, configDefaults(networkExposure)) as { message: string }[]).map((f) => f.message)).toEqual([
      "gpu-hosting:hosts[0].sshAllowedCidrs: 0.0.0.0/2 + 64.0.0.0/2 together open SSH to half of the internet or more",
    ]);
    const halves = context(DEV.replace("sshAllowedCidrs: [203.0.113.0/24]", "sshAllowedCidrs: [0.0.0.0/1, 128.0.0.0/1]"));
    expect((networkExposure.run(halves, configDefaults(networkExposure)) as { message: string }[]).map((f) => f.message)).toEqual([
      "gpu-hosting:hosts[0].sshAllowedCidrs: 0.0.0.0/1 opens SSH to half of the internet or more",
      "gpu-hosting:hosts[0].sshAllowedCidrs: 128.0.0.0/1 opens SSH to half of the internet or more",
    ]);
  });
});

describe("messages never echo values that could be secrets", () => {
  it.each([
    [HF, "(a value that looks like a credential, not shown)"],
    ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=", "(a value that looks like a credential, not shown)"],
    ["11111111-2222-3333-4444-555555555555", "(a value that looks like a credential, not shown)"],
    ["4f9c2a7e1b3d5f6a8c0e2b4d6f8a0c2e", "(a value that looks like a credential, not shown)"],
    ["Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg==", "(a value that looks like a credential, not shown)"],
    ["fr-par-2", '"fr-par-2"'],
    ["meta-llama/Llama-3.3-70B-Instruct", '"meta-llama/Llama-3.3-70B-Instruct"'],
    ["x".repeat(50), `"${"x".repeat(40)}"… (50 characters)`],
    [12, "12"],
    [{ a: 1 }, "a mapping"],
  ])("quoted(%j) is %s", (value, expected) => {
    expect(quoted(value)).toBe(expected);
  });

  it("redacts credentials in a message and cuts long values", () => {
    const m = redactSecrets(`zone: "${HF}" is not a zone; allowed: ${"y".repeat(500)}`);
    expect(m).toBe(`zone: "[redacted]" is not a zone; allowed: ${"y".repeat(240)}…`);
    expect(redactSecrets("a".repeat(100_000)).length).toBeLessThan(300);
    expect(looksLikeCredential("Qwen/Qwen3-30B-A3B-Instruct-2507")).toBe(false);
    // Public material stays readable: SSH host key fingerprints and public keys.
    const mismatch = "pinned ssh-ed25519 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s, server presented ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7Ow1qv1mEoCo5M0mW7bqS8J4l6eD7lVZ6kq2m8cW5x";
    expect(redactSecrets(mismatch)).toBe(mismatch);
    // Quotes pair from the left: the long stretch between two short quoted values stays whole.
    const between = `"ssh-ed25519 AAAA" is not a Robot key fingerprint; copy it from Robot → Key management (16 hex pairs joined by ":")`;
    expect(redactSecrets(between)).toBe(between);
    expect(redactSecrets(`a "${"q".repeat(70)}" b`)).toBe(`a "${"q".repeat(40)}…" b`);
    const longPath = `/home/runner/work/${"deep/".repeat(20)}Pulumi.prod.yaml`;
    expect(redactSecrets(`"${longPath}": cannot be read`)).toBe(`"${longPath}": cannot be read`);
  });

  it("keeps a token pasted into a catalog-checked field (zone) out of the error", async () => {
    const r = await cli("check", write("zone.yaml", DEV.replace("zone: fr-par-2", `zone: ${HF}`)));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`gpu-hosting:hosts[0].zone: (value of ${HF.length} characters, not shown) does not offer L4-1-24G`);
    expect(r.stderr).not.toContain(HF.slice(3));
  });

  it("keeps a token in allowed.regions out of the report, in every format", async () => {
    const file = write("regions.yaml", devWith(`  gpu-hosting:allowed: {regions: [${HF}, "${"z".repeat(5000)}"]}`));
    for (const f of ["text", "markdown", "json"]) {
      const r = await cli("check", file, "--format", f);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toContain(HF.slice(3));
      expect(r.stdout).not.toContain("z".repeat(241));
      expect(r.stdout).toContain(`(value of ${HF.length} characters at gpu-hosting:allowed.regions[0], not shown), (value of 5000 characters at gpu-hosting:allowed.regions[1], not shown)`);
    }
  });

  it("quotes a YAML error by line and column, never the neighbouring lines", async () => {
    const r = await cli("check", write("broken.yaml", devWith(`  gpu-hosting:robotPassword: ${HF}`, "  gpu-hosting:oops: [unclosed")));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*broken\.yaml: not valid YAML at line \d+, column \d+: /);
    expect(r.stderr).not.toContain(HF.slice(3));
  });

  it("keeps tokens given as flag values, unknown options or commands out of stderr", async () => {
    for (const args of [["estimate", "--model", HF, "--gpu", "l4"], ["estimate", `--${HF}`], [HF], ["fit", "--context", HF], ["check", "--stack", HF]]) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toBe("");
      expect(r.stderr).not.toContain(HF.slice(3));
    }
  });

  it("cuts a 200 KB flag value to a few dozen characters", async () => {
    const r = await cli("estimate", "--model", "m".repeat(200_000), "--gpu", "l4");
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeLessThan(1000);
    expect(r.stderr).toContain(`"${"m".repeat(40)}"… (200000 characters)`);
  });

  it("fails a plain robotUser (the schema lists it as a secret)", async () => {
    expect(REQUIRED_SECRET_KEYS).toEqual(expect.arrayContaining(["robotUser", "robotPassword", "sshPrivateKey", "hfToken", "apiKey"]));
    expect(REQUIRED_SECRET_KEYS).not.toContain("sshPublicKey");
    const r = await cli("check", write("robot.yaml", devWith('  gpu-hosting:robotUser: "#ws+AbCdEf12"')), "--json");
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("#ws+");
    expect(JSON.parse(r.stdout).violations).toContainEqual(expect.objectContaining({ policy: "secrets", enforcementLevel: "mandatory", message: "gpu-hosting:robotUser looks like a credential but is stored in plain text" }));
  });

  it("fails a key that hosts[].privateKeySecret names when it is plain", () => {
    const found = secrets.run({ ...context(DEV), rawConfig: { "gpu-hosting:rackKey": "plain", "gpu-hosting:hosts": [{ privateKeySecret: "rackKey" }] }, config: { ...context(DEV).config, hosts: [{ privateKeySecret: "rackKey" } as never] } }, configDefaults(secrets));
    expect(found).toEqual([expect.objectContaining({ message: "gpu-hosting:rackKey looks like a credential but is stored in plain text" })]);
  });

  it.each([
    [{ secure: "hunter2" }, false],
    [{ secure: "v1:not base64!" }, false],
    [{ secure: "v1:abc", other: 1 }, false],
    [{ secure: 42 }, false],
    [{ secure: "v1:TY/6t5Ru4xQ=:JtuSmk1bu2w0lDjLSUpQkx6zC0U=" }, true],
    [{ secure: "AAABAKd2EjXXpXw8A2bT7KX9Yz1QF1nR2CgVLg==" }, true],
  ])("trusts %j as a secret only when it looks like Pulumi ciphertext (%s)", (value, trusted) => {
    const found = secrets.run({ ...context(DEV), rawConfig: { "gpu-hosting:robotPassword": value } }, configDefaults(secrets));
    expect(found).toEqual(trusted ? [] : [expect.objectContaining({ message: "gpu-hosting:robotPassword has a secure: value that is not Pulumi ciphertext (v1:… or AAABA…): a plain value in a secure wrapper" })]);
  });

  it.each([null, "gpu-hosting:robotPassword=x", [["gpu-hosting:robotPassword", "x"]], 7])("fails closed on a raw config that is not a mapping (%j)", (rawConfig) => {
    const ctx = { ...context(DEV), rawConfig: rawConfig as never };
    const r = runChecks(ctx);
    expect(r.notApplicable.map((n) => n.policy)).not.toContain("secrets");
    expect(r.violations).toContainEqual(expect.objectContaining({ policy: "secrets", enforcementLevel: "mandatory", subject: "stack", message: expect.stringMatching(/^the raw stack config is .+, not a mapping of keys to values: cannot tell how secrets are stored; failing closed$/) }));
    expect(r.ok).toBe(false);
  });

  it("redacts violation messages that checkStackConfig returns", () => {
    const raw = readStackYaml(devWith(`  gpu-hosting:allowed: {regions: ["${HF}"]}`), "s.yaml");
    const r = checkStackConfig(raw, "s.yaml");
    expect(JSON.stringify(r.report)).not.toContain(HF.slice(3));
  });
});

describe("a closed pipe", () => {
  it("ends `catalog models --json | head` quietly: exit 0, no EPIPE stack trace", async () => {
    const { spawn } = await import("node:child_process");
    const { join } = await import("node:path");
    const p = spawn(process.execPath, [join(__dirname, "..", "dist", "cli", "main.js"), "catalog", "models", "--json"]);
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Read one chunk, then close the pipe as `head -c` would.
    p.stdout.once("data", () => p.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => p.on("close", resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });
});

describe("policy config keys named like prototype properties", () => {
  it("refuses `constructor` as a setting, listing the real ones", async () => {
    const { validatePolicyConfig } = await import("../core/checks");
    const r = validatePolicyConfig({ "vram-fit": { constructor: 1 } });
    expect(r).toEqual({ ok: false, problems: [expect.stringMatching(/^vram-fit\.constructor: not a setting of vram-fit; allowed: enforcementLevel/)] });
  });
});
