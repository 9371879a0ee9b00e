/** secrets: tokens and keys are Pulumi secrets, never plain config values. */
import type { Check, Finding } from "./types";

/** Config key names that hold credentials. */
export const SECRET_KEY_PATTERN = /(password|passwd|passphrase|token|secret|private[-_]?key|api[-_]?key|access[-_]?key|credential)/i;
const PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const HF_TOKEN = /\bhf_[A-Za-z0-9]{30,}\b/;

/** A value as the stack file stores it: secrets are `{ secure: "v1:…" }`. */
function isSecureValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && "secure" in v;
}

function* strings(v: unknown, path: string): Generator<[string, string]> {
  if (typeof v === "string") yield [path, v];
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* strings(v[i], `${path}[${i}]`);
  else if (v && typeof v === "object" && !isSecureValue(v)) for (const [k, x] of Object.entries(v)) yield* strings(x, `${path}.${k}`);
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
    const entries = Object.entries(ctx.rawConfig);
    if (entries.length === 0) return { notApplicable: "no raw stack config was provided" };
    const extra = cfg.extraKeyPatterns.map((p) => new RegExp(p, "i"));
    const out: Finding[] = [];
    for (const [key, value] of entries) {
      const secret = isSecureValue(value) || ctx.secretKeys.includes(key);
      const leaf = key.includes(":") ? key.slice(key.indexOf(":") + 1) : key;
      if (!secret && (SECRET_KEY_PATTERN.test(leaf) || extra.some((r) => r.test(leaf)))) {
        out.push({ subject: `config ${key}`, message: `${key} looks like a credential but is stored in plain text`, remediation: secrets.remediationSteps });
        continue;
      }
      if (secret) continue;
      for (const [path, s] of strings(value, key)) {
        if (PEM.test(s)) out.push({ subject: `config ${key}`, message: `${path} contains a private key in plain text`, remediation: secrets.remediationSteps });
        else if (HF_TOKEN.test(s)) out.push({ subject: `config ${key}`, message: `${path} contains a Hugging Face token in plain text`, remediation: secrets.remediationSteps });
      }
    }
    return out;
  },
};
