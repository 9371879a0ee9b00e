/** Errors the CLI reports without a stack trace, with the exit code they map to. */
import { MAX_QUOTED_PATH_CHARS, quoted, redactSecrets } from "../core/checks/redact";

/**
 * Bad input: a flag, argument or file the user gave. Exit code 2. The message has every part that
 * looks like a credential redacted and long values cut: it is printed to terminals and CI logs.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(redactSecrets(message));
    this.name = "UsageError";
  }
}

/** Flags and arguments that take a file path: their values are quoted up to MAX_QUOTED_PATH_CHARS, paths being long. */
const PATH_FLAGS: ReadonlySet<string> = new Set(["-i", "--config", "--policy-config", "<stack-file>", "--out", "--base"]);

/**
 * Builds "--flag: got "x"; allowed: a, b, c" style messages. The value is quoted by
 * {@link quoted}: at most 40 characters (200 for file paths), never a value that looks like a
 * credential.
 */
export function badValue(flag: string, value: unknown, allowed: string, fix?: string): UsageError {
  return new UsageError(`${flag}: got ${quoted(value, PATH_FLAGS.has(flag) ? MAX_QUOTED_PATH_CHARS : undefined)}; ${allowed}${fix ? `. ${fix}` : ""}`);
}
