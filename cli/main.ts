#!/usr/bin/env node
/** The `gpu-hosting` command: what fits and what it costs, offline. */
import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { registerCatalog } from "./catalog";
import { registerCheck } from "./check";
import { registerDiscover } from "./discover";
import { redactSecrets } from "../core/checks/secrets";
import { UsageError } from "./errors";
import { registerEstimate } from "./estimate";
import { registerFit } from "./fit";
import { registerRender } from "./render";

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
    .exitOverride();
  registerEstimate(program);
  registerFit(program);
  registerCatalog(program);
  registerCheck(program);
  registerDiscover(program);
  registerRender(program);
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 mandatory violation, 2 bad input). */
export function main(argv: string[]): number {
  const program = buildProgram();
  try {
    process.exitCode = 0;
    program.parse(argv);
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

if (require.main === module) {
  quietOnClosedPipe(process.stdout);
  process.exitCode = main(process.argv);
}
