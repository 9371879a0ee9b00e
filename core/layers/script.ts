/**
 * Helpers every layer renderer uses: a common script prologue (strict mode, logging, a `fail`
 * that prints what is missing and the last lines of a log), file installation by content (base64
 * heredocs, written only when the content differs, so a second run changes nothing), and hashing.
 * Pure.
 */
import { createHash } from "node:crypto";
import type { HostFile, LayerName, LayerScript, SecretFileRef } from "./types";

/** sha256 hex of a text. */
export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Quotes a value for bash (single quotes). */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The prologue of every layer script: strict mode, `log`, `fail MESSAGE [LOGFILE|UNIT]` (prints
 * the message and the last 40 lines of the log file or journal, exits 1), `changed` bookkeeping
 * (a layer prints "gpu-hosting: <layer>: changed" or "unchanged" at the end), and `install_file
 * PATH MODE BASE64` which writes a file only when its content differs (and records the change).
 *
 * `GPU_HOSTING_ROOT` (like DESTDIR; empty on a real host) prefixes every path a script writes or
 * reads under its own control (`$GH_ROOT/etc/...`): the SSH tests run the real scripts against a
 * throwaway root on this machine, with stand-ins for systemctl, nvidia-smi and docker on PATH.
 */
export function prologue(layer: LayerName): string {
  return `#!/usr/bin/env bash
# gpu-hosting layer: ${layer}. Rendered by gpu-hosting; do not edit on the host.
set -euo pipefail
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive
GH_LAYER=${shq(layer)}
GH_ROOT="\${GPU_HOSTING_ROOT:-}"
GH_CHANGED=0
log() { printf 'gpu-hosting: %s: %s\\n' "$GH_LAYER" "$*" >&2; }
fail() {
  printf 'gpu-hosting: %s: FAILED: %s\\n' "$GH_LAYER" "$1" >&2
  if [ "$#" -ge 2 ]; then
    if [ -f "$2" ]; then
      printf -- '--- last lines of %s ---\\n' "$2" >&2
      tail -n 40 "$2" >&2 || true
    elif command -v journalctl >/dev/null 2>&1; then
      printf -- '--- last lines of journalctl -u %s ---\\n' "$2" >&2
      journalctl -u "$2" -n 40 --no-pager >&2 || true
    fi
  fi
  exit 1
}
install_file() {
  local path="$GH_ROOT$1" mode="$2" b64="$3" tmp
  tmp="$(mktemp)"
  printf '%s' "$b64" | base64 -d > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    return 0
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  GH_CHANGED=1
  log "wrote $1"
}
`;
}

/** The lines that install `files` (content as base64, so any text is safe). */
export function installFiles(files: readonly HostFile[]): string {
  return files.map((f) => `install_file ${shq(f.path)} ${shq(f.mode)} ${shq(Buffer.from(f.content, "utf8").toString("base64"))}`).join("\n");
}

/** The closing line: tells the component whether anything changed. */
export const epilogue = `if [ "$GH_CHANGED" = 1 ]; then log changed; else log unchanged; fi\n`;

/** Assembles a layer script from its files and body; the hash covers everything. */
export function layerScript(layer: LayerName, name: string, files: HostFile[], body: string, secrets: SecretFileRef[] = []): LayerScript {
  // The body runs inside one function, called with stdin from /dev/null: bash reads the whole
  // function before running any of it, so nothing the layer runs (apt, dpkg prompts) can read the
  // rest of the script, which arrives on stdin (`bash -s`).
  const script = `${prologue(layer)}\ngh_layer() {\n${installFiles(files)}\n\n${body.trim()}\n\n${epilogue}}\ngh_layer </dev/null\n`;
  return { layer, name, script, files, secrets, hash: sha256(script) };
}
