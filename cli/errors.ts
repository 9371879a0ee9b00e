/** Errors the CLI reports without a stack trace, with the exit code they map to. */

/** Bad input: a flag, argument or file the user gave. Exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Builds "--flag: got "x"; allowed: a, b, c" style messages. */
export function badValue(flag: string, value: unknown, allowed: string, fix?: string): UsageError {
  return new UsageError(`${flag}: got ${JSON.stringify(value)}; ${allowed}${fix ? `. ${fix}` : ""}`);
}
