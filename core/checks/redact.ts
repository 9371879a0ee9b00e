/**
 * What looks like a credential, and how messages quote user values: the one place that decides it,
 * so that no error message, report or pull-request comment shows a secret ({@link quoted},
 * {@link quotedId}, {@link redactSecrets}). Pure, and imports nothing, so that every module that
 * builds messages (host kinds, checks, the CLI) can use it without an import cycle; re-exported by
 * ./secrets.
 */

/** Parts of text that look like credentials: Hugging Face, Scaleway, AWS, GitHub and Robot tokens, PEM blocks, UUIDs, long base64 or hex runs. */
const CREDENTIAL_PARTS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g,
  /hf_[A-Za-z0-9]{16,}/g,
  /\b(SCW|AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /#ws\+[A-Za-z0-9]+/g,
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi,
  /\b[0-9a-f]{32,}\b/gi,
  // JSON Web Tokens (header.payload.signature, base64url) and prefixed tokens: GitLab, Slack, OpenAI-style "sk-".
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /\b(glpat-|xox[abposr]-|sk-)[A-Za-z0-9_-]{16,}/g,
  // A run of 32 or more letters and digits with both: tokens without upper case (e.g. lower-case API keys).
  // (SHA256 fingerprints and SSH public keys after their type are public: left alone.)
  /(?<![A-Za-z0-9+/]|SHA256:|(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) )(?=[A-Za-z0-9]{0,200}[0-9])(?=[A-Za-z0-9]{0,200}[A-Za-z])[A-Za-z0-9]{32,}(?![A-Za-z0-9])/g,
  // Base64 and similar: a run of 24 or more characters mixing upper case, lower case and digits;
  // public material is left alone: SHA256 fingerprints and SSH public keys after their type.
  /(?<![A-Za-z0-9+/]|SHA256:|(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) )(?=[A-Za-z0-9+/]{0,200}[0-9])(?=[A-Za-z0-9+/]{0,200}[a-z])(?=[A-Za-z0-9+/]{0,200}[A-Z])[A-Za-z0-9+/]{24,}={0,2}/g,
];

/** Whether a value looks like a credential (see {@link redactSecrets} for what counts). */
export function looksLikeCredential(s: string): boolean {
  return CREDENTIAL_PARTS.some((r) => {
    r.lastIndex = 0;
    const hit = r.test(s);
    r.lastIndex = 0;
    return hit;
  });
}

/** The most characters of a value an error message quotes. */
export const MAX_QUOTED_CHARS = 40;
/** The same for file paths, which are long and name what the message is about. */
export const MAX_QUOTED_PATH_CHARS = 200;

/**
 * A value as error messages quote it: JSON-quoted and cut to {@link MAX_QUOTED_CHARS} characters
 * (saying how long it was), or a placeholder when it looks like a credential, so that a secret
 * pasted into the wrong field never lands in a terminal, a log or a pull-request comment.
 */
export function quoted(v: unknown, max = MAX_QUOTED_CHARS): string {
  if (typeof v !== "string") {
    if (v === null || typeof v === "number" || typeof v === "boolean") return String(v);
    if (v === undefined) return "nothing";
    return Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `a ${typeof v}`;
  }
  if (looksLikeCredential(v)) return "(a value that looks like a credential, not shown)";
  const chars = Array.from(v);
  if (chars.length <= max) return JSON.stringify(v);
  return `${JSON.stringify(chars.slice(0, max).join(""))}… (${chars.length} characters)`;
}

/** The most characters a catalog identifier (offer, GPU, model, location id or alias) can have. */
export const MAX_IDENTIFIER_CHARS = 100;
/** Characters identifiers use: letters, digits, and the separators of GPU names and model ids. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9 ._:/+()@-]*$/;
/** Prefixes of well-known token formats (Hugging Face, GitHub, GitLab, Slack, OpenAI-style, JWT, Hetzner-style `hcloud_`). */
const TOKEN_PREFIX = /^(hf_|gh[pousr]_|glpat-|xox[abposr]-|sk-|eyJ|hcloud_|SCW)/;

/** A word of an identifier that looks random: 12 or more characters mixing upper case, lower case and digits, or switching between letters and digits four times. */
function randomLooking(word: string): boolean {
  if (word.length < 12) return false;
  if (/[a-z]/.test(word) && /[A-Z]/.test(word) && /[0-9]/.test(word)) return true;
  return (word.match(/[0-9]+/g)?.length ?? 0) >= 3 && (word.match(/[A-Za-z]+/g)?.length ?? 0) >= 3;
}

/**
 * Whether a value given for a catalog-checked field (offer, GPU, model id, location) could be an
 * identifier at all: at most {@link MAX_IDENTIFIER_CHARS} characters of letters, digits and
 * ` ._:/+()@-`, no word over 24 characters or random-looking, no known token prefix, nothing
 * {@link looksLikeCredential}. Catalog ids, GPU names ("NVIDIA RTX 6000 Ada Generation") and
 * Hugging Face ids ("Qwen/Qwen3-30B-A3B-Instruct-2507") pass; tokens and passwords do not.
 */
export function looksLikeIdentifier(s: string): boolean {
  if (s.length === 0 || s.length > MAX_IDENTIFIER_CHARS || !IDENTIFIER.test(s) || TOKEN_PREFIX.test(s) || looksLikeCredential(s)) return false;
  return s.split(/[ ._:/+()@-]+/).every((w) => w.length <= 24 && !randomLooking(w));
}

/** A value that is not shown: only its length, and where it was given when that helps find it. */
export const notShown = (s: string, where?: string): string => `(value of ${Array.from(s).length} characters${where ? ` at ${where}` : ""}, not shown)`;

/**
 * A value given for a catalog-checked field as messages show it: the value itself when it could be
 * an identifier ({@link looksLikeIdentifier}), else `(value of N characters, not shown)` (no angle brackets: Markdown would take them for an HTML tag), so that a
 * secret pasted into the wrong field never reaches a report or a pull-request comment. Non-strings
 * as {@link quoted} shows them.
 */
export function shownId(v: unknown): string {
  if (typeof v !== "string") return quoted(v);
  return looksLikeIdentifier(v.trim()) ? v : notShown(v);
}

/** {@link shownId} in double quotes when shown: `"fr-par-2"`, or `(value of 64 characters, not shown)`. */
export function quotedId(v: unknown): string {
  if (typeof v !== "string") return quoted(v);
  return looksLikeIdentifier(v.trim()) ? JSON.stringify(v) : notShown(v);
}

/** The most characters of one word (a run without spaces) a message keeps, and of a whole message. */
const MAX_WORD_CHARS = 240;
const MAX_MESSAGE_CHARS = 4000;

/**
 * A message with every part that looks like a credential replaced by `[redacted]`, long quoted
 * strings and long words cut, and the whole capped: the last line of defence for messages built
 * from user input (checks, schema errors, flag errors).
 */
export function redactSecrets(message: string): string {
  // Cut first so that the patterns below never scan a 200 KB message.
  let m = message.length > 4 * MAX_MESSAGE_CHARS ? message.slice(0, 4 * MAX_MESSAGE_CHARS) : message;
  for (const r of CREDENTIAL_PARTS) m = m.replace(r, "[redacted]");
  // Quoted strings pair up from the left (matching every one, short ones unchanged); file paths
  // (a "/" and no space) keep up to MAX_QUOTED_PATH_CHARS.
  m = m.replace(/"((?:[^"\\\n]|\\.)*)"/g, (all, inner: string) => {
    const keep = /\//.test(inner) && !/\s/.test(inner) ? MAX_QUOTED_PATH_CHARS : MAX_QUOTED_CHARS;
    const chars = Array.from(inner);
    return chars.length < Math.max(60, keep + 1) ? all : `"${chars.slice(0, keep).join("")}…"`;
  });
  m = m.replace(/\S{241,}/g, (w) => `${Array.from(w).slice(0, MAX_WORD_CHARS).join("")}…`);
  return m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS)}… (message cut)` : m;
}
