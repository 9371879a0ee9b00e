/**
 * SSH host keys: parsing a public key or a pinned fingerprint, and OpenSSH-style fingerprints.
 * Pure; used by the host probe (core/probe/ssh.ts, which re-exports it), `gpu-hosting discover`
 * and the on-premises host kind.
 */
import { createHash } from "node:crypto";

/** A public key as in `known_hosts` / `*.pub`: type and base64 blob (comment dropped). */
export interface PublicKey {
  /** e.g. "ssh-ed25519". */
  type: string;
  /** The base64 key blob, e.g. "AAAAC3NzaC1lZDI1NTE5AAAAI…". */
  base64: string;
}

/** Key types a pinned host key may have. */
export const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;

/** The key type written inside an SSH key blob (its first length-prefixed string); null when malformed. */
export function blobType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString("latin1") : null;
}

/**
 * Parses "ssh-ed25519 AAAA… [comment]" and checks the blob decodes to the named type.
 * @throws Error saying what was received and what is expected.
 */
export function parsePublicKey(text: string): PublicKey {
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+.*)?$/.exec(text);
  const expected = `expected a public host key as in known_hosts, "<type> <base64>" with type one of ${HOST_KEY_TYPES.join(", ")} (e.g. the content of /etc/ssh/ssh_host_ed25519_key.pub on the host)`;
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`got ${JSON.stringify(text)}; ${expected}`);
  const [type, base64] = [m[1], m[2]];
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) throw new Error(`got key type "${type}"; ${expected}`);
  const inner = blobType(Buffer.from(base64, "base64"));
  if (inner !== type) throw new Error(`got "${type} ${base64.slice(0, 16)}…" whose base64 blob ${inner ? `is a "${inner}" key` : "does not decode to an SSH key"}; ${expected}`);
  return { type, base64 };
}

/** OpenSSH-style fingerprint of a key blob: "SHA256:" + unpadded base64 of its SHA-256 (as `ssh-keygen -lf` prints). */
export function fingerprint(key: PublicKey | Buffer): string {
  const blob = Buffer.isBuffer(key) ? key : Buffer.from(key.base64, "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** "ssh-ed25519 AAAA…" */
export const formatPublicKey = (k: PublicKey): string => `${k.type} ${k.base64}`;

/** A pinned host key: the whole public key, or only its "SHA256:…" fingerprint (as `ssh-keygen -lf` prints it). */
export type HostKeyPin = { key: PublicKey } | { fingerprint: string };

/** An OpenSSH SHA-256 fingerprint: "SHA256:" and 43 characters of unpadded base64. */
const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/**
 * Parses a host key pin: "ssh-ed25519 AAAA… [comment]" or "SHA256:<43 base64 characters>" (also the
 * whole `ssh-keygen -lf` line, "256 SHA256:… comment (ED25519)").
 * @throws Error saying what was received and the two accepted forms.
 */
export function parseHostKeyPin(text: string): HostKeyPin {
  const t = text.trim();
  const fp = /^(?:\d+\s+)?(SHA256:\S+)(?:\s.*)?$/.exec(t);
  if (fp && fp[1] !== undefined) {
    const m = FINGERPRINT.exec(fp[1]);
    if (!m) throw new Error(`got a "SHA256:" fingerprint of ${fp[1].length - 7} characters; expected "SHA256:" and 43 characters of base64, as \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` prints it`);
    return { fingerprint: `SHA256:${m[1]}` };
  }
  try {
    return { key: parsePublicKey(t) };
  } catch (e) {
    throw new Error(`${(e as Error).message}, or its fingerprint "SHA256:…" (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`);
  }
}

/** The fingerprint a pin stands for. */
export const pinFingerprint = (pin: HostKeyPin): string => ("key" in pin ? fingerprint(pin.key) : pin.fingerprint);
