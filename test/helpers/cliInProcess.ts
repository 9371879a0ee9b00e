/**
 * Runs the CLI in-process through `main(argv)`, capturing what it writes to stdout and stderr (also
 * through console.log / console.error), and restoring process.exitCode afterwards.
 */
import { format } from "node:util";
import { main } from "../../cli/main";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliInProcess(args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const spies = [
    jest.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write),
    jest.spyOn(process.stderr, "write").mockImplementation(((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write),
    jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += `${format(...a)}\n`)),
    jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (stderr += `${format(...a)}\n`)),
  ];
  const before = process.exitCode;
  try {
    return { code: await main(["node", "gpu-hosting", ...args]), stdout, stderr };
  } finally {
    for (const s of spies) s.mockRestore();
    process.exitCode = before;
  }
}
