/**
 * secrets: tokens and keys are Pulumi secrets, never plain config values. Re-exports ./redact, the
 * one place that decides what looks like a credential, so that no error message or report quotes
 * one ({@link quoted}, {@link quotedId}, {@link redactSecrets}).
 */
import { SECRET_CONFIG_KEYS } from "../config/schema";
import { HOST_KINDS, secretKeysOf } from "../hosts";
import type { Check, Finding } from "./types";

export { looksLikeCredential, looksLikeIdentifier, MAX_IDENTIFIER_CHARS, MAX_QUOTED_CHARS, MAX_QUOTED_PATH_CHARS, notShown, quoted, quotedId, redactSecrets, shownId } from "./redact";

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
