#!/usr/bin/env node
/** The `gpu-hosting` command: what fits and what it costs, offline. */
import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { registerCatalog } from "./catalog";
import { redactSecrets } from "../core/checks/redact";
import { UsageError } from "./errors";
import { registerEstimate } from "./estimate";
import { EXAMPLES, PRICE_COMMANDS } from "./examples";
import { registerFit } from "./fit";
import { setColorMode, VAT_NOTE } from "./format";
import { registerCheck, registerCompletion, registerDiscover, registerRender } from "./lazyCommands";

/** The package's version, found by walking up from this file (works from dist/ and from source). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version: string };
      if (pkg.name === "gpu-hosting") return pkg.version;
    }
    if (path.dirname(dir) === dir) return "0.0.0";
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("gpu-hosting")
    .description("Size, place and check self-hosted LLM deployments on GPU servers (Hetzner, Scaleway, on-premises). Offline: no credentials needed.")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)")
    // Commander quotes unknown options and commands: a token pasted in the wrong place stays out of logs.
    .configureOutput({ outputError: (text, write) => write(redactSecrets(text)) })
    .exitOverride()
    .option("--no-color", "no ANSI colour (also: NO_COLOR=1; colour is on only on a terminal, or with FORCE_COLOR=1)")
    .hook("preAction", () => setColorMode(program.opts<{ color?: boolean }>().color === false ? false : undefined));
  registerEstimate(program);
  registerFit(program);
  registerCatalog(program);
  registerCheck(program);
  registerDiscover(program);
  registerRender(program);
  registerCompletion(program);
  addExamples(program);
  return program;
}

/** Command path as cli/examples.ts keys it: "" for the program, "catalog gpus" for a subcommand. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Every command of the tree, the program first. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((c) => allCommands(c))];
}

/** Appends each command's examples (cli/examples.ts) to its `--help`, and the VAT note where prices are shown. */
function addExamples(program: Command): void {
  for (const cmd of allCommands(program)) {
    const key = commandPath(cmd);
    const lines = EXAMPLES[key] ?? [];
    const parts = [lines.length > 0 ? `Examples:\n${lines.map((l) => `  ${l}`).join("\n")}` : "", PRICE_COMMANDS.includes(key) ? VAT_NOTE : ""].filter((x) => x !== "");
    if (parts.length > 0) cmd.addHelpText("after", `\n${parts.join("\n\n")}`);
  }
}

/**
 * Runs the CLI; resolves to the exit code (0 ok, 1 mandatory violation, 2 bad input). Async
 * because a model not in the catalog is read from the Hugging Face Hub (cli/hub.ts).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    process.exitCode = 0;
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; a missing sub-command (help shown as an error) or bad usage exits 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

/**
 * A reader that stops early (`gpu-hosting catalog models --json | head`) closes the pipe: end
 * quietly, as Unix tools do, instead of with an EPIPE stack trace.
 */
export function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** Runs the CLI on process.argv and sets the exit code: what the bin does. */
export function run(): void {
  quietOnClosedPipe(process.stdout);
  void main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // An unexpected error: the stack, as Node prints an uncaught one (less anything like a credential), and exit 1.
      process.stderr.write(`${redactSecrets(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) run();
