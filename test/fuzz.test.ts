/**
 * Seeded fuzzing (issue #12, "Done when"): 2,400 stack files mutated from stacks/Pulumi.dev.yaml and
 * Pulumi.prod.yaml (wrong types, huge numbers, prototype keys, aliases and alias bombs, unicode,
 * broken YAML, planted secrets) run in-process through what `gpu-hosting check` runs
 * (readStackYaml, checkStackConfig, formatCheckReport), and 1,000 flag sets run through the CLI's
 * `main(argv)`. Every case must end with exit 0/1 and a valid report, or exit 2 with a message that
 * names a path or a flag; no planted secret may appear in any output; no case may take 10 s.
 *
 * The generator is a seeded PRNG (mulberry32): a failure names its case number and seed, and the
 * same seed replays it. Change SEED to explore further.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CORE_SCHEMA, dump, load } from "js-yaml";
import { checkStackConfig, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { formatCheckReport, type CheckFormat } from "../cli/check";
import { runCliInProcess, type CliRun } from "./helpers/cliInProcess";

const SEED = 0x12c0ffee;
const STACK_CASES = 2400;
const FLAG_CASES = 1000;
/** The bound: no case may hang for 10 s (typical cases take milliseconds). */
const CASE_LIMIT_MS = 10_000;

const ROOT = path.join(__dirname, "..");
const BASES = ["Pulumi.dev.yaml", "Pulumi.prod.yaml"].map((f) => fs.readFileSync(path.join(ROOT, "stacks", f), "utf8"));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-fuzz-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chars(alphabet: string, n: number): string {
    return Array.from({ length: n }, () => alphabet[this.int(alphabet.length)]).join("");
  }
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64 = `${ALNUM}+/`;

/** Secrets planted in one case: a Hugging Face-style token and a PEM private key. What must never be echoed. */
interface Planted {
  hf: string;
  pem: string;
  /** Substrings whose presence in any output means a leak. */
  needles: string[];
}

function plant(g: Gen): Planted {
  // One upper case letter, one lower case letter and one digit at least, like real tokens.
  const hfBody = `${g.chars(ALNUM, 31)}Qz7`;
  const pemBody = `b3Bl${g.chars(B64, 56)}Aa1=`;
  return {
    hf: `hf_${hfBody}`,
    pem: `-----BEGIN OPENSSH PRIVATE KEY-----\n${pemBody}\n-----END OPENSSH PRIVATE KEY-----\n`,
    needles: [hfBody, pemBody],
  };
}

const leaks = (p: Planted, outputs: readonly string[]): string[] => p.needles.filter((n) => outputs.some((o) => o.includes(n)));

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const RESERVED = ["__proto__", "constructor", "prototype"];
const UNICODE = ["Ω≈ç√∫˜µ≤≥÷", "🚀💥🔥", "\u202eevil", "zero\u200bwidth", "ｆｕｌｌｗｉｄｔｈ", "e\u0301", "\u00a0", "日本語のホスト", "\ud800"];

/** A value of a wrong type, size or shape. */
function weird(g: Gen, p: Planted, depth = 0): unknown {
  const leaf = (): unknown =>
    g.pick<() => unknown>([
      () => g.pick([0, -1, 1, 0.5, 1e9, 1e308, -1e308, 2 ** 53 + 1, Number.NaN, Number.POSITIVE_INFINITY, -0, 65536, 4096]),
      () => g.pick(["", " ", "~", "null", "yes", "<<", "32k", "16K", "-5k", "1e309", "0x10", "Infinity", "0.0.0.0/00", "::/0", "0::/0", "0.0.0.0/1", "fr-par-2", "nbg1", "L4-1-24G", "GEX131", "llama-3.1-8b", "rtx-4090"]),
      () => g.pick(RESERVED),
      () => g.pick(UNICODE),
      () => "x".repeat(g.pick([41, 200, 5000, 20000])),
      () => g.pick([true, false, null]),
      () => p.hf,
      () => p.pem,
      () => `prefix ${p.hf} suffix`,
      () => ({ secure: g.pick([p.hf, "v1:abc", "hunter2", 42]) }),
    ])();
  if (depth >= 2 || g.chance(0.7)) return leaf();
  if (g.chance(0.5)) return Array.from({ length: g.int(4) }, () => weird(g, p, depth + 1));
  const m: Json = {};
  for (let i = g.int(3); i > 0; i--) setKey(m, g.pick(["name", "kind", "zone", "type", g.pick(RESERVED), p.hf, g.pick(UNICODE)]), weird(g, p, depth + 1));
  return m;
}

/** Sets a key as an own property, even `__proto__`. */
function setKey(m: Json, k: string, v: unknown): void {
  Object.defineProperty(m, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Every [container, key] pair under the config, for picking a place to mutate. */
function places(root: unknown): [Json | unknown[], string | number][] {
  const out: [Json | unknown[], string | number][] = [];
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push([v, i]);
        walk(x);
      });
    } else {
      for (const k of Object.keys(v)) {
        out.push([v as Json, k]);
        walk((v as Json)[k]);
      }
    }
  };
  walk(root);
  return out;
}

const setAt = (c: Json | unknown[], k: string | number, v: unknown): void => (Array.isArray(c) ? void (c[k as number] = v) : setKey(c, String(k), v));

/** A tree of `depth` levels sharing each level `fanout` times: dumped as anchors and aliases. */
function shared(depth: number, fanout: number, leaf: unknown): unknown {
  let v: unknown = [leaf];
  for (let i = 0; i < depth; i++) {
    const prev = v;
    v = g2(i) ? Array.from({ length: fanout }, () => prev) : Object.fromEntries(Array.from({ length: fanout }, (_, j) => [`k${j}`, prev]));
  }
  return v;
}
const g2 = (i: number): boolean => i % 2 === 0;

/** Structural mutations of a loaded stack document. */
function mutate(doc: Json, g: Gen, p: Planted): void {
  const config = doc.config as Json;
  for (let n = 1 + g.int(4); n > 0; n--) {
    const all = places(config);
    const [c, k] = all.length > 0 ? g.pick(all) : [config, "gpu-hosting:environment"];
    switch (g.int(12)) {
      case 0:
      case 1:
        setAt(c, k, weird(g, p));
        break;
      case 2:
        if (isMap(c)) delete c[k as string];
        break;
      case 3: {
        const target = isMap((c as Json)[k as string]) ? ((c as Json)[k as string] as Json) : config;
        setKey(target, g.pick([...RESERVED, p.hf, g.pick(UNICODE), "gpuPowerCapWatts", "hfToken"]), weird(g, p));
        break;
      }
      case 4:
        setKey(config, g.pick(["gpu-hosting:__proto__", "gpu-hosting:constructor", "gpu-hosting:prototype", "__proto__", "gpu-hosting:robotUser", "gpu-hosting:robotPassword", "gpu-hosting:hfToken", "hcloud:token", "gpu-hosting:notes"]), weird(g, p));
        break;
      case 5:
        // A secret where a catalog-checked or listed value belongs.
        setAt(c, k, g.pick([p.hf, p.pem, `${p.hf}-1`]));
        break;
      case 6:
        setAt(c, k, shared(2 + g.int(8), 2 + g.int(8), g.pick(["lol", p.hf])));
        break;
      case 7: {
        // A benign alias: the same mapping or list in two places.
        const objs = all.map(([cc, kk]) => (cc as Json)[kk as string]).filter((v) => typeof v === "object" && v !== null);
        if (objs.length > 0) setAt(c, k, g.pick(objs));
        break;
      }
      case 8: {
        const hosts = config["gpu-hosting:hosts"];
        if (Array.isArray(hosts) && hosts.length > 0) for (let i = g.int(30); i > 0; i--) hosts.push(g.chance(0.5) ? hosts[0] : structuredClone(hosts[0]));
        break;
      }
      case 9: {
        const hosts = config["gpu-hosting:hosts"];
        if (Array.isArray(hosts) && isMap(hosts[0])) {
          hosts[0].sshAllowedCidrs = Array.from({ length: 1 + g.int(3) }, () => g.pick(["0.0.0.0/00", "000.0.0.0/0", "::/0", "0::/0", "0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2", "203.0.113.0/24", "999.1.1.1/8", p.hf]));
        }
        break;
      }
      case 10:
        config["gpu-hosting:environment"] = g.pick(["production", "staging", "development", "constructor", p.hf]);
        break;
      default:
        setAt(c, k, { secure: weird(g, p) });
    }
  }
}

/**
 * Mutations that mostly keep the stack valid, so that the checks and the report formats run on
 * hostile values too: secrets under secret keys and other namespaces, CIDRs, allow-lists, budgets,
 * sizes, `secure:` wrappers, aliases outside `gpu-hosting:`.
 */
function mutateGently(doc: Json, g: Gen, p: Planted): void {
  const config = doc.config as Json;
  const hosts = Array.isArray(config["gpu-hosting:hosts"]) ? (config["gpu-hosting:hosts"] as Json[]) : [];
  const deployments = Array.isArray(config["gpu-hosting:deployments"]) ? (config["gpu-hosting:deployments"] as Json[]) : [];
  for (let n = 1 + g.int(3); n > 0; n--) {
    switch (g.int(10)) {
      case 0:
        config[g.pick(["gpu-hosting:robotUser", "gpu-hosting:robotPassword", "gpu-hosting:hfToken", "gpu-hosting:sshPrivateKey", "gpu-hosting:apiKey", "hcloud:token", "scaleway:secretKey", "other:notes"])] = g.pick<unknown>([
          p.hf,
          p.pem,
          { secure: p.hf },
          { secure: "v1:TY/6t5Ru4xQ=:JtuSmk1bu2w0lDjLSUpQkx6zC0U=" },
          { secure: "v1:abc", plain: p.hf },
          [p.hf],
          { nested: { deeper: p.pem } },
        ]);
        break;
      case 1:
        if (hosts[0]) hosts[0].sshAllowedCidrs = Array.from({ length: 1 + g.int(3) }, () => g.pick(["0.0.0.0/00", "000.0.0.0/0", "::/0", "0::/0", "0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2", "203.0.113.0/24", "2001:db8::/32"]));
        break;
      case 2:
        config["gpu-hosting:allowed"] = { regions: Array.from({ length: 1 + g.int(3) }, () => g.pick(["fr-par-2", "nbg1", p.hf, "x".repeat(g.pick([41, 5000])), g.pick(UNICODE), p.pem])), euOnly: g.chance(0.5) };
        break;
      case 3:
        config["gpu-hosting:budgets"] = { eurPerMonth: g.pick([1e-9, 1, 1e308, 4500]), kwhPerMonth: g.pick([1e-9, 1e308, 100]) };
        break;
      case 4:
        if (deployments[0]) {
          deployments[0].concurrency = g.pick([1, 64, 1_000_000, 2 ** 31]);
          deployments[0].context = g.pick(["8k", "128k", "1000000k", 2 ** 31, 1]);
        }
        break;
      case 5:
        config["gpu-hosting:environment"] = g.pick(["production", "staging", "development"]);
        break;
      case 6:
        config[`other:${g.pick(["notes", "tags", "bomb"])}`] = g.chance(0.5) ? shared(2 + g.int(8), 2 + g.int(8), g.pick(["lol", p.hf])) : { list: [p.hf, g.pick(UNICODE)] };
        break;
      case 7:
        if (hosts[0]) hosts[0].gpuPowerCapWatts = g.pick([1, 100, 350, 1e9, 0.5]);
        break;
      case 8:
        if (deployments[0]) deployments[0].dtype = g.pick(["auto", "bf16", "fp8", "awq", "q4_k_m", "fp32"]);
        break;
      default:
        if (deployments[0]) deployments[0].model = g.pick(["llama-3.1-8b", "meta-llama/Llama-3.1-70B-Instruct", "Qwen/Qwen3-32B-AWQ", "qwen3-30b-a3b", p.hf, `${p.hf}/model`]);
    }
  }
}

/** Textual mutations of the dumped YAML. */
function scramble(text: string, g: Gen, p: Planted): string {
  const at = g.int(text.length + 1);
  switch (g.int(9)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + g.pick([":", "-", "[", "{", "&", "*", "!", "%", "@", "`", "\t", '"', "'", "|", ">", "#", "\ufeff", ": :", "\n  -", "&a", "*nope"]) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + g.int(40));
    case 3: {
      const lines = text.split("\n");
      const i = g.int(lines.length);
      lines.splice(i, 0, lines[i] ?? "");
      return lines.join("\n");
    }
    case 4:
      // A secret on the line before a syntax error: a YAML error must not quote it.
      return `${text.trimEnd()}\n  gpu-hosting:robotPassword: ${p.hf}\n  gpu-hosting:broken: [unclosed\n`;
    case 5:
      return `${text.trimEnd()}\n  <<: *${g.pick(["undefined", "base"])}\n`;
    case 6:
      return `${text}---\nconfig: {}\n`;
    case 7:
      return text.replace(/^ {2}/gm, "\t");
    default:
      return `${text.trimEnd()}\n  other:key: "${p.hf}\n`;
  }
}

/** Stack file text for case `i`: a base stack, mutated, dumped (aliases for shared values), sometimes scrambled. */
function stackCase(i: number): { text: string; planted: Planted } {
  const g = new Gen(SEED + i);
  const planted = plant(g);
  const base = BASES[i % BASES.length]!;
  if (g.chance(0.05)) return { text: scramble(base, g, planted), planted };
  const doc = load(base, { schema: CORE_SCHEMA }) as Json;
  if (g.chance(0.45)) mutateGently(doc, g, planted);
  else mutate(doc, g, planted);
  let text: string;
  try {
    text = dump(doc, { schema: CORE_SCHEMA, skipInvalid: true, lineWidth: -1 });
  } catch {
    text = base;
  }
  return { text: g.chance(0.15) ? scramble(text, g, planted) : text, planted };
}

/** A problem names a config path (`gpu-hosting:hosts[0].zone: …`, `gpu-hosting: …`). */
const NAMES_PATH = /^gpu-hosting(:[^\s]*)?: /;

describe("fuzzed stack files, in-process through readStackYaml, checkStackConfig and the report formats", () => {
  it(`ends ${STACK_CASES} cases with a report (exit 0/1) or an input error naming a path (exit 2), and echoes no planted secret`, () => {
    const exits = [0, 0, 0];
    let slowest = 0;
    const files: string[] = [];
    for (let i = 0; i < STACK_CASES; i++) {
      const { text, planted } = stackCase(i);
      const file = `stacks/Pulumi.fuzz-${i}.yaml`;
      const where = `case ${i} (seed ${SEED} + ${i})`;
      const started = Date.now();
      const outputs: string[] = [];
      let exit: number;
      try {
        const result = checkStackConfig(readStackYaml(text, file), file);
        for (const f of ["json", "text", "markdown"] as CheckFormat[]) outputs.push(formatCheckReport(file, result, f));
        const json = JSON.parse(outputs[0]!) as { ok: boolean; violations: unknown[] };
        if (json.ok !== result.report.ok || !Array.isArray(json.violations)) throw new Error(`${where}: the JSON report disagrees with the check`);
        exit = result.report.ok ? 0 : 1;
      } catch (e) {
        if (!(e instanceof StackInputError)) throw new Error(`${where}: ${(e as Error).stack}\n--- stack file ---\n${text.slice(0, 3000)}`);
        outputs.push(e.message, ...e.problems);
        if (!e.message.startsWith(`${file}: `)) throw new Error(`${where}: the message does not name the file: ${e.message}`);
        const unnamed = e.problems.filter((m) => !NAMES_PATH.test(m));
        if (unnamed.length > 0) throw new Error(`${where}: problems that name no path: ${unnamed.join(" | ")}`);
        exit = 2;
      }
      const leaked = leaks(planted, outputs);
      if (leaked.length > 0) throw new Error(`${where}: planted secret echoed (${leaked.join(", ")}):\n${outputs.join("\n").slice(0, 3000)}`);
      exits[exit]!++;
      slowest = Math.max(slowest, Date.now() - started);
      if (i % 120 === 0) {
        const copy = path.join(tmp, `Pulumi.fuzz-${i}.yaml`);
        fs.writeFileSync(copy, text);
        files.push(copy);
      }
    }
    // Every outcome occurs: the generator reaches clean stacks, violations and input errors.
    expect(exits.every((n) => n > 0)).toBe(true);
    expect(exits.reduce((a, b) => a + b, 0)).toBe(STACK_CASES);
    expect(slowest).toBeLessThan(CASE_LIMIT_MS);
    fuzzedFiles.push(...files);
  }, 120_000);
});

/** Stack files the stack fuzz wrote, for `check` flag sets. */
const fuzzedFiles: string[] = [];

type Run = CliRun;

/** Runs the CLI in-process, capturing what it writes. */
const cli = (args: string[]): Promise<CliRun> => runCliInProcess(args);

/** Files `--config`, `--policy-config` and `check` read in flag sets. */
function fixtures(p: Planted): Record<"configs" | "policies" | "stacks", string[]> {
  const w = (name: string, text: string): string => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const models = JSON.parse(fs.readFileSync(path.join(ROOT, "core", "catalog", "data", "models.json"), "utf8")) as { models?: { id: string; config: Json }[] } | { id: string; config: Json }[];
  const list = Array.isArray(models) ? models : (models.models ?? []);
  const llama = list.find((m) => m.id === "meta-llama/Llama-3.1-8B-Instruct")!.config;
  return {
    configs: [
      w("config.json", JSON.stringify(llama)),
      w("layers.json", JSON.stringify({ ...llama, num_hidden_layers: 1e9 })),
      w("heads.json", JSON.stringify({ ...llama, num_attention_heads: 0 })),
      w("quant.json", JSON.stringify({ ...llama, quantization_config: { quant_method: "__proto__" } })),
      w("secret.json", `{"hidden_size": "${p.hf}", `),
      w("list.json", "[1, 2, 3]"),
      path.join(tmp, "missing.json"),
      tmp,
    ],
    policies: [
      w("policy.json", JSON.stringify({ "cost-budget": "mandatory" })),
      w("policy-proto.json", '{"__proto__": {"enforcementLevel": "disabled"}, "vram-fit": {"constructor": 1}}'),
      w("policy-secret.json", `{"secrets": "${p.hf}"`),
      w("policy-bad.json", JSON.stringify({ "vram-fits": {}, secrets: { extraKeyPatterns: ["("] } })),
    ],
    stacks: [
      path.join(ROOT, "stacks", "Pulumi.dev.yaml"),
      path.join(ROOT, "stacks", "Pulumi.prod.yaml"),
      w("Pulumi.zone.yaml", BASES[0]!.replace("zone: fr-par-2", `zone: ${p.hf}`)),
      w("Pulumi.proto.yaml", `${BASES[0]!.trimEnd()}\n  gpu-hosting:__proto__: {environment: production}\n`),
      w("Pulumi.secret.yaml", `${BASES[1]!.trimEnd()}\n  gpu-hosting:robotPassword: ${p.hf}\n`),
      path.join(tmp, "Pulumi.missing.yaml"),
    ],
  };
}

/** One flag set: a command and options with valid, wrong, prototype-named, unicode, huge and secret values. */
function flagCase(i: number, p: Planted, files: Record<"configs" | "policies" | "stacks", string[]>): string[] {
  const g = new Gen(SEED ^ (0x5eed + i));
  const junk = (): string =>
    g.pick([
      "",
      " ",
      "-1",
      "0",
      "1e309",
      "NaN",
      "Infinity",
      "0x10",
      "constructor",
      "__proto__",
      "toString",
      g.pick(UNICODE),
      "a".repeat(g.pick([41, 5000])),
      p.hf,
      p.pem,
      `--${p.hf}`,
      "32k",
      "1m",
      "999999999999",
      "--json",
      "-",
    ]);
  // Valid values but for zero to two wrong ones, so that a wrong value reaches the code behind its flag.
  let wrong = g.pick([0, 1, 1, 1, 2]);
  const value = (valid: readonly string[]): string => {
    if (wrong === 0 || g.chance(0.6)) return g.pick(valid);
    wrong--;
    // "constructor" survives every spelling normalisation (lower case, no dashes or underscores).
    return g.chance(0.5) ? (g.chance(0.5) ? "constructor" : g.pick(PROTOTYPE_NAMES)) : junk();
  };
  const opts: [string, readonly string[] | null][] = [];
  const args: string[] = [];
  switch (g.int(10)) {
    case 0:
    case 1:
    case 2:
      args.push("estimate");
      if (g.chance(0.9)) args.push(...(g.chance(0.8) ? ["--model", value(["llama-3.1-8b", "meta-llama/Llama-3.1-70B-Instruct", "qwen3-30b-a3b", "Qwen/Qwen3-32B-AWQ", "mistral-7b"])] : ["--config", g.pick(files.configs)]));
      if (g.chance(0.9)) args.push(...(g.chance(0.8) ? ["--gpu", value(["l4", "h100", "l40s", "rtx-4090", "p100", "mi300x"])] : ["--vram-gib", value(["24", "80", "0.5"])]));
      if (g.chance(0.5)) args.push("--json");
      opts.push(
        ["--dtype", ["auto", "bf16", "fp8", "awq", "q4_k_m"]],
        ["--kv-cache-dtype", ["auto", "fp8"]],
        ["--ram-gib", ["64", "512"]],
        ["--gpu-count", ["1", "2", "8"]],
        ["--max-model-len", ["8k", "32k", "131072"]],
        ["--concurrency", ["1", "16"]],
        ["--gpu-memory-utilization", ["0.9", "0.5", "1"]],
        ["--max-num-batched-tokens", ["2048"]],
        ["--max-num-seqs", ["256"]],
        ["--engine", ["vllm", "llama.cpp", "ollama", "cpu"]],
        ["--vllm-version", ["0.19", "0.6.4", "latest"]],
        ["--json", null],
      );
      break;
    case 3:
    case 4:
      args.push("fit");
      if (g.chance(0.8)) args.push(value(["llama-3.1-8b", "qwen3-30b-a3b", "mistral-7b"]));
      opts.push(
        ["--config", files.configs],
        ["--context", ["8k", "32k"]],
        ["--concurrency", ["1", "8"]],
        ["--dtype", ["best", "auto", "fp8"]],
        ["--kv-cache-dtype", ["auto", "fp8"]],
        ["--gpu-memory-utilization", ["0.9"]],
        ["--provider", ["hetzner", "scaleway"]],
        ["--eu-only", null],
        ["--max-eur-month", ["500", "5000"]],
        ["--include-unlisted", null],
        ["--json", null],
      );
      break;
    case 5:
      args.push("catalog", value(["gpus", "offers", "models"]));
      opts.push(["--json", null]);
      break;
    case 6:
    case 7:
    case 8: {
      args.push("check");
      const target = g.int(10);
      if (target < 8) args.push(g.chance(0.9) ? g.pick([...files.stacks, ...fuzzedFiles]) : junk());
      else if (target === 8) args.push("--stack", value(["dev", "prod", "../etc/passwd"]));
      if (g.chance(0.5)) args.push("--json");
      opts.push(["--stack", ["dev", "prod"]], ["--format", ["text", "markdown", "json", "JSON"]], ["--json", null], ["--policy-config", files.policies]);
      break;
    }
    default:
      args.push(...g.pick([[], ["--help"], ["--version"], ["help"], ["bogus"], [junk()], ["estimate", "--help"], ["catalog"], ["help", "fit"]]));
  }
  for (let n = g.int(5); n > 0 && opts.length > 0; n--) {
    const [flag, valid] = g.pick(opts);
    // Each option once: a repeated option overrides the earlier value.
    if (args.includes(flag)) continue;
    args.push(flag);
    if (valid !== null && !g.chance(0.02)) args.push(value(valid));
  }
  if (wrong > 0 && g.chance(0.1)) args.push(junk());
  return args;
}

/** Names of Object.prototype's properties and the other prototype names: never a valid flag value. */
const PROTOTYPE_NAMES = [...RESERVED, "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__"];

/** Exit 2 names a flag, an argument, a command or a file. */
const NAMES_FLAG = /(--[a-z][a-z-]*|<[a-z-]+>|\b(unknown (option|command)|too many arguments|missing required|argument)\b|[\w./-]+\.(ya?ml|json)\b|Usage: gpu-hosting)/i;

describe("fuzzed flag sets through main(argv), in-process", () => {
  it(`ends ${FLAG_CASES} flag sets with exit 0/1 (valid JSON with --json) or exit 2 naming a flag or path, and echoes no planted secret`, async () => {
    const p = plant(new Gen(SEED));
    const files = fixtures(p);
    const exits = new Map<number, number>();
    let slowest = 0;
    for (let i = 0; i < FLAG_CASES; i++) {
      const args = flagCase(i, p, files);
      const where = `flag set ${i} (gpu-hosting ${args.map((a) => JSON.stringify(a.slice(0, 60))).join(" ")})`;
      const started = Date.now();
      let r: Run;
      try {
        r = await cli(args);
      } catch (e) {
        throw new Error(`${where}: threw ${(e as Error).stack}`);
      }
      slowest = Math.max(slowest, Date.now() - started);
      exits.set(r.code, (exits.get(r.code) ?? 0) + 1);
      const leaked = leaks(p, [r.stdout, r.stderr]);
      if (leaked.length > 0) throw new Error(`${where}: planted secret echoed (${leaked.join(", ")}):\n${(r.stdout + r.stderr).slice(0, 3000)}`);
      if (![0, 1, 2].includes(r.code)) throw new Error(`${where}: exit ${r.code}`);
      if (r.code === 1 && args[0] !== "check") throw new Error(`${where}: exit 1 outside check`);
      if (r.code === 2) {
        if (!NAMES_FLAG.test(r.stderr)) throw new Error(`${where}: exit 2 without naming a flag or path: ${r.stderr.slice(0, 500)}`);
        continue;
      }
      const help = args.some((a) => ["--help", "-h", "--version", "-V", "help"].includes(a));
      // No flag takes a prototype property's name as a value: accepting one means a lookup honoured it.
      const honoured = args.filter((a) => PROTOTYPE_NAMES.includes(a));
      if (!help && honoured.length > 0) throw new Error(`${where}: exit ${r.code} accepted ${honoured.join(", ")}`);
      if (args.includes("--json") && !help && !r.stderr.startsWith("error")) {
        try {
          JSON.parse(r.stdout);
        } catch {
          throw new Error(`${where}: exit ${r.code} with --json but stdout is not JSON: ${r.stdout.slice(0, 300)}`);
        }
      }
      if (r.stdout === "") throw new Error(`${where}: exit ${r.code} with no output`);
    }
    expect([...exits.keys()].sort()).toEqual([0, 1, 2]);
    expect(slowest).toBeLessThan(CASE_LIMIT_MS);
  }, 120_000);
});
