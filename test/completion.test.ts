/**
 * Shell completion (`gpu-hosting completion bash|zsh|fish`), the examples in every `--help`, and
 * help text that names defaults and allowed values. Completion scripts are run in the real
 * shells: bash always; zsh and fish where installed (they are not in CI).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { catalog } from "../core/catalog";
import { SORT_KEYS } from "../core/planner";
import { DTYPES } from "../core/sizing/dtypes";
import { completionScript, parseShell } from "../cli/completion";
import { EXAMPLES, PRICE_COMMANDS } from "../cli/examples";
import { VAT_NOTE } from "../cli/format";
import { allCommands, buildProgram, commandPath } from "../cli/main";

const ROOT = path.join(__dirname, "..");
const MAIN = path.join(ROOT, "dist", "cli", "main.js");
const has = (shell: string): boolean => spawnSync(shell, ["--version"], { encoding: "utf8" }).status === 0;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-completion-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function script(shell: "bash" | "zsh" | "fish"): string {
  const file = path.join(tmp, `completion.${shell}`);
  fs.writeFileSync(file, completionScript(buildProgram(), shell));
  return file;
}

/** What bash completes for a command line whose last word is being typed (`""` for a new word). */
function bashComplete(words: string[], cwd = ROOT): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `source '${script("bash")}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _gpu_hosting; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.split("\n").filter((l) => l !== "");
}

describe("bash completion", () => {
  it("is valid bash (bash -n)", () => {
    const r = spawnSync("bash", ["-n", script("bash")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("completes the commands at the first word, and `fit` from `f`", () => {
    expect(bashComplete(["gpu-hosting", ""])).toEqual(expect.arrayContaining(["estimate", "fit", "catalog", "check", "discover", "render", "completion"]));
    expect(bashComplete(["gpu-hosting", "f"])).toEqual(["fit"]);
  });

  it("completes subcommands of catalog, also after a global flag", () => {
    expect(bashComplete(["gpu-hosting", "catalog", ""])).toEqual(expect.arrayContaining(["gpus", "offers", "models"]));
    expect(bashComplete(["gpu-hosting", "--no-color", "catalog", "o"])).toEqual(["offers"]);
  });

  it("completes each command's own options and the global --no-color", () => {
    const opts = bashComplete(["gpu-hosting", "estimate", "--"]);
    expect(opts).toEqual(expect.arrayContaining(["--model", "--dtype", "--kv-cache-dtype", "--engine", "--gpu", "--json", "--no-color", "--help"]));
    expect(opts).not.toContain("--stack");
    expect(bashComplete(["gpu-hosting", "check", "--f"])).toEqual(["--format"]);
  });

  it("completes values: --format, --dtype (fit adds best), --engine, --gpu ids, model ids", () => {
    expect(bashComplete(["gpu-hosting", "check", "--format", ""])).toEqual(["text", "markdown", "json"]);
    expect(bashComplete(["gpu-hosting", "estimate", "--dtype", ""])).toEqual([...DTYPES]);
    expect(bashComplete(["gpu-hosting", "fit", "llama-3.1-8b", "--dtype", "b"])).toEqual(["best", "bf16"]);
    expect(bashComplete(["gpu-hosting", "estimate", "--engine", ""])).toEqual(["vllm", "llamacpp", "ollama", "cpu"]);
    expect(bashComplete(["gpu-hosting", "estimate", "--gpu", ""]).sort()).toEqual(catalog().gpus.map((g) => g.id).sort());
    expect(bashComplete(["gpu-hosting", "fit", "meta-llama/Llama-3.1-8"])).toContain("meta-llama/Llama-3.1-8B-Instruct");
    expect(bashComplete(["gpu-hosting", "estimate", "-m", "qwen3-8"])).toContain("qwen3-8b");
    expect(bashComplete(["gpu-hosting", "fit", "llama-3.1-8b", "--sort", ""])).toEqual([...SORT_KEYS]);
  });

  it("completes --engine=value (bash splits the word at '=')", () => {
    expect(bashComplete(["gpu-hosting", "estimate", "--engine", "=", "ll"])).toEqual(["llamacpp"]);
  });

  it("skips option values when finding the command: a value equal to a command name is not one", () => {
    // `--model fit`: "fit" is the value of --model, so the options offered are still estimate's.
    expect(bashComplete(["gpu-hosting", "estimate", "--model", "fit", "--kv"])).toEqual(["--kv-cache-dtype"]);
  });

  it("completes stack names from stacks/Pulumi.<name>.yaml in the current folder, and files for <stack-file>", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "project-"));
    fs.mkdirSync(path.join(dir, "stacks"));
    for (const s of ["alpha", "beta"]) fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${s}.yaml`), "config: {}\n");
    expect(bashComplete(["gpu-hosting", "check", "--stack", ""], dir)).toEqual(["alpha", "beta"]);
    expect(bashComplete(["gpu-hosting", "check", "stacks/Pulumi.a"], dir)).toEqual(["stacks/Pulumi.alpha.yaml"]);
  });

  it("completes the shells for `completion`", () => {
    expect(bashComplete(["gpu-hosting", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
  });
});

(has("zsh") ? describe : describe.skip)("zsh completion (zsh installed)", () => {
  it("is valid zsh (zsh -n) and completes with compadd stubbed", () => {
    const file = script("zsh");
    expect(spawnSync("zsh", ["-n", file], { encoding: "utf8" }).status).toBe(0);
    // Outside a completion widget: compdef/compadd/_files are stubs that print what they are given.
    const run = (words: string[]): string[] => {
      const r = spawnSync(
        "zsh",
        ["-c", `compdef() { :; }; compset() { :; }; compadd() { if [[ $1 == -a ]]; then print -rl -- "\${(@P)2}"; else shift; print -rl -- "$@"; fi; }; _files() { print -r -- "<files>"; }; source '${file}'; words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; _gpu_hosting`],
        { cwd: ROOT, encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      return r.stdout.split("\n").filter((l) => l !== "");
    };
    expect(run(["gpu-hosting", ""])).toEqual(expect.arrayContaining(["fit", "estimate", "catalog"]));
    expect(run(["gpu-hosting", "check", "--format", ""])).toEqual(["text", "markdown", "json"]);
    expect(run(["gpu-hosting", "check", ""])).toEqual(["<files>"]);
  });
});

describe("zsh and fish scripts", () => {
  it("zsh: a #compdef file with the completion function", () => {
    const text = completionScript(buildProgram(), "zsh");
    expect(text.startsWith("#compdef gpu-hosting\n")).toBe(true);
    expect(text).toContain("_gpu_hosting()");
    expect(text).toContain('"estimate|--engine") echo "vllm llamacpp ollama cpu"');
  });

  it("fish: complete lines for commands, nested subcommands and option values", () => {
    const text = completionScript(buildProgram(), "fish");
    expect(text).toContain("complete -c gpu-hosting -n '__fish_use_subcommand' -a fit -d ");
    expect(text).toContain("complete -c gpu-hosting -n '__fish_seen_subcommand_from catalog; and not __fish_seen_subcommand_from gpus offers models' -a gpus");
    expect(text).toMatch(/complete -c gpu-hosting -n '__fish_seen_subcommand_from estimate' -l engine -x -a 'vllm llamacpp ollama cpu'/);
  });

  (has("fish") ? it : it.skip)("fish: valid (fish -n) and completes `fit` (fish installed)", () => {
    const file = script("fish");
    expect(spawnSync("fish", ["-n", file], { encoding: "utf8" }).status).toBe(0);
    const r = spawnSync("fish", ["-c", `source '${file}'; complete -C 'gpu-hosting f'`], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout.split("\n").map((l) => l.split("\t")[0])).toContain("fit");
  });
});

describe("completion command", () => {
  it("rejects an unknown shell naming the value and the shells", () => {
    expect(() => parseShell("tcsh")).toThrow('<shell>: got "tcsh"; allowed: bash, zsh, fish');
    expect(parseShell("BASH")).toBe("bash");
  });

  it("prints the script from the built CLI, exit 0; exit 2 for an unknown shell", () => {
    const ok = spawnSync(process.execPath, [MAIN, "completion", "bash"], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("complete -F _gpu_hosting gpu-hosting");
    const bad = spawnSync(process.execPath, [MAIN, "completion", "tcsh"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("allowed: bash, zsh, fish");
  });
});

// ---------------------------------------------------------------------------------------------
// Examples and help text

/** Help text of one command, as `--help` prints it (with the text added after). */
function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** Splits an example line into arguments: double quotes group, `# comment` and a `> file` redirection end it. */
function argv(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) {
    const w = m[1] ?? m[2]!;
    if (m[2] !== undefined && (w.startsWith("#") || w === ">")) break;
    words.push(w);
  }
  return words;
}

const program = buildProgram();
const commands = allCommands(program).map((c) => [commandPath(c) || "(program)", c] as const);
const examples = Object.entries(EXAMPLES).flatMap(([key, lines]) => lines.map((line) => [key, line] as const));

describe("examples in --help", () => {
  it.each(commands)("%s: --help ends with 2 to 4 examples", (_, cmd) => {
    const lines = EXAMPLES[commandPath(cmd)] ?? [];
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    const help = helpOf(cmd);
    expect(help).toContain("\nExamples:\n");
    for (const l of lines) expect(help).toContain(`  ${l}\n`);
  });

  it("has no examples for commands that do not exist", () => {
    const paths = new Set(allCommands(program).map(commandPath));
    expect(Object.keys(EXAMPLES).filter((k) => !paths.has(k))).toEqual([]);
  });

  it.each(examples)("%s: `%s` parses as a command line", (key, line) => {
    const words = argv(line);
    expect(words[0]).toBe("gpu-hosting");
    const p = buildProgram();
    let invoked: string | undefined;
    let errors = "";
    for (const c of allCommands(p)) {
      c.configureOutput({ writeOut: () => undefined, writeErr: (s) => (errors += s) });
      if (c.commands.length === 0) c.action((...args: unknown[]) => void (invoked = commandPath(args[args.length - 1] as Command)));
    }
    p.parse(["node", "gpu-hosting", ...words.slice(1)]);
    expect(errors).toBe("");
    // An example under a command runs that command or one of its subcommands.
    expect(invoked).toBeDefined();
    expect(`${invoked} `.startsWith(key === "" ? "" : `${key} `)).toBe(true);
  });

  // Offline and cheap: run them for real. Exit 2 would mean a flag or value the command refuses.
  const runnable = examples
    .filter(([key, line]) => /^(estimate|fit|catalog|check|completion)\b/.test(key) || (key === "" && !/ (discover|render) /.test(line)))
    .filter(([, line], i, all) => all.findIndex(([, l]) => l === line) === i);
  it.each(runnable)("%s: `%s` runs offline without a usage error", (_, line) => {
    const r = spawnSync(process.execPath, [MAIN, ...argv(line).slice(1)], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1" } });
    expect(r.stderr).toBe("");
    expect([0, 1]).toContain(r.status);
    expect(r.stdout.length).toBeGreaterThan(0);
  });
});

describe("help text names defaults and allowed values", () => {
  const find = (p: string): Command => allCommands(program).find((c) => commandPath(c) === p)!;

  it.each([
    ["estimate", "--dtype <type>", ["bf16", "awq", "q4_k_m", '(default: "auto")']],
    ["estimate", "--engine <engine>", ["vllm, llamacpp, ollama or cpu", '(default: "vllm")']],
    ["estimate", "--gpu-memory-utilization <f>", ['(default: "0.9")']],
    ["check", "--format <format>", ["text, markdown", "json", '(default: "text")']],
    ["completion", "<shell>", ["bash, zsh, fish"]],
    ["", "--no-color", ["NO_COLOR"]],
  ])("%s %s", (p, flag, parts) => {
    const help = helpOf(find(p)).replace(/\s+/g, " ");
    const at = help.indexOf(flag);
    expect(at).toBeGreaterThanOrEqual(0);
    const entry = help.slice(at, at + 400);
    for (const part of parts) expect(entry).toContain(part);
  });

  it("says prices exclude VAT in the help of commands that show prices, and only there", () => {
    for (const [key, cmd] of allCommands(program).map((c) => [commandPath(c), c] as const)) {
      expect([key, helpOf(cmd).includes(VAT_NOTE)]).toEqual([key, PRICE_COMMANDS.includes(key)]);
    }
  });
});
