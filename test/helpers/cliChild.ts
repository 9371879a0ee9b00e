/**
 * Runs the built CLI (dist/cli/main.js, the module tree) as a child process. `npm test` builds
 * first. Default environment: the test's own, with NO_COLOR=1.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";

export const CLI_MAIN = path.join(__dirname, "..", "..", "dist", "cli", "main.js");

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8", cwd: o.cwd, timeout: o.timeout, env: o.env ?? { ...process.env, NO_COLOR: "1" } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
