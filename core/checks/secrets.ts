/**
 * secrets: tokens and keys are Pulumi secrets, never plain config values. Also the one place that
 * decides what looks like a credential, so that no error message or report quotes one
 * ({@link quoted}, {@link redactSecrets}).
 */
import { SECRET_CONFIG_KEYS } from "../config/schema";
import { HOST_KINDS, secretKeysOf } from "../hosts";
import type { Check, Finding } from "./types";

/** Config key names that hold credentials. */
export const SECRET_KEY_PATTERN = /(password|passwd|passphrase|token|secret|private[-_]?key|api[-_]?key|access[-_]?key|credential)/i;
const PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const HF_TOKEN = /\bhf_[A-Za-z0-9]{30,}\b/;

/** `gpu-hosting:` keys the host kinds read plainly: public keys (sshPublicKey). */
const PUBLIC_KEYS = new Set(HOST_KINDS.flatMap((k) => k.secrets({ privateKeySecret: "sshPrivateKey" } as never).filter((s) => !s.secret).map((s) => s.key)));

/**
 * `gpu-hosting:` keys that must hold secrets whatever their name: the schema's SECRET_CONFIG_KEYS
 * (robotUser, robotPassword, sshPrivateKey, hfToken, apiKey, …) less the public keys.
 */
export const REQUIRED_SECRET_KEYS: readonly string[] = SECRET_CONFIG_KEYS.filter((k) => !PUBLIC_KEYS.has(k));

/**
 * Pulumi ciphertext as stack files store it under `secure:`: the passphrase and cloud-KMS providers
 * write `v1:<base64>:<base64>`; Pulumi Cloud's default provider writes base64 starting `AAABA`
 * (its version header). Anything else under `secure:` is a plain value in a wrapper.
 */
const CIPHERTEXT = /^(v1:[A-Za-z0-9+/]+={0,2}(:[A-Za-z0-9+/]+={0,2})*|AAABA[A-Za-z0-9+/]{20,}={0,2})$/;

/** A value as the stack file stores a secret: exactly `{ secure: "<ciphertext>" }`. */
function isSecureValue(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === "secure" && typeof (v as { secure: unknown }).secure === "string" && CIPHERTEXT.test((v as { secure: string }).secure.trim());
}

/** A `{ secure: … }` wrapper whose value is not ciphertext. */
function isFakeSecure(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.hasOwn(v, "secure") && !isSecureValue(v);
}

/** Every string under `v` with its path; each object or list is visited once (YAML aliases repeat them). */
function* strings(v: unknown, path: string, seen: Set<object>): Generator<[string, string]> {
  if (typeof v === "string") {
    yield [path, v];
    return;
  }
  if (!v || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* strings(v[i], `${path}[${i}]`, seen);
  else for (const [k, x] of Object.entries(v)) yield* strings(x, `${path}.${k}`, seen);
}

/** Parts of text that look like credentials: Hugging Face, Scaleway, AWS, GitHub and Robot tokens, PEM blocks, UUIDs, long base64 or hex runs. */
const CREDENTIAL_PARTS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g,
  /hf_[A-Za-z0-9]{16,}/g,
  /\b(SCW|AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /#ws\+[A-Za-z0-9]+/g,
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi,
  /\b[0-9a-f]{32,}\b/gi,
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

export const secrets: Check<{ extraKeyPatterns: string[] }> = {
  name: "secrets",
  description: "Checks that tokens, passwords and keys in stack config are Pulumi secrets (set with `pulumi config set --secret`), and that no plain value contains a private key or a Hugging Face token.",
  defaultEnforcement: () => "mandatory",
  remediationSteps:
    "Remove the plain value and set it again as a secret: `pulumi config set --secret <key> <value>` (or `< file` for keys); rotate the credential if the plain value was ever committed.",
  configSchema: {
    extraKeyPatterns: { type: "array", items: { type: "string" }, description: "more regular expressions (case-insensitive) for config key names that must be secret", default: [] },
  },
  run(ctx, cfg) {
    const raw: unknown = ctx.rawConfig;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      const got = raw === null ? "null" : Array.isArray(raw) ? "a list" : `a ${typeof raw}`;
      return [{ subject: "stack", message: `the raw stack config is ${got}, not a mapping of keys to values: cannot tell how secrets are stored; failing closed`, remediation: secrets.remediationSteps }];
    }
    const entries = Object.entries(raw);
    if (entries.length === 0) return { notApplicable: "no raw stack config was provided" };
    const extra = cfg.extraKeyPatterns.map((p) => new RegExp(p, "i"));
    const mustBeSecret = new Set([...REQUIRED_SECRET_KEYS, ...secretKeysOf(ctx.config.hosts).filter((k) => !PUBLIC_KEYS.has(k))].map((k) => `gpu-hosting:${k}`));
    const out: Finding[] = [];
    const seen = new Set<object>();
    for (const [key, value] of entries) {
      const secret = isSecureValue(value) || ctx.secretKeys.includes(key);
      const leaf = key.includes(":") ? key.slice(key.indexOf(":") + 1) : key;
      if (!secret && isFakeSecure(value)) {
        out.push({ subject: `config ${key}`, message: `${key} has a secure: value that is not Pulumi ciphertext (v1:… or AAABA…): a plain value in a secure wrapper`, remediation: secrets.remediationSteps });
        continue;
      }
      if (!secret && (mustBeSecret.has(key) || SECRET_KEY_PATTERN.test(leaf) || extra.some((r) => r.test(leaf)))) {
        out.push({ subject: `config ${key}`, message: `${key} looks like a credential but is stored in plain text`, remediation: secrets.remediationSteps });
        continue;
      }
      if (secret) continue;
      for (const [path, s] of strings(value, key, seen)) {
        if (PEM.test(s)) out.push({ subject: `config ${key}`, message: `${path} contains a private key in plain text`, remediation: secrets.remediationSteps });
        else if (HF_TOKEN.test(s)) out.push({ subject: `config ${key}`, message: `${path} contains a Hugging Face token in plain text`, remediation: secrets.remediationSteps });
      }
    }
    return out;
  },
};
